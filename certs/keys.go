package certs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Keys says how a tree's private keys are read and written. With Encrypt,
// every key the engine writes (leaf keys of every kind and the CA key) is
// an ansible-vault file under Ring's password, which Kolla's copy tasks
// decrypt on deploy: Ansible's copy module decrypts a vaulted src by
// default. Keys are read through pki.ParseKeyFile, clear or vaulted.
//
// A tree whose keys are vaulted stays vaulted (ForTree): renew, rotate-ca
// and a certificates run without --encrypt-keys keep the tree's choice.
type Keys struct {
	// Ring opens vaulted keys and encrypts new ones; nil holds no password.
	Ring *vault.Keyring
	// Encrypt writes keys as ansible-vault files.
	Encrypt bool
	// VaultID is the vault id to encrypt with ("" is the only password
	// Ring holds, or the id of the tree's vaulted keys).
	VaultID string
}

// keyLimit bounds a key file: a vaulted key is about four times its PEM.
var keyLimit = vault.EncryptedSize(fsutil.LimitKey)

// parse reads the key file data found at path (pki.ParseKeyFile). A
// vaulted key that Ring cannot open is bad input, never a key to replace.
func (k Keys) parse(path string, data []byte) (*pki.Key, error) {
	key, err := pki.ParseKeyFile(path, data, k.Ring)
	if errors.Is(err, vault.ErrNoPassword) || errors.Is(err, vault.ErrWrongPassword) {
		return nil, errs.WrapInput(err)
	}
	return key, err
}

// file is what to write for key: its PEM, or its vault file.
func (k Keys) file(key *pki.Key) ([]byte, error) {
	if !k.Encrypt {
		return key.PEM, nil
	}
	data, err := key.VaultFile(k.Ring, k.VaultID)
	if err != nil {
		return nil, errs.Inputf("--encrypt-keys: %v", err)
	}
	return data, nil
}

// holds reports whether the file at path holds key as k writes it: the
// same key, vaulted exactly when k encrypts (a vault file's bytes change
// with each encryption, so a kept key is compared by its plaintext).
func (k Keys) holds(path string, key *pki.Key) bool {
	data, err := fsutil.ReadFile(path, keyLimit)
	if err != nil || vault.IsEncrypted(data) != k.Encrypt {
		return false
	}
	if !k.Encrypt {
		return bytes.Equal(data, key.PEM)
	}
	opened, err := k.Ring.Open(path, data)
	return err == nil && bytes.Equal(opened.Plaintext, key.PEM)
}

// Check refuses Encrypt without a password to encrypt with.
func (k Keys) Check() error {
	if !k.Encrypt {
		return nil
	}
	if k.Ring.Len() == 0 {
		return errs.Inputf("--encrypt-keys needs an ansible-vault password: give --vault-password-file, --vault-id or ANSIBLE_VAULT_PASSWORD_FILE")
	}
	if _, err := k.Ring.Encrypt([]byte("-"), k.VaultID); err != nil {
		return errs.Inputf("--encrypt-keys: %v (ANSIBLE_VAULT_ENCRYPT_IDENTITY names it, as for ansible-vault)", err)
	}
	return nil
}

// ForTree returns k with the tree's choice: Encrypt when the CA key at
// caKey ("" for none) is vaulted, or else when the first leaf key found
// in tree is; then the vault id of that key unless one was set.
func (k Keys) ForTree(tree layout.Tree, caKey string) (Keys, error) {
	found, id := "", ""
	if caKey != "" {
		if v, vid := vaultedFile(caKey); v {
			found, id = caKey, vid
		}
	}
	if found == "" && !k.Encrypt {
		found, id = firstVaultedLeafKey(tree)
	}
	if found == "" {
		return k, k.Check()
	}
	k.Encrypt = true
	if k.VaultID == "" {
		k.VaultID = id
	}
	if err := k.Check(); err != nil {
		return k, errs.Inputf("%s is ansible-vault encrypted, so the tree's keys are written encrypted: %v", found, err)
	}
	return k, nil
}

// firstVaultedLeafKey looks at the first leaf key of tree: its path and
// vault id when it is vaulted, "" when it is clear or there is none.
func firstVaultedLeafKey(tree layout.Tree) (path, id string) {
	units, err := tree.Units()
	if err != nil {
		return "", "" // the command's own walk says what is wrong
	}
	for _, u := range units {
		for _, kind := range credential.Leaves(tree.Layout) {
			p := tree.In(u, kind.Key)
			if !exists(p) {
				continue
			}
			if v, vid := vaultedFile(p); v {
				return p, vid
			}
			return "", ""
		}
	}
	return "", ""
}

// vaultedFile says whether the key file at path is a vault file, and its
// header's vault id. A file that cannot be read is left to the reader.
func vaultedFile(path string) (bool, string) {
	data, err := fsutil.ReadFile(path, keyLimit)
	if err != nil || !vault.IsEncrypted(data) {
		return false, ""
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Split(strings.TrimSpace(string(line)), ";")
	if len(fields) >= 4 {
		return true, fields[3]
	}
	return true, ""
}

// String says how keys are written, for reports.
func (k Keys) String() string {
	if !k.Encrypt {
		return "clear"
	}
	return fmt.Sprintf("ansible-vault (%s)", describeVaultID(k.VaultID))
}

func describeVaultID(id string) string {
	if id == "" {
		return "the vault password given"
	}
	return "vault id " + id
}
