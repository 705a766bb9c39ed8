package zlinttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"
)

// A certificate with an empty subject and no SAN breaks RFC 5280; with
// a common name, the RFC lints find nothing.
func TestRFCFindings(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := func(subject pkix.Name) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	if got := RFCFindings(t, ca(pkix.Name{})); !slices.Contains(got, "e_subject_empty_without_san") || !slices.IsSorted(got) {
		t.Errorf("empty subject: %v", got)
	}
	if got := RFCFindings(t, ca(pkix.Name{CommonName: "CA"})); got != nil {
		t.Errorf("CA: %v", got)
	}
}
