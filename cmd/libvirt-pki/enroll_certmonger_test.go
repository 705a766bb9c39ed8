package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/certmonger"
	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/certmongertest"
	"github.com/libvirt-pki/libvirt-pki/internal/cfssltest"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Enrollment through a real certmonger (internal/certmongertest: its
// own bus and state, nothing of the machine's) and a real multirootca:
// certmonger runs libvirt-pki as its helper and post-save command (this
// test binary under the name libvirt-pki, as testscript runs it).

// selfAsProgram links this test binary as DIR/a b/libvirt-pki: run
// under that name it is the CLI (TestMain); the space proves the helper
// and post-save command lines certmonger stores are quoted so that it

// startEnrollPeers starts what every enroll test needs: a certmonger on
// its own bus (set in this process's environment), a real multirootca,
// the helper's settings file for it and the program certmonger runs.
func startEnrollPeers(t *testing.T) (*certmongertest.Bus, *cfssltest.Signer, string, string) {
	bus := certmongertest.Start(t)
	bus.Setenv(t)
	signer := cfssltest.Start(t, cfssltest.Options{})
	conf := helperConfig(t, signer.URL, signer.AuthKey, signer.Label, signer.TLSCAFile)
	return bus, signer, conf, selfAsProgram(t)
}

// splits them right.
func selfAsProgram(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(t.TempDir(), "a b", "libvirt-pki")
	os.MkdirAll(filepath.Dir(prog), 0o755)
	if err := os.Symlink(exe, prog); err != nil {
		t.Fatal(err)
	}
	return prog
}

// postSaveRecorder is a post-save command that appends a line to a log
// each time certmonger runs it.
func postSaveRecorder(t *testing.T) (command, log string) {
	dir := t.TempDir()
	log = filepath.Join(dir, "post-save.log")
	script := filepath.Join(dir, "post-save.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho saved >> "+log+"\n"), 0o755)
	return script, log
}

// waitStatus polls certmonger until request id is in one of the states
// (a bound on a hang, not a timed assertion) and returns it.
func waitStatus(t *testing.T, id string, states ...string) certmonger.Tracked {
	t.Helper()
	c := certmonger.ClientFromEnv()
	var last certmonger.Tracked
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		all, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if tr, ok := findTracked(all, id); ok {
			last = tr
			if slices.Contains(states, tr.Status) {
				return tr
			}
		}
	}
	t.Fatalf("request %s: status %q (%s), want %v", id, last.Status, last.CAError, states)
	return last
}

// enrolledFiles checks every file of the libvirt set under root: issued
// by ca for its key, with the table's mode, and the CA copy.
func enrolledFiles(t *testing.T, root string, ca *pki.CA) {
	t.Helper()
	for _, pair := range [][2]layout.Role{{layout.ServerCert, layout.ServerKey}, {layout.ClientCert, layout.ClientKey}} {
		certSpec, _ := layout.Libvirt.Spec(pair[0])
		keySpec, _ := layout.Libvirt.Spec(pair[1])
		certs, err := pki.ReadCertsFile(filepath.Join(root, certSpec.Rel))
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, err := os.ReadFile(filepath.Join(root, keySpec.Rel))
		if err != nil {
			t.Fatal(err)
		}
		key, err := pki.ParseKey(keyPEM)
		if err != nil || !pki.KeyMatches(key.Signer, certs[0]) || ca.Signed(certs[0]) != nil {
			t.Fatalf("%s: not a certificate of the signer for %s (%v)", certSpec.Rel, keySpec.Rel, err)
		}
		for _, f := range []layout.FileSpec{certSpec, keySpec} {
			if fi, err := os.Stat(filepath.Join(root, f.Rel)); err != nil || fi.Mode().Perm() != f.Mode {
				t.Errorf("%s: mode %v, want %v (%v)", f.Rel, fi.Mode().Perm(), f.Mode, err)
			}
		}
	}
	caSpec, _ := layout.Libvirt.Spec(layout.CACert)
	got, err := os.ReadFile(filepath.Join(root, caSpec.Rel))
	if err != nil || !strings.Contains(string(got), strings.TrimSpace(string(pki.EncodeCertsPEM(ca.Cert)))) {
		t.Errorf("%s: not the signer's CA (%v): %q", caSpec.Rel, err, got)
	}
	if fi, err := os.Stat(filepath.Join(root, caSpec.Rel)); err != nil || fi.Mode().Perm() != caSpec.Mode {
		t.Errorf("%s: mode %v (%v), want %v", caSpec.Rel, fi.Mode().Perm(), err, caSpec.Mode)
	}
}

