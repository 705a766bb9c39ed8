package pki_test

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestExternalCA: an external CA's certificate is taken by its key and
// checked as a signer's answer, its dates being the CA's own; one not
// valid yet, or none, is refused. NewCSR's request matches, and stops matching
// when the SANs change.
func TestExternalCA(t *testing.T) {
	signer, err := pki.NewCA(pki.CAOptions{CommonName: "offline root", Algo: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	req := pki.LeafRequest{Profile: pki.ServerProfile, CommonName: "h1", SANs: pki.SANs{DNS: []string{"h1"}}, Key: key}
	csr, err := pki.NewCSR(req)
	if err != nil || !pki.CSRMatches(csr, req) {
		t.Fatalf("NewCSR: %v", err)
	}
	other := req
	other.SANs = pki.SANs{DNS: []string{"h1", "h2"}}
	if pki.CSRMatches(csr, other) {
		t.Error("a CSR matches other SANs")
	}
	for _, tc := range []struct {
		name      string
		notBefore time.Time
		days      int
		want      string
	}{
		{"valid", time.Time{}, 20, ""},
		{"not yet valid", time.Now().Add(48 * time.Hour), 1, "not valid until"},
		{"none", time.Time{}, 0, "no certificate"},
	} {
		var certPEM []byte
		if tc.days > 0 {
			r := req
			r.NotBefore, r.Days = tc.notBefore, tc.days
			if _, certPEM, err = signer.Issue(r); err != nil {
				t.Fatal(err)
			}
		}
		ext, err := pki.ExternalCA(signer.CertPEM, func(crypto.PublicKey) ([]byte, error) {
			if certPEM == nil {
				return nil, errNone
			}
			return certPEM, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ext.Issue(req) // asks for 730 days: the CA's dates stand
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

var errNone = errorString("no certificate for this key")

type errorString string

func (e errorString) Error() string { return string(e) }
