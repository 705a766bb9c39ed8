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
	got := Tree{Layout: Kolla, Root: dir}.Resolve("h1")
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
	kolla, libvirt := Tree{Layout: Kolla, Root: "/k"}, Tree{Layout: Libvirt, Root: "/o"}
	if p := kolla.Target(kolla.WriteUnit("h", false), ServerKey); p != "/k/h/serverkey.pem" {
		t.Fatal(p)
	}
	if p := kolla.Target(kolla.WriteUnit("h", true), ServerKey); p != "/k/serverkey.pem" {
		t.Fatal(p)
	}
	if p := kolla.Target(kolla.WriteUnit("h", false), CACert); p != "/k/cacert.pem" {
		t.Fatal(p)
	}
	if p := libvirt.Target(libvirt.WriteUnit("h", true), ClientKey); p != "/o/h/etc/pki/libvirt/private/clientkey.pem" {
		t.Fatal(p)
	}
}

func TestHostDirs(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"compute01", "ca", "not_a_host", "keys"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "compute02"), nil, 0o644) // a file, not a host
	got, err := Tree{Layout: Libvirt, Root: root}.HostDirs()
	if err != nil || !slices.Equal(got, []string{"compute01", "keys"}) {
		t.Fatalf("libvirt layout: %v %v (ca is the CA directory)", got, err)
	}
	got, _ = Tree{Layout: Kolla, Root: root}.HostDirs()
	if !slices.Equal(got, []string{"ca", "compute01", "keys"}) {
		t.Fatalf("kolla layout keeps its CA elsewhere: %v", got)
	}
	got, _ = Tree{Layout: PKIPath, Root: root, CADir: filepath.Join(root, "keys")}.HostDirs()
	if !slices.Equal(got, []string{"ca", "compute01"}) {
		t.Fatalf("a --ca-dir under the root is no host: %v", got)
	}
}

func TestTreeUnitsRefusesSymlinkedHostDir(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	os.Mkdir(filepath.Join(root, "h1"), 0o755)
	os.Mkdir(filepath.Join(root, "ca"), 0o700)
	tree := Tree{Layout: Libvirt, Root: root}
	units, err := tree.Units()
	if err != nil || len(units) != 1 || units[0].Host != "h1" {
		t.Fatalf("units %+v, %v: want h1 alone (ca is the CA directory)", units, err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "h2")); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.Units(); err == nil || !strings.Contains(err.Error(), "h2: host directory is a symlink") {
		t.Fatalf("a symlinked host directory must be refused, not skipped: %v", err)
	}
}

func TestModeRuleFallsBackToTheSameSort(t *testing.T) {
	if mode, forbid := PKIPath.ModeRule(ServerKey); mode != 0o600 || forbid != 0o077 {
		t.Fatalf("pkipath server key: %o %o", mode, forbid)
	}
	if mode, _ := PKIPath.ModeRule(ServerCert); mode != 0o600 {
		t.Fatalf("pkipath server cert: %o", mode)
	}
	if mode, forbid := Libvirt.ModeRule(ClientKey); mode != 0o644 || forbid != 0o022 {
		t.Fatalf("libvirt client key: %o %o", mode, forbid)
	}
}

// The libvirt layout's QEMU files are where QEMU and libvirt look for
// them by default, with the dashes QEMU uses; QEMU reads its keys as the
// qemu user, so they are root:qemu 0640.
func TestLibvirtLayoutQEMUFiles(t *testing.T) {
	for role, rel := range map[Role]string{
		QemuCACert: "etc/pki/qemu/ca-cert.pem", QemuServerKey: "etc/pki/qemu/server-key.pem",
		VNCServerCert: "etc/pki/libvirt-vnc/server-cert.pem", SpiceServerKey: "etc/pki/libvirt-spice/server-key.pem",
	} {
		spec, ok := Libvirt.Spec(role)
		if !ok || spec.Rel != rel {
			t.Errorf("%s: %+v", role, spec)
		}
		if role.IsKey() && (spec.Mode != 0o640 || spec.GroupName() != "qemu" || spec.OwnerName() != "root") {
			t.Errorf("%s: mode %04o %s:%s", role, spec.Mode, spec.OwnerName(), spec.GroupName())
		}
	}
	if spec, ok := Libvirt.SpecAt("/x/h/etc/pki/libvirt-vnc/ca-cert.pem"); !ok || spec.Role != VNCCACert || spec.CRL != QEMUCRLFile {
		t.Errorf("SpecAt: %+v", spec)
	}
	if !Kolla.Holds(SpiceServerKey) || Kolla.Has(SpiceServerKey) || Kolla.Holds(QemuServerCert) {
		t.Error("Kolla's SPICE reuse is wrong")
	}
}

// CAFiles lists every CA copy and CRLFiles the CRL each consumer reads.
func TestCAFilesEveryCopy(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"h1/etc/pki/CA/cacert.pem", "h1/etc/pki/qemu/ca-cert.pem", "h2/etc/pki/nova-novncproxy/ca-cert.pem"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	tree := Tree{Layout: Libvirt, Root: dir}
	cas, err := tree.CAFiles()
	if err != nil || len(cas) != 3 {
		t.Fatalf("CAFiles: %v %v", cas, err)
	}
	crls, err := tree.CRLFiles()
	want := []string{filepath.Join(dir, "h1/etc/pki/CA/cacrl.pem"), filepath.Join(dir, "h1/etc/pki/qemu/ca-crl.pem")}
	if err != nil || !slices.Equal(crls, want) {
		t.Fatalf("CRLFiles: %v, want %v (%v)", crls, want, err)
	}
}

func TestCommonDir(t *testing.T) {
	pairs := func(l Layout) []FileSpec {
		var out []FileSpec
		for _, f := range l.Files {
			if !f.Shared && f.Role != CACert {
				out = append(out, f)
			}
		}
		return out
	}
	for _, c := range []struct {
		specs []FileSpec
		want  string
	}{
		{pairs(Kolla), ""},
		{pairs(Libvirt), "etc/pki"},
		{Libvirt.SASL, ""},
		{[]FileSpec{{Rel: "etc/pki/libvirt/servercert.pem"}, {Rel: "etc/pki/libvirt/private/serverkey.pem"}}, "etc/pki/libvirt"},
		{[]FileSpec{{Rel: "etc/pki/qemu/server-cert.pem"}, {Rel: "etc/pki/qemu/server-key.pem"}}, "etc/pki/qemu"},
		{[]FileSpec{{Rel: "a/bc/x"}, {Rel: "a/b/y"}}, "a"},
	} {
		if got := CommonDir(c.specs); got != c.want {
			t.Errorf("CommonDir(%v) = %q, want %q", c.specs, got, c.want)
		}
	}
}
