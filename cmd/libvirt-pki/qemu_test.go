package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/qemutest"
)

// bundle makes host bundles (--layout libvirt) for the sets under a new
// directory and returns it.
func bundle(t *testing.T, sets string, hostArgs ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	runCLI(t, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--sets", sets}, hostArgs...)...)
	return out
}

// TestBundleQEMUNativeTLS proves the qemu set with the real QEMU TLS
// stack, as a live migration's NBD disk copy uses it: qemu-nbd serves
// with the destination's /etc/pki/qemu, qemu-img connects with the
// source's. The migration name succeeds; a name outside the SAN fails
// for the name; a client of another CA is refused by the server.
func TestBundleQEMUNativeTLS(t *testing.T) {
	hosts := []string{"--host", "dst=dst.migration.test", "--host", "src=src.migration.test"}
	out := bundle(t, "libvirt,qemu", hosts...)
	srv := qemutest.StartNBD(t, filepath.Join(out, "dst/etc/pki/qemu"))
	client := filepath.Join(out, "src/etc/pki/qemu")

	if o, err := qemutest.NBDInfo(t, srv, client, "dst.migration.test"); err != nil || !strings.Contains(o, "virtual size") {
		t.Fatalf("qemu-img by the migration name: %v\n%s\nqemu-nbd:\n%s", err, o, srv.Output())
	}
	if o, err := qemutest.NBDInfo(t, srv, client, "elsewhere.test"); err == nil || !strings.Contains(o, "does not match the hostname") {
		t.Fatalf("qemu-img by a name outside the SAN: %v\n%s", err, o)
	}

	// Another CA's source: it trusts both CAs (else it refuses the
	// server itself, and QEMU checks its own pair against its CA file).
	other := bundle(t, "libvirt,qemu", hosts...)
	intruder := t.TempDir()
	for _, f := range []string{"client-cert.pem", "client-key.pem", "ca-cert.pem"} {
		data, err := os.ReadFile(filepath.Join(other, "src/etc/pki/qemu", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "ca-cert.pem" {
			ours, _ := os.ReadFile(filepath.Join(client, f))
			data = append(data, ours...)
		}
		if err := os.WriteFile(filepath.Join(intruder, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := len(srv.Output())
	if o, err := qemutest.NBDInfo(t, srv, intruder, "dst.migration.test"); err == nil {
		t.Fatalf("qemu-img with another CA's client pair succeeded:\n%s", o)
	}
	// GnuTLS sends its certificate when the server's CA list names its
	// issuer's DN, which both CAs share here: qemu-nbd then refuses it
	// for its issuer (with differently named CAs, it sees none).
	if refusal := srv.Output()[before:]; !strings.Contains(refusal, "hasn't got a known issuer") && !strings.Contains(refusal, "Verify failed") {
		t.Fatalf("qemu-nbd did not refuse the other CA's client:\n%s", refusal)
	}
}

// TestBundleVNCLive serves a guest console with QEMU's VNC server and
// the vnc set's /etc/pki/libvirt-vnc (x509 verification on), and reaches
// it with verify --live-vnc and the novncproxy set's client pair: OK.
// Another CA's proxy pair is refused by QEMU; once the files are renewed
// the running QEMU's certificate is reported stale.
func TestBundleVNCLive(t *testing.T) {
	hosts := []string{"--host", "compute01=localhost,127.0.0.1", "--proxy-host", "proxy01"}
	out := bundle(t, "libvirt,vnc,novncproxy", hosts...)
	vnc := qemutest.StartVNC(t, filepath.Join(out, "compute01/etc/pki/libvirt-vnc"))
	// The proxy's files are found in the tree (proxy01's directory).
	verifyArgs := []string{"verify", "--layout", "libvirt", "--out", out, "--host", "compute01=localhost,127.0.0.1", "--live-vnc", vnc.Addr(), "-o", "json"}

	o := runCLI(t, verifyArgs...)
	if !strings.Contains(o, `"service": "vnc"`) || !strings.Contains(o, `"mechanism": "VeNCrypt X509None"`) || !strings.Contains(o, `"class": "ok"`) {
		t.Fatalf("verify --live-vnc:\n%s", o)
	}

	other := bundle(t, "libvirt,vnc,novncproxy", hosts...)
	proxy := filepath.Join(other, "proxy01/etc/pki/nova-novncproxy")
	o = runExit(t, exitFailure, append(verifyArgs, "--vnc-ca-cert", filepath.Join(out, "proxy01/etc/pki/nova-novncproxy/ca-cert.pem"),
		"--vnc-client-cert", filepath.Join(proxy, "client-cert.pem"), "--vnc-client-key", filepath.Join(proxy, "client-key.pem"))...)
	if !strings.Contains(o, `"code": "live-client-cert-rejected"`) {
		t.Fatalf("verify --live-vnc with another CA's proxy pair:\n%s", o)
	}

	runCLI(t, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt,vnc,novncproxy", "--force"}, hosts...)...)
	o = runExit(t, exitFailure, append(verifyArgs, "--fail-on", "warning")...)
	if !strings.Contains(o, `"code": "live-stale-certificate"`) || !strings.Contains(o, "libvirt-vnc/server-cert.pem") || !strings.Contains(o, "display-reload") {
		t.Fatalf("verify --live-vnc after renewal, QEMU not restarted:\n%s", o)
	}
}

// TestBundleLibvirtdAtDefaultPaths runs libvirtd as a host runs it: root,
// the bundle's etc over /etc (a private mount namespace) and the
// bundle's libvirtd.conf lines. It starts with no certificate warning,
// verify --live logs in with the bundle's client pair, and after a
// renewal the daemon's certificate is reported stale.
func TestBundleLibvirtdAtDefaultPaths(t *testing.T) {
	hosts := []string{"--host", "compute01=localhost,127.0.0.1"}
	out := bundle(t, "libvirt,qemu", hosts...)
	add, err := os.ReadFile(filepath.Join(out, "compute01/etc/libvirt-pki/libvirtd.conf.add"))
	if err != nil {
		t.Fatal(err)
	}
	d := libvirttest.Start(t, libvirttest.Config{SystemEtc: filepath.Join(out, "compute01/etc"), Extra: string(add)})
	verifyArgs := append([]string{"verify", "--layout", "libvirt", "--out", out, "--live", d.Addr(), "--uri", "test:///default", "--fail-on", "warning"}, hosts...)
	if o := runCLI(t, verifyArgs...); !strings.Contains(o, "OK") {
		t.Fatalf("verify --live:\n%s", o)
	}
	// No live-stale-certificate either (--fail-on warning): the daemon
	// serves the bundle's servercert.pem, read from /etc/pki.
	d.NoCertificateWarnings(t)

	runCLI(t, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt,qemu", "--force"}, hosts...)...)
	o := runExit(t, exitFailure, verifyArgs...)
	if !strings.Contains(o, "live-stale-certificate") || !strings.Contains(o, "libvirt-pki reload") {
		t.Fatalf("verify --live after renewal, libvirtd not restarted:\n%s", o)
	}
}

// TestBundleSPICE serves SPICE over TLS with the spice set's
// /etc/pki/libvirt-spice and connects with spice-gtk's client library
// (headless, through PyGObject), which checks the server certificate as
// remote-viewer does: the console name succeeds; an address outside the
// SAN and another CA's file are refused, each for its reason. SPICE has
// no client certificates, so only the server side is proved.
func TestBundleSPICE(t *testing.T) {
	out := bundle(t, "libvirt,spice", "--host", "compute01=localhost")
	spice := qemutest.StartSPICE(t, filepath.Join(out, "compute01/etc/pki/libvirt-spice"))
	ca := filepath.Join(out, "compute01/etc/pki/libvirt-spice/ca-cert.pem")

	if o, err := qemutest.SPICEConnect(t, spice, ca, "localhost"); err != nil || !strings.HasSuffix(strings.TrimSpace(o), "opened") {
		t.Fatalf("SPICE by the console name: %v\n%s\nqemu:\n%s", err, o, spice.Output())
	}
	if o, err := qemutest.SPICEConnect(t, spice, ca, "127.0.0.1"); err == nil || !strings.Contains(o, "hostname '127.0.0.1' verification failed") {
		t.Fatalf("SPICE by an address outside the SAN: %v\n%s", err, o)
	}
	other := bundle(t, "libvirt,spice", "--host", "compute01=localhost")
	o, err := qemutest.SPICEConnect(t, spice, filepath.Join(other, "compute01/etc/pki/libvirt-spice/ca-cert.pem"), "localhost")
	if err == nil || !strings.Contains(o, "not being signed by the provided CA") {
		t.Fatalf("SPICE trusting another CA: %v\n%s", err, o)
	}
}
