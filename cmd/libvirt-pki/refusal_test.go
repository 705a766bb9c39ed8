package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refusal is a writing command refused for bad input (exit 2), after
// setup commands made the tree it is refused on (none: a tree that does
// not exist yet). "{d}" in arguments is the trial directory, whose
// subdirectories are the trees.
type refusal struct {
	name  string
	setup [][]string
	args  []string
}

func refusals() []refusal {
	issue := []string{"certificates", "--config-dir", "{d}/k", "--hosts", "c1,c2"}
	bundle := []string{"certificates", "--layout", "libvirt", "--out", "{d}/o", "--hosts", "h1"}
	pw := []string{"passwords", "--config-dir", "{d}/k"}
	sasl := []string{"sasl", "--layout", "libvirt", "--out", "{d}/o", "--config-dir", "{d}/k", "--hosts", "h1"}
	started := []string{"rotate-ca", "start", "--config-dir", "{d}/k"}
	return []refusal{
		{"certificates new tree, bad host", nil, []string{"certificates", "--config-dir", "{d}/new/k", "--hosts", "bad_name"}},
		{"certificates new libvirt tree, bad host", nil, []string{"certificates", "--layout", "libvirt", "--out", "{d}/o", "--hosts", "bad_name"}},
		{"certificates, bad host", [][]string{issue}, []string{"certificates", "--config-dir", "{d}/k", "--hosts", "bad_name"}},
		{"certificates, bad days", [][]string{issue}, []string{"certificates", "--config-dir", "{d}/k", "--hosts", "c1", "--days", "-3"}},
		{"renew, no CA", nil, []string{"renew", "--config-dir", "{d}/k", "--all"}},
		{"renew, bad days", [][]string{issue}, []string{"renew", "--config-dir", "{d}/k", "--all", "--days", "-1"}},
		{"rotate-ca start, no CA", nil, []string{"rotate-ca", "start", "--config-dir", "{d}/k"}},
		{"rotate-ca finish, out of order", [][]string{issue}, []string{"rotate-ca", "finish", "--config-dir", "{d}/k"}},
		{"rotate-ca start, out of order", [][]string{issue, started}, started},
		{"rotate-ca reissue, out of order", [][]string{issue}, []string{"rotate-ca", "reissue", "--config-dir", "{d}/k"}},
		{"revoke, no CA", nil, []string{"revoke", "--config-dir", "{d}/k", "--host", "c1"}},
		{"revoke, unknown host", [][]string{issue}, []string{"revoke", "--config-dir", "{d}/k", "--host", "nosuch"}},
		{"sasl new tree, bad host", [][]string{issue, pw}, []string{"sasl", "--layout", "libvirt", "--out", "{d}/o", "--config-dir", "{d}/k", "--hosts", "bad_name"}},
		{"sasl, bad mechanism", [][]string{issue, bundle, pw, sasl}, append(sasl[:len(sasl):len(sasl)], "--mech", "bogus")},
		{"sasl, no password", [][]string{bundle}, sasl},
		{"passwords, no directory", nil, []string{"passwords", "--config-dir", "{d}/new"}},
		{"passwords, missing vault password", [][]string{issue, pw}, []string{"passwords", "--config-dir", "{d}/k", "--vault-id", "{d}/no-such-file"}},
	}
}

// TestRefusalWritesNothing runs every writing command refused for bad
// input (exit 2) and checks that the file system is exactly as it was:
// the trees and their parent (every name, mode, modification time and
// content, the parent's own included). Before flock on the tree directory
// itself, a refused run left or touched .libvirt-pki.lock, in the parent
// of a tree not made yet.
func TestRefusalWritesNothing(t *testing.T) {
	for _, c := range refusals() {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			subst := func(args []string) []string {
				out := make([]string, len(args))
				for i, a := range args {
					out[i] = strings.ReplaceAll(a, "{d}", d)
				}
				return out
			}
			for _, s := range c.setup {
				if r := runPKI(nil, subst(s)...); r.code != 0 {
					t.Fatalf("setup %v: exit %d\n%s", s, r.code, r.stderr)
				}
			}
			// Back-date everything, so a rewrite within the same clock
			// tick still shows as a changed modification time.
			backdate(t, d)
			before := snapshotTree(t, d)
			r := runPKI(nil, subst(c.args)...)
			if r.code != 2 {
				t.Fatalf("%v: exit %d, want 2\n%s", c.args, r.code, r.stderr)
			}
			if err := sameTree(before, snapshotTree(t, d)); err != nil {
				t.Fatalf("refused (%s), yet %v", strings.TrimSpace(r.stderr), err)
			}
		})
	}
}

// backdate sets the times of everything under dir, dir included, an
// hour back.
func backdate(t *testing.T, dir string) {
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshotTree records every entry under dir (dir included): its mode,
// modification time and, for a file, content.
func snapshotTree(t *testing.T, dir string) map[string]string {
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		entry := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(data)
		}
		m[p] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameTree says how two snapshots differ, or nil.
func sameTree(before, after map[string]string) error {
	for p, e := range before {
		got, ok := after[p]
		switch {
		case !ok:
			return fmt.Errorf("%s disappeared", p)
		case got != e:
			return fmt.Errorf("%s changed (mode, time or content)", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			return fmt.Errorf("%s appeared", p)
		}
	}
	return nil
}
