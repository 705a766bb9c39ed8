package main

import (
	"cmp"

	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// readPassword reads the SASL password from --password-file, or from
// --passwords (default <config-dir>/passwords.yml).
func readPassword(passwordFile, passwords, configDir string) (string, error) {
	pw, err := sasl.LoadPassword(passwordFile, cmp.Or(passwords, kolla.PasswordsFile(configDir)))
	return pw, err
}
