package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// An inventory host whose name is no DNS name and that has no other name
// is bad input: exit 2, one line naming the file and the host, nothing
// written (testdata/inventory_names.txt shows such names accepted).
func TestInventoryHostWithoutCertificateName(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.ini")
	if err := os.WriteFile(inv, []byte("[compute]\ncompute01\ncompute_09\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "kolla")
	wantBadInput(t, inv+`:3: inventory host (group compute) "compute_09": character '_' not allowed`, "certificates", "--config-dir", config, "-i", inv)
	wantBadInput(t, `host "compute_09": `, "sasl", "--layout", "libvirt", "--out", filepath.Join(dir, "hb"), "--config-dir", config, "--host", "compute_09")
	for _, p := range []string{config, filepath.Join(dir, "hb")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s written on bad input", p)
		}
	}
}

// A host named compute_06 in the inventory, reached as its
// migration_hostname: a real libvirtd serving its server pair accepts
// virsh holding its client pair (GnuTLS on both sides), by that name.
func TestUnderscoreInventoryNameAgainstLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virsh")
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.ini")
	if err := os.WriteFile(inv, []byte("[compute]\ncompute_06 migration_hostname=localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kolla := filepath.Join(dir, "kolla")
	runCLI(t, "certificates", "--config-dir", kolla, "-i", inv)
	nl := filepath.Join(kolla, "config/nova/nova-libvirt")
	pkipath := filepath.Join(dir, "pkipath")
	runCLI(t, "certificates", "--layout", "pkipath", "--out", pkipath, "-i", inv,
		"--ca-cert", filepath.Join(kolla, "certificates/libvirt/cacert.pem"), "--ca-key", filepath.Join(kolla, "certificates/libvirt/cakey.pem"))
	d := libvirttest.Start(t, libvirttest.Config{
		CACert:     filepath.Join(nl, "cacert.pem"),
		ServerCert: filepath.Join(nl, "compute_06/servercert.pem"),
		ServerKey:  filepath.Join(nl, "compute_06/serverkey.pem"),
	})
	uri := "test+tls://localhost:" + strconv.Itoa(d.Port) + "/default?pkipath=" + filepath.Join(pkipath, "compute_06")
	out, err := libvirttest.Virsh(t, uri, nil, "hostname")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("virsh to compute_06 as localhost: %v\n%s\nlibvirtd log:\n%s", err, out, d.Log())
	}
	d.NoCertificateWarnings(t)
}
