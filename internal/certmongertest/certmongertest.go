// Package certmongertest runs a real certmonger for tests without
// touching the machine: its own D-Bus session bus (dbus-daemon
// --session, with no service files that could start the system's
// certmonger), certmonger -s -n on it in a private mount namespace with
// an empty tmpfs over /var/lib/certmonger (a root certmonger keeps its
// requests and CAs there even on the session bus), and its state
// directories pointed at the test's own (CERTMONGER_*_DIR). Clients
// reach it with getcert -s and the bus address in Env. It needs root
// (CI runs as root) and unshare.
package certmongertest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// Bus is a private session bus, with or without certmonger on it.
type Bus struct {
	// Address is DBUS_SESSION_BUS_ADDRESS for clients.
	Address string
	// Dir holds the bus socket, certmonger's state and its log.
	Dir string

	t  testing.TB
	cm *exec.Cmd
	cd chan struct{}
}

// Env is what a client (getcert -s, libvirt-pki with
// LIBVIRT_PKI_CERTMONGER_BUS=session) needs to reach the bus.
func (b *Bus) Env() map[string]string {
	return map[string]string{"DBUS_SESSION_BUS_ADDRESS": b.Address, "LIBVIRT_PKI_CERTMONGER_BUS": "session"}
}

// Setenv sets Env for the rest of the test.
func (b *Bus) Setenv(t *testing.T) {
	for k, v := range b.Env() {
		t.Setenv(k, v)
	}
}

// busConfig is a session bus with no service directories: Debian's
// session.conf would let a client start certmonger-session (which keeps
// its state under root's ~/.config) when no certmonger is on the bus.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// NewBus starts a private session bus; the test's cleanup stops it.
func NewBus(t testing.TB) *Bus {
	t.Helper()
	if os.Geteuid() != 0 {
		if peer.InCI() {
			t.Fatal("certmongertest: a certmonger in a private mount namespace needs root (CI runs as root)")
		}
		t.Skip("SKIPPING: a certmonger in a private mount namespace needs root")
	}
	daemon := peer.Require(t, "dbus-daemon")[0]
	b := &Bus{Dir: t.TempDir(), t: t}
	conf := filepath.Join(b.Dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(b.Dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + b.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { testutil.StopGroup(cmd, done) })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	b.Address = strings.TrimSpace(line)
	return b
}

// Start starts a bus with certmonger on it and waits until getcert
// reaches it.
func Start(t testing.TB) *Bus {
	t.Helper()
	b := NewBus(t)
	b.StartCertmonger()
	return b
}

// namespaceScript makes every mount private, lays an empty tmpfs over
// /var/lib/certmonger, and runs certmonger.
const namespaceScript = `set -e
mount --make-rprivate /
if [ -d /var/lib/certmonger ]; then mount -t tmpfs tmpfs /var/lib/certmonger; fi
exec "$@"`

// StartCertmonger runs certmonger on the bus.
func (b *Bus) StartCertmonger() {
	t := b.t
	t.Helper()
	bins := peer.Require(t, "certmonger", "getcert", "unshare", "mount")
	state := filepath.Join(b.Dir, "certmonger")
	env := []string{"PATH=/usr/sbin:/usr/bin:/bin", "HOME=" + state, "DBUS_SESSION_BUS_ADDRESS=" + b.Address}
	for _, d := range []string{"CONFIG", "REQUESTS", "CAS", "LOCAL_CA"} {
		dir := filepath.Join(state, strings.ToLower(d))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, "CERTMONGER_"+d+"_DIR="+dir)
	}
	env = append(env, "CERTMONGER_TMPDIR="+state, "CERTMONGER_SYSTEM_LOCK_FILE="+filepath.Join(state, "lock"))
	log, err := os.Create(filepath.Join(b.Dir, "certmonger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins[2], "-m", "sh", "-c", namespaceScript, "sh", bins[0], "-s", "-n", "-d", "1", "-p", filepath.Join(state, "pid"))
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start certmonger: %v", err)
	}
	b.cm, b.cd = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); log.Close(); close(done) }(b.cd)
	t.Cleanup(func() {
		b.StopCertmonger()
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(b.Dir, "certmonger.log"))
			t.Logf("certmonger log (last lines):\n%s", lastLines(string(data), 30))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := b.Getcert("list-cas"); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("certmonger does not answer on its bus: %v", err)
		}
		select {
		case <-b.cd:
			t.Fatal("certmonger exited before answering")
		default:
		}
	}
}

// StopCertmonger stops certmonger, if it runs.
func (b *Bus) StopCertmonger() {
	if b.cm != nil {
		testutil.StopGroup(b.cm, b.cd)
		b.cm = nil
	}
}

// Getcert runs getcert SUB -s ARGS... on the bus and returns its output.
func (b *Bus) Getcert(sub string, args ...string) (string, error) {
	cmd := exec.Command("getcert", append([]string{sub, "-s"}, args...)...)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+b.Address)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("getcert %s: %v: %s", sub, err, out)
	}
	return string(out), nil
}

// Log is certmonger's output so far.
func (b *Bus) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "certmonger.log"))
	return string(data)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
