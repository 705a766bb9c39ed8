package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BadCertificateError is a certificate a signer returned that fails the
// checks of checkIssued: Issue returns it instead of the certificate.
type BadCertificateError struct {
	CommonName string
	Problems   []string
}

func (e *BadCertificateError) Error() string {
	return fmt.Sprintf("the certificate signed for %s fails our checks: %s", e.CommonName, strings.Join(e.Problems, "; "))
}

// checkIssued checks what a signer (local or remote) returned for req,
// asked to run from nb to na, before Issue returns it: one certificate,
// for req's key, with req's subject and exactly req's SANs, the usages of
// req's profile for the key's family and nothing CheckUsage or
// CheckPolicy objects to, the dates asked for (an ExternalCA's own: valid
// now), and a chain to the CA.
// Nothing unchecked is written. A remote signer's failure is a
// *RemoteError of class RemoteBadCertificate wrapping the
// *BadCertificateError.
func (ca *CA) checkIssued(req LeafRequest, nb, na time.Time, certs []*x509.Certificate) error {
	return ca.checkIssuedFor(req, req.Key.Signer.Public(), nb, na, certs)
}

// checkIssuedFor is checkIssued for the public key pub: SignCSR has no
// private key, only the CSR's public key.
func (ca *CA) checkIssuedFor(req LeafRequest, pub crypto.PublicKey, nb, na time.Time, certs []*x509.Certificate) error {
	cert := certs[0]
	var p []string
	if len(certs) != 1 {
		p = append(p, fmt.Sprintf("%d certificates came back, not the leaf alone", len(certs)))
	}
	if !PublicKeyMatches(pub, cert) {
		p = append(p, "it is for another key")
	}
	if cert.Subject.CommonName != req.CommonName {
		p = append(p, fmt.Sprintf("its CN is %q, not %q", cert.Subject.CommonName, req.CommonName))
	}
	if req.Org != "" && !slices.Equal(cert.Subject.Organization, []string{req.Org}) {
		p = append(p, fmt.Sprintf("its O is %q, not %q", cert.Subject.Organization, req.Org))
	}
	// As sets: cfssl files a host that parses as an address under IPs.
	got, want := SANsOf(cert).Strings(), req.SANs.Strings()
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) || len(cert.EmailAddresses)+len(cert.URIs) > 0 {
		p = append(p, fmt.Sprintf("its SANs are %q (and %d email, %d URI), not %q", got, len(cert.EmailAddresses), len(cert.URIs), want))
	}
	p = append(p, usageMismatch(cert, req.Profile)...)
	if _, external := ca.signer.(externalSigner); external {
		p = append(p, externalDates(cert, time.Now())...)
	} else if cert.NotBefore.Sub(nb).Abs() > time.Minute || cert.NotAfter.Sub(na).Abs() > time.Minute {
		p = append(p, fmt.Sprintf("it runs %s to %s, not %s to %s", day(cert.NotBefore), day(cert.NotAfter), day(nb), day(na)))
	}
	if err := ca.Signed(cert); err != nil {
		p = append(p, fmt.Sprintf("it does not chain to the CA %q: %v", ca.Cert.Subject.CommonName, err))
	}
	if len(p) == 0 {
		return nil
	}
	bad := &BadCertificateError{CommonName: req.CommonName, Problems: p}
	if r, ok := ca.signer.(*remoteSigner); ok {
		return &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: bad}
	}
	return bad
}

// usageMismatch lists how cert's usages differ from what profile issues
// for its key family: exactly that keyUsage (critical when present), that
// one extended key usage, not a CA, and so nothing CheckUsage (libvirt's
// rule) or CheckPolicy (the RFCs') objects to.
func usageMismatch(cert *x509.Certificate, profile Profile) []string {
	var p []string
	if !cert.BasicConstraintsValid || cert.IsCA {
		p = append(p, "it lacks basicConstraints CA:FALSE")
	}
	if want := profile.KeyUsage[FamilyOf(cert.PublicKey)]; cert.KeyUsage != want {
		p = append(p, fmt.Sprintf("its keyUsage is %s, the %s profile gives %s", KeyUsageString(cert.KeyUsage), profile.Name, KeyUsageString(want)))
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{profile.ExtUsage}) || len(cert.UnknownExtKeyUsage) > 0 {
		p = append(p, fmt.Sprintf("its extendedKeyUsage is not %s alone", ExtUsageName(profile.ExtUsage)))
	}
	for _, u := range CheckUsage(cert, profile) {
		p = append(p, u.Text)
	}
	for _, u := range CheckPolicy(cert) {
		p = append(p, u.Text)
	}
	return slices.Compact(p)
}

func day(t time.Time) string { return t.UTC().Format(time.RFC3339) }
