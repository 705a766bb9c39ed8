package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// runSASLCLI runs `libvirt-pki sasl` for hosts with a password file, and
// returns its exit code and standard error.
func runSASLCLI(t *testing.T, configDir string, hosts ...string) (int, string) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("sasl-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"sasl", "--layout", "libvirt", "--out", configDir, "--config-dir", configDir, "--password-file", pw, "--mech", "digest-md5", "--hosts", strings.Join(hosts, ",")},
		strings.NewReader(""), &out, &errOut)
	return code, errOut.String()
}

// A file where the second host's directory should be is bad input, found
// before anything is written: exit 2.
func TestSASLBadInputWritesNothing(t *testing.T) {
	config := t.TempDir()
	root := filepath.Join(config, ".")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "compute02"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr := runSASLCLI(t, config, "compute01", "compute02")
	if code != exitUsage || !strings.Contains(stderr, "compute02: exists and is not a directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "compute01")); err == nil {
		t.Error("compute01 written despite bad input")
	}
}

// A write that fails while staging the second host's files (before any
// rename): exit 1, and the first host's files are not in place either,
// since all hosts are one unit.
func TestSASLStagingFailureWritesNothing(t *testing.T) {
	// The second host's temporary files exceed PATH_MAX; its files do not,
	// so nothing before the first write sees the failure coming.
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)
	rootLen := 4090 - len("/"+saslAuth) - len("/") - len(long)
	config := t.TempDir()
	for len(config) < rootLen {
		config = filepath.Join(config, strings.Repeat("d", min(200, rootLen-len(config)-1)))
	}
	root := filepath.Join(config, ".")
	if len(root) != rootLen {
		t.Fatalf("root of %d bytes, want %d", len(root), rootLen)
	}
	code, stderr := runSASLCLI(t, config, "compute01", long)
	if code != exitFailure || strings.Contains(stderr, "already written") || !strings.Contains(stderr, "file name too long") {
		t.Errorf("exit %d, want %d; stderr %.200q", code, exitFailure, stderr)
	}
	for _, f := range []string{saslDB, saslConf, saslAuth} {
		if _, err := os.Lstat(filepath.Join(root, "compute01", f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("compute01/%s: %v, want it not written", f, err)
		}
	}
	saslNoLeftovers(t, config)
}

// A rename that fails after others were done: exit 1 naming the files in
// place; the next run completes the unit.
func TestSASLPartialWriteNamesWritten(t *testing.T) {
	config := t.TempDir()
	blocker := filepath.Join(config, "compute01", saslConf)
	restore := fsutil.SetFaultHook(func(i int, _ string) {
		if i == 0 {
			os.Mkdir(blocker, 0o755) // the next rename meets a directory
		}
	})
	code, stderr := runSASLCLI(t, config, "compute01", "compute02")
	restore()
	written := filepath.Join(config, "compute01", saslDB)
	if code != exitFailure || !strings.Contains(stderr, "already written before the failure: "+written+")") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	code, stderr = runSASLCLI(t, config, "compute01", "compute02")
	if code != exitOK || !strings.Contains(stderr, "completed the write an earlier run was interrupted in") {
		t.Errorf("re-run: exit %d, stderr %q", code, stderr)
	}
	for _, h := range []string{"compute01", "compute02"} {
		if pw := saslHostPassword(t, filepath.Join(config, ".", h), h); pw != "sasl-secret" {
			t.Errorf("%s: password %q", h, pw)
		}
	}
	saslNoLeftovers(t, config)
}

// holdLock takes the lock a run on dir takes, in this process; a run
// started as another process then finds it held by this test's pid.
func holdLock(t *testing.T, dir string) *fsutil.Locked {
	t.Helper()
	l, err := fsutil.LockTree(context.Background(), dir, fsutil.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Unlock() })
	return l
}

// With --no-wait, sasl and passwords fail at once naming the holder's
// pid, and write nothing.
func TestSASLNoWaitNamesHolder(t *testing.T) {
	config := t.TempDir()
	saslRun(t, "passwords", "--config-dir", config)
	before, err := os.ReadFile(filepath.Join(config, "passwords.yml"))
	if err != nil {
		t.Fatal(err)
	}
	holdLock(t, config)
	holder := fmt.Sprintf("locked by pid %d", os.Getpid())
	for _, args := range [][]string{
		{"sasl", "--layout", "libvirt", "--out", config, "--no-wait", "--config-dir", config, "--hosts", "h1"},
		{"passwords", "--no-wait", "--config-dir", config, "--rotate"},
	} {
		code, _, stderr := saslExec(t, nil, args...)
		if code != exitFailure || !strings.Contains(stderr, holder) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 naming %q", args[0], code, stderr, holder)
		}
	}
	if _, err := os.Stat(filepath.Join(config, "config")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("sasl wrote while another run held the lock")
	}
	if after, _ := os.ReadFile(filepath.Join(config, "passwords.yml")); !bytes.Equal(after, before) {
		t.Error("passwords wrote while another run held the lock")
	}
}

