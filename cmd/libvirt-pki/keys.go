package main

import (
	"os"

	"github.com/libvirt-pki/libvirt-pki/certs"
)

// encryptIdentityEnv is Ansible's setting for the vault id that
// ansible-vault encrypts with when several passwords are given.
const encryptIdentityEnv = "ANSIBLE_VAULT_ENCRYPT_IDENTITY"

// keysOf is how a writing command reads and writes a tree's private keys:
// through the vault passwords of v (--vault-id, --vault-password-file,
// ANSIBLE_VAULT_PASSWORD_FILE), vaulted when encrypt (--encrypt-keys) or
// when the tree's keys already are (certs.Keys.ForTree).
func keysOf(v *vaultFlags, encrypt bool) (certs.Keys, error) {
	ring, err := v.keyring()
	if err != nil {
		return certs.Keys{}, err
	}
	k := certs.Keys{Ring: ring, Encrypt: encrypt, VaultID: os.Getenv(encryptIdentityEnv)}
	return k, k.Check()
}
