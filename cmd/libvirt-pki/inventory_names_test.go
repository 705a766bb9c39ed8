package main

import (
	"os"
	"path/filepath"
	"testing"
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
