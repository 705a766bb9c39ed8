package fsutil

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]string{
		".cert.pem.tmp-123":            "cert.pem",
		".a.tmp-1.tmp-42":              "a.tmp-1",
		".libvirt-pki.journal.tmp-007": "libvirt-pki.journal",
		"cert.pem.tmp-123":             "",
		".cert.pem.tmp-":               "",
		".cert.pem.tmp-12x":            "",
		"..tmp-1":                      "",
		".tmp-1":                       "",
		".cert.pem":                    "",
	} {
		base, ok := isTempName(name)
		if ok != (want != "") || base != want {
			t.Errorf("isTempName(%q) = %q, %v; want %q", name, base, ok, want)
		}
	}
	// The names CreateTemp makes from tempPattern must be recognised.
	f, err := os.CreateTemp(t.TempDir(), tempPattern("serverkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if base, ok := isTempName(filepath.Base(f.Name())); !ok || base != "serverkey.pem" {
		t.Fatalf("%s not recognised: %q %v", f.Name(), base, ok)
	}
}

func TestSweepTemp(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(rel string) string {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o600)
		return p
	}
	swept := []string{
		write(".cacert.pem.tmp-1"),
		write("config/nova/.cacert.pem.tmp-22"),
		write("config/nova/host1/.serverkey.pem.tmp-333"),
	}
	kept := []string{
		write("config/nova/host1/serverkey.pem"),
		write("config/nova/host1/.serverkey.pem.tmp-x"),
		write("config/nova/host1/serverkey.pem.tmp-1"),
		write("a/b/c/d/.too-deep.tmp-1"),
		write(".libvirt-pki.lock"),
	}
	os.Mkdir(filepath.Join(root, ".dir.tmp-1"), 0o755) // not a regular file
	kept = append(kept, filepath.Join(root, ".dir.tmp-1"))
	// A symlink named like a temp file, and a symlinked directory holding
	// one: neither the links nor what they point at may go.
	target := filepath.Join(outside, ".victim.tmp-1")
	os.WriteFile(target, []byte("x"), 0o600)
	os.Symlink(target, filepath.Join(root, ".link.tmp-1"))
	os.Symlink(outside, filepath.Join(root, "linked-dir"))
	kept = append(kept, target, filepath.Join(root, ".link.tmp-1"))

	removed, err := SweepTemp(root, 3)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(swept)
	if !slices.Equal(removed, swept) {
		t.Fatalf("removed %v, want %v", removed, swept)
	}
	for _, p := range swept {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if removed, err := SweepTemp(root, -1); err != nil || len(removed) != 1 || !strings.HasSuffix(removed[0], ".too-deep.tmp-1") {
		t.Fatalf("SweepTemp without a depth limit: %v, %v", removed, err)
	}
	if removed, err := SweepTemp(filepath.Join(root, "missing"), -1); err != nil || removed != nil {
		t.Fatalf("SweepTemp of a missing root: %v, %v", removed, err)
	}
}

// While a journal is pending, its temporary files are the new unit.
func TestSweepTempRefusesWithJournal(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	tmp := filepath.Join(root, "sub", ".a.tmp-1")
	os.WriteFile(tmp, []byte("new"), 0o600)
	os.WriteFile(filepath.Join(root, "sub", JournalFileName), []byte("{}"), 0o600)
	if removed, err := SweepTemp(root, -1); err == nil || !strings.Contains(err.Error(), JournalFileName) || removed != nil {
		t.Fatalf("SweepTemp beside a journal: %v, %v", removed, err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a journalled temporary file was removed: %v", err)
	}
}
