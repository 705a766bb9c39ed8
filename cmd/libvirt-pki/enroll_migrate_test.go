package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestEnrollOverDeployHostKeys: a host whose files the deploy host made
// is enrolled with --keep-ca-files (the migration of docs/certmonger.md).
// certmonger alone would adopt the deploy host's key and certificate
// and keep that key; enroll rekeys, so the key becomes one certmonger
// made here, the certificate the signer's for it, and the CA bundle the
// deploy host wrote stays as it was.
func TestEnrollOverDeployHostKeys(t *testing.T) {
	_, signer, conf, prog := startEnrollPeers(t)
	out := t.TempDir()
	mustCLI(t, "certificates", "--layout", "libvirt", "--out", out, "--host", "compute1=127.0.0.1")
	root := filepath.Join(out, "compute1")
	keyFile := filepath.Join(root, "etc/pki/libvirt/private/serverkey.pem")
	certFile := filepath.Join(root, "etc/pki/libvirt/servercert.pem")
	caFile := filepath.Join(root, "etc/pki/CA/cacert.pem")
	oldKey, oldCA, oldSerial := readLog(keyFile, ""), readLog(caFile, ""), serial(t, certFile)

	got := mustCLI(t, "enroll", "--root", root, "--host", "compute1=127.0.0.1", "--program", prog, "--helper-config", conf, "--post-save", "true", "--keep-ca-files")
	if !strings.Contains(got, "rekey libvirt-pki-server: the key at "+keyFile+" was not made here") {
		t.Fatalf("enroll over existing keys:\n%s", got)
	}
	waitSaved(t, certFile, oldSerial)
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	key, err := pki.ParseKey([]byte(readLog(keyFile, "")))
	if err != nil || readLog(keyFile, "") == oldKey {
		t.Fatalf("the deploy host's key is still in use (%v)", err)
	}
	cert := mustCert(t, certFile)
	if !pki.KeyMatches(key.Signer, cert) || signer.CA.Signed(cert) != nil {
		t.Errorf("the new certificate is not the signer's for the new key")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v (%v)", fi.Mode().Perm(), err)
	}
	if readLog(caFile, "") != oldCA {
		t.Errorf("--keep-ca-files: the CA bundle changed")
	}
	if again := mustCLI(t, "enroll", "--root", root, "--host", "compute1=127.0.0.1", "--program", prog, "--helper-config", conf, "--post-save", "true", "--keep-ca-files"); !strings.Contains(again, "0 requests made, 2 unchanged") {
		t.Errorf("second enroll:\n%s", again)
	}
}
