package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// Filesystem faults: a full disk, a read-only directory and an unreadable
// one exit 1 (a failure of the system, not bad input) with the system's
// error, leave every old file as it was and no temporary file. Each runs
// in a child: the first two in a private mount namespace (unshare -m,
// root, as CI runs), the last as an unprivileged user when run as root.
func TestFilesystemFaults(t *testing.T) {
	for _, c := range []struct {
		name    string
		unshare bool
	}{{"enospc", true}, {"erofs", true}, {"eacces", false}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var cmd *exec.Cmd
			if c.unshare {
				if os.Geteuid() != 0 {
					t.Skip("SKIP: mounting needs root (CI runs as root)")
				}
				unshare, err := exec.LookPath("unshare")
				if err != nil {
					t.Fatal("unshare (util-linux) is not installed")
				}
				cmd = exec.Command(unshare, "--mount", "--propagation", "private", os.Args[0])
			} else {
				// The unprivileged child must reach dir.
				for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
					os.Chmod(d, 0o755)
				}
				cmd = exec.Command(os.Args[0])
			}
			cmd.Env = append(os.Environ(), envScenario+"="+c.name, "LIBVIRT_PKI_TEST_DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func init() {
	scenarios["enospc"] = scenarioENOSPC
	scenarios["erofs"] = scenarioEROFS
	scenarios["eacces"] = scenarioEACCES
}

// runHere runs the command in this process.
func runHere(args ...string) (code int, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, errOut.String()
}

// wantFailure runs args, which must exit 1 saying want, and checks that
// nothing under dir changed and no temporary file is left.
func wantFailure(dir, want string, args ...string) error {
	before, err := snapshotFiles(dir)
	if err != nil {
		return err
	}
	code, stderr := runHere(args...)
	if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "already written") {
		return fmt.Errorf("%v: exit %d, want 1 saying %q and nothing written:\n%s", args, code, want, stderr)
	}
	after, err := snapshotFiles(dir)
	if err != nil {
		return err
	}
	if err := sameFiles(before, after); err != nil {
		return fmt.Errorf("%v: %v", args, err)
	}
	if left := leftovers(dir); len(left) > 0 {
		return fmt.Errorf("%v: left behind %v", args, left)
	}
	return nil
}

func mustRun(args ...string) error {
	if code, stderr := runHere(args...); code != 0 {
		return fmt.Errorf("%v: exit %d\n%s", args, code, stderr)
	}
	return nil
}

// scenarioENOSPC fills a 64 KiB tmpfs: one host fits, six do not.
func scenarioENOSPC(dir string) error {
	if err := mountTmpfs(dir, 64<<10); err != nil {
		return err
	}
	defer unix.Unmount(dir, 0)
	k := filepath.Join(dir, "k")
	if err := mustRun("certificates", "--config-dir", k, "--hosts", "c1"); err != nil {
		return err
	}
	return wantFailure(dir, "no space left on device", "certificates", "--config-dir", k, "--hosts", "c1,c2,c3,c4,c5,c6", "--force")
}

// scenarioEROFS makes one host directory, then the CA directory,
// read-only.
func scenarioEROFS(dir string) error {
	k := filepath.Join(dir, "k")
	if err := mustRun("certificates", "--config-dir", k, "--hosts", "c1,c2"); err != nil {
		return err
	}
	if err := bindReadOnly(filepath.Join(k, "config/nova/nova-libvirt/c2")); err != nil {
		return err
	}
	if err := wantFailure(dir, "read-only file system", "certificates", "--config-dir", k, "--hosts", "c1,c2", "--force"); err != nil {
		return err
	}
	if err := bindReadOnly(filepath.Join(k, "certificates/libvirt")); err != nil {
		return err
	}
	return wantFailure(dir, "read-only file system", "revoke", "--config-dir", k, "--host", "c1")
}

// scenarioEACCES makes a host directory unreadable; as root, the child
// first gives the tree to nobody and becomes nobody.
func scenarioEACCES(dir string) error {
	k := filepath.Join(dir, "k")
	if err := mustRun("certificates", "--config-dir", k, "--hosts", "c1,c2"); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		const nobody = 65534
		err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, nobody, nobody)
		})
		if err != nil {
			return err
		}
		if err := syscall.Setgroups(nil); err != nil {
			return err
		}
		if err := syscall.Setgid(nobody); err != nil {
			return err
		}
		if err := syscall.Setuid(nobody); err != nil {
			return err
		}
	}
	host := filepath.Join(k, "config/nova/nova-libvirt/c2")
	if err := os.Chmod(host, 0); err != nil {
		return err
	}
	defer os.Chmod(host, 0o755)
	for _, args := range [][]string{
		{"certificates", "--config-dir", k, "--hosts", "c1,c2", "--force"},
		{"renew", "--config-dir", k, "--all"},
	} {
		if err := wantFailure(k, "permission denied", args...); err != nil {
			return err
		}
	}
	return nil
}

// TestFIFOCACert: a FIFO named cacert.pem in the tree or the CA directory
// hangs no command: each refuses it at once as bad input.
func TestFIFOCACert(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	if r := runPKI(nil, "certificates", "--config-dir", k, "--hosts", "c1"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, fifo := range []string{filepath.Join(k, "config/nova/nova-libvirt/cacert.pem"), filepath.Join(k, "certificates/libvirt/cacert.pem")} {
		data, _ := os.ReadFile(fifo)
		testutil.Mkfifo(t, fifo)
		for _, args := range [][]string{
			{"certificates", "--hosts", "c1"}, {"renew", "--all"}, {"revoke", "--host", "c1"},
			{"rotate-ca", "start"}, {"rotate-ca", "status"}, {"certificates", "--hosts", "c1", "--dry-run"},
		} {
			r := runPKI(nil, append(args, "--config-dir", k)...)
			if r.code != 2 || !strings.Contains(r.stderr, "not a regular file (a FIFO)") {
				t.Errorf("%v with %s a FIFO: exit %d, want 2\n%s", args, fifo, r.code, r.stderr)
			}
		}
		os.Remove(fifo)
		os.WriteFile(fifo, data, 0o644)
	}
}
