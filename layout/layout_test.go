package layout

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseHostSpec(t *testing.T) {
	h, err := ParseHostSpec("compute01=compute01.example.org,192.0.2.10,2001:db8::1,COMPUTE01")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"compute01", "compute01.example.org", "192.0.2.10", "2001:db8::1"}
	if got := h.Names(); !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	if err := h.AddDomain("example.org"); err != nil || len(h.Names()) != 4 {
		t.Fatalf("AddDomain duplicated a name: %v %v", h.Names(), err)
	}
}

func TestValidateNameRefuses(t *testing.T) {
	for _, bad := range []string{"", "a/b", "..", "a..b", "-a", "a-", "a_b", "a b", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "aa", "fe80::1%eth0", "é"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"compute01", "a.b-c.example", "192.0.2.1", "::1", "10"} {
		if err := ValidateName(good); err != nil {
			t.Errorf("ValidateName(%q): %v", good, err)
		}
	}
}

func TestParseHostsDuplicates(t *testing.T) {
	if _, err := ParseHosts([]string{"a"}, []string{"b,A"}, ""); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate not refused: %v", err)
	}
	hosts, err := ParseHosts(nil, []string{"a,b"}, "example.org")
	if err != nil || len(hosts) != 2 || !slices.Contains(hosts[1].Names(), "b.example.org") {
		t.Fatalf("%v %v", hosts, err)
	}
}

func TestKollaResolve(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "h1"), 0o755)
	for _, f := range []string{"cacert.pem", "servercert.pem", "h1/servercert.pem"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got := KollaResolve(dir, "h1", os.Stat)
	if got[0].Path != filepath.Join(dir, "cacert.pem") || got[0].FromHostDir {
		t.Fatalf("cacert: %+v", got[0])
	}
	if got[1].Path != filepath.Join(dir, "h1/servercert.pem") || !got[1].FromHostDir {
		t.Fatalf("servercert: %+v", got[1])
	}
	if got[2].Path != "" {
		t.Fatalf("serverkey should be missing: %+v", got[2])
	}
}

func TestLayoutPaths(t *testing.T) {
	if p := Kolla.Path("/k", "h", ServerKey, false); p != "/k/h/serverkey.pem" {
		t.Fatal(p)
	}
	if p := Kolla.Path("/k", "h", ServerKey, true); p != "/k/serverkey.pem" {
		t.Fatal(p)
	}
	if p := Libvirt.Path("/o", "h", ClientKey, true); p != "/o/h/etc/pki/libvirt/private/clientkey.pem" {
		t.Fatal(p)
	}
	if p := NovaLibvirtDir("/etc/kolla", ""); p != "/etc/kolla/config/nova/nova-libvirt" {
		t.Fatal(p)
	}
}

func TestHostDirs(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"compute01", "ca", "not_a_host", "keys"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "compute02"), nil, 0o644) // a file, not a host
	got, err := HostDirs(Libvirt, root, "")
	if err != nil || !slices.Equal(got, []string{"compute01", "keys"}) {
		t.Fatalf("libvirt layout: %v %v (ca is the CA directory)", got, err)
	}
	got, _ = HostDirs(Kolla, root, "")
	if !slices.Equal(got, []string{"ca", "compute01", "keys"}) {
		t.Fatalf("kolla layout keeps its CA elsewhere: %v", got)
	}
	got, _ = HostDirs(PKIPath, root, filepath.Join(root, "keys"))
	if !slices.Equal(got, []string{"ca", "compute01"}) {
		t.Fatalf("a --ca-dir under the root is no host: %v", got)
	}
}
