package certs

import (
	"crypto/rand"
	"crypto/rsa"
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
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// rsa1024 is a key under pki's key policy (the one verify reports as
// weak-key), as its PEM file holds it.
func rsa1024(t *testing.T) *pki.Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skip("this Go refuses 1024-bit RSA keys:", err)
	}
	return &pki.Key{Signer: k, PEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})}
}

// TestWeakLeafKey: a leaf whose key is under the key policy is never
// certified again. renew, which keeps keys, refuses (exit 2, naming the
// key file and the reason, nothing written) unless --rotate-keys;
// certificates gives it a new key and says why. On main renew signed a
// new certificate for the 1024-bit key.
func TestWeakLeafKey(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "compute01")
	ca := loadTestCA(t, o.CADir)
	certPath, keyPath := filepath.Join(o.Root, "compute01/servercert.pem"), filepath.Join(o.Root, "compute01/serverkey.pem")
	old := readCert(t, certPath)
	key := rsa1024(t)
	_, certPEM, err := ca.Issue(pki.LeafRequest{Profile: pki.ServerProfile, CommonName: old.Subject.CommonName, Org: "Example", SANs: pki.SANsOf(old), Key: key, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certPath, certPEM, 0o644)
	os.WriteFile(keyPath, key.PEM, 0o600)
	before := snapshot(t, dir)

	_, err = Renew(RenewOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir, All: true})
	if err == nil || !errs.IsInput(err) || !strings.Contains(err.Error(), keyPath+": a 1024-bit RSA key, under the 2048 bits") || !strings.Contains(err.Error(), "--rotate-keys") {
		t.Fatalf("renew of a leaf with a 1024-bit key: %v, want an input error naming %s, the reason and --rotate-keys", err, keyPath)
	}
	if after := snapshot(t, dir); len(after) != len(before) || after[keyPath] != before[keyPath] || after[certPath] != before[certPath] {
		t.Fatal("the refused renew wrote something")
	}

	p, err := MakePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	for _, l := range p.Leaves {
		if l.Host == "compute01" && l.Profile == "server" {
			reason = l.Reason
			if !l.NewKey {
				t.Error("certificates keeps the 1024-bit key")
			}
		}
	}
	if !strings.Contains(reason, "its key is a 1024-bit RSA key") {
		t.Errorf("certificates' reason %q does not name the weak key", reason)
	}
}

// TestWeakCARefused: an external CA with a 1024-bit RSA key is refused
// before anything is written (exit 2, naming the file and the reason);
// on main it signed without a word and verify then reported weak-key.
func TestWeakCARefused(t *testing.T) {
	dir := t.TempDir()
	key := rsa1024(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Weak CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Signer.Public(), key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "weak-ca.pem"), filepath.Join(dir, "weak-ca.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, key.PEM, 0o600)
	hosts, _ := layout.ParseHosts([]string{"compute01"}, nil, "")
	root := filepath.Join(dir, "kolla")
	_, err = MakePlan(Options{Layout: layout.Kolla, Root: root, CADir: filepath.Join(dir, "ca"), Hosts: hosts, CACertFile: certFile, CAKeyFile: keyFile})
	if err == nil || !errs.IsInput(err) || !strings.Contains(err.Error(), certFile) || !strings.Contains(err.Error(), "a 1024-bit RSA key, under the 2048 bits") {
		t.Fatalf("an RSA-1024 CA: %v, want an input error naming %s and the reason", err, certFile)
	}
	if _, err := os.Stat(root); err == nil {
		t.Error("the refused run made the tree")
	}
}
