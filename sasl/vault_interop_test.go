package sasl

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// ansibleVault runs the real ansible-vault in dir and returns its stdout.
func ansibleVault(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home, "ANSIBLE_CONFIG="+filepath.Join(home, "none.cfg"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ansible-vault %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// Interop both ways: a passwords.yml that ansible-vault encrypted (vault id
// prod) is filled, and the rewritten file is opened by ansible-vault view
// with the same vault id; a value made by ansible-vault encrypt_string is
// read.
func TestVaultInteropWithAnsibleVault(t *testing.T) {
	bin := peer.Require(t, "ansible-vault")[0]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vpw"), []byte("interop-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := "# Kolla passwords\nnova_database_password: abc\nlibvirt_sasl_password:\nkeystone_admin_password: xyz\n"
	p := filepath.Join(dir, "passwords.yml")
	if err := os.WriteFile(p, []byte(plain), 0o640); err != nil {
		t.Fatal(err)
	}
	ansibleVault(t, bin, dir, "encrypt", "--vault-id", "prod@vpw", "passwords.yml")
	ring := &vault.Keyring{}
	if err := ring.Add("prod", []byte("interop-pass")); err != nil {
		t.Fatal(err)
	}
	res, err := EnsurePassword(p, SASLPasswordKey, false, ring)
	if err != nil || !res.Generated || !res.Encrypted {
		t.Fatalf("EnsurePassword: %+v %v", res, err)
	}
	data, err := os.ReadFile(p)
	if err != nil || !strings.HasPrefix(string(data), "$ANSIBLE_VAULT;1.2;AES256;prod\n") {
		t.Fatalf("rewritten file: %.40q %v", data, err)
	}
	shown := ansibleVault(t, bin, dir, "view", "--vault-id", "prod@vpw", "passwords.yml")
	pw, err := ReadPasswordVault(p, SASLPasswordKey, ring)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(plain, "libvirt_sasl_password:", "libvirt_sasl_password: "+pw, 1); shown != want {
		t.Errorf("ansible-vault view shows %q, want %q", shown, want)
	}

	value := ansibleVault(t, bin, dir, "encrypt_string", "--vault-password-file", "vpw", "--name", SASLPasswordKey, "from-encrypt-string")
	if !regexp.MustCompile(`^libvirt_sasl_password: !vault \|\n`).MatchString(value) {
		t.Fatalf("encrypt_string gave %q", value)
	}
	if err := os.WriteFile(p, []byte("a: 1\n"+value+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadPassword("", p, ring); err != nil || got != "from-encrypt-string" {
		t.Errorf("inline value from encrypt_string: %q %v", got, err)
	}
}
