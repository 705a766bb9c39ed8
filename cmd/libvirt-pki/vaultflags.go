package main

import (
	"context"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// vaultFlags are --vault-id and --vault-password-file, as Ansible and
// kolla-ansible take them, and the keyring they give (with
// ANSIBLE_VAULT_IDENTITY_LIST and ANSIBLE_VAULT_PASSWORD_FILE, read by
// vault.Load). Passwords come from files and scripts only, never argv.
//
// A command's flag set holds one vaultFlags however many of its parts
// read Kolla input (hostFlags, layoutFlags, passwords): vaultFlagsOf
// registers the flags once and finds them again through the flags' own
// Value, so the password scripts run at most once per command.
type vaultFlags struct {
	ids   []string // --vault-id [ID@]FILE, in order
	files []string // --vault-password-file FILE, in order

	once sync.Once
	ring *vault.Keyring
	err  error
}

// vaultList is the pflag.Value of both flags: a repeatable string that
// also leads back to its vaultFlags.
type vaultList struct {
	owner *vaultFlags
	list  *[]string
}

func (l vaultList) String() string {
	if len(*l.list) == 0 {
		return "" // no "(default [])" in the help
	}
	return "[" + strings.Join(*l.list, ",") + "]"
}
func (l vaultList) Set(s string) error { *l.list = append(*l.list, s); return nil }
func (l vaultList) Type() string       { return "stringArray" }

// vaultFlagsOf returns the vaultFlags of fl, registering the flags the
// first time.
func vaultFlagsOf(fl *pflag.FlagSet) *vaultFlags {
	if f := fl.Lookup("vault-id"); f != nil {
		if l, ok := f.Value.(vaultList); ok {
			return l.owner
		}
	}
	v := &vaultFlags{}
	fl.Var(vaultList{v, &v.ids}, "vault-id", "ansible-vault password `[ID@]FILE` (a file, or an executable script printing it) for vaulted Kolla files (repeatable); as ansible's --vault-id")
	fl.Var(vaultList{v, &v.files}, "vault-password-file", "ansible-vault password `FILE` (or script) for vaulted globals.yml, passwords.yml, globals.d and inventory files (repeatable)")
	return v
}

// keyring loads the vault passwords once (vault.Load: the identity list
// and password file of the environment too). A source that cannot be
// read is bad input; Ansible's warnings about sources skipped while
// others worked are in the keyring's Warnings. A nil v (a command
// without the flags) holds the environment's passwords only.
func (v *vaultFlags) keyring() (*vault.Keyring, error) {
	if v == nil {
		v = &vaultFlags{}
	}
	v.once.Do(func() {
		v.ring, v.err = vault.Load(context.Background(), vault.Options{VaultIDs: v.ids, PasswordFiles: v.files})
		if v.err != nil {
			v.err = errs.WrapInput(v.err)
		}
	})
	return v.ring, v.err
}
