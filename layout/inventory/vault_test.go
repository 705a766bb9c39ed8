package inventory

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

func vaultText(t *testing.T, plaintext, pw, id string) string {
	t.Helper()
	out, err := vault.Encrypt([]byte(plaintext), []byte(pw), id)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// inlineVault is "!vault |" and the vault text of plaintext, indented.
func inlineVault(t *testing.T, plaintext, pw, id string) string {
	return "!vault |\n  " + strings.ReplaceAll(strings.TrimSpace(vaultText(t, plaintext, pw, id)), "\n", "\n  ") + "\n"
}

// Vaulted inventory files (INI and YAML), vars files in a directory and
// inline values are read with the password; an inline value nobody needs
// is never decrypted, as Ansible decrypts values only when used.
func TestLoadVault(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"inv/hosts":                  vaultText(t, "[compute]\nc1\nc2\n", "pw", ""),
		"inv/more.yml":               vaultText(t, "all:\n  children:\n    compute:\n      hosts:\n        c3:\n", "idpw", "prod"),
		"inv/host_vars/c1/a.yml":     vaultText(t, "ansible_host: 10.0.0.1\n", "pw", ""),
		"inv/host_vars/c2.yml":       "migration_hostname: " + inlineVault(t, "c2.mgmt.example", "idpw", "prod") + "ansible_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
		"inv/group_vars/compute.yml": "ansible_user: " + inlineVault(t, "kolla", "pw", ""),
	})
	k := &vault.Keyring{}
	if err := k.Add("", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := k.Add("prod", []byte("idpw")); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadVault(k, filepath.Join(dir, "inv"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := inv.Hosts("compute")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		names, _ := h.SANNames()
		got = append(got, strings.Join(names, ","))
	}
	if want := "c1,10.0.0.1 c2,c2.mgmt.example c3"; strings.Join(got, " ") != want {
		t.Errorf("names = %q, want %q", got, want)
	}
	if _, ok := hs[0].Vars["ansible_user"].(Vaulted); !ok {
		t.Errorf("ansible_user = %v; want it left Vaulted", hs[0].Vars["ansible_user"])
	}
	if v, err := Reveal(k, hs[0].Origins["ansible_user"], hs[0].Vars["ansible_user"]); v != "kolla" || err != nil {
		t.Errorf("Reveal(ansible_user) = %v, %v", v, err)
	}

	// Without the password of a whole file: one line naming it.
	_, err = Load(filepath.Join(dir, "inv"))
	if !errors.Is(err, vault.ErrNoPassword) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "inv/host_vars/c1/a.yml")+": is ansible-vault encrypted") &&
		!strings.HasPrefix(err.Error(), filepath.Join(dir, "inv/hosts")+": is ansible-vault encrypted") {
		t.Errorf("no password: %v", err)
	}
	// Without the password of an inline value SANNames needs: its file and line.
	only := &vault.Keyring{}
	if err := only.Add("", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, map[string]string{"inv/more.yml": "all: {}\n"})
	inv, err = LoadVault(only, filepath.Join(dir, "inv"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = inv.Hosts("compute")
	if !errors.Is(err, vault.ErrWrongPassword) || !strings.Contains(err.Error(), "host c2: migration_hostname: "+filepath.Join(dir, "inv/host_vars/c2.yml")+":1:") {
		t.Errorf("inline value, wrong password: %v", err)
	}
}

func TestParseVarsFileVault(t *testing.T) {
	k := &vault.Keyring{}
	if err := k.Add("", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	vars, err := ParseVarsFile("g.yml", []byte(vaultText(t, "a: 1\nb: "+inlineVault(t, "x", "pw", ""), "pw", "")), "globals.yml", k)
	if err != nil || vars["a"].Value != 1 {
		t.Fatalf("vars %v, %v", vars, err)
	}
	if v, err := Reveal(k, "g.yml:2", vars["b"].Value); v != "x" || err != nil {
		t.Errorf("b = %v, %v", v, err)
	}
	if _, err := ParseVarsFile("g.yml", []byte(vaultText(t, "a: 1\n", "pw", "")), "globals.yml", nil); !errors.Is(err, vault.ErrNoPassword) {
		t.Errorf("no password: %v", err)
	}
}
