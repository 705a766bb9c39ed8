package certs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// A compute host and a console proxy host get their own bundles: the
// proxy's holds the novncproxy files alone, and each tarball holds the
// files of its manifest with their modes and owners.
func TestBundles(t *testing.T) {
	dir := t.TempDir()
	hosts, _ := layout.ParseHosts([]string{"c1=192.0.2.1"}, nil, "")
	proxies, _ := layout.ParseHosts([]string{"p1"}, nil, "")
	o := Options{Layout: layout.Libvirt, Root: dir, CADir: layout.OutCADir(dir), Hosts: hosts, ProxyHosts: proxies,
		Sets: []string{"novncproxy", "qemu", "libvirt"}, Bundle: true, Algo: pki.ECDSAP256}
	plan, err := MakePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range plan.Leaves {
		kinds = append(kinds, l.Host+"/"+l.Profile)
	}
	if want := []string{"c1/server", "c1/client", "c1/qemu-server", "c1/qemu-client", "p1/novncproxy-client"}; !slices.Equal(kinds, want) {
		t.Fatalf("leaves %v, want %v", kinds, want)
	}
	if err := plan.Apply(nil); err != nil {
		t.Fatal(err)
	}
	entries := tarEntries(t, filepath.Join(dir, "p1.tar"))
	if len(entries) != 5 || entries["etc/pki/nova-novncproxy/client-key.pem"] != "0640 root:nova" {
		t.Fatalf("p1.tar: %v", entries)
	}
	entries = tarEntries(t, filepath.Join(dir, "c1.tar"))
	// docs/key-modes.md: root's keys 0600, QEMU's root:qemu 0640, the
	// client key nova-compute reads root:nova 0640 (it was 0644).
	if entries["etc/pki/qemu/server-key.pem"] != "0640 root:qemu" || entries["etc/pki/libvirt/private/serverkey.pem"] != "0600 root:root" ||
		entries["etc/pki/libvirt/private/clientkey.pem"] != "0640 root:nova" {
		t.Fatalf("c1.tar: %v", entries)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "c1/etc/libvirt-pki/MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), "\n/etc/pki/libvirt/private/clientkey.pem\t0640\troot\tnova\n") {
		t.Errorf("the manifest does not give the client key 0640 root:nova:\n%s", manifest)
	}
	if n := strings.Count(string(manifest), "\n/"); n != len(entries) {
		t.Errorf("manifest lists %d files, the tarball holds %d", n, len(entries))
	}
	if _, err := os.Stat(filepath.Join(dir, "c1/etc/pki/nova-novncproxy")); err == nil {
		t.Error("the compute host's bundle holds the proxy's files")
	}
}

// tarEntries maps each file of a tarball to "MODE owner:group".
func tarEntries(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = fmt.Sprintf("%04o %s:%s", h.Mode, h.Uname, h.Gname)
	}
}
