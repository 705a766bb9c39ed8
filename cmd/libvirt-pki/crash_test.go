package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// cliResult is one run of the libvirt-pki command.
type cliResult struct {
	stdout, stderr string
	code           int  // -1 when killed
	killed         bool // by SIGKILL
	pid            int
}

// runPKI runs the test binary as libvirt-pki (testscript.Main put it on
// PATH under that name) with env added to the environment.
func runPKI(env []string, args ...string) cliResult {
	cmd := exec.Command("libvirt-pki", args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errOut.String()}
	if cmd.Process != nil {
		r.pid = cmd.Process.Pid
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	case err != nil:
		r.code, r.stderr = -2, r.stderr+err.Error()
	}
	return r
}

// treeVariant is a layout and where its trees lie in a trial directory.
type treeVariant struct {
	name   string
	layout layout.Layout
	flags  func(dir string) []string
	// top, root and CA directory of a trial directory.
	paths func(dir string) (top, root, caDir string)
}

var treeVariants = []treeVariant{
	{"kolla", layout.Kolla,
		func(d string) []string { return []string{"--config-dir", filepath.Join(d, "k")} },
		func(d string) (string, string, string) {
			k := filepath.Join(d, "k")
			return k, filepath.Join(k, "config/nova/nova-libvirt"), filepath.Join(k, "certificates/libvirt")
		}},
	// The CA directory in a tree of its own: two journalled batches.
	{"kolla-ca-dir", layout.Kolla,
		func(d string) []string {
			return []string{"--config-dir", filepath.Join(d, "k"), "--ca-dir", filepath.Join(d, "ca")}
		},
		func(d string) (string, string, string) {
			k := filepath.Join(d, "k")
			return k, filepath.Join(k, "config/nova/nova-libvirt"), filepath.Join(d, "ca")
		}},
	{"libvirt", layout.Libvirt,
		func(d string) []string { return []string{"--layout", "libvirt", "--out", filepath.Join(d, "o")} },
		func(d string) (string, string, string) {
			o := filepath.Join(d, "o")
			return o, o, filepath.Join(o, "ca")
		}},
}

// crashScenario is a command killed at each of its commit points.
type crashScenario struct {
	name  string
	setup [][2][]string // commands run once to make the starting tree
	verb  []string      // the command, before the layout flags
	extra []string      // after them
	// target is the rotation state a rotate-ca step leaves; a re-run that
	// finds it reached refuses as out of order, which is then right.
	target string
}

func crashScenarios() []crashScenario {
	hosts := []string{"--hosts", "c1,c2"}
	issue := [2][]string{{"certificates"}, hosts}
	start := [2][]string{{"rotate-ca", "start"}, nil}
	reissue := [2][]string{{"rotate-ca", "reissue"}, nil}
	return []crashScenario{
		{name: "certificates-first", verb: []string{"certificates"}, extra: hosts},
		{name: "certificates-force", setup: [][2][]string{issue}, verb: []string{"certificates"}, extra: append(hosts, "--force")},
		{name: "certificates-rotate-keys", setup: [][2][]string{issue}, verb: []string{"certificates"}, extra: append(hosts, "--rotate-keys")},
		{name: "renew-rotate-keys", setup: [][2][]string{issue}, verb: []string{"renew"}, extra: []string{"--all", "--rotate-keys"}},
		{name: "rotate-start", setup: [][2][]string{issue}, verb: start[0], target: certs.StateStarted},
		{name: "rotate-reissue", setup: [][2][]string{issue, start}, verb: reissue[0], target: certs.StateReissued},
		{name: "rotate-finish", setup: [][2][]string{issue, start, reissue}, verb: []string{"rotate-ca", "finish"}, target: certs.StateNone},
		{name: "revoke", setup: [][2][]string{issue}, verb: []string{"revoke"}, extra: []string{"--host", "c1"}},
		// One pair for all hosts: Kolla keeps it in the shared directory,
		// beside every host's directory.
		{name: "certificates-shared-rotate-keys", setup: [][2][]string{{{"certificates"}, append(hosts, "--mode", "shared")}},
			verb: []string{"certificates"}, extra: append(hosts, "--mode", "shared", "--force", "--rotate-keys")},
	}
}

