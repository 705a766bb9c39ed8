package main

import (
	"crypto/x509"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// rolloutHost is one inventory host of the rollout test: its own root
// (standing for its /) and a real libvirtd reading root/etc/pki.
type rolloutHost struct {
	name, root string
	d          *libvirttest.Daemon
	pid        string
	served     *x509.Certificate // before the rollout
	files      map[string]string // snapshot of root before the rollout
}

// TestRolloutPlaybook runs ansible/rollout.yml with the real
// ansible-playbook over three inventory hosts (connection local), each
// with its own --root and a root libvirtd 9.0 in a private mount
// namespace reading that root's etc/pki. After a renew (which refreshed
// every <host>.tar): --check changes nothing anywhere; then, with
// compute02's tarball truncated, the run installs and reloads compute01
// live (same PID, the new certificate served), fails at compute02 with
// nothing written there, and never touches compute03. No copy of a
// bundle is left on any host.
func TestRolloutPlaybook(t *testing.T) {
	bins := peer.Require(t, "ansible-playbook", "python3", "libvirtd", "virt-admin")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	names := []string{"compute01", "compute02", "compute03"}
	args := []string{"certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt", "--bundle"}
	for _, n := range names {
		args = append(args, "--host", n+"=127.0.0.1")
	}
	runCLI(t, args...)
	hosts := make([]*rolloutHost, len(names))
	for i, n := range names {
		h := &rolloutHost{name: n, root: filepath.Join(dir, "root-"+n)}
		runCLI(t, "install", filepath.Join(out, n+".tar"), "--root", h.root, "--host", n, "--host", "127.0.0.1")
		h.d = libvirttest.Start(t, libvirttest.Config{PKIDir: filepath.Join(h.root, "etc/pki")})
		h.pid, h.served = daemonPID(t, h.d), servedCert(t, h.d.Addr())
		hosts[i] = h
	}
	inventory := writeRolloutInventory(t, dir, bins[1], hosts)
	runCLI(t, "renew", "--layout", "libvirt", "--out", out, "--all")
	for _, h := range hosts {
		h.files = snapshot(t, h.root)
	}

	// Check mode: each host runs install --dry-run; nothing changes.
	o, err := runRollout(t, dir, inventory, out, "--check")
	if err != nil || len(dryRunChanged.FindAllString(o, -1)) != 3 {
		t.Fatalf("ansible-playbook --check: %v\n%s", err, o)
	}
	for _, h := range hosts {
		h.unchanged(t, "after --check")
	}

	// compute02's bundle is truncated: the rollout stops there.
	tarball := filepath.Join(out, "compute02.tar")
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tarball, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = runRollout(t, dir, inventory, out)
	if err == nil || !strings.Contains(o, "fatal: [compute02]") || !strings.Contains(o, "refused, nothing written") || strings.Contains(o, "[compute03]") {
		t.Fatalf("ansible-playbook with a truncated bundle for compute02: %v\n%s", err, o)
	}
	first := hosts[0]
	now := servedCert(t, first.d.Addr())
	want := fileCert(t, filepath.Join(out, "compute01/etc/pki/libvirt/servercert.pem"))
	if !now.Equal(want) || now.Equal(first.served) || !fileCert(t, filepath.Join(first.root, "etc/pki/libvirt/servercert.pem")).Equal(want) {
		t.Fatalf("compute01 serves serial %s, want the renewed %s", pki.SerialHex(now), pki.SerialHex(want))
	}
	if pid := daemonPID(t, first.d); pid != first.pid {
		t.Fatalf("compute01's libvirtd pid changed from %s to %s: restarted, not reloaded", first.pid, pid)
	}
	hosts[1].unchanged(t, "after its bundle was refused")
	hosts[2].unchanged(t, "after the run stopped at compute02")
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*libvirt-pki*")); len(left) > 0 {
		t.Fatalf("copies of bundles left on the hosts: %v", left)
	}
}

// dryRunChanged matches the check-mode install task reporting a change.
var dryRunChanged = regexp.MustCompile(`\(install --dry-run\)\] \**\nchanged: \[compute0[123]\]`)

// unchanged fails the test unless h's root and the certificate its
// libvirtd serves are as they were before the rollout.
func (h *rolloutHost) unchanged(t *testing.T, when string) {
	t.Helper()
	if !maps.Equal(snapshot(t, h.root), h.files) {
		t.Fatalf("%s: files under %s changed %s", h.name, h.root, when)
	}
	if !servedCert(t, h.d.Addr()).Equal(h.served) || daemonPID(t, h.d) != h.pid {
		t.Fatalf("%s: libvirtd serves another certificate (or restarted) %s", h.name, when)
	}
}

// writeRolloutInventory writes a YAML inventory of hosts, each local
// with its own root and the flags that point install --reload at its
// test daemon.
func writeRolloutInventory(t *testing.T, dir, python string, hosts []*rolloutHost) string {
	t.Helper()
	bin, err := exec.LookPath("libvirt-pki") // the test binary (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	inv := map[string]any{}
	for _, h := range hosts {
		inv[h.name] = map[string]any{
			"libvirt_pki_root": h.root,
			"libvirt_pki_install_args": []string{"--host", h.name, "--host", "127.0.0.1", "--admin-socket", h.d.AdminSocket(),
				"--libvirtd-addr", h.d.Addr(), "--server-name", "127.0.0.1", "--qemu-uri", ""},
		}
	}
	doc := map[string]any{"compute": map[string]any{"hosts": inv, "vars": map[string]any{
		"ansible_connection": "local", "ansible_python_interpreter": python, "libvirt_pki_bin": bin,
	}}}
	data, err := json.Marshal(doc) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runRollout runs the repository's ansible/rollout.yml with the
// inventory and the bundles in out; temporary files go to dir/tmp.
func runRollout(t *testing.T, dir, inventory, out string, extra ...string) (string, error) {
	t.Helper()
	playbook, err := filepath.Abs("../../ansible/rollout.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-i", inventory, playbook, "-e", "libvirt_pki_bundle_dir=" + out}, extra...)
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Env = append(ansibleEnv(filepath.Join(dir, "home")), "TMPDIR="+tmp)
	o, err := cmd.CombinedOutput()
	return string(o), err
}
