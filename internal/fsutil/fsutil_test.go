package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBatchCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.pem")
	os.WriteFile(keep, []byte("old"), 0o644)

	var b Batch
	if err := b.WriteFile(keep, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(keep); string(got) != "old" {
		t.Fatalf("a staged file replaced its target before Commit: %q", got)
	}
	b.Abort()
	entries, _ := os.ReadDir(dir)
	if got, _ := os.ReadFile(keep); string(got) != "old" || len(entries) != 1 {
		t.Fatalf("Abort left %q and %d entries", got, len(entries))
	}

	var c Batch
	for _, name := range []string{"a", "b"} {
		if err := c.WriteFile(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteFile(keep, []byte("new"), 0o644)
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "a", "b": "b", "keep.pem": "new"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Fatalf("%s = %q, %v", name, got, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := c.WriteFile(filepath.Join(dir, "late"), nil, 0o600); err == nil {
		t.Fatal("a committed batch accepted another file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestRefuseSymlinks(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	os.Symlink(filepath.Join(dir, "target"), link)
	if err := WriteFileAtomic(link, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFileAtomic wrote through a symlink")
	}
	var b Batch
	if err := b.WriteFile(link, []byte("x"), 0o600); err == nil {
		t.Fatal("Batch.WriteFile wrote through a symlink")
	}
	if err := MkdirAll(link, 0o755); err == nil {
		t.Fatal("MkdirAll accepted a symlink")
	}
	if _, err := os.Stat(filepath.Join(dir, "target")); err == nil {
		t.Fatal("the symlink's target was created")
	}
}
