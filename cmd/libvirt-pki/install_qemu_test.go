package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/qemutest"
)

// reloadJSON is the part of reload -o json the tests read.
type reloadJSON struct {
	Listeners []struct {
		Kind, Status, Message, Serial, Addr string
	} `json:"listeners"`
}

// TestReloadQEMUGuests: a bare QEMU (-machine none) serving VNC with TLS
// from the installed /etc/pki/libvirt-vnc and a QEMU serving SPICE over
// TLS from /etc/pki/libvirt-spice, both with a QMP socket. After renew
// and install --reload, the VNC server serves the new certificate
// (display-reload), proven by verify --live-vnc with the console proxy's
// pair; the SPICE guest is reported needing a restart (exit 1). A VNC
// certificate from another CA, put in place by hand, is refused by QEMU,
// reported with QEMU's message, and the old certificate kept; install
// refuses the same files in a bundle.
func TestReloadQEMUGuests(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	bundleArgs := []string{"certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt,qemu,vnc,spice,novncproxy",
		"--host", "compute01=127.0.0.1", "--proxy-host", "control01=127.0.0.2", "--bundle"}
	runCLI(t, bundleArgs...)
	root := filepath.Join(dir, "root")
	hostFlags := []string{"--root", root, "--host", "compute01", "--host", "127.0.0.1"}
	runCLI(t, append([]string{"install", filepath.Join(out, "compute01.tar")}, hostFlags...)...)

	vncQMP, spiceQMP := filepath.Join(dir, "vnc.qmp"), filepath.Join(dir, "spice.qmp")
	vnc := qemutest.StartVNC(t, filepath.Join(root, "etc/pki/libvirt-vnc"), "-qmp", "unix:"+vncQMP+",server=on,wait=off")
	spice := qemutest.StartSPICE(t, filepath.Join(root, "etc/pki/libvirt-spice"), "-qmp", "unix:"+spiceQMP+",server=on,wait=off")
	proxy := filepath.Join(out, "control01/etc/pki/nova-novncproxy")
	vncFlags := []string{"--vnc-ca-cert", filepath.Join(proxy, "ca-cert.pem"), "--vnc-client-cert", filepath.Join(proxy, "client-cert.pem"), "--vnc-client-key", filepath.Join(proxy, "client-key.pem")}
	reloadFlags := append([]string{"--admin-socket", "", "--qemu-uri", "", "--qmp-socket", vncQMP, "--qmp-socket", spiceQMP, "--server-name", "127.0.0.1"}, vncFlags...)
	verifyVNC := append([]string{"verify", "--layout", "libvirt", "--out", out, "--host", "compute01=127.0.0.1", "--proxy-host", "control01=127.0.0.2", "--live-vnc", vnc.Addr()}, vncFlags...)
	runCLI(t, verifyVNC...)
	oldVNC, oldSpice := servedVNCSerial(t, root, reloadFlags), servedCert(t, spice.Addr())

	runCLI(t, "renew", "--layout", "libvirt", "--out", out, "--all")
	runCLI(t, bundleArgs...)
	code, stdout, stderr := runArgs(append(append([]string{"install", filepath.Join(out, "compute01.tar"), "--reload", "-o", "json"}, hostFlags...), reloadFlags...)...)
	var rep struct{ Reload reloadJSON }
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitFailure {
		t.Fatalf("install --reload: exit %d (want 1: SPICE needs a restart), %v\n%s%s", code, err, stdout, stderr)
	}
	status := map[string]string{}
	for _, l := range rep.Reload.Listeners {
		status[l.Kind] = l.Status
	}
	if status["vnc"] != "reloaded" || status["spice"] != "needs-restart" || len(rep.Reload.Listeners) != 2 {
		t.Fatalf("install --reload reported %+v", rep.Reload.Listeners)
	}
	runCLI(t, verifyVNC...) // not stale: the new certificate is served
	if now := servedVNCSerial(t, root, reloadFlags); now == oldVNC {
		t.Fatalf("the VNC server still serves serial %s", now)
	}
	if now := servedCert(t, spice.Addr()); !now.Equal(oldSpice) {
		t.Fatal("the SPICE server changed certificate without a restart")
	}
	foreignVNC(t, dir, root, hostFlags, reloadFlags, out)
}

// servedVNCSerial runs reload on the VNC guest alone and returns the
// serial it reports served.
func servedVNCSerial(t *testing.T, root string, reloadFlags []string) string {
	t.Helper()
	_, stdout, _ := runArgs(append([]string{"reload", "--root", root, "-o", "json"}, reloadFlags...)...)
	var rep reloadJSON
	json.Unmarshal([]byte(stdout), &rep)
	for _, l := range rep.Listeners {
		if l.Kind == "vnc" {
			return l.Serial
		}
	}
	t.Fatalf("reload reported no VNC listener:\n%s", stdout)
	return ""
}

// foreignVNC puts a VNC pair from another CA in place by hand: reload
// reports QEMU's refusal (exit 1) and the old certificate is served;
// install refuses a bundle holding that pair (exit 2).
func foreignVNC(t *testing.T, dir, root string, hostFlags, reloadFlags []string, out string) {
	t.Helper()
	other := filepath.Join(dir, "other")
	runCLI(t, "certificates", "--layout", "libvirt", "--out", other, "--sets", "libvirt,vnc", "--host", "compute01=127.0.0.1")
	vncDir := filepath.Join(root, "etc/pki/libvirt-vnc")
	before := servedVNCSerial(t, root, reloadFlags)
	for _, f := range []string{"server-cert.pem", "server-key.pem"} {
		copyFile(t, filepath.Join(other, "compute01/etc/pki/libvirt-vnc", f), filepath.Join(vncDir, f))
	}
	code, stdout, stderr := runArgs(append([]string{"reload", "--root", root, "-o", "json"}, reloadFlags...)...)
	var rep reloadJSON
	json.Unmarshal([]byte(stdout), &rep)
	var vnc string
	for _, l := range rep.Listeners {
		if l.Kind == "vnc" {
			vnc = l.Status + ": " + l.Message
			if l.Serial != before {
				t.Errorf("after a refused reload the VNC server serves serial %s, not %s", l.Serial, before)
			}
		}
	}
	if code != exitFailure || !strings.HasPrefix(vnc, "failed: QEMU refused display-reload") || !strings.Contains(vnc, "issuer") {
		t.Fatalf("reload of a foreign VNC certificate: exit %d, vnc %q\n%s%s", code, vnc, stdout, stderr)
	}
	t.Logf("reload of a VNC certificate from another CA: %s", vnc)
	// The same pair in a bundle is refused before anything is written.
	bundle := filepath.Join(dir, "foreign", "compute01")
	os.MkdirAll(filepath.Dir(bundle), 0o755)
	copyTree(t, filepath.Join(out, "compute01"), bundle)
	for _, f := range []string{"server-cert.pem", "server-key.pem"} {
		data, _ := os.ReadFile(filepath.Join(other, "compute01/etc/pki/libvirt-vnc", f))
		os.WriteFile(filepath.Join(bundle, "etc/pki/libvirt-vnc", f), data, 0o640)
	}
	wantBadInput(t, "untrusted-chain", append([]string{"install", bundle}, hostFlags...)...)
}
