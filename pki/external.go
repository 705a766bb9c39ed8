package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
)

// A CA whose key is not here: a remote signer's CA recorded in a CA
// directory (RemoteCA signs with it), or an external CA with no API
// (FreeIPA, AD CS, an offline root) that signs CSRs out of band.

// LoadCACert reads a CA certificate file (the issuing certificate first,
// then its issuers up to the root) without a key, with LoadCA's checks.
// Its Issue fails: it can only check what others signed.
func LoadCACert(certPEM []byte) (*CA, error) {
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %v", err)
	}
	if err := checkCAChain(certs); err != nil {
		return nil, err
	}
	return &CA{Cert: certs[0], Chain: certs[1:], CertPEM: EncodeCertsPEM(certs...), signer: noSigner{}}, nil
}

// noSigner is the signer of a CA without a key.
type noSigner struct{}

func (noSigner) Sign(signer.SignRequest) ([]byte, error) {
	return nil, errors.New("this CA's key is not here: it cannot sign")
}

// ExternalCA is a CA with no API: its Issue takes, from find, the
// certificate the CA signed for the request's key (the CSR flow's
// import), and checks it as it checks a signer's answer (checkIssued),
// except the dates, which that CA chose: it must be valid now. find
// returns the leaf's PEM, or an error saying none was found.
func ExternalCA(certPEM []byte, find func(pub crypto.PublicKey) ([]byte, error)) (*CA, error) {
	ca, err := LoadCACert(certPEM)
	if err != nil {
		return nil, err
	}
	ca.signer = externalSigner{find}
	return ca, nil
}

// externalSigner answers a sign request with the certificate found for
// the CSR's key.
type externalSigner struct {
	find func(pub crypto.PublicKey) ([]byte, error)
}

func (s externalSigner) Sign(req signer.SignRequest) ([]byte, error) {
	block, _ := pem.Decode([]byte(req.Request))
	if block == nil {
		return nil, errors.New("no CSR")
	}
	cr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	return s.find(cr.PublicKey)
}

// externalDates checks the dates of a certificate an external CA chose:
// it must have begun (with five minutes of skew) and not have expired.
func externalDates(cert *x509.Certificate, now time.Time) []string {
	switch {
	case now.Add(5 * time.Minute).Before(cert.NotBefore):
		return []string{"it is not valid until " + day(cert.NotBefore)}
	case !now.Before(cert.NotAfter):
		return []string{"it expired on " + day(cert.NotAfter)}
	}
	return nil
}

// NewCSR makes a PEM certificate request for req's key, with its subject
// (CN, and O when set) and its SANs, for a CA that signs out of band.
func NewCSR(req LeafRequest) ([]byte, error) {
	cr := &csr.CertificateRequest{CN: req.CommonName}
	if req.Org != "" {
		cr.Names = []csr.Name{{O: req.Org}}
	}
	cr.Hosts = slices.Clone(req.SANs.DNS)
	for _, ip := range req.SANs.IPs {
		cr.Hosts = append(cr.Hosts, ip.String())
	}
	out, err := csr.Generate(req.Key.Signer, cr)
	if err != nil {
		return nil, fmt.Errorf("CSR for %s: %w", req.CommonName, err)
	}
	return out, nil
}

// CSRMatches reports whether csrPEM is a well-signed request for req's
// key, with req's CN, O and exactly its SANs: what NewCSR would make.
func CSRMatches(csrPEM []byte, req LeafRequest) bool {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return false
	}
	cr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || cr.CheckSignature() != nil {
		return false
	}
	pub, ok := cr.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(req.Key.Signer.Public()) || cr.Subject.CommonName != req.CommonName {
		return false
	}
	if org := orgList(req.Org); !slices.Equal(cr.Subject.Organization, org) {
		return false
	}
	have := SANs{DNS: cr.DNSNames, IPs: cr.IPAddresses}.Strings()
	return slices.Equal(have, req.SANs.Strings()) && len(cr.EmailAddresses)+len(cr.URIs) == 0
}

func orgList(org string) []string {
	if org == "" {
		return nil
	}
	return []string{org}
}
