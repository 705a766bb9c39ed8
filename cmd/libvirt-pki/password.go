package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// readPassword reads the SASL password from --password-file or passwords.yml.
func readPassword(passwordFile, passwords, configDir string) (string, error) {
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return "", usageError{err}
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
			return "", usageErrorf("%s: want one line holding the password", passwordFile)
		}
		return pw, nil
	}
	if passwords == "" {
		passwords = filepath.Join(configDir, "passwords.yml")
	}
	pw, err := sasl.ReadPassword(passwords, sasl.SASLPasswordKey)
	if err != nil {
		return "", usageErrorf("%v (run libvirt-pki passwords first, or pass --password-file)", err)
	}
	return pw, nil
}
