package verify

// The judgements of one certificate or CRL that the offline check makes:
// a CA file, dates, a leaf's usages and names, key and signature strength,
// the chain, and the CRL that applies.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

func (c *checker) judgeCAFile(pf *parsedFile, add func(Severity, Code, string, ...any)) {
	if len(pf.certs) > layout.CAFileMaxCerts {
		add(Error, CodeCATooMany, "cacert.pem holds %d certificates; libvirt reads at most %d: remove old CAs", len(pf.certs), layout.CAFileMaxCerts)
	}
	if pf.size > layout.CAFileMaxBytes {
		add(Error, CodeCATooLarge, "cacert.pem is %d bytes; libvirt reads at most %d: remove old CAs", pf.size, layout.CAFileMaxBytes)
	}
	for i, cert := range pf.certs {
		name := fmt.Sprintf("certificate %d (%s)", i+1, cert.Subject.CommonName)
		if !cert.BasicConstraintsValid || !cert.IsCA {
			add(Error, CodeCANotCA, "cacert.pem %s is not a CA (basicConstraints CA:TRUE missing): libvirt refuses it", name)
		}
		c.judgeDates(cert, "cacert.pem "+name, add)
		judgeCrypto(cert, isSelfSigned(cert), add)
	}
}

func (c *checker) judgeDates(cert *x509.Certificate, what string, add func(Severity, Code, string, ...any)) {
	now := c.o.Now
	switch left := cert.NotAfter.Sub(now); {
	case now.Before(cert.NotBefore):
		add(Error, CodeNotYetValid, "%s is not valid until %s: check the clock of the host that issued it", what, cert.NotBefore.UTC().Format(time.RFC3339))
	case left <= 0:
		add(Error, CodeExpired, "%s expired on %s: renew it (libvirt-pki certificates)", what, cert.NotAfter.UTC().Format("2006-01-02"))
	case left < time.Duration(c.o.WarnDays)*24*time.Hour:
		add(Warning, CodeExpiring, "%s expires on %s, in %d days: renew it (libvirt-pki certificates)", what, cert.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	}
}

// judgeLeaf grades pki.CheckUsage's problems the way libvirt does: a
// problem in a critical extension (and a leaf that is a CA) is fatal, any
// other a warning. An RFC rule the keyUsage breaks that libvirt does not
// care about (pki.CheckPolicy: the mark of the old key-usage policy) is a
// warning naming zlint's lint.
func judgeLeaf(cert *x509.Certificate, profile pki.Profile, add func(Severity, Code, string, ...any)) {
	name := profile.Name + " certificate"
	codes := map[pki.UsageCheck]Code{pki.NotLeaf: CodeLeafIsCA, pki.KeyUsageBad: CodeKeyUsage, pki.ExtUsageBad: CodeExtKeyUsage}
	for _, p := range pki.CheckUsage(cert, profile) {
		switch {
		case p.What == pki.NotLeaf:
			add(Error, CodeLeafIsCA, "the %s is a CA certificate: libvirt refuses it; re-issue it as a leaf", name)
		case p.Critical:
			add(Error, codes[p.What], "the %s's %s (the extension is critical, so libvirt refuses it): re-issue it", name, p.Text)
		default:
			add(Warning, codes[p.What], "the %s's %s (libvirt warns): re-issue it", name, p.Text)
		}
	}
	for _, p := range pki.CheckPolicy(cert) {
		add(Warning, CodeUsagePolicy, "the %s's %s (zlint %s); libvirt accepts it, so it is re-issued under the current key-usage policy at its next renewal, or now with libvirt-pki certificates --force", name, p.Text, p.Lint)
	}
}

// judgeCrypto flags keys below pki's key policy (pki.KeyWeakness) and SHA-1 or weaker
// signatures (a root's self-signature carries no trust, so only a warning).
func judgeCrypto(cert *x509.Certificate, selfSigned bool, add func(Severity, Code, string, ...any)) {
	if w := pki.KeyWeakness(cert.PublicKey); w != "" {
		add(Error, CodeWeakKey, "%s has %s: re-issue with --key-algo ecdsa-p256 or rsa-3072", cert.Subject.CommonName, w)
	}
	switch cert.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		sev := Error
		if selfSigned {
			sev = Warning
		}
		add(sev, CodeWeakSignature, "%s is signed with %s: re-issue it with SHA-256", cert.Subject.CommonName, cert.SignatureAlgorithm)
	}
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// verifyChain checks leaf against the CA file's certificates, every one a
// trust anchor as GnuTLS treats them, with extra intermediates from the
// leaf's own file. Dates are judged separately, so the chain is checked at
// a moment every link is valid.
func verifyChain(leaf *x509.Certificate, extra, anchors []*x509.Certificate) error {
	roots := x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	inter := x509.NewCertPool()
	for _, e := range extra {
		inter.AddCert(e)
	}
	at := leaf.NotBefore.Add(time.Second)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err == nil {
		return nil
	}
	// The anchors may have begun after the leaf did (a re-issued CA).
	_, err2 := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: leaf.NotAfter.Add(-time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err2 == nil {
		return nil
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("issuer %q is not in cacert.pem", leaf.Issuer.CommonName)
	}
	return err
}

// coversName matches a name the way GnuTLS's gnutls_x509_crt_check_hostname
// does: against SAN DNS names and IP addresses, and against the CN only
// when the certificate has no SAN at all.
func coversName(cert *x509.Certificate, name string) bool {
	if len(cert.DNSNames) == 0 && len(cert.IPAddresses) == 0 && len(cert.URIs) == 0 && len(cert.EmailAddresses) == 0 {
		return strings.EqualFold(cert.Subject.CommonName, name)
	}
	return cert.VerifyHostname(name) == nil
}

// parsedCRL is a cacrl.pem read once.
type parsedCRL struct {
	path     string
	revoked  map[string]bool
	findings []Finding // the CRL's own, host left blank (merge places them)
}

// crlFor finds the CRL libvirt would use beside the host's cacert.pem
// (cacrl.pem, the name libvirt's defaults and pkipath use) and judges it:
// it must be signed by a CA in cacert.pem and not past its next update,
// after which libvirtd refuses every client.
// The anchors of the first host to ask are used: a CRL's path follows
// from its CA file's, so every host asking has the same anchors.
func (c *checker) crlFor(host string, caRole layout.Role, caPath string, anchors []*x509.Certificate) *parsedCRL {
	spec, _ := c.o.Layout.Spec(caRole)
	if spec.CRL == "" {
		return nil
	}
	path := filepath.Join(filepath.Dir(caPath), spec.CRL)
	if caRole == layout.CACert {
		path = c.tree.CRLFor(host, caPath) // Kolla's host directory may hold its own
	}
	return c.crls.Get(path, func() *parsedCRL { return c.readCRL(path, anchors) })
}

// readCRL reads and judges the CRL at path (nil when there is none).
func (c *checker) readCRL(path string, anchors []*x509.Certificate) *parsedCRL {
	data, err := c.o.Files.ReadFile(path, fsutil.LimitCRL)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	pc := &parsedCRL{path: path, revoked: map[string]bool{}}
	report := func(sev Severity, code Code, format string, a ...any) {
		pc.findings = append(pc.findings, Finding{sev, code, "", "cacrl.pem", fmt.Sprintf(format, a...)})
	}
	if err != nil {
		report(Error, CodeUnreadable, "%v", err)
		return pc
	}
	crl, err := pki.ParseCRLPEM(data)
	if err != nil {
		report(Error, CodeUnreadable, "%s: %v", path, err)
		return pc
	}
	trusted := false
	for _, a := range anchors {
		if crl.CheckSignatureFrom(a) == nil {
			trusted = true
		}
	}
	if !trusted {
		report(Error, CodeCRLUntrusted, "%s is not signed by a CA in cacert.pem: libvirtd will refuse clients; re-sign it (libvirt-pki revoke)", path)
	}
	switch left := crl.NextUpdate.Sub(c.o.Now); {
	case !crl.NextUpdate.IsZero() && left <= 0:
		report(Error, CodeCRLExpired, "%s passed its next update on %s: libvirtd refuses clients; re-sign it (libvirt-pki revoke --crl-days N)", path, crl.NextUpdate.UTC().Format("2006-01-02"))
	case !crl.NextUpdate.IsZero() && left < time.Duration(c.o.WarnDays)*24*time.Hour:
		report(Warning, CodeExpiring, "%s must be re-signed by %s (libvirt-pki revoke --crl-days N)", path, crl.NextUpdate.UTC().Format("2006-01-02"))
	}
	for _, r := range crl.RevokedCertificateEntries {
		pc.revoked[pki.HexSerial(r.SerialNumber)] = true
	}
	return pc
}
