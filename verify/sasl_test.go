package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// saslBundle writes host bundles' SASL files (as libvirt-pki sasl
// --layout libvirt does) under a new root for hosts, with the user in
// realms (by host; none: the host's name) and a passwords.yml holding
// password. It returns the root and the passwords.yml path.
func saslBundle(t *testing.T, password string, realms map[string][]string, hosts ...string) (root, passwords string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "out")
	plan, err := sasl.NewPlan(sasl.Options{Layout: layout.Libvirt, Root: root, Hosts: hosts, Realms: realms,
		Authname: "nova", Password: password, Mechs: []string{"scram-sha-256"}, Format: "bdb", Iterations: sasl.MinSCRAMIterations})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(); err != nil {
		t.Fatal(err)
	}
	passwords = filepath.Join(dir, "passwords.yml")
	if err := os.WriteFile(passwords, []byte("libvirt_sasl_password: "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root, passwords
}

// saslFindings checks root in layout l and returns its SASL findings.
func saslFindings(t *testing.T, l layout.Layout, root, passwords string, hosts ...string) []Finding {
	t.Helper()
	hs, err := layout.ParseHosts(hosts, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Offline(Options{Layout: l, Root: root, Hosts: hs, WarnDays: 30, SASL: &SASLOptions{PasswordsFile: passwords}})
	if err != nil {
		t.Fatal(err)
	}
	var out []Finding
	for _, f := range rep.Findings {
		if strings.HasPrefix(string(f.Code), "sasl-") || f.Code == CodeSecretExposed || (f.Code == CodeUnreadable && strings.Contains(f.Message, "libvirt")) {
			out = append(out, f)
		}
	}
	return out
}

// The SASL files are found where the libvirt layout's SASL rows put them
// and checked against passwords.yml: a clean bundle has no finding; a
// rotated password, a loose mode and a wrong authname are each named by
// the file's place in the bundle.
func TestSASLBundleChecked(t *testing.T) {
	root, pw := saslBundle(t, "secret", nil, "compute01")
	if fs := saslFindings(t, layout.Libvirt, root, pw, "compute01"); len(fs) > 0 {
		t.Fatalf("clean bundle: %+v", fs)
	}
	os.WriteFile(pw, []byte("libvirt_sasl_password: rotated\n"), 0o600)
	fs := saslFindings(t, layout.Libvirt, root, pw, "compute01")
	for _, want := range []struct {
		code Code
		file string
	}{
		{CodeSASLDB, "etc/libvirt/passwd.db"},
		{CodeSASLAuthConf, "root/.config/libvirt/auth.conf"},
		{CodeSASLAuthConf, "var/lib/nova/.config/libvirt/auth.conf"},
	} {
		if !hasFinding(fs, want.code, want.file) {
			t.Errorf("rotated password: no %s for %s in %+v", want.code, want.file, fs)
		}
	}
	os.WriteFile(pw, []byte("libvirt_sasl_password: secret\n"), 0o600)
	nova := filepath.Join(root, "compute01/var/lib/nova/.config/libvirt/auth.conf")
	os.Chmod(nova, 0o640)
	if fs := saslFindings(t, layout.Libvirt, root, pw, "compute01"); !hasFinding(fs, CodeSecretExposed, "var/lib/nova/.config/libvirt/auth.conf") || len(fs) != 1 {
		t.Errorf("auth.conf 0640: %+v", fs)
	}
	os.WriteFile(nova, sasl.AuthConf("admin", "secret"), 0o600)
	if fs := saslFindings(t, layout.Libvirt, root, pw, "compute01"); !hasFinding(fs, CodeSASLAuthConf, "var/lib/nova/.config/libvirt/auth.conf") {
		t.Errorf("auth.conf as admin: %+v", fs)
	}
}

// The sasldb must hold the user in every realm libvirtd may compute (each
// of the host's names): a sasldb with the short name alone is an error
// once the host's FQDN is known; one made with an unrelated --realm is a
// warning naming that realm.
func TestSASLRealms(t *testing.T) {
	fqdn := []string{"compute01=compute01.example.org"}
	root, pw := saslBundle(t, "secret", map[string][]string{"compute01": {"compute01.example.org"}}, "compute01")
	if fs := saslFindings(t, layout.Libvirt, root, pw, fqdn...); len(fs) > 0 {
		t.Fatalf("both realms: %+v", fs)
	}
	// Extra realms are harmless (Cyrus ignores them): checking without
	// the FQDN finds nothing either.
	if fs := saslFindings(t, layout.Libvirt, root, pw, "compute01"); len(fs) > 0 {
		t.Fatalf("both realms, host without its FQDN: %+v", fs)
	}
	short, pw2 := saslBundle(t, "secret", nil, "compute01")
	fs := saslFindings(t, layout.Libvirt, short, pw2, fqdn...)
	if len(fs) != 1 || fs[0].Code != CodeSASLRealmMissing || fs[0].Severity != Error || !strings.Contains(fs[0].Message, `"compute01.example.org"`) {
		t.Fatalf("short-name realm only, host with its FQDN: %+v", fs)
	}
	plan, err := sasl.NewPlan(sasl.Options{Layout: layout.Libvirt, Root: short, Hosts: []string{"compute01"}, Realm: "elsewhere",
		Authname: "nova", Password: "secret", Mechs: []string{"digest-md5"}, Format: "bdb", Iterations: sasl.MinSCRAMIterations})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(); err != nil {
		t.Fatal(err)
	}
	fs = saslFindings(t, layout.Libvirt, short, pw2, fqdn...)
	if len(fs) != 1 || fs[0].Code != CodeSASLRealm || fs[0].Severity != Warning || !strings.Contains(fs[0].Message, `"elsewhere"`) {
		t.Fatalf("--realm elsewhere: %+v", fs)
	}
}

// Kolla's container layout holds no SASL files (Kolla templates them in
// nova_libvirt): files left in a host directory by an older libvirt-pki
// are read by nothing, and verify says nothing about them.
func TestSASLKollaSaysNothing(t *testing.T) {
	root, pw := saslBundle(t, "secret", nil, "compute01")
	for _, f := range []string{"etc/libvirt/passwd.db", "root/.config/libvirt/auth.conf"} {
		data, _ := os.ReadFile(filepath.Join(root, "compute01", f))
		os.WriteFile(filepath.Join(root, "compute01", filepath.Base(f)), data, 0o644)
	}
	os.WriteFile(pw, []byte("libvirt_sasl_password: other\n"), 0o600)
	if fs := saslFindings(t, layout.Kolla, root, pw, "compute01"); len(fs) > 0 {
		t.Fatalf("Kolla layout: %+v", fs)
	}
}

// A FIFO or a symlink to /dev/zero where a SASL file is expected is an
// unreadable finding naming the file, found at once.
func TestSASLSpecialFiles(t *testing.T) {
	root, pw := saslBundle(t, "secret", nil, "h1")
	auth := filepath.Join(root, "h1/root/.config/libvirt/auth.conf")
	db := filepath.Join(root, "h1/etc/libvirt/passwd.db")
	testutil.Mkfifo(t, auth)
	testutil.LinkDevZero(t, db)
	var fs []Finding
	testutil.NoHang(t, func() { fs = saslFindings(t, layout.Libvirt, root, pw, "h1") }, auth)
	for _, want := range []string{auth + ": not a regular file (a FIFO)", db + ": is a symlink"} {
		found := false
		for _, f := range fs {
			found = found || (f.Code == CodeUnreadable && strings.Contains(f.Message, want))
		}
		if !found {
			t.Errorf("no unreadable finding %q in %+v", want, fs)
		}
	}
}

func hasFinding(fs []Finding, code Code, file string) bool {
	for _, f := range fs {
		if f.Code == code && f.File == file {
			return true
		}
	}
	return false
}
