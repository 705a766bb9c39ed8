package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// runCode runs libvirt-pki with args and returns its exit code, stdout
// and stderr.
func runCode(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ansibleEnv is an environment in which Ansible reads no configuration
// of the machine's and keeps its files in home.
func ansibleEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home,
		"ANSIBLE_REMOTE_TEMP="+home, "ANSIBLE_CONFIG="+filepath.Join(home, "none.cfg"), "ANSIBLE_NOCOLOR=1")
}

// --encrypt-keys writes every private key (and the CA key) as an
// ansible-vault file: ansible-vault view opens it, a real ansible-playbook
// copy task (as Kolla's deploy copies the files) writes it in clear with
// the mode asked, and every command works on the vaulted tree: a re-run
// changes nothing, renew and rotate-ca keep the keys vaulted, verify and
// rotate-ca status read them. Without the password, one line and exit 2.
func TestEncryptKeys(t *testing.T) {
	bins := peer.Require(t, "ansible-playbook", "ansible-vault")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	pwFile := filepath.Join(dir, "vault-pass")
	if err := os.WriteFile(pwFile, []byte("keys-vault-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ANSIBLE_VAULT_PASSWORD_FILE", "")
	base := []string{"--layout", "libvirt", "--out", out}
	vaulted := append([]string{"--vault-id", "keys@" + pwFile}, base...)
	mustRun := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCode(t, args...)
		if code != 0 {
			t.Fatalf("libvirt-pki %s: exit %d: %s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	mustRun(append([]string{"certificates", "--hosts", "compute01", "--sets", "libvirt,qemu", "--encrypt-keys"}, vaulted...)...)

	host := filepath.Join(out, "compute01")
	keyFiles := []string{filepath.Join(out, "ca", "cakey.pem"), filepath.Join(host, "etc/pki/libvirt/private/serverkey.pem"),
		filepath.Join(host, "etc/pki/libvirt/private/clientkey.pem"), filepath.Join(host, "etc/pki/qemu/server-key.pem"),
		filepath.Join(host, "etc/pki/qemu/client-key.pem")}
	assertVaulted(t, keyFiles)

	// ansible-vault opens it; the plaintext is the key.
	view := exec.Command(bins[1], "view", "--vault-id", "keys@"+pwFile, keyFiles[1])
	view.Env = ansibleEnv(t.TempDir())
	plain, err := view.Output()
	if err != nil {
		t.Fatalf("ansible-vault view: %v", err)
	}
	if _, err := pki.ParseKey(plain); err != nil {
		t.Fatalf("ansible-vault view shows no key: %v", err)
	}
	deployed := copyWithAnsible(t, bins[0], pwFile, keyFiles[1])
	if !bytes.Equal(deployed, plain) {
		t.Errorf("the copy task deployed %q, want the clear key", deployed)
	}

	// Every command on the vaulted tree.
	if o := mustRun(append([]string{"certificates", "--hosts", "compute01", "--sets", "libvirt,qemu"}, vaulted...)...); !strings.Contains(o, "All 4 certificates unchanged") {
		t.Errorf("re-run without --encrypt-keys: %s", o)
	}
	mustRun(append([]string{"verify", "--sets", "libvirt,qemu"}, vaulted...)...)
	mustRun(append([]string{"expiry"}, base...)...)
	mustRun(append([]string{"renew", "--all"}, vaulted...)...)
	mustRun(append([]string{"rotate-ca", "start"}, vaulted...)...)
	mustRun(append([]string{"rotate-ca", "status"}, vaulted...)...)
	mustRun(append([]string{"rotate-ca", "reissue"}, vaulted...)...)
	assertVaulted(t, append(keyFiles, filepath.Join(out, "ca", "previous", "cakey.pem")))
	mustRun(append([]string{"verify", "--sets", "libvirt,qemu"}, vaulted...)...)

	// Without the password: one line naming the key, exit 2.
	for _, args := range [][]string{
		append([]string{"certificates", "--hosts", "compute01"}, base...),
		append([]string{"verify"}, base...),
		append([]string{"renew", "--all"}, base...),
	} {
		code, stdout, stderr := runCode(t, args...)
		if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no vault password was given") {
			t.Errorf("%s without the vault password: exit %d, stdout %q, stderr %q", args[0], code, stdout, stderr)
		}
	}
}

// assertVaulted fails for each file that is not an ansible-vault file.
func assertVaulted(t *testing.T, files []string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || !vault.IsEncrypted(data) {
			t.Errorf("%s: not an ansible-vault file (%v)", f, err)
		}
	}
}

// copyWithAnsible deploys src as Kolla's tasks do, with a copy task run
// by ansible-playbook on localhost, and returns what it wrote (asserting
// the mode the task gave).
func copyWithAnsible(t *testing.T, playbook, pwFile, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	dest := filepath.Join(dir, "deployed", "serverkey.pem")
	if err := os.Mkdir(filepath.Dir(dest), 0o700); err != nil {
		t.Fatal(err)
	}
	play := "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" +
		"    - copy:\n        src: \"" + src + "\"\n        dest: \"" + dest + "\"\n        mode: \"0600\"\n"
	pb := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(pb, []byte(play), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(playbook, "-i", "localhost,", "--vault-password-file", pwFile, pb)
	cmd.Env = append(ansibleEnv(t.TempDir()), "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3")
	if outb, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ansible-playbook: %v: %s", err, outb)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("deployed mode %o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
