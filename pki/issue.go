package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
)

// Profile is one kind of leaf certificate libvirt uses: its usages, in
// cfssl's words and as x509 values for checking.
type Profile struct {
	Name     string
	Usages   []string // cfssl usage names
	KeyUsage x509.KeyUsage
	ExtUsage x509.ExtKeyUsage
	IsCA     bool
}

// libvirt 9.0 demands digitalSignature and keyEncipherment on every leaf,
// even for ECDSA keys (newer libvirt exempts EC keys; including it serves
// both), serverAuth on server certificates and clientAuth on client ones.
var (
	ServerProfile = Profile{
		Name:     "server",
		Usages:   []string{"digital signature", "key encipherment", "server auth"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtUsage: x509.ExtKeyUsageServerAuth,
	}
	ClientProfile = Profile{
		Name:     "client",
		Usages:   []string{"digital signature", "key encipherment", "client auth"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtUsage: x509.ExtKeyUsageClientAuth,
	}
	// CAProfile describes a CA certificate, for checking: cfssl's initca
	// makes it.
	CAProfile = Profile{
		Name:     "ca",
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IsCA:     true,
	}
	// Profiles lists every leaf profile.
	Profiles = []Profile{ServerProfile, ClientProfile}
)

// SANs is a certificate's subject alternative names.
type SANs struct {
	DNS []string
	IPs []net.IP
}

// Strings returns the names and addresses as strings, DNS first, each
// group sorted: a canonical form for comparing and printing.
func (s SANs) Strings() []string {
	dns := slices.Clone(s.DNS)
	for i := range dns {
		dns[i] = strings.ToLower(dns[i])
	}
	slices.Sort(dns)
	ips := make([]string, len(s.IPs))
	for i, ip := range s.IPs {
		ips[i] = ip.String()
	}
	slices.Sort(ips)
	return slices.Compact(append(dns, ips...))
}

// SANsOf returns the SANs in cert.
func SANsOf(cert *x509.Certificate) SANs {
	return SANs{DNS: cert.DNSNames, IPs: cert.IPAddresses}
}

// LeafRequest describes a leaf certificate to issue.
type LeafRequest struct {
	Profile    Profile
	CommonName string
	Org        string
	SANs       SANs
	Key        *Key
	Days       int
	// NotBefore defaults to five minutes ago, to tolerate clock skew
	// between the deploy host and the compute hosts.
	NotBefore time.Time
}

// Issue signs a leaf certificate for req.Key and returns it with its PEM.
func (ca *CA) Issue(req LeafRequest) (*x509.Certificate, []byte, error) {
	if req.Days <= 0 {
		req.Days = DefaultLeafDays
	}
	cr := &csr.CertificateRequest{CN: req.CommonName}
	if req.Org != "" {
		cr.Names = []csr.Name{{O: req.Org}}
	}
	csrPEM, err := csr.Generate(req.Key.Signer, cr)
	if err != nil {
		return nil, nil, fmt.Errorf("CSR for %s: %w", req.CommonName, err)
	}
	nb, na := ca.LeafDates(req.NotBefore, req.Days)
	hosts := slices.Clone(req.SANs.DNS)
	for _, ip := range req.SANs.IPs {
		hosts = append(hosts, ip.String())
	}
	certPEM, err := ca.signer.Sign(signer.SignRequest{
		Hosts:     hosts,
		Request:   string(csrPEM),
		Profile:   req.Profile.Name,
		NotBefore: nb,
		NotAfter:  na,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s certificate for %s: %w", req.Profile.Name, req.CommonName, err)
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, nil, err
	}
	return certs[0], certPEM, nil
}

// LeafDates are the validity dates Issue gives a leaf of days days that
// starts at notBefore (zero: five minutes ago, to tolerate clock skew
// between the deploy host and the compute hosts).
func (ca *CA) LeafDates(notBefore time.Time, days int) (nb, na time.Time) {
	if days <= 0 {
		days = DefaultLeafDays
	}
	nb = notBefore
	if nb.IsZero() {
		nb = time.Now().Add(-5 * time.Minute)
	}
	// GnuTLS does not demand it, but a leaf that starts before its CA is
	// a surprise to every other checker.
	if nb.Before(ca.Cert.NotBefore) {
		nb = ca.Cert.NotBefore
	}
	na = nb.Add(time.Duration(days) * 24 * time.Hour)
	// A leaf never outlives its CA: GnuTLS would reject it once the CA
	// expires anyway, and a clear cap beats a surprise.
	if na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter
	}
	return nb, na
}

// EndsWith reports whether leaf already runs to this CA's end (leaves
// never outlive their CA, see LeafDates): re-issuing it cannot make it
// last longer. The minute of slack absorbs cfssl's rounding of dates.
func (ca *CA) EndsWith(leaf *x509.Certificate) bool {
	return !leaf.NotAfter.Before(ca.Cert.NotAfter.Add(-time.Minute))
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
// a CA; keyUsage, when present, must hold the profile's bits; EKU, when
// present, must hold the profile's purpose. It is the one rule: issuing
// decides to re-issue on any problem, verify grades them. nil means
// libvirt accepts the certificate.
func CheckUsage(cert *x509.Certificate, profile Profile) []UsageProblem {
	var p []UsageProblem
	if cert.BasicConstraintsValid && cert.IsCA {
		p = append(p, UsageProblem{NotLeaf, true, "is a CA certificate"})
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&profile.KeyUsage != profile.KeyUsage {
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
