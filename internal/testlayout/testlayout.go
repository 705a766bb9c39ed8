// Package testlayout builds credential layouts for other packages' tests
// and benchmarks with the real certificates engine, so they check what
// libvirt-pki actually writes.
package testlayout

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Issue runs a certificates run with o (ECDSA P-256 unless o.Algo says
// otherwise), fails the test on any error, and returns the CA it used,
// loaded back from o.CADir.
func Issue(tb testing.TB, o certs.Options) *pki.CA {
	tb.Helper()
	if o.Algo == "" {
		o.Algo = pki.ECDSAP256
	}
	plan, err := certs.MakePlan(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := plan.Apply(nil); err != nil {
		tb.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(o.CADir, "cacert.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(o.CADir, "cakey.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}
