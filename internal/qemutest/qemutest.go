// Package qemutest runs real QEMU programs on loopback for integration
// tests of QEMU's TLS credentials (tls-creds-x509 directories holding
// ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem and
// client-key.pem): a qemu-nbd TLS server with qemu-img as its client (the
// NBD leg of a live migration with native TLS), and qemu-system-x86_64
// with no machine serving VNC over VeNCrypt (a guest console as
// nova-novncproxy reaches it), and SPICE over TLS with spice-gtk's
// client library as its client (StartSPICE, SPICEConnect). TCG only:
// nothing here needs KVM.
//
// Every process binds 127.0.0.1, runs with a clean environment, and is
// stopped by its process group when the test ends.
package qemutest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// Process is a running QEMU server.
type Process struct {
	Port int // TCP port on 127.0.0.1
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
}

// Addr is "127.0.0.1:<port>".
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Output is what the process has written to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// StartNBD serves a fresh 1 MiB raw image with qemu-nbd over TLS, with
// the server credentials in dir and verify-peer=on (clients must present
// a certificate from dir's ca-cert.pem), until the test ends. It stays
// up across client connections (--persistent).
func StartNBD(t testing.TB, dir string) *Process {
	t.Helper()
	bins := peer.Require(t, "qemu-nbd", "qemu-img")
	image := filepath.Join(t.TempDir(), "disk.raw")
	if out, err := exec.Command(bins[1], "create", "-q", "-f", "raw", image, "1M").CombinedOutput(); err != nil {
		t.Fatalf("qemutest: qemu-img create: %v\n%s", err, out)
	}
	return start(t, func(port int) *exec.Cmd {
		return exec.Command(bins[0], "--object", tlsCreds("t", "server", dir), "--tls-creds", "t",
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--persistent", "--format", "raw", "--read-only", image)
	}, testutil.FreePort)
}

// NBDInfo runs `qemu-img info` on the NBD export at p through TLS, as a
// migration source would connect: with the client credentials in dir and
// tlsHostname as the name the server certificate must carry. It returns
// qemu-img's combined output and its error.
func NBDInfo(t testing.TB, p *Process, dir, tlsHostname string) (string, error) {
	t.Helper()
	qemuImg := peer.Require(t, "qemu-img")[0]
	opts := fmt.Sprintf("driver=nbd,host=127.0.0.1,port=%d,tls-creds=t,tls-hostname=%s", p.Port, tlsHostname)
	return runClient(t, qemuImg, "info", "--object", tlsCreds("t", "client", dir), "--image-opts", opts)
}

// StartVNC runs qemu-system-x86_64 with no machine and no devices,
// serving VNC on 127.0.0.1 with TLS from dir, x509 verification on
// (verify-peer=on: QEMU's vnc_tls_x509_verify), until the test ends.
// extra is appended to QEMU's arguments (e.g. "-qmp", "unix:PATH,server=on,wait=off").
func StartVNC(t testing.TB, dir string, extra ...string) *Process {
	t.Helper()
	qemu := peer.Require(t, "qemu-system-x86_64")[0]
	return start(t, func(port int) *exec.Cmd {
		// -vnc takes a display number; the port is 5900 plus it.
		vnc := fmt.Sprintf("127.0.0.1:%d,tls-creds=vnc0", port-5900)
		return exec.Command(qemu, append([]string{"-machine", "none", "-display", "none", "-nodefaults",
			"-object", tlsCreds("vnc0", "server", dir), "-vnc", vnc}, extra...)...)
	}, vncPort)
}

// tlsCreds is a tls-creds-x509 object; verify-peer only matters to servers.
func tlsCreds(id, endpoint, dir string) string {
	if !safeOption(dir) {
		panic("qemutest: a comma in " + dir + " would split QEMU's option string")
	}
	s := "tls-creds-x509,id=" + id + ",endpoint=" + endpoint + ",dir=" + dir
	if endpoint == "server" {
		s += ",verify-peer=on"
	}
	return s
}

// safeOption reports whether s can be a value in a QEMU option string.
func safeOption(s string) bool { return !strings.Contains(s, ",") }

// start launches the command made for a free port and waits until it
// listens; it retries with another port when the one it picked was taken
// meanwhile (the process then exits at once).
func start(t testing.TB, mk func(port int) *exec.Cmd, pick func(testing.TB) int) *Process {
	t.Helper()
	var last string
	for attempt := 0; attempt < 3; attempt++ {
		p := &Process{Port: pick(t), out: &testutil.SyncBuffer{}, done: make(chan struct{})}
		p.cmd = mk(p.Port)
		p.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + t.TempDir()}
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("qemutest: start %s: %v", p.cmd.Path, err)
		}
		go func() { p.cmd.Wait(); close(p.done) }()
		t.Cleanup(p.stop)
		if p.waitListening(t) {
			return p
		}
		last = p.Output()
	}
	t.Fatalf("qemutest: the server exited at start three times; last output:\n%s", last)
	return nil
}

// waitListening reports whether the process accepts TCP connections
// before it exits; it fails the test if it does neither within 30 s.
func (p *Process) waitListening(t testing.TB) bool {
	t.Helper()
	switch err := testutil.WaitListening(p.Addr(), p.done, 30*time.Second); {
	case err == nil:
		return true
	case errors.Is(err, testutil.ErrExited):
		return false
	default:
		t.Fatalf("qemutest: %s did not listen on %s\n%s", p.cmd.Path, p.Addr(), p.Output())
		return false
	}
}

func (p *Process) stop() { testutil.StopGroup(p.cmd, p.done) }

// runClient runs a QEMU client program with a clean environment, killed
// after 60 seconds if it hangs.
func runClient(t testing.TB, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// vncPort is a free port above 5900, which -vnc can name as a display.
func vncPort(t testing.TB) int {
	t.Helper()
	for {
		if p := testutil.FreePort(t); p > 5900 {
			return p
		}
	}
}

// WriteDir writes files (name to PEM) into a new directory under the
// test's temporary directory, keys 0600, and returns it: a tls-creds-x509
// dir= for credentials made in the test.
func WriteDir(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "key") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
