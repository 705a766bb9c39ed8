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
		Profile:   req.Profile.cfsslName(FamilyOf(req.Key.Signer.Public())),
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
	if err := ca.checkIssued(req, nb, na, certs); err != nil {
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
