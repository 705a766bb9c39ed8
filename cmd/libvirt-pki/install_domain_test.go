package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// testQEMUConf is the qemu.conf of the domain test: VNC with TLS and
// client certificates (x509verify) from /etc/pki/libvirt-vnc, QEMU run
// as root without a security driver, cgroups or virtlogd.
const testQEMUConf = `vnc_listen = "127.0.0.1"
vnc_tls = 1
vnc_tls_x509_verify = 1
security_driver = "none"
user = "root"
group = "root"
cgroup_controllers = [ ]
stdio_handler = "file"
`

// startDomain creates a transient QEMU guest (TCG, no disk) with a VNC
// display on port, through the daemon, and destroys it when the test
// ends.
func startDomain(t *testing.T, d *libvirttest.Daemon, name string, port int) {
	t.Helper()
	xml := fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator><graphics type='vnc' port='%d' autoport='no' listen='127.0.0.1'/></devices></domain>`, name, port)
	path := filepath.Join(t.TempDir(), "domain.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	if out, err := libvirttest.Virsh(t, d.QEMUURI(), nil, "create", path); err != nil {
		t.Fatalf("virsh create: %v\n%s\n%s", err, out, d.Log())
	}
	t.Cleanup(func() {
		libvirttest.Virsh(t, d.QEMUURI(), nil, "destroy", name)
		// QEMU outlives a killed libvirtd: end ours by its pid if it is still there.
		for _, pid := range pidsWith("guest=" + name + ",") {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
}

// pidsWith lists the processes whose command line holds arg.
func pidsWith(arg string) []int {
	var out []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		data, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(data), arg) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// TestReloadLibvirtDomainVNC: a root libvirtd 9.0 with its QEMU driver
// runs a real guest whose VNC server uses TLS from /etc/pki/libvirt-vnc
// (qemu.conf vnc_tls). After renew, install --reload reloads libvirtd
// through its admin socket and the guest's VNC server through
// `virsh qemu-monitor-command ... display-reload` (libvirt 9.0 has no
// domdisplay-reload): both serve the new certificates, proven by
// verify --live and --live-vnc.
func TestReloadLibvirtDomainVNC(t *testing.T) {
	peer.Require(t, "libvirtd", "virt-admin", "virsh", "qemu-system-x86_64")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	runCLI(t, "certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt,vnc,novncproxy",
		"--host", "compute01=127.0.0.1", "--proxy-host", "control01=127.0.0.2")
	root := filepath.Join(dir, "root")
	install := []string{"install", filepath.Join(out, "compute01"), "--root", root, "--host", "compute01", "--host", "127.0.0.1"}
	runCLI(t, install...)
	d := libvirttest.Start(t, libvirttest.Config{PKIDir: filepath.Join(root, "etc/pki"), QEMUConf: testQEMUConf})
	name := fmt.Sprintf("pkitest%d", os.Getpid())
	vncPort := testutil.FreePort(t)
	for vncPort <= 5900 {
		vncPort = testutil.FreePort(t)
	}
	startDomain(t, d, name, vncPort)
	vncAddr := "127.0.0.1:" + strconv.Itoa(vncPort)
	proxy := filepath.Join(out, "control01/etc/pki/nova-novncproxy")
	vncFlags := []string{"--vnc-ca-cert", filepath.Join(proxy, "ca-cert.pem"), "--vnc-client-cert", filepath.Join(proxy, "client-cert.pem"), "--vnc-client-key", filepath.Join(proxy, "client-key.pem")}
	verifyLive := append([]string{"verify", "--layout", "libvirt", "--out", out, "--host", "compute01=127.0.0.1", "--proxy-host", "control01=127.0.0.2",
		"--live", d.Addr(), "--uri", "test:///default", "--live-vnc", vncAddr}, vncFlags...)
	reloadFlags := append([]string{"--admin-socket", d.AdminSocket(), "--qemu-uri", d.QEMUURI(), "--libvirtd-addr", d.Addr(), "--server-name", "127.0.0.1"}, vncFlags...)
	var before reloadJSON
	json.Unmarshal([]byte(runCLI(t, append([]string{"reload", "--root", root, "-o", "json"}, reloadFlags...)...)), &before)
	if len(before.Listeners) != 2 || before.Listeners[1].Kind != "vnc" || before.Listeners[1].Status != "unchanged" {
		t.Fatalf("reload before the renewal reported %+v", before.Listeners)
	}

	runCLI(t, "renew", "--layout", "libvirt", "--out", out, "--all")
	var rep struct{ Reload reloadJSON }
	if err := json.Unmarshal([]byte(runCLI(t, append(append(install, "--reload", "-o", "json"), reloadFlags...)...)), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range rep.Reload.Listeners {
		got[l.Kind] = l.Status + " " + l.Addr
		if l.Kind == "vnc" && l.Serial == before.Listeners[1].Serial {
			t.Errorf("the guest's VNC server still serves serial %s", l.Serial)
		}
	}
	if got["libvirtd"] != "reloaded "+d.Addr() || got["vnc"] != "reloaded "+vncAddr || len(got) != 2 {
		t.Fatalf("install --reload reported %v", rep.Reload.Listeners)
	}
	runCLI(t, verifyLive...)
}
