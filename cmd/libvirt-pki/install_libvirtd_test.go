package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/rpc"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// heldConn is a libvirt client connection opened before a reload and
// used after it.
type heldConn struct {
	tc *tls.Conn
	cl *rpc.Client
}

// openHeld connects to libvirtd at addr with the client pair installed
// under root and opens test:///default.
func openHeld(t *testing.T, root, addr string) *heldConn {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(root, "etc/pki/libvirt/clientcert.pem"), filepath.Join(root, "etc/pki/libvirt/private/clientkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(5 * time.Minute))
	var confirm [1]byte
	if _, err := io.ReadFull(tc, confirm[:]); err != nil || confirm[0] != 1 {
		t.Fatalf("libvirtd did not confirm the client certificate: %v", err)
	}
	cl := rpc.NewClient(tc)
	if _, err := cl.AuthList(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ConnectOpen("test:///default", 0); err != nil {
		t.Fatal(err)
	}
	return &heldConn{tc, cl}
}

// servedCert is the leaf a TLS server at addr presents.
func servedCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer tc.Close()
	return tc.ConnectionState().PeerCertificates[0]
}

// fileCert is the first certificate of a PEM file.
func fileCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := pki.ReadCertsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// daemonPID reads the pid file of a libvirttest daemon.
func daemonPID(t *testing.T, d *libvirttest.Daemon) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "run", "libvirtd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// installReloadJSON is the part of install -o json the tests read.
type installReloadJSON struct {
	Written []string `json:"written"`
	Reload  struct {
		Listeners []struct {
			Kind, Status, Message, Serial string
		} `json:"listeners"`
	} `json:"reload"`
}

// TestInstallReloadLibvirtd: a root libvirtd 9.0 reads /etc/pki (a
// private mount namespace binds the test's root's etc/pki there); a
// client connection is opened; the bundle is renewed and installed with
// --reload: the same daemon process serves the new certificate at once,
// verify --live is clean, and the earlier connection still answers. Then
// a key mismatch, a bundle for another host, a CA with no overlap and a
// truncated tar are refused with nothing changed and the daemon still
// serving what it served; reload refuses a libvirtd.conf overriding the
// TLS paths unless --force.
func TestInstallReloadLibvirtd(t *testing.T) {
	peer.Require(t, "libvirtd", "virt-admin")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	tarball := makeBundle(t, out, "compute01", "127.0.0.1")
	root := filepath.Join(dir, "root")
	hostFlags := []string{"--root", root, "--host", "compute01", "--host", "127.0.0.1"}
	runCLI(t, append([]string{"install", tarball}, hostFlags...)...)
	d := libvirttest.Start(t, libvirttest.Config{PKIDir: filepath.Join(root, "etc/pki")})
	reloadFlags := []string{"--admin-socket", d.AdminSocket(), "--qemu-uri", "", "--libvirtd-addr", d.Addr(), "--server-name", "127.0.0.1"}
	pid := daemonPID(t, d)
	held := openHeld(t, root, d.Addr())
	old := servedCert(t, d.Addr())

	runCLI(t, "renew", "--layout", "libvirt", "--out", out, "--all")
	args := append(append([]string{"install", filepath.Join(out, "compute01"), "--reload", "-o", "json"}, hostFlags...), reloadFlags...)
	var rep installReloadJSON
	if err := json.Unmarshal([]byte(runCLI(t, args...)), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Reload.Listeners) != 1 || rep.Reload.Listeners[0].Status != "reloaded" || rep.Reload.Listeners[0].Kind != "libvirtd" {
		t.Fatalf("install --reload reported %+v", rep.Reload)
	}
	now := servedCert(t, d.Addr())
	if now.Equal(old) || !now.Equal(fileCert(t, filepath.Join(root, "etc/pki/libvirt/servercert.pem"))) {
		t.Fatalf("after install --reload libvirtd serves serial %s (before %s), not the installed certificate", pki.SerialHex(now), pki.SerialHex(old))
	}
	if got := daemonPID(t, d); got != pid {
		t.Fatalf("libvirtd's pid changed from %s to %s", pid, got)
	}
	runCLI(t, "verify", "--layout", "libvirt", "--out", out, "--host", "compute01=127.0.0.1", "--live", d.Addr(), "--uri", "test:///default")
	if h, err := held.cl.ConnectGetHostname(); err != nil || h == "" {
		t.Fatalf("the connection opened before the reload no longer answers: %q, %v", h, err)
	}
	if out := runCLI(t, append([]string{"reload", "--root", root}, reloadFlags...)...); !strings.Contains(out, "unchanged") {
		t.Errorf("a second reload says:\n%s", out)
	}

	refusedWhileServing(t, d, dir, root, hostFlags, reloadFlags)
	overriddenPaths(t, root, reloadFlags)
	servedContinuity(t, d, dir, root, hostFlags, reloadFlags)
}

// servedContinuity: files of another CA forced onto the disk without a
// reload leave libvirtd serving the old CA's certificate; install
// --reload of a bundle of that other CA alone is then refused for what
// is served (exit 2, no reload), and --force installs and reloads it.
func servedContinuity(t *testing.T, d *libvirttest.Daemon, dir, root string, hostFlags, reloadFlags []string) {
	t.Helper()
	other := filepath.Join(dir, "otherca", "compute01.tar")
	runCLI(t, append([]string{"install", other, "--force"}, hostFlags...)...)
	serving := servedCert(t, d.Addr())
	wantBadInput(t, "served now at "+d.Addr(), append(append([]string{"install", other, "--reload"}, hostFlags...), reloadFlags...)...)
	if now := servedCert(t, d.Addr()); !now.Equal(serving) {
		t.Fatal("a refused install --reload reloaded libvirtd")
	}
	runCLI(t, append(append([]string{"install", other, "--reload", "--force"}, hostFlags...), reloadFlags...)...)
	if now := servedCert(t, d.Addr()); !now.Equal(fileCert(t, filepath.Join(root, "etc/pki/libvirt/servercert.pem"))) {
		t.Fatal("install --reload --force did not make libvirtd serve the installed certificate")
	}
}

// refusedWhileServing installs bad bundles under a running daemon: each
// is refused (exit 2), nothing under root changes, the daemon serves
// what it served.
func refusedWhileServing(t *testing.T, d *libvirttest.Daemon, dir, root string, hostFlags, reloadFlags []string) {
	t.Helper()
	out := filepath.Join(dir, "out")
	fresh := makeBundle(t, out, "compute01", "127.0.0.1") // the tar, refreshed after renew
	mismatch := filepath.Join(dir, "mismatch", "compute01.tar")
	os.MkdirAll(filepath.Dir(mismatch), 0o755)
	writeTarEntries(t, mismatch, hostileBundles[7].mutate(t, readTarEntries(t, fresh)))
	truncated := filepath.Join(dir, "truncated", "compute01.tar")
	os.MkdirAll(filepath.Dir(truncated), 0o755)
	data, _ := os.ReadFile(fresh)
	os.WriteFile(truncated, data[:len(data)/3], 0o600)
	cases := map[string]string{
		"key-mismatch":  mismatch,
		"another host":  makeBundle(t, filepath.Join(dir, "c2"), "compute02", "127.0.0.2"),
		"no-overlap CA": makeBundle(t, filepath.Join(dir, "otherca"), "compute01", "127.0.0.1"),
		"truncated":     truncated,
	}
	serving := servedCert(t, d.Addr())
	for name, bundle := range cases {
		before := snapshot(t, root)
		code, stdout, stderr := runArgs(append(append([]string{"install", bundle, "--reload"}, hostFlags...), reloadFlags...)...)
		if code != exitUsage || !strings.Contains(stderr, "nothing written") {
			t.Errorf("%s: exit %d, want 2 with nothing written\n%s%s", name, code, stdout, stderr)
		}
		sameSnapshot(t, name, root, before)
		if now := servedCert(t, d.Addr()); !now.Equal(serving) {
			t.Errorf("%s: libvirtd now serves serial %s, not %s", name, pki.SerialHex(now), pki.SerialHex(serving))
		}
	}
}

// overriddenPaths: a libvirtd.conf that sets the TLS file paths makes
// reload refuse (exit 2), unless --force.
func overriddenPaths(t *testing.T, root string, reloadFlags []string) {
	t.Helper()
	conf := filepath.Join(root, "etc/libvirt/libvirtd.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	os.WriteFile(conf, []byte("# key_file = \"/x\"\ncert_file = \"/etc/ssl/libvirt.pem\"\n"), 0o644)
	wantBadInput(t, "reads libvirt's default paths", append([]string{"reload", "--root", root}, reloadFlags...)...)
	out := runCLI(t, append([]string{"reload", "--root", root, "--force"}, reloadFlags...)...)
	if !strings.Contains(out, "cert_file") || !strings.Contains(out, "unchanged") {
		t.Errorf("reload --force with overridden paths says:\n%s", out)
	}
	os.Remove(conf)
}
