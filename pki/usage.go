package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"strings"
)

// KeyFamily is a family of public keys: the key-usage policy depends on it.
type KeyFamily string

// The key families.
const (
	RSAKeys KeyFamily = "rsa"
	ECKeys  KeyFamily = "ecdsa"
)

// KeyFamilies lists every family.
var KeyFamilies = []KeyFamily{RSAKeys, ECKeys}

// Family is the family of a's keys.
func (a KeyAlgo) Family() KeyFamily {
	if strings.HasPrefix(string(a), "rsa") {
		return RSAKeys
	}
	return ECKeys
}

// FamilyOf says which family a public key is, or "" for anything else.
func FamilyOf(pub crypto.PublicKey) KeyFamily {
	switch pub.(type) {
	case *rsa.PublicKey:
		return RSAKeys
	case *ecdsa.PublicKey:
		return ECKeys
	}
	return ""
}

// Profile is one kind of certificate libvirt uses: the usages it is
// issued with and checked against.
type Profile struct {
	Name string
	// KeyUsage is the keyUsage extension the profile issues for each key
	// family, always critical (RFC 5280 §4.2.1.3); a family it does not
	// list gets no keyUsage extension at all.
	KeyUsage map[KeyFamily]x509.KeyUsage
	ExtUsage x509.ExtKeyUsage
	IsCA     bool
}

// The profiles: the key-usage policy, as data. docs/key-usage.md has the
// measurements behind it. A leaf carries keyUsage only where libvirt 9.0
// and the RFCs agree. libvirt 9.0 wants digitalSignature and
// keyEncipherment whenever keyUsage is present, whatever the key (a
// critical keyUsage without keyEncipherment stops libvirtd, a
// non-critical one logs a warning on every connection); RFC 8813 forbids
// keyEncipherment on EC keys, RFC 5280 §4.2.1.12 forbids it beside
// clientAuth, and RFC 5280 wants keyUsage critical. Where they conflict
// (ECDSA keys, client certificates) the leaf has no keyUsage extension,
// which every libvirt accepts silently and the RFCs allow; an RSA server
// certificate keeps digitalSignature and keyEncipherment, critical.
var (
	ServerProfile = Profile{
		Name:     "server",
		KeyUsage: map[KeyFamily]x509.KeyUsage{RSAKeys: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		ExtUsage: x509.ExtKeyUsageServerAuth,
	}
	ClientProfile = Profile{
		Name:     "client",
		ExtUsage: x509.ExtKeyUsageClientAuth,
	}
	// CAProfile describes a CA certificate, for checking: cfssl's initca
	// makes it.
	CAProfile = Profile{
		Name:     "ca",
		KeyUsage: map[KeyFamily]x509.KeyUsage{RSAKeys: caKeyUsage, ECKeys: caKeyUsage},
		IsCA:     true,
	}
	// Profiles lists every leaf profile.
	Profiles = []Profile{ServerProfile, ClientProfile}
)

const caKeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign

// LibvirtKeyUsage is what libvirt 9.0 demands of a leaf's keyUsage when
// the extension is present, whatever the key (newer libvirt exempts EC
// keys from keyEncipherment; 9.0 does not).
const LibvirtKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment

// keyUsageNames are the cfssl and RFC 5280 names of the bits the profiles
// use, in the order certificates list them.
var keyUsageNames = []struct {
	bit         x509.KeyUsage
	cfssl, name string
}{
	{x509.KeyUsageDigitalSignature, "digital signature", "digitalSignature"},
	{x509.KeyUsageContentCommitment, "content commitment", "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "key encipherment", "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "data encipherment", "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "key agreement", "keyAgreement"},
	{x509.KeyUsageCertSign, "cert sign", "keyCertSign"},
	{x509.KeyUsageCRLSign, "crl sign", "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipher only", "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipher only", "decipherOnly"},
}

// KeyUsageString names the bits of ku ("digitalSignature, keyEncipherment";
// "none" for 0).
func KeyUsageString(ku x509.KeyUsage) string {
	var names []string
	for _, n := range keyUsageNames {
		if ku&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// cfsslName is the cfssl signing profile of p for keys of family f: cfssl
// picks usages by profile name, and ours depend on the key.
func (p Profile) cfsslName(f KeyFamily) string { return p.Name + "-" + string(f) }

// cfsslUsages are p's usages for family f in cfssl's words. With no
// keyUsage bits cfssl leaves the extension out (only the EKU remains).
func (p Profile) cfsslUsages(f KeyFamily) []string {
	var out []string
	for _, n := range keyUsageNames {
		if p.KeyUsage[f]&n.bit != 0 {
			out = append(out, n.cfssl)
		}
	}
	return append(out, cfsslExtUsage(p.ExtUsage))
}

func cfsslExtUsage(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server auth"
	}
	return "client auth"
}

// UsageProblem is one way a certificate falls short of its profile by
// libvirt's rules.
type UsageProblem struct {
	What UsageCheck
	// Critical is true when the extension at fault is marked critical:
	// libvirt then refuses the certificate instead of warning.
	Critical bool
	Text     string
}

// UsageCheck names the rule a UsageProblem broke.
type UsageCheck string

// The usage rules.
const (
	NotLeaf     UsageCheck = "leaf-is-ca"
	KeyUsageBad UsageCheck = "key-usage"
	ExtUsageBad UsageCheck = "ext-key-usage"
)

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// CheckUsage applies libvirt's rules to a leaf of profile: it must not be
// a CA; keyUsage, when present, must hold LibvirtKeyUsage; EKU, when
// present, must hold the profile's purpose. It is the one rule: issuing
// re-issues on any problem, verify grades them. nil means libvirt accepts
// the certificate: every certificate of the current policy, and of the
// policy before it (digitalSignature and keyEncipherment on every leaf),
// which is therefore never re-issued for its usages alone.
func CheckUsage(cert *x509.Certificate, profile Profile) []UsageProblem {
	var p []UsageProblem
	if cert.BasicConstraintsValid && cert.IsCA {
		p = append(p, UsageProblem{NotLeaf, true, "is a CA certificate"})
	}
	if hasExtension(cert, oidKeyUsage) && cert.KeyUsage&LibvirtKeyUsage != LibvirtKeyUsage {
		p = append(p, UsageProblem{KeyUsageBad, critical(cert, oidKeyUsage), "keyUsage lacks digitalSignature or keyEncipherment"})
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, profile.ExtUsage) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		p = append(p, UsageProblem{ExtUsageBad, critical(cert, oidExtKeyUsage), "extendedKeyUsage lacks " + ExtUsageName(profile.ExtUsage)})
	}
	return p
}

// UsageProblems is CheckUsage as text.
func UsageProblems(cert *x509.Certificate, profile Profile) []string {
	var out []string
	for _, u := range CheckUsage(cert, profile) {
		out = append(out, u.Text)
	}
	return out
}

func hasExtension(cert *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	return slices.ContainsFunc(cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oid) })
}

func critical(cert *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

// ExtUsageName is the RFC 5280 name of a leaf's extended key usage.
func ExtUsageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "serverAuth"
	}
	return "clientAuth"
}
