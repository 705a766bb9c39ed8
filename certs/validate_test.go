package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// writeDatedCA puts a CA valid from notBefore to notAfter in caDir.
func writeDatedCA(t *testing.T, caDir string, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dated CA"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	os.MkdirAll(caDir, 0o700)
	os.WriteFile(filepath.Join(caDir, "cacert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(caDir, "cakey.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// TestExpiredCARefused: certificates and renew refuse to sign with a CA
// that has expired or is not valid yet, naming its dates and rotate-ca.
func TestExpiredCARefused(t *testing.T) {
	now := time.Now()
	for name, dates := range map[string][2]time.Time{
		"expired":         {now.Add(-48 * time.Hour), now.Add(-time.Hour)},
		"not valid until": {now.Add(time.Hour), now.Add(48 * time.Hour)},
	} {
		dir := t.TempDir()
		o := makeLayout(t, layout.Kolla, dir, false, "c1")
		writeDatedCA(t, o.CADir, dates[0], dates[1])
		check := func(what string, err error) {
			if !errs.IsInput(err) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "rotate-ca start") ||
				!strings.Contains(err.Error(), dates[1].UTC().Format(time.RFC3339)) {
				t.Errorf("%s with a CA that is %s: %v", what, name, err)
			}
		}
		_, err := MakePlan(o)
		check("certificates", err)
		_, err = Renew(RenewOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir, All: true})
		check("renew", err)
	}
}

// TestFIFORefused: a FIFO where a certificate is expected is refused at
// once as bad input, never waited on.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "c1")
	for _, path := range []string{filepath.Join(o.Root, "cacert.pem"), filepath.Join(o.Root, "c1/servercert.pem"), filepath.Join(o.CADir, "cacert.pem")} {
		data, _ := os.ReadFile(path)
		testutil.Mkfifo(t, path)
		_, err := MakePlan(o)
		if !errs.IsInput(err) || !strings.Contains(err.Error(), "a FIFO") {
			t.Errorf("%s a FIFO: %v", path, err)
		}
		os.Remove(path)
		os.WriteFile(path, data, 0o644)
	}
}
