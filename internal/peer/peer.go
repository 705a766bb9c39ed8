// Package peer lets integration tests demand the real programs they test
// against (libvirtd, virsh, openssl, certtool, db5.3_verify, gdbmtool, ...).
//
// Outside CI a missing program skips the test, loudly. With CI=true a
// missing program fails the test: CI must never go green by skipping the
// very checks that prove libvirt-pki works with the real peer.
package peer

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the full path of each named program, or stops the test:
// t.Fatalf in CI, t.Skipf elsewhere. It checks /usr/sbin and /sbin too,
// since libvirtd and saslpasswd2 live there and non-root PATHs omit them.
func Require(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, 0, len(names))
	for _, name := range names {
		p, err := Look(name)
		if err != nil {
			if InCI() {
				t.Fatalf("required peer program %q not found (CI=true): install it (see .ci/run)", name)
			}
			t.Skipf("SKIPPING: peer program %q not found; install it to run this test (CI=true makes this a failure)", name)
		}
		paths = append(paths, p)
	}
	return paths
}

// Look finds a program on PATH or in the system sbin directories.
func Look(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}
