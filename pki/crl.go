package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"time"

	"github.com/cloudflare/cfssl/crl"
)

// Revocation is one revoked certificate.
type Revocation struct {
	Serial    *big.Int
	RevokedAt time.Time
}

// CRL signs a certificate revocation list for libvirtd's crl_file, valid
// until now+validity, and returns it PEM-encoded ("X509 CRL", which GnuTLS
// reads).
func (ca *CA) CRL(revoked []Revocation, validity time.Duration) ([]byte, error) {
	list := make([]pkix.RevokedCertificate, len(revoked))
	for i, r := range revoked {
		list[i] = pkix.RevokedCertificate{SerialNumber: r.Serial, RevocationTime: r.RevokedAt.UTC()}
	}
	der, err := crl.CreateGenericCRL(list, ca.Key.Signer, ca.Cert, time.Now().Add(validity))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
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
