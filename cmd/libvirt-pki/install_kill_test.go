package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestInstallKillTrials kills install (SIGKILL) at every commit point
// of its batch, in a random order, at least 50 times: right after each
// kill, before any recovery, every pair under the root is a pair (the
// key matches the certificate) and each pair's directory holds only the
// old set or only the new; the next run completes and leaves exactly
// the new bundle.
func TestInstallKillTrials(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	oldTar := makeBundle(t, out, "compute01", "127.0.0.1")
	old := bundleFiles(t, filepath.Join(out, "compute01"))
	template := filepath.Join(dir, "template")
	runCLI(t, "install", oldTar, "--root", template, "--host", "compute01")
	os.WriteFile(filepath.Join(template, "etc/pki/libvirt/unmanaged.txt"), []byte("kept\n"), 0o644)
	runCLI(t, "renew", "--layout", "libvirt", "--out", out, "--all", "--rotate-keys")
	newTar := makeBundle(t, out, "compute01", "127.0.0.1")
	fresh := bundleFiles(t, filepath.Join(out, "compute01"))
	args := []string{"install", newTar, "--host", "compute01", "--root"}

	count := filepath.Join(dir, "count")
	probe := copyTree(t, template, filepath.Join(dir, "probe"))
	if r := runPKI([]string{envCount + "=" + count}, append(args, probe)...); r.code != 0 {
		t.Fatalf("probe install: exit %d: %s", r.code, r.stderr)
	}
	points, _ := os.ReadFile(count)
	if len(points) < 3 {
		t.Fatalf("install passed %d commit points; want the journal and each unit", len(points))
	}
	order := rand.Perm(len(points))
	killed := 0
	for trial := 0; trial < max(50, len(points)); trial++ {
		at := order[trial%len(order)] + 1
		root := copyTree(t, template, filepath.Join(dir, fmt.Sprintf("trial%d", trial)))
		r := runPKI([]string{envKillAt + "=" + strconv.Itoa(at)}, append(args, root)...)
		if !r.killed {
			t.Fatalf("trial %d: not killed at point %d (exit %d): %s", trial, at, r.code, r.stderr)
		}
		killed++
		if err := pairsWhole(root, old, fresh); err != nil {
			t.Fatalf("trial %d, killed at point %d of %d: %v", trial, at, len(points), err)
		}
		if r := runPKI(nil, append(args, root)...); r.code != 0 {
			t.Fatalf("trial %d: the run after the kill: exit %d: %s", trial, r.code, r.stderr)
		}
		if err := installedExactly(root, fresh); err != nil {
			t.Fatalf("trial %d: after the next run: %v", trial, err)
		}
		os.RemoveAll(root)
	}
	t.Logf("%d kills over %d commit points", killed, len(points))
}

// bundleFiles reads a bundle directory's files by path below the root.
func bundleFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	return out
}

// copyTree copies src to dst with modes and owners (cp -a).
func copyTree(t *testing.T, src, dst string) string {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	return dst
}

// pairsWhole checks every pair of the libvirt layout under root: the key
// matches the certificate, and every file of the pair's directory is of
// one generation (old or new).
func pairsWhole(root string, old, fresh map[string][]byte) error {
	gens := map[string]string{} // pair directory -> generation
	for _, k := range credential.Leaves(layout.Libvirt) {
		cs, _ := layout.Libvirt.Spec(k.Cert)
		ks, _ := layout.Libvirt.Spec(k.Key)
		if old[cs.Rel] == nil {
			continue
		}
		cert, err := pki.ReadCertsFile(filepath.Join(root, cs.Rel))
		if err != nil {
			return err
		}
		keyPEM, err := os.ReadFile(filepath.Join(root, ks.Rel))
		if err != nil {
			return err
		}
		key, err := pki.ParseKey(keyPEM)
		if err != nil || !pki.KeyMatches(key.Signer, cert[0]) {
			return fmt.Errorf("%s and %s are not a pair (%v)", cs.Rel, ks.Rel, err)
		}
		for _, rel := range []string{cs.Rel, ks.Rel} {
			g, err := generation(root, rel, old, fresh)
			if err != nil {
				return err
			}
			d := path.Dir(cs.Rel)
			if prev, ok := gens[d]; ok && prev != g {
				return fmt.Errorf("%s holds both old and new files (%s is %s)", d, rel, g)
			}
			gens[d] = g
		}
	}
	return nil
}

// generation says whether the file at rel is the old bundle's or the new.
func generation(root, rel string, old, fresh map[string][]byte) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	switch {
	case err != nil:
		return "", err
	case bytes.Equal(data, fresh[rel]):
		return "new", nil
	case bytes.Equal(data, old[rel]):
		return "old", nil
	}
	return "", fmt.Errorf("%s is neither the old nor the new file", rel)
}

// installedExactly checks root holds every file of the bundle, the
// unmanaged file, and no leftover stage, temporary file or journal.
func installedExactly(root string, fresh map[string][]byte) error {
	for rel, want := range fresh {
		if got, err := os.ReadFile(filepath.Join(root, rel)); err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("%s: not the new file (%v)", rel, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(root, "etc/pki/libvirt/unmanaged.txt")); err != nil || string(got) != "kept\n" {
		return fmt.Errorf("the unmanaged file changed: %q, %v", got, err)
	}
	var left []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".swap-") || strings.Contains(d.Name(), ".tmp-") || strings.Contains(d.Name(), "journal")) {
			left = append(left, p)
		}
		return nil
	})
	if left != nil {
		return fmt.Errorf("left behind: %v", left)
	}
	return nil
}
