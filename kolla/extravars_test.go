package kolla

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// vaultText encrypts plaintext as ansible-vault does, under password pw.
func vaultText(t *testing.T, plaintext, pw, id string) string {
	t.Helper()
	out, err := vault.Encrypt([]byte(plaintext), []byte(pw), id)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func ring(t *testing.T, id, pw string) *vault.Keyring {
	t.Helper()
	k := &vault.Keyring{}
	if err := k.Add(id, []byte(pw)); err != nil {
		t.Fatal(err)
	}
	return k
}

// kolla-ansible's order: globals.yml, passwords.yml, then globals.d sorted
// by name (only .yml, .yaml and .json files); a later file wins.
func TestExtraVarsOrder(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, GlobalsFile), "libvirt_tls: no\nmigration_hostname: g\nnode_custom_config: /srv/a\n")
	write(t, filepath.Join(dir, PasswordsFileName), "libvirt_sasl_password: x\nmigration_hostname: p\n")
	write(t, filepath.Join(dir, GlobalsDir, "b.yml"), "migration_hostname: b\n")
	write(t, filepath.Join(dir, GlobalsDir, "a.yaml"), "libvirt_tls: yes\nmigration_hostname: a\n")
	write(t, filepath.Join(dir, GlobalsDir, "c.txt"), "migration_hostname: txt\n")
	write(t, filepath.Join(dir, GlobalsDir, "sub", "d.yml"), "migration_hostname: sub\n")
	s, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "globals.yml"), filepath.Join(dir, "passwords.yml"), filepath.Join(dir, "globals.d/a.yaml"), filepath.Join(dir, "globals.d/b.yml")}
	if strings.Join(s.Files, " ") != strings.Join(want, " ") {
		t.Errorf("files = %q, want %q", s.Files, want)
	}
	ev, err := s.ExtraVars("migration_hostname", "nothing")
	if err != nil || len(ev) != 1 || ev["migration_hostname"].Value != "b" || ev["migration_hostname"].From != want[3]+":1" {
		t.Errorf("migration_hostname = %+v, %v; want b from b.yml:1", ev, err)
	}
	if !s.TLS() || s.NovaLibvirtDir() != "/srv/a/nova/nova-libvirt" {
		t.Errorf("tls %v, nova-libvirt %s", s.TLS(), s.NovaLibvirtDir())
	}
	lines := s.Report(true, false)
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Kolla settings from "+want[0]+", "+want[2]+": libvirt_tls=true") {
		t.Errorf("report: %q", lines)
	}
}

// node_config and the "{{ node_config }}/PATH" form resolve; only
// passwords.yml is no globals.
func TestNodeConfig(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ globals, want string }{
		{"node_custom_config: \"{{ node_config }}/overrides\"\n", filepath.Join(dir, "overrides/nova/nova-libvirt")},
		{"node_custom_config: \"{{node_config}}\"\n", filepath.Join(dir, "nova/nova-libvirt")},
		{"node_config: /srv/kolla\n", "/srv/kolla/config/nova/nova-libvirt"},
		{"node_config: /srv/kolla\nnode_custom_config: \"{{ node_config }}/o\"\n", "/srv/kolla/o/nova/nova-libvirt"},
		{"node_config: \"{{ node_config }}\"\n", filepath.Join(dir, "config/nova/nova-libvirt")},
	} {
		write(t, filepath.Join(dir, GlobalsFile), c.globals)
		s, err := Read(dir)
		if err != nil || s.NovaLibvirtDir() != c.want {
			t.Errorf("%q: %s, %v; want %s", c.globals, s.NovaLibvirtDir(), err, c.want)
		}
	}
	os.Remove(filepath.Join(dir, GlobalsFile))
	write(t, filepath.Join(dir, PasswordsFileName), "libvirt_sasl_password: x\n")
	if s, err := Read(dir); err != nil || s.FromFile() || len(s.Files) != 1 {
		t.Errorf("passwords.yml alone: from file %v, files %q, %v", s.FromFile(), s.Files, err)
	}
}

// Vaulted globals, globals.d files, passwords.yml and inline values are
// read with the vault password; without it, one line naming the file.
func TestExtraVarsVault(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, GlobalsFile), vaultText(t, "libvirt_tls: yes\n", "pw1", ""))
	write(t, filepath.Join(dir, PasswordsFileName), vaultText(t, "libvirt_sasl_password: secret\n", "pw2", "prod"))
	inline := vaultText(t, "m.example", "pw2", "prod")
	write(t, filepath.Join(dir, GlobalsDir, "m.yml"), "migration_hostname: !vault |\n  "+strings.ReplaceAll(strings.TrimSpace(inline), "\n", "\n  ")+"\nssh_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
	k := ring(t, "", "pw1")
	if err := k.Add("prod", []byte("pw2")); err != nil {
		t.Fatal(err)
	}
	s, err := ReadVault(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.ExtraVars("migration_hostname")
	if !s.TLS() || err != nil || ev["migration_hostname"].Value != "m.example" {
		t.Errorf("tls %v, migration_hostname %+v, %v", s.TLS(), ev, err)
	}
	// A vaulted value nobody reads (ssh_password, broken here) is never
	// decrypted, as in Ansible.
	if _, err := s.ExtraVars("ssh_password"); err == nil {
		t.Error("a broken !vault value decrypted")
	}
	_, err = Read(dir)
	if !errs.IsInput(err) || !errors.Is(err, vault.ErrNoPassword) || !strings.HasPrefix(err.Error(), filepath.Join(dir, GlobalsFile)+": is ansible-vault encrypted") {
		t.Errorf("no password: %v", err)
	}
	_, err = ReadVault(dir, ring(t, "", "wrong"))
	if !errs.IsInput(err) || !errors.Is(err, vault.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
}
