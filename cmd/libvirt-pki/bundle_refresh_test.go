package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// TestTarballKillTrials kills renew, revoke and each rotate-ca step at
// every commit point of a libvirt tree with host tarballs, and checks
// that after Recover (what the next run does first) every <host>.tar
// holds exactly the files on disk: the tarball is in the same journalled
// unit as the files it holds, never a step behind. Then the re-run
// leaves them matching too.
func TestTarballKillTrials(t *testing.T) {
	bundle := []string{"certificates", "--sets", "libvirt,qemu,vnc", "--host", "c1=192.0.2.1", "--host", "c2=192.0.2.2", "--bundle"}
	steps := []struct {
		name  string
		setup [][]string
		args  []string
	}{
		{"renew", nil, []string{"renew", "--all", "--rotate-keys"}},
		{"revoke", nil, []string{"revoke", "--host", "c2"}},
		{"rotate-start", nil, []string{"rotate-ca", "start"}},
		{"rotate-reissue", [][]string{{"rotate-ca", "start"}}, []string{"rotate-ca", "reissue"}},
		{"rotate-finish", [][]string{{"rotate-ca", "start"}, {"rotate-ca", "reissue"}}, []string{"rotate-ca", "finish"}},
	}
	trials := 0
	for _, s := range steps {
		template := t.TempDir()
		run := func(dir string, env []string, args []string) cliResult {
			return runPKI(env, append(append([]string{}, args...), "--layout", "libvirt", "--out", filepath.Join(dir, "o"))...)
		}
		for _, c := range append([][]string{bundle}, s.setup...) {
			if r := run(template, nil, c); r.code != 0 {
				t.Fatalf("%s: setup %v: exit %d\n%s", s.name, c, r.code, r.stderr)
			}
		}
		count := filepath.Join(t.TempDir(), "count")
		if r := run(copyTrial(t, template), []string{envCount + "=" + count}, s.args); r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", s.name, r.code, r.stderr)
		}
		points, _ := os.ReadFile(count)
		for at := 1; at <= len(points); at++ {
			dir := copyTrial(t, template)
			if r := run(dir, []string{envKillAt + "=" + strconv.Itoa(at)}, s.args); !r.killed {
				t.Fatalf("%s: kill at %d: not killed (exit %d)\n%s", s.name, at, r.code, r.stderr)
			}
			trials++
			out := filepath.Join(dir, "o")
			if _, err := fsutil.Recover(out); err != nil {
				t.Fatal(err)
			}
			if err := checkTarballs(out); err != nil {
				t.Fatalf("%s: kill at %d/%d, after Recover: %v", s.name, at, len(points), err)
			}
			if r := run(dir, nil, s.args); r.code != 0 && !strings.Contains(r.stderr, "wrong order") {
				t.Fatalf("%s: re-run after kill at %d: exit %d\n%s", s.name, at, r.code, r.stderr)
			}
			if err := checkTarballs(out); err != nil {
				t.Fatalf("%s: kill at %d/%d, after the re-run: %v", s.name, at, len(points), err)
			}
		}
	}
	if trials < 20 {
		t.Fatalf("only %d kill trials", trials)
	}
	t.Logf("%d kill trials, every tarball whole", trials)
}

// checkTarballs checks that each <host>.tar under root holds, entry for
// entry, the bytes of its host directory's file, and every file of the
// manifest.
func checkTarballs(root string) error {
	tars, _ := filepath.Glob(filepath.Join(root, "*.tar"))
	if len(tars) == 0 {
		return errors.New("no tarball")
	}
	for _, tf := range tars {
		dir := strings.TrimSuffix(tf, ".tar")
		f, err := os.Open(tf)
		if err != nil {
			return err
		}
		names, err := compareTar(tar.NewReader(f), dir)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", tf, err)
		}
		manifest, err := os.ReadFile(filepath.Join(dir, "etc/libvirt-pki/MANIFEST.tsv"))
		if err != nil {
			return err
		}
		if rows := strings.Count(string(manifest), "\n/"); rows != names {
			return fmt.Errorf("%s: %d entries, the manifest lists %d files", tf, names, rows)
		}
	}
	return nil
}

// compareTar compares each entry of tr with the file below dir; it
// returns the number of entries.
func compareTar(tr *tar.Reader, dir string) (int, error) {
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		got, err := io.ReadAll(tr)
		if err != nil {
			return n, err
		}
		want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(h.Name)))
		if err != nil {
			return n, err
		}
		if !bytes.Equal(got, want) {
			return n, fmt.Errorf("%s differs from the file on disk", h.Name)
		}
	}
}
