package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	code := run([]string{"sasl", "--config-dir", configDir, "--password-file", pw, "--mech", "digest-md5", "--hosts", strings.Join(hosts, ",")},
		strings.NewReader(""), &out, &errOut)
	return code, errOut.String()
}

// A file where the second host's directory should be is bad input, found
// before anything is written: exit 2.
func TestSASLBadInputWritesNothing(t *testing.T) {
	config := t.TempDir()
	root := filepath.Join(config, "config/nova/nova-libvirt")
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

// A write that fails on the second host, after the first host's files were
// written: exit 1, naming those files.
func TestSASLPartialWrite(t *testing.T) {
	// The second host's temporary files exceed PATH_MAX; its files do not,
	// so nothing before the first write sees the failure coming.
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)
	rootLen := 4090 - len("/passwd.db") - len("/") - len(long)
	config := t.TempDir()
	for suffix := len("/config/nova/nova-libvirt"); len(config)+suffix < rootLen; {
		config = filepath.Join(config, strings.Repeat("d", min(200, rootLen-suffix-len(config)-1)))
	}
	root := filepath.Join(config, "config/nova/nova-libvirt")
	if len(root) != rootLen {
		t.Fatalf("root of %d bytes, want %d", len(root), rootLen)
	}
	code, stderr := runSASLCLI(t, config, "compute01", long)
	if code != exitFailure {
		t.Errorf("exit %d, want %d; stderr %q", code, exitFailure, stderr)
	}
	for _, f := range []string{"passwd.db", "sasl.conf", "auth.conf"} {
		p := filepath.Join(root, "compute01", f)
		if !strings.Contains(stderr, p) {
			t.Errorf("stderr does not name %s: %q", p, stderr)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stderr, "already written before the failure") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("stderr %q", stderr)
	}
}
