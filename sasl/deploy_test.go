package sasl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

func deployOptions(root string, hosts ...string) Options {
	return Options{Layout: layout.Libvirt, Root: root, Hosts: hosts, Authname: "nova", Password: "secret", Mechs: []string{"digest-md5"},
		Format: "bdb", Iterations: MinSCRAMIterations}
}

func TestNewPlanBadInput(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "h2"), []byte("a file where a directory should be"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := deployOptions(root, "h1")
	for name, change := range map[string]func(*Options){
		"authname":   func(o *Options) { o.Authname = "nova@realm" },
		"iterations": func(o *Options) { o.Iterations = 1 },
		"mech":       func(o *Options) { o.Mechs = []string{"plain"} },
		"format":     func(o *Options) { o.Format = "ndbm" },
		"host":       func(o *Options) { o.Hosts = []string{"../h1"} },
		"password":   func(o *Options) { o.Password = "" },
		"not a dir":  func(o *Options) { o.Hosts = []string{"h1", "h2"} },
	} {
		o := good
		change(&o)
		if _, err := NewPlan(o); !errs.IsInput(err) {
			t.Errorf("%s: error %v, want bad input", name, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("bad input, yet %d entries written", len(entries)-1)
	}
}

func TestPlanDryRunThenApply(t *testing.T) {
	root := t.TempDir()
	p, err := NewPlan(deployOptions(root, "H1", "h2"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() != 8 || p.Hosts[0].Realms[0] != "h1" || p.Format != FormatBDB || p.Mechs[0] != MechDigestMD5 {
		t.Errorf("plan: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(root, "H1")); !errors.Is(err, os.ErrNotExist) {
		t.Error("planning wrote")
	}
	written, err := p.Apply()
	if err != nil || len(written) != 8 {
		t.Fatalf("Apply: %q %v", written, err)
	}
	if p, err = NewPlan(deployOptions(root, "H1", "h2")); err != nil || p.Changed() != 0 {
		t.Errorf("re-plan: %v changed, %v", p.Changed(), err)
	}
}

// longDir makes a directory whose path is exactly n bytes long.
func longDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for len(dir) < n {
		dir = filepath.Join(dir, strings.Repeat("d", min(200, n-len(dir)-1)))
	}
	if len(dir) != n {
		t.Fatalf("made %d bytes, want %d", len(dir), n)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// longHost is a valid host name whose files' temporary names (7 or more
// bytes longer), but not the files themselves, exceed Linux's PATH_MAX
// (4096 with the final NUL) under a root of longHostRoot bytes: a write
// failure that no check before the first write can foresee.
var (
	longHost     = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)
	longHostRoot = 4090 - len("/var/lib/nova/.config/libvirt/auth.conf") - len("/") - len(longHost)
)

// A failure while staging (before the first rename) writes nothing: the
// first host's files are not in place either, and the error is neither
// bad input nor a Partial.
func TestApplyStagingFailureWritesNothing(t *testing.T) {
	root := longDir(t, longHostRoot)
	p, err := NewPlan(deployOptions(root, "h1", longHost))
	if err != nil {
		t.Fatal(err)
	}
	written, err := p.Apply()
	var partial *errs.Partial
	if err == nil || errors.As(err, &partial) || errs.IsInput(err) || len(written) != 0 {
		t.Fatalf("Apply: %q, %v; want a plain error and nothing written", written, err)
	}
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("failed for another reason than the long name: %v", err)
	}
	for _, f := range []string{tDB, tConf, tAuth} {
		if _, err := os.Lstat(filepath.Join(root, "h1", f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("h1/%s: %v, want it not written", f, err)
		}
	}
	assertNoLeftovers(t, root)
}