func serial(t *testing.T, file string) string {
	t.Helper()
	certs, err := pki.ReadCertsFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return pki.SerialHex(certs[0])
}

func TestEnrollCertmonger(t *testing.T) {
	bus, signer, conf, prog := startEnrollPeers(t)
	post, postLog := postSaveRecorder(t)
	out := t.TempDir()
	root := filepath.Join(out, "compute1") // the host's root is its directory of a libvirt layout tree
	verifyArgs := []string{"verify", "--layout", "libvirt", "--out", out, "--host", "compute1=compute1.example.org,127.0.0.1", "--sets", "libvirt", "--certmonger"}
	args := []string{"enroll", "--root", root, "--host", "compute1.example.org=compute1,127.0.0.1", "--program", prog, "--helper-config", conf, "--post-save", post}

	dry := mustCLI(t, append(args, "--dry-run")...)
	if !strings.Contains(dry, "getcert add-ca -s -c libvirt-pki -e ") || strings.Count(dry, "getcert request -s ") != 2 {
		t.Fatalf("--dry-run:\n%s", dry)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Fatalf("--dry-run wrote %v", entries)
	}
	mustCLI(t, args...)
	for _, id := range []string{"libvirt-pki-server", "libvirt-pki-client"} {
		waitStatus(t, id, "MONITORING")
	}
	enrolledFiles(t, root, signer.CA)
	mustCLI(t, verifyArgs...)
	if exp := mustCLI(t, "expiry", "--layout", "libvirt", "--out", out, "--certmonger", "--warn-days", "7"); !strings.Contains(exp, "libvirt-pki-server") || !strings.Contains(exp, "MONITORING") {
		t.Errorf("expiry --certmonger:\n%s", exp)
	}
	serverCert := filepath.Join(root, "etc/pki/libvirt/servercert.pem")
	if got := pki.SANsOf(mustCert(t, serverCert)).Strings(); !slices.Equal(got, []string{"compute1", "compute1.example.org", "127.0.0.1"}) {
		t.Errorf("server SANs %q", got)
	}
	requests, _ := snapshotFiles(filepath.Join(bus.Dir, "certmonger", "requests"))
	if len(requests) != 2 {
		t.Errorf("certmonger's request files: %d, want 2", len(requests))
	}
	logs := map[string]string{"certmonger's log": bus.Log(), "the signer's log": readLog(signer.Dir, "signer.log")}
	for name, text := range requests {
		logs["certmonger's request "+name] = text
	}
	for name, text := range logs {
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("%s holds a private key", name)
		}
	}

	// A second run changes nothing.
	before := snapshotTree(t, root)
	if out := mustCLI(t, args...); !strings.Contains(out, "0 requests made, 2 unchanged") {
		t.Errorf("second enroll: %s", out)
	}
	if dry := mustCLI(t, append(args, "--dry-run")...); dry != "" {
		t.Errorf("second --dry-run: %q", dry)
	}
	if after := snapshotTree(t, root); !maps.Equal(before, after) {
		t.Errorf("second enroll rewrote files")
	}

	// Forced renewal: a new certificate, and the post-save command ran.
	old := serial(t, serverCert)
	saves := countLines(postLog)
	if _, err := bus.Getcert("resubmit", "-i", "libvirt-pki-server"); err != nil {
		t.Fatal(err)
	}
	waitSaved(t, serverCert, old)
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	if countLines(postLog) <= saves {
		t.Errorf("post-save command did not run: %d saves before, %d after", saves, countLines(postLog))
	}

	// Signer down: CA_UNREACHABLE, files unchanged; back: issued.
	signer.Stop()
	before = snapshotTree(t, root)
	bus.Getcert("resubmit", "-i", "libvirt-pki-client")
	tr := waitStatus(t, "libvirt-pki-client", "CA_UNREACHABLE")
	t.Logf("signer down: %+v", tr)
	if !strings.Contains(tr.CAError, "unreachable") {
		t.Errorf("ca-error %q", tr.CAError)
	}
	if after := snapshotTree(t, root); !maps.Equal(before, after) {
		t.Errorf("files changed while the signer was down")
	}
	if code, rep, _ := cli(t, verifyArgs...); code != exitFailure || !strings.Contains(rep, "certmonger-request") || !strings.Contains(rep, "CA_UNREACHABLE") {
		t.Errorf("verify with the signer down: exit %d\n%s", code, rep)
	}
	signer.Restart()
	bus.Getcert("resubmit", "-i", "libvirt-pki-client")
	waitStatus(t, "libvirt-pki-client", "MONITORING")

	// A new name: the request is resubmitted with the same key; another
	// key algorithm: rekeyed.
	keyFile := filepath.Join(root, "etc/pki/libvirt/private/serverkey.pem")
	oldKey := readLog(keyFile, "")
	moreNames := append(slices.Clone(args), "--host", "compute1.example.org=compute1,127.0.0.1,192.0.2.7")
	if out := mustCLI(t, moreNames...); !strings.Contains(out, "resubmit libvirt-pki-server") {
		t.Fatalf("enroll with a new name:\n%s", out)
	}
	waitNames(t, serverCert, "192.0.2.7")
	waitNames(t, filepath.Join(root, "etc/pki/libvirt/clientcert.pem"), "192.0.2.7")
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	waitStatus(t, "libvirt-pki-client", "MONITORING")
	if readLog(keyFile, "") != oldKey {
		t.Errorf("a new name changed the key")
	}
	rsa := append(slices.Clone(moreNames), "--key-algo", "rsa-2048")
	if out := mustCLI(t, rsa...); !strings.Contains(out, "rekey libvirt-pki-server") {
		t.Fatalf("enroll with another key algorithm:\n%s", out)
	}
	waitKeyAlgo(t, serverCert, pki.RSA2048)
	waitKeyAlgo(t, filepath.Join(root, "etc/pki/libvirt/clientcert.pem"), pki.RSA2048)
	waitStatus(t, "libvirt-pki-server", "MONITORING")
	waitStatus(t, "libvirt-pki-client", "MONITORING")
	if out := mustCLI(t, rsa...); !strings.Contains(out, "0 requests made, 2 unchanged") {
		t.Errorf("enroll again after the changes:\n%s", out)
	}

	// unenroll: nothing tracked, the files stay.
	mustCLI(t, "unenroll")
	all, _ := certmonger.ClientFromEnv().List()
	if len(all) != 0 {
		t.Errorf("still tracked after unenroll: %v", all)
	}
	enrolledFiles(t, root, signer.CA)
}

func mustCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	certs, err := pki.ReadCertsFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func readLog(dir, name string) string {
	data, _ := os.ReadFile(filepath.Join(dir, name))
	return string(data)
}

func countLines(file string) int {
	data, _ := os.ReadFile(file)
	return strings.Count(string(data), "\n")
}

// waitSaved polls until file holds a certificate whose serial is not
// old (a bound on a hang, not a timed assertion).
func waitSaved(t *testing.T, file, old string) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if certs, err := pki.ReadCertsFile(file); err == nil && pki.SerialHex(certs[0]) != old {
			return
		}
	}
	t.Fatalf("%s: still serial %s", file, old)
}

// TestEnrollRefused: a signer whose policy refuses the host's name, and
// one without our server profile: certmonger reports CA_REJECTED with
// the signer's words, and nothing is saved.
func TestEnrollRefused(t *testing.T) {
	bus := certmongertest.Start(t)
	bus.Setenv(t)
	prog := selfAsProgram(t)
	cases := []struct {
		name   string
		config []byte
		host   string
		id     string
		reason string
	}{
		{"name outside the policy", whitelistConfig(t), "compute1.example.com", "libvirt-pki-server", "bad request"},
		{"no server profile", withoutProfiles(t, "server-ecdsa", "server-rsa"), "compute1.example.org", "libvirt-pki-server", "(profile-refused)"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signer := cfssltest.Start(t, cfssltest.Options{Config: c.config})
			conf := helperConfig(t, signer.URL, signer.AuthKey, signer.Label, signer.TLSCAFile)
			root := t.TempDir()
			ca := fmt.Sprintf("refusing-%d", i)
			mustCLI(t, "enroll", "--root", root, "--host", c.host, "--program", prog, "--helper-config", conf, "--post-save", "true", "--ca-name", ca)
			tr := waitStatus(t, c.id, "CA_REJECTED")
			if !strings.Contains(tr.CAError, c.reason) {
				t.Errorf("ca-error %q lacks %q", tr.CAError, c.reason)
			}
			if _, err := os.Stat(filepath.Join(root, "etc/pki/libvirt/servercert.pem")); !os.IsNotExist(err) {
				t.Errorf("a server certificate was saved: %v", err)
			}
			if code, rep, _ := cli(t, "verify", "--layout", "libvirt", "--out", filepath.Dir(root), "--certmonger"); code != exitFailure || !strings.Contains(rep, "CA_REJECTED") || !strings.Contains(rep, c.reason) {
				t.Errorf("verify --certmonger: exit %d\n%s", code, rep)
			}
			mustCLI(t, "unenroll", "--ca-name", ca)
		})
	}
}

