package main

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
)

// TestRemoteBadCertificateWritesNothing: the signer's third certificate
// carries a SAN we did not ask for; the run exits 1 naming it, and not
// one file is written, though other certificates were signed fine.
func TestRemoteBadCertificateWritesNothing(t *testing.T) {
	fake := cfssltest.NewFake(t)
	fake.Mutate = func(n int, c *x509.Certificate) crypto.PublicKey {
		if n == 3 {
			c.DNSNames = append(c.DNSNames, "intruder.example.org")
		}
		return nil
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "key.hex")
	os.WriteFile(key, []byte(fake.AuthKey), 0o600)
	out := filepath.Join(dir, "pki")
	code, _, errOut := cli(t, "certificates", "--layout", "libvirt", "--out", out, "--hosts", hostList(10),
		"--remote-signer", fake.URL, "--remote-auth-key-file", key, "--remote-ca-cert", fake.TLSCAFile)
	if code != exitFailure || !strings.Contains(errOut, "(bad-certificate)") || !strings.Contains(errOut, "intruder.example.org") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if fake.Signs() < 3 {
		t.Fatalf("only %d signing requests", fake.Signs())
	}
	files, err := snapshotFiles(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(files) > 0 || len(leftovers(out)) > 0 {
		t.Errorf("written after a bad certificate: %v %v", files, leftovers(out))
	}
}
