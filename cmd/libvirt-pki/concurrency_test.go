package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// TestConcurrentCertificates runs 20 pairs of certificates runs on one
// config directory. The first run of each pair is paused inside its
// commit (after its journal, or after one of its renames or directory
// swaps: a forced run on two hosts has at least three points); the second,
// started then, must wait for the lock, saying whose it is, and --no-wait
// must fail at once naming that pid. Both then finish, and every pair on
// disk matches and is signed by the CA on disk.
func TestConcurrentCertificates(t *testing.T) {
	dir := t.TempDir()
	v := treeVariants[0]
	hosts := []string{"--hosts", "c1,c2"}
	for i := 0; i < 20; i++ {
		extra := []string{"--force", "--rotate-keys"}
		if i == 0 {
			extra = nil // the first pair races to make the CA
		}
		args := append(append([]string{"certificates"}, v.flags(dir)...), append(hosts, extra...)...)
		pauseDir := t.TempDir()
		first := startPKI(t, []string{envPauseAt + "=" + strconv.Itoa(1+i%3), envPauseDir + "=" + pauseDir}, args...)
		waitFor(t, func() bool { return exists(filepath.Join(pauseDir, "paused")) }, first)
		pid := strconv.Itoa(first.cmd.Process.Pid)

		r := runPKI(nil, append(args, "--no-wait")...)
		if r.code != 1 || !strings.Contains(r.stderr, "locked by pid "+pid) {
			t.Fatalf("pair %d: --no-wait: exit %d, want 1 naming pid %s\n%s", i, r.code, pid, r.stderr)
		}
		second := startPKI(t, nil, args...)
		waitFor(t, func() bool { return strings.Contains(second.stderr.String(), "waiting for") }, second)
		if !strings.Contains(second.stderr.String(), "held by pid "+pid) {
			t.Fatalf("pair %d: the waiting run does not name pid %s: %s", i, pid, second.stderr.String())
		}
		os.WriteFile(filepath.Join(pauseDir, "go"), nil, 0o600)
		for n, p := range []*startedPKI{first, second} {
			<-p.done
			if p.err != nil {
				t.Fatalf("pair %d, run %d: %v\n%s", i, n+1, p.err, p.stderr.String())
			}
		}
		if err := checkWhole(v, dir, true); err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
	}
}

type startedPKI struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

// startPKI starts libvirt-pki without waiting for it.
func startPKI(t *testing.T, env []string, args ...string) *startedPKI {
	t.Helper()
	p := &startedPKI{cmd: exec.Command("libvirt-pki", args...), stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitFor polls cond until it holds; it fails the test if p ends first.
func waitFor(t *testing.T, cond func() bool, p *startedPKI) {
	t.Helper()
	for !cond() {
		select {
		case <-p.done:
			if cond() {
				return
			}
			t.Fatalf("%v ended before the expected point:\n%s", p.cmd.Args, p.stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }
