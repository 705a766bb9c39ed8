package live

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// verifyServer checks the server's chain and name the way libvirt's client
// does with GnuTLS: the chain must lead to one of the CA certificates and be
// valid now; the name is matched against subjectAltName DNS and IP entries,
// and against the CN only when the certificate has no such SAN.
func verifyServer(chain []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) error {
	if len(chain) == 0 {
		return fail(ClassError, "server sent no certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, err := leaf.Verify(opts); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			// Go stops at the first problem. Re-check inside the leaf's
			// validity window so an expired certificate from a foreign CA
			// still reads as unknown-ca, as GnuTLS would report both.
			opts.CurrentTime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
			if _, err2 := leaf.Verify(opts); err2 != nil && !isExpired(err2) {
				return classifyChainErr(err2)
			}
			what := "expired"
			if now.Before(inv.Cert.NotBefore) {
				what = "not yet valid"
			}
			return fail(ClassServerCertExpired, "server certificate \"%s\" %s (valid %s to %s)", subjectOf(inv.Cert),
				what, inv.Cert.NotBefore.UTC().Format(time.RFC3339), inv.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
		return classifyChainErr(err)
	}
	if !matchHostname(leaf, name) {
		return fail(ClassNameMismatch, "server certificate names %s, not %q", certNames(leaf), name)
	}
	return nil
}

func isExpired(err error) bool {
	var inv x509.CertificateInvalidError
	return errors.As(err, &inv) && inv.Reason == x509.Expired
}

func classifyChainErr(err error) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return &failure{class: ClassUnknownCA, err: fmt.Errorf("server certificate not signed by the configured CA: %w", err)}
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.NotAuthorizedToSign {
		return &failure{class: ClassUnknownCA, err: err}
	}
	return &failure{class: ClassError, err: fmt.Errorf("server certificate rejected: %w", err)}
}

var oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}

// matchHostname mirrors gnutls_x509_crt_check_hostname: an IP matches IP
// SANs and, for misissued certificates, DNS SANs spelling the IP; names
// match DNS SANs (leftmost-label wildcards allowed); the CN counts only when
// the certificate has no DNS or IP SAN and exactly one CN.
func matchHostname(cert *x509.Certificate, name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil {
		for _, sip := range cert.IPAddresses {
			if sip.Equal(ip) {
				return true
			}
		}
	}
	for _, dns := range cert.DNSNames {
		if matchDNS(dns, name) {
			return true
		}
	}
	if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 {
		return false
	}
	var cns []string
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oidCN) {
			if s, ok := atv.Value.(string); ok {
				cns = append(cns, s)
			}
		}
	}
	return len(cns) == 1 && matchDNS(cns[0], name)
}

func matchDNS(pattern, name string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	if pattern == name {
		return true
	}
	rest, ok := strings.CutPrefix(pattern, "*.")
	if !ok || !strings.Contains(rest, ".") {
		return false
	}
	label, suffix, ok := strings.Cut(name, ".")
	return ok && label != "" && suffix == rest
}

// certNames lists the names a certificate carries, for a message; the
// peer chose them, so they are escaped and bounded.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return fmt.Sprintf("CN=\"%s\" and no subjectAltName", untrusted.Clean(c.Subject.CommonName, untrusted.MaxName))
	}
	return "[" + untrusted.Clean(strings.Join(names, " "), untrusted.MaxText/2) + "]"
}

// subjectOf is a certificate's subject, escaped and bounded: the peer
// chose it.
func subjectOf(c *x509.Certificate) string {
	return untrusted.Clean(c.Subject.String(), untrusted.MaxName)
}