// Without --no-wait, a run waits for the lock, says so once, and goes on
// when it is released.
func TestSASLWaitsForLock(t *testing.T) {
	config := t.TempDir()
	saslRun(t, "passwords", "--config-dir", config)
	l := holdLock(t, config)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{"libvirt-pki", "sasl", "--layout", "libvirt", "--out", config, "--config-dir", config, "--hosts", "h1"}, Env: os.Environ()}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stderr)
	line, err := r.ReadString('\n') // blocks until the run is waiting
	if err != nil || !strings.Contains(line, "waiting for the lock on "+config) || !strings.Contains(line, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("first stderr line %q, %v", line, err)
	}
	if _, err := os.Stat(filepath.Join(config, "config")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("sasl wrote before it had the lock")
	}
	l.Unlock()
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil || strings.Contains(string(rest), "waiting") {
		t.Fatalf("after the lock was released: %v, stderr %q", err, rest)
	}
	saslHostPassword(t, filepath.Join(config, "h1"), "h1")
}

// Temporary files killed runs left (one holding a password) are removed
// by the next run of either command.
func TestSASLSweepsTemporaryFiles(t *testing.T) {
	config := t.TempDir()
	saslRun(t, "passwords", "--config-dir", config)
	saslRun(t, "sasl", "--layout", "libvirt", "--out", config, "--config-dir", config, "--hosts", "h1")
	stale := []string{
		filepath.Join(config, ".passwords.yml.tmp-123456"),
		filepath.Join(config, "h1/var/lib/nova/.config/libvirt/.auth.conf.tmp-42"),
		filepath.Join(config, "h1/etc/libvirt/.passwd.db.tmp-7"),
	}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte("libvirt_sasl_password: leaked\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(config, "h1/notes.tmp-1")
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	saslRun(t, "passwords", "--config-dir", config)
	if _, err := os.Stat(stale[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("passwords left %s", stale[0])
	}
	saslRun(t, "sasl", "--layout", "libvirt", "--out", config, "--config-dir", config, "--hosts", "h1")
	if err := os.Remove(keep); err != nil {
		t.Errorf("a file not named as ours was removed: %v", err)
	}
	saslNoLeftovers(t, config)
}

// Symlinks on the way to a written file: exit 2, nothing written, the
// link's target untouched.
func TestSASLRefusesSymlinks(t *testing.T) {
	for _, link := range []string{"h1/var", "h1/" + saslDB, "h1/" + saslAuth} {
		config, outside := t.TempDir(), t.TempDir()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(config, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		victim := filepath.Join(outside, "victim")
		if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
			t.Fatal(err)
		}
		target := victim
		if link == "h1/var" {
			target = outside
			os.RemoveAll(filepath.Join(config, link))
		}
		if err := os.Symlink(target, filepath.Join(config, link)); err != nil {
			t.Fatal(err)
		}
		code, stderr := runSASLCLI(t, config, "h1", "h2")
		if code != exitUsage || !strings.Contains(stderr, "symlink") {
			t.Errorf("%s a symlink: exit %d, stderr %q", link, code, stderr)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 1 {
			t.Errorf("%s a symlink: wrote outside the tree", link)
		}
		if data, _ := os.ReadFile(victim); string(data) != "victim" {
			t.Errorf("%s a symlink: wrote through it", link)
		}
	}
}

// Bad names, special files and vaulted passwords: exit 2 with one line.
func TestSASLBadInputOneLine(t *testing.T) {
	config := t.TempDir()
	vaulted := filepath.Join(t.TempDir(), "passwords.yml")
	if err := os.WriteFile(vaulted, []byte("$ANSIBLE_VAULT;1.1;AES256\n6162\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"sasl", "--layout", "libvirt", "--out", config, "--config-dir", config, "--hosts", "h1"}
	withPW := func(more ...string) []string {
		return append(append(base[:len(base):len(base)], "--password-file", pw), more...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{withPW("--authname", "nova\nx"), `authname "nova\nx": holds a control character`},
		{withPW("--authname", "no:va"), `authname "no:va": holds ':'`},
		{withPW("--realm", "h1:x"), `realm "h1:x": holds ':'`},
		{append(base, "--password-file", "/dev/zero"), "/dev/zero: not a regular file"},
		{append(base, "--passwords", vaulted), vaulted + ": not a valid ansible-vault text: body holds 1 of the 3 parts salt, HMAC, ciphertext (truncated?)"},
		{[]string{"sasldb", "list", "/dev/zero"}, "/dev/zero: not a regular file"},
		{[]string{"passwords", "--passwords", "/dev/zero"}, "/dev/zero: not a regular file"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, strings.NewReader(""), &out, &errOut)
		msg := strings.TrimSuffix(errOut.String(), "\n")
		if code != exitUsage || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line saying %q", c.args, code, errOut.String(), c.want)
		}
	}
	if entries, _ := os.ReadDir(config); len(entries) > 1 { // the lock file may be there
		t.Errorf("bad input, yet %d entries in the config dir", len(entries))
	}
}

// Where a host bundle (--layout libvirt) holds its SASL files.
const (
	saslDB   = "etc/libvirt/passwd.db"
	saslConf = "etc/sasl2/libvirt.conf"
	saslAuth = "var/lib/nova/.config/libvirt/auth.conf"
	// root's auth.conf, the same as nova-compute's
	saslAuthRoot = "root/.config/libvirt/auth.conf"
)