// withoutProfiles is pki.SignerConfig without the named profiles.
func withoutProfiles(t *testing.T, names ...string) []byte {
	var cfg map[string]any
	data, _ := pki.SignerConfig("", "file:"+cfssltest.AuthKeyFile)
	json.Unmarshal(data, &cfg)
	for _, n := range names {
		delete(cfg["signing"].(map[string]any)["profiles"].(map[string]any), n)
	}
	out, _ := json.Marshal(cfg)
	return out
}

// TestEnrollNoCertmonger: without getcert, or with no certmonger on the
// bus, enroll says what to install or start in one line, exits 2 and
// creates nothing.
func TestEnrollNoCertmonger(t *testing.T) {
	bus := certmongertest.NewBus(t) // a bus without certmonger
	bus.Setenv(t)
	root := t.TempDir()
	args := []string{"enroll", "--root", root, "--host", "compute1", "--helper-config", "/nonexistent.conf"}
	code, out, errOut := cli(t, args...)
	if code != exitUsage || !strings.Contains(errOut, "certmonger is not running") || strings.Count(errOut, "\n") != 1 || out != "" {
		t.Errorf("no certmonger on the bus: exit %d, %q %q", code, out, errOut)
	}
	t.Setenv("PATH", t.TempDir())
	code, out, errOut = cli(t, args...)
	if code != exitUsage || !strings.Contains(errOut, "apt-get install certmonger") || strings.Count(errOut, "\n") != 1 || out != "" {
		t.Errorf("no getcert: exit %d, %q %q", code, out, errOut)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("created %v", entries)
	}
}

func sleepTick() { time.Sleep(100 * time.Millisecond) }

// waitNames polls until the certificate in file carries name.
func waitNames(t *testing.T, file, name string) {
	t.Helper()
	for i := 0; i < 900; i++ {
		if certs, err := pki.ReadCertsFile(file); err == nil && slices.Contains(pki.SANsOf(certs[0]).Strings(), name) {
			return
		}
		sleepTick()
	}
	t.Fatalf("%s never carried %s", file, name)
}

