package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestEnrollLibvirtdRenewal: certmonger enrolls a host, a root libvirtd
// 9.0 reads its /etc/pki (libvirttest.Config.PKIDir) and passes verify
// --live; a forced renewal (getcert resubmit) saves a new certificate
// and certmonger's post-save command, libvirt-pki reload, makes the same
// libvirtd process serve it.
func TestEnrollLibvirtdRenewal(t *testing.T) {
	peer.Require(t, "libvirtd", "virt-admin")
	bus, _, conf, prog := startEnrollPeers(t)
	out := t.TempDir()
	root := filepath.Join(out, "compute1")
	enroll := []string{"enroll", "--root", root, "--host", "compute1=127.0.0.1", "--program", prog, "--helper-config", conf}

	// Enroll once so that libvirtd has files to start on; then again
	// with a post-save command that reaches this libvirtd, which
	// resubmits the requests (their post-save command changed).
	mustCLI(t, append(enroll, "--post-save", "true")...)
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	waitStatus(t, "libvirt-pki-client", "MONITORING")
	d := libvirttest.Start(t, libvirttest.Config{PKIDir: filepath.Join(root, "etc/pki")})
	// The post-save command is PostSaveCommand's reload with this
	// daemon's sockets, run by a script that logs each run's end: the
	// test dials libvirtd only after a reload finished (libvirt 9.0 may
	// crash on a handshake during server-update-tls, docs/install-reload.md).
	// certmonger splits -C itself (no shell): --qemu-uri= for an empty
	// value, as '' would not survive.
	reloadCmd := PostSaveCommand(prog, root) + " --admin-socket " + d.AdminSocket() + " --qemu-uri= --libvirtd-addr " + d.Addr() + " --server-name 127.0.0.1"
	post, postLog := postSaveScript(t, reloadCmd)
	if got := mustCLI(t, append(enroll, "--post-save", post)...); !strings.Contains(got, "resubmit libvirt-pki-server") {
		t.Fatalf("re-enroll with a new post-save command:\n%s", got)
	}
	serverCert := filepath.Join(root, "etc/pki/libvirt/servercert.pem")
	for _, id := range []string{"libvirt-pki-server", "libvirt-pki-client"} {
		waitStatus(t, id, "MONITORING")
	}
	waitRuns(t, postLog, 2) // the server's and the client's
	waitServed(t, d.Addr(), serverCert)
	pid := daemonPID(t, d)
	verifyLive := []string{"verify", "--layout", "libvirt", "--out", out, "--host", "compute1=127.0.0.1", "--sets", "libvirt", "--live", d.Addr(), "--uri", "test:///default", "--certmonger"}
	mustCLI(t, verifyLive...)

	old := serial(t, serverCert)
	if _, err := bus.Getcert("resubmit", "-i", "libvirt-pki-server"); err != nil {
		t.Fatal(err)
	}
	waitSaved(t, serverCert, old)
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	waitRuns(t, postLog, 3)
	if !strings.Contains(readLog(postLog, ""), "exit 0") {
		t.Errorf("reload failed in post-save:\n%s", readLog(postLog, ""))
	}
	waitServed(t, d.Addr(), serverCert)
	if got := daemonPID(t, d); got != pid {
		t.Fatalf("libvirtd's pid changed from %s to %s", pid, got)
	}
	mustCLI(t, verifyLive...)
}

// waitServed polls until libvirtd at addr serves the certificate in
// file (certmonger runs the post-save command after saving; a bound on
// a hang, not a timed assertion).
func waitServed(t *testing.T, addr, file string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if servedCert(t, addr).Equal(fileCert(t, file)) {
			return
		}
		sleepTick()
	}
	t.Fatalf("libvirtd at %s serves serial %s, not %s's %s", addr, pki.SerialHex(servedCert(t, addr)), file, pki.SerialHex(fileCert(t, file)))
}

// postSaveScript writes a script that runs command, appends its output
// and "exit N" to a log, and exits as command did.
func postSaveScript(t *testing.T, command string) (script, log string) {
	dir := t.TempDir()
	log = filepath.Join(dir, "post-save.log")
	script = filepath.Join(dir, "post-save.sh")
	body := fmt.Sprintf("#!/bin/sh\n%s >> %s 2>&1\nrc=$?\necho \"exit $rc\" >> %s\nexit $rc\n", command, log, log)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log
}

// waitRuns polls until the post-save log holds n runs' ends.
func waitRuns(t *testing.T, log string, n int) {
	t.Helper()
	for i := 0; i < 900; i++ {
		if strings.Count(readLog(log, ""), "exit ") >= n {
			return
		}
		sleepTick()
	}
	t.Fatalf("post-save ran %d times, want %d:\n%s", strings.Count(readLog(log, ""), "exit "), n, readLog(log, ""))
}
