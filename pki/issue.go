package pki

import (
	"crypto/x509"
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
	nb := req.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-5 * time.Minute)
	}
	// GnuTLS does not demand it, but a leaf that starts before its CA is
	// a surprise to every other checker.
	if nb.Before(ca.Cert.NotBefore) {
		nb = ca.Cert.NotBefore
	}
	na := nb.Add(time.Duration(req.Days) * 24 * time.Hour)
	// A leaf never outlives its CA: GnuTLS would reject it once the CA
	// expires anyway, and a clear cap beats a surprise.
	if na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter
	}
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

// UsageProblems lists how cert falls short of profile by libvirt's rules
// (it must not be a CA; keyUsage, when present, must hold the profile's
// bits; EKU, when present, must hold the profile's purpose). It returns nil
// for a certificate libvirt accepts.
func UsageProblems(cert *x509.Certificate, profile Profile) []string {
	var p []string
	if cert.BasicConstraintsValid && cert.IsCA {
		p = append(p, "is a CA certificate")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&profile.KeyUsage != profile.KeyUsage {
		p = append(p, "keyUsage lacks digitalSignature or keyEncipherment")
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, profile.ExtUsage) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		p = append(p, "extendedKeyUsage lacks "+extUsageName(profile.ExtUsage))
	}
	return p
}

func extUsageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "serverAuth"
	}
	return "clientAuth"
}
