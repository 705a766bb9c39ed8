package certs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestCRLNumberGrows: every re-sign takes the next CRL number, written
// with the CRL; a CA directory whose crlnumber.json was lost continues after
// its CRL's number; every CRL names its CA's key (authority key
// identifier).
func TestCRLNumberGrows(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Libvirt, dir, false, "c1")
	ro := RevokeOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir, CRLDays: 30}
	ca := loadTestCA(t, o.CADir)
	crlNumber := func(path string) int64 {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := pki.ParseCRLPEM(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(crl.AuthorityKeyId, ca.Cert.SubjectKeyId) || len(crl.AuthorityKeyId) == 0 {
			t.Fatalf("%s: authority key id %x, CA's key id %x", path, crl.AuthorityKeyId, ca.Cert.SubjectKeyId)
		}
		return crl.Number.Int64()
	}
	caCRL := filepath.Join(o.CADir, CRLFile)
	for want := int64(1); want <= 3; want++ {
		if want == 2 {
			ro.Hosts = []string{"c1"}
		} else {
			ro.Hosts = nil
		}
		res, err := Revoke(ro)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.CRLFiles {
			if got := crlNumber(f); got != want {
				t.Fatalf("re-sign %d: %s has CRL number %d", want, f, got)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(o.CADir, crlNumberFile)); string(b) != `{"crl_number":`+res.CRLNumber+"}\n" || res.CRLNumber != strconv.FormatInt(want, 10) {
			t.Fatalf("crlnumber.json holds %q, result says %q, want %d", b, res.CRLNumber, want)
		}
	}
	if err := os.Remove(filepath.Join(o.CADir, crlNumberFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Revoke(ro); err != nil {
		t.Fatal(err)
	}
	if got := crlNumber(caCRL); got != 4 {
		t.Fatalf("without crlnumber.json: CRL number %d, want 4 (after the CRL's own 3)", got)
	}
	ro.DryRun = true
	if res, err := Revoke(ro); err != nil || res.CRLNumber != "5" || crlNumber(caCRL) != 4 {
		t.Fatalf("dry run: %v, number %v, CRL on disk %d", err, res, crlNumber(caCRL))
	}
	os.WriteFile(filepath.Join(o.CADir, crlNumberFile), []byte(`{"crl_number": "seven"}`), 0o600)
	ro.DryRun = false
	if _, err := Revoke(ro); !errs.IsInput(err) {
		t.Fatalf("a crlnumber.json that is no number: %v", err)
	}
}
