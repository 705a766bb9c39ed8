package certs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

func TestRoots(t *testing.T) {
	for _, c := range []struct {
		top, root, caDir string
		want             []string
	}{
		{"/k", "/k/config/nova/nova-libvirt", "/k/certificates/libvirt", []string{"/k"}},
		{"/o", "/o", "/o/ca", []string{"/o"}},
		{"/k", "/k/config/nova/nova-libvirt", "/ca", []string{"/ca", "/k"}},
		{"", "/r", "/ca", []string{"/ca", "/r"}},
		{"/k", "/custom/nova/nova-libvirt", "/k/certificates/libvirt", []string{"/k", "/custom/nova/nova-libvirt"}},
	} {
		if got := Roots(c.top, c.root, c.caDir); !slices.Equal(got, c.want) {
			t.Errorf("Roots(%q, %q, %q) = %q, want %q", c.top, c.root, c.caDir, got, c.want)
		}
	}
}

// TestStagePartial: when the CA directory's tree commits and the other
// tree's commit fails, the error is an errs.Partial naming the CA files
// (exit 1, not 2), and the other tree's files are untouched.
func TestStagePartial(t *testing.T) {
	dir := t.TempDir()
	caDir, root := filepath.Join(dir, "ca"), filepath.Join(dir, "root")
	for _, d := range []string{caDir, root} {
		os.Mkdir(d, 0o755)
	}
	s := newStage(layout.Kolla, "", root, caDir, false)
	caFile, leaf := filepath.Join(caDir, "cacert.pem"), filepath.Join(root, "servercert.pem")
	for _, p := range []string{caFile, leaf} {
		if err := s.WriteFile(p, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A journal already in root: its batch refuses to commit.
	os.WriteFile(filepath.Join(root, fsutil.JournalFileName), []byte("{}"), 0o600)
	err := s.Commit()
	var partial *errs.Partial
	if !errors.As(err, &partial) || errs.IsInput(err) || !slices.Equal(partial.Written, []string{caFile}) {
		t.Fatalf("Commit: %v, want a Partial naming %s", err, caFile)
	}
	if _, err := os.Stat(leaf); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s was written: %v", leaf, err)
	}
	if err := s.WriteFile(filepath.Join(dir, "elsewhere.pem"), nil, 0o600); err == nil {
		t.Fatal("a stage wrote outside its trees")
	}
}