// waitKeyAlgo polls until the certificate in file is for a key of algo.
func waitKeyAlgo(t *testing.T, file string, algo pki.KeyAlgo) {
	t.Helper()
	for i := 0; i < 900; i++ {
		if certs, err := pki.ReadCertsFile(file); err == nil && pki.AlgoOf(certs[0].PublicKey) == algo {
			return
		}
		sleepTick()
	}
	t.Fatalf("%s never had a %s key", file, algo)
}

// TestEnrollQEMUAndProxy: the qemu, vnc and spice sets of a compute host
// and the novncproxy set of a console proxy host, issued through a real
// certmonger at the layout's paths with the table's modes, each set's CA
// copy written; an owner or group the host lacks (Debian has no qemu
// group) falls back to root with a note.
func TestEnrollQEMUAndProxy(t *testing.T) {
	_, signer, conf, prog := startEnrollPeers(t)
	root := t.TempDir()
	if code, _, errOut := cli(t, "enroll", "--root", root, "--program", prog, "--helper-config", filepath.Join(root, "absent.conf")); code != exitUsage || !strings.Contains(errOut, "--helper-config") {
		t.Errorf("without the helper's settings: exit %d, %q", code, errOut)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("created %v without the helper's settings", entries)
	}
	code, out, errOut := cli(t, "enroll", "--root", root, "--sets", "qemu,vnc,spice,novncproxy", "--host", "compute1=127.0.0.1",
		"--program", prog, "--helper-config", conf, "--post-save", "true")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	kinds := credential.Selected(layout.Libvirt, []string{"qemu", "vnc", "spice", "novncproxy"}, credential.Compute)
	kinds = append(kinds, credential.Selected(layout.Libvirt, []string{"novncproxy"}, credential.Proxy)...)
	for _, k := range kinds {
		spec, _ := layout.Libvirt.Spec(k.Cert)
		file := filepath.Join(root, spec.Rel)
		if k.IsCA() {
			continue
		}
		waitStatus(t, certmonger.IDPrefix+k.Name, "MONITORING")
		if err := signer.CA.Signed(mustCert(t, file)); err != nil {
			t.Errorf("%s: %v", spec.Rel, err)
		}
		keySpec, _ := layout.Libvirt.Spec(k.Key)
		fi, err := os.Stat(filepath.Join(root, keySpec.Rel))
		if err != nil || fi.Mode().Perm() != keySpec.Mode {
			t.Errorf("%s: %v (%v), want %v", keySpec.Rel, fi.Mode().Perm(), err, keySpec.Mode)
		}
		wantGID := 0
		if g, err := user.LookupGroup(keySpec.GroupName()); err == nil {
			wantGID, _ = strconv.Atoi(g.Gid)
		} else if !strings.Contains(errOut, "group "+keySpec.GroupName()+" does not exist") {
			t.Errorf("no note about the missing group %s: %q", keySpec.GroupName(), errOut)
		}
		if gid := int(fi.Sys().(*syscall.Stat_t).Gid); gid != wantGID {
			t.Errorf("%s: group %d, want %d", keySpec.Rel, gid, wantGID)
		}
	}
	for _, k := range kinds {
		if spec, _ := layout.Libvirt.Spec(k.Cert); k.IsCA() {
			if got, err := os.ReadFile(filepath.Join(root, spec.Rel)); err != nil || !strings.Contains(string(got), strings.TrimSpace(string(pki.EncodeCertsPEM(signer.CA.Cert)))) {
				t.Errorf("%s: not the signer's CA (%v)", spec.Rel, err)
			}
			if fi, err := os.Stat(filepath.Join(root, spec.Rel)); err != nil || fi.Mode().Perm() != spec.Mode {
				t.Errorf("%s: mode %v (%v), want %v", spec.Rel, fi.Mode().Perm(), err, spec.Mode)
			}
		}
	}
}
