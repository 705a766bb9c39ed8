package pki

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revocation is one revoked certificate.
type Revocation struct {
	Serial    *big.Int
	RevokedAt time.Time
}

// CRL signs a certificate revocation list for libvirtd's crl_file, valid
// from now until now+validity, with CRL number number and the authority
// key identifier (RFC 5280 §5.2.1, §5.2.3: both MUST), and returns it
// PEM-encoded ("X509 CRL", which GnuTLS reads). A validity below zero
// makes a CRL that has already expired (for tests of that).
func (ca *CA) CRL(revoked []Revocation, number *big.Int, validity time.Duration) ([]byte, error) {
	if number == nil || number.Sign() <= 0 {
		return nil, errors.New("CRL number must be positive")
	}
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, r := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt.UTC()}
	}
	this := time.Now().UTC().Truncate(time.Second)
	next := this.Add(validity)
	if next.Before(this) {
		this = next
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		SignatureAlgorithm:        signatureAlgorithm(ca.Key),
		RevokedCertificateEntries: entries,
		Number:                    number,
		ThisUpdate:                this,
		NextUpdate:                next,
	}, crlIssuer(ca.Cert), ca.Key.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// crlIssuer is the CA certificate as crypto/x509 wants a CRL's issuer: an
// external CA with no keyUsage extension may sign CRLs (RFC 5280 allows
// every use then), and one without a subject key identifier gets the key
// identifier RFC 5280 §4.2.1.2 (1) derives, for the CRL's authority key
// identifier.
func crlIssuer(c *x509.Certificate) *x509.Certificate {
	if (hasExtension(c, oidKeyUsage) || c.KeyUsage&x509.KeyUsageCRLSign != 0) && len(c.SubjectKeyId) > 0 {
		return c
	}
	cp := *c
	if !hasExtension(c, oidKeyUsage) {
		cp.KeyUsage |= x509.KeyUsageCRLSign
	}
	if len(cp.SubjectKeyId) == 0 {
		var spki struct {
			Algorithm asn1.RawValue
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err == nil {
			sum := sha1.Sum(spki.PublicKey.Bytes)
			cp.SubjectKeyId = sum[:]
		}
	}
	return &cp
}

// ParseCRLPEM reads a PEM (or DER) CRL.
func ParseCRLPEM(data []byte) (*x509.RevocationList, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, errors.New("not a PEM X509 CRL")
		}
		data = block.Bytes
	}
	return x509.ParseRevocationList(data)
}
