package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// noHangRun runs the CLI with args, which must not block on the FIFO at
// fifo: should it, testutil.NoHang ends the run and fails the test.
func noHangRun(t *testing.T, fifo string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	testutil.NoHang(t, func() { code, stdout, stderr = runArgs(args...) }, fifo)
	return code, stdout, stderr
}

// runArgs runs the CLI with args and returns its exit code and output.
func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// wantBadInput checks exit 2 with one line of stderr holding want.
func wantBadInput(t *testing.T, want string, args ...string) {
	t.Helper()
	code, _, stderr := runArgs(args...)
	if code != exitUsage || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", args, code, stderr, exitUsage, want)
	}
}

// hostileTree makes a Kolla config directory with compute01 and compute02
// and returns it with its nova-libvirt directory.
func hostileTree(t *testing.T) (config, root string) {
	t.Helper()
	config = t.TempDir()
	if code, _, stderr := runArgs("certificates", "--config-dir", config, "--hosts", "compute01,compute02"); code != exitOK {
		t.Fatalf("certificates: exit %d: %s", code, stderr)
	}
	return config, filepath.Join(config, "config", "nova", "nova-libvirt")
}

// Hosts that are no host names, from the command line or an inventory, and
// --warn-days outside 0 to 36500 are bad input: exit 2, one line naming
// the flag or the file and line.
func TestVerifyExpiryValidateInput(t *testing.T) {
	config, _ := hostileTree(t)
	inv := filepath.Join(t.TempDir(), "inventory")
	if err := os.WriteFile(inv, []byte("[compute]\ncompute01\n\n*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantBadInput(t, `host "*": character '*' not allowed`, "verify", "--config-dir", config, "--hosts", "*")
	wantBadInput(t, `extra name "*.example": character '*' not allowed`, "verify", "--config-dir", config, "--host", "compute01=*.example")
	wantBadInput(t, inv+`:4: inventory host "*" (group compute)`, "verify", "--config-dir", config, "-i", inv)
	wantBadInput(t, `--live "*": not a host name`, "verify", "--config-dir", config, "--live", "*")
	for _, days := range []string{"-1", "36501", "9223372036854775807"} {
		wantBadInput(t, "--warn-days "+days+": want 0 to 36500 days", "verify", "--config-dir", config, "--warn-days", days)
		wantBadInput(t, "--warn-days "+days+": want 0 to 36500 days", "expiry", "--config-dir", config, "--warn-days", days)
	}
	for _, days := range []string{"0", "36500"} {
		if code, _, stderr := runArgs("verify", "--config-dir", config, "--warn-days", days); code == exitUsage {
			t.Errorf("verify --warn-days %s: refused: %s", days, stderr)
		}
	}
}

// A FIFO named cacert.pem neither hangs verify nor expiry: verify reports
// it unreadable (exit 1), expiry refuses it (exit 2), naming it.
func TestVerifyExpiryFIFO(t *testing.T) {
	config, root := hostileTree(t)
	ca := filepath.Join(root, "cacert.pem")
	testutil.Mkfifo(t, ca)
	code, stdout, _ := noHangRun(t, ca, "verify", "--config-dir", config)
	if code != exitFailure || !strings.Contains(stdout, ca+": not a regular file (a FIFO)") {
		t.Errorf("verify: exit %d, stdout %q; want exit 1 and the FIFO named", code, stdout)
	}
	code, _, stderr := noHangRun(t, ca, "expiry", "--config-dir", config)
	if want := ca + ": not a regular file (a FIFO)"; code != exitUsage || strings.TrimSpace(stderr) != "libvirt-pki: "+want {
		t.Errorf("expiry: exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
}

// /dev/zero, an alias bomb or two YAML documents given as an inventory,
// found as a vars file or as globals.yml: exit 2, one line naming it.
func TestVerifyHostileInventory(t *testing.T) {
	config, _ := hostileTree(t)
	dir := t.TempDir()
	bomb := testutil.AliasBomb("")
	for name, content := range map[string]string{
		"inventory":                 "[compute]\ncompute01\n",
		"group_vars/compute.yml":    bomb,
		"other/inventory":           "[compute]\ncompute01\n",
		"other/host_vars/compute01": "a: 1\n---\na: 2\n",
		"config-bomb/globals.yml":   bomb,
		"config-two/globals.yml":    "libvirt_tls: yes\n---\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBadInput(t, "/dev/zero: not a regular file (a character device)", "verify", "--config-dir", config, "-i", "/dev/zero")
	wantBadInput(t, filepath.Join(dir, "group_vars/compute.yml")+":", "verify", "--config-dir", config, "-i", filepath.Join(dir, "inventory"))
	wantBadInput(t, filepath.Join(dir, "other/host_vars/compute01")+":2: a second YAML document", "verify", "--config-dir", config, "-i", filepath.Join(dir, "other/inventory"))
	wantBadInput(t, filepath.Join(dir, "config-bomb/globals.yml")+":", "verify", "--config-dir", filepath.Join(dir, "config-bomb"))
	wantBadInput(t, filepath.Join(dir, "config-two/globals.yml")+":2: a second YAML document", "expiry", "--config-dir", filepath.Join(dir, "config-two"))
}

// A symlinked host directory is refused by verify (hosts found or given)
// and expiry: exit 2, one line naming it.
func TestVerifyExpirySymlinkedHostDir(t *testing.T) {
	config, root := hostileTree(t)
	h2 := filepath.Join(root, "compute02")
	if err := os.Rename(h2, filepath.Join(config, "compute02-real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(config, "compute02-real"), h2); err != nil {
		t.Fatal(err)
	}
	want := h2 + ": host directory is a symlink"
	wantBadInput(t, want, "verify", "--config-dir", config)
	wantBadInput(t, want, "verify", "--config-dir", config, "--hosts", "compute02")
	wantBadInput(t, want, "verify", "--config-dir", config, "--hosts", "compute01")
	wantBadInput(t, want, "expiry", "--config-dir", config)
}