func (s crashScenario) args(v treeVariant, dir string) []string {
	return append(append(append([]string{}, s.verb...), v.flags(dir)...), s.extra...)
}

// TestCertKillTrials kills certificates, renew, rotate-ca and revoke at every
// commit point (each journal made durable, each rename) on three kinds of
// tree, then checks that what the next run finds after Recover is whole
// (every pair matches or is absent, every file parses), that the re-run
// exits 0 (or, for a rotate-ca step the killed run had completed, refuses
// to repeat it), and that no temporary or journal file is left.
func TestCertKillTrials(t *testing.T) {
	var trials, killed atomic.Int64
	t.Run("group", func(t *testing.T) {
		for _, v := range treeVariants {
			for _, s := range crashScenarios() {
				t.Run(v.name+"/"+s.name, func(t *testing.T) {
					t.Parallel()
					n, k := runKillTrials(t, v, s)
					trials.Add(int64(n))
					killed.Add(int64(k))
				})
			}
		}
	})
	if !t.Failed() {
		t.Logf("%d kill trials, %d killed at their commit point, all clean", trials.Load(), killed.Load())
	}
	if !t.Failed() && trials.Load() < 90 {
		t.Fatalf("only %d kill trials", trials.Load())
	}
}

// runKillTrials makes the scenario's starting tree once, counts its
// command's commit points, and runs one trial per point.
func runKillTrials(t *testing.T, v treeVariant, s crashScenario) (trials, killed int) {
	template := t.TempDir()
	for _, c := range s.setup {
		args := append(append(append([]string{}, c[0]...), v.flags(template)...), c[1]...)
		if r := runPKI(nil, args...); r.code != 0 {
			t.Fatalf("setup %v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	count := filepath.Join(t.TempDir(), "count")
	probe := copyTrial(t, template)
	if r := runPKI([]string{envCount + "=" + count}, s.args(v, probe)...); r.code != 0 {
		t.Fatalf("%v: exit %d\n%s", s.args(v, probe), r.code, r.stderr)
	}
	data, _ := os.ReadFile(count)
	if len(data) == 0 {
		t.Fatal("no commit point counted")
	}
	for at := 1; at <= len(data); at++ {
		dir := copyTrial(t, template)
		r := runPKI([]string{envKillAt + "=" + strconv.Itoa(at)}, s.args(v, dir)...)
		if !r.killed {
			t.Fatalf("kill at %d/%d: not killed (exit %d)\n%s", at, len(data), r.code, r.stderr)
		}
		trials++
		killed++
		if err := checkRightAfterKill(v, dir); err != nil {
			t.Fatalf("kill at %d/%d: right after the kill, before any re-run: %v", at, len(data), err)
		}
		if err := checkAfterKill(v, dir); err != nil {
			t.Fatalf("kill at %d/%d: after Recover: %v", at, len(data), err)
		}
		if err := checkRerun(v, s, dir); err != nil {
			t.Fatalf("kill at %d/%d: %v", at, len(data), err)
		}
	}
	return trials, killed
}

// copyTrial copies the template tree into a new directory (modes kept).
func copyTrial(t *testing.T, template string) string {
	dir := t.TempDir()
	err := filepath.WalkDir(template, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(template, p)
		dst := filepath.Join(dir, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkRightAfterKill checks the tree as a reader finds it the instant
// the writer died, before any run recovers it: every pair is whole (both
// files, matching, or neither) and every file parses. The CA of a
// --ca-dir that is a tree of its own is left out: its files lie in the
// tree's root, which holds the lock and the journal and is never swapped
// (see package fsutil), so it is whole only once recovered.
func checkRightAfterKill(v treeVariant, dir string) error {
	top, root, caDir := v.paths(dir)
	if !slices.Contains(certs.Roots(top, root, caDir), filepath.Clean(caDir)) {
		for _, d := range []string{caDir, filepath.Join(caDir, "previous"), filepath.Join(caDir, "next")} {
			if _, err := checkCAPair(d); err != nil {
				return err
			}
		}
	}
	if err := checkLeafPairs(layout.Tree{Layout: v.layout, Root: root, CADir: caDir}, nil, false); err != nil {
		return err
	}
	return checkFilesParse(dir)
}

// checkAfterKill does what the next run does first (Recover every tree)
// and checks that the result is whole.
func checkAfterKill(v treeVariant, dir string) error {
	top, root, caDir := v.paths(dir)
	for _, r := range certs.Roots(top, root, caDir) {
		if _, err := fsutil.Recover(r); err != nil {
			return err
		}
	}
	return checkWhole(v, dir, false)
}

// checkRerun runs the killed command again and checks the tree it leaves.
func checkRerun(v treeVariant, s crashScenario, dir string) error {
	r := runPKI(nil, s.args(v, dir)...)
	if r.code != 0 {
		_, _, caDir := v.paths(dir)
		st, _ := certs.RotationState(caDir)
		if s.target == "" || r.code != 2 || !strings.Contains(r.stderr, "wrong order") || st != s.target {
			return fmt.Errorf("re-run: exit %d (state %s)\n%s", r.code, st, r.stderr)
		}
	}
	if left := leftovers(dir); len(left) > 0 {
		return fmt.Errorf("after the re-run, left behind: %v", left)
	}
	return checkWhole(v, dir, true)
}

// checkWhole checks every pair of the tree and every file in dir; signed
// also asks that every leaf be signed by the CA in the CA directory.
func checkWhole(v treeVariant, dir string, signed bool) error {
	_, root, caDir := v.paths(dir)
	var ca *pki.CA
	for _, d := range []string{caDir, filepath.Join(caDir, "previous"), filepath.Join(caDir, "next")} {
		c, err := checkCAPair(d)
		if err != nil {
			return err
		}
		if d == caDir {
			ca = c
		}
	}
	if err := checkLeafPairs(layout.Tree{Layout: v.layout, Root: root, CADir: caDir}, ca, signed); err != nil {
		return err
	}
	return checkFilesParse(dir)
}

// checkCAPair loads the CA in d: both files or neither.
func checkCAPair(d string) (*pki.CA, error) {
	certPEM, certErr := os.ReadFile(filepath.Join(d, "cacert.pem"))
	keyPEM, keyErr := os.ReadFile(filepath.Join(d, "cakey.pem"))
	switch {
	case certErr != nil && keyErr != nil:
		return nil, nil
	case certErr != nil || keyErr != nil:
		return nil, fmt.Errorf("%s: a CA certificate without its key, or the reverse (%v, %v)", d, certErr, keyErr)
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", d, err)
	}
	return ca, nil
}

// checkLeafPairs checks that every unit's certificate and key match (or
// are both absent) and, with signed, that ca signed each certificate.
func checkLeafPairs(tree layout.Tree, ca *pki.CA, signed bool) error {
	units, err := tree.Units()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, u := range units {
		for _, k := range credential.Leaves(tree.Layout) {
			certPath, keyPath := tree.In(u, k.Cert), tree.In(u, k.Key)
			certPEM, certErr := os.ReadFile(certPath)
			keyPEM, keyErr := os.ReadFile(keyPath)
			if certErr != nil && keyErr != nil {
				continue
			}
			if certErr != nil || keyErr != nil {
				return fmt.Errorf("%s: half a pair (%v, %v)", u.Dir, certErr, keyErr)
			}
			c, err := pki.ParseCertsPEM(certPEM)
			if err != nil {
				return fmt.Errorf("%s: %v", certPath, err)
			}
			key, err := pki.ParseKey(keyPEM)
			if err != nil {
				return fmt.Errorf("%s: %v", keyPath, err)
			}
			if !pki.KeyMatches(key.Signer, c[0]) {
				return fmt.Errorf("%s: torn pair: the key is not the certificate's", u.Dir)
			}
			if signed && (ca == nil || ca.Signed(c[0]) != nil) {
				return fmt.Errorf("%s: not signed by the CA on disk", certPath)
			}
		}
	}
	return nil
}

// checkFilesParse parses every PEM and JSON file under dir by its name.
func checkFilesParse(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			if err == nil && d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // a staged copy, not yet in place
			}
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".json"):
			if !json.Valid(data) {
				err = errors.New("not JSON")
			}
		case strings.Contains(name, "crl"):
			_, err = pki.ParseCRLPEM(data)
		case strings.Contains(name, "key"):
			_, err = pki.ParseKey(data)
		case strings.HasSuffix(name, ".pem"):
			_, err = pki.ParseCertsPEM(data)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		return nil
	})
}
