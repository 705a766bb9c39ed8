package sasl

import (
	"errors"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// LoadPassword returns the SASL password: the one line of passwordFile
// when it is given, else libvirt_sasl_password from the passwords.yml at
// passwordsYML, which may be vault-encrypted or hold an inline !vault
// value (opened with ring; nil holds no password). Every failure is bad
// input naming the file.
func LoadPassword(passwordFile, passwordsYML string, ring *vault.Keyring) (string, error) {
	if passwordFile != "" {
		// A password file the user named may be a link (to a secrets
		// mount, say), but it must be a small regular file: /dev/zero or a
		// FIFO is refused at once.
		b, err := fsutil.ReadFileFollow(passwordFile, fsutil.LimitKey)
		if err != nil {
			return "", errs.WrapInput(err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
			return "", errs.Inputf("%s: want one line holding the password", passwordFile)
		}
		return pw, nil
	}
	pw, err := ReadPasswordVault(passwordsYML, SASLPasswordKey, ring)
	if errors.Is(err, ErrNoPassword) {
		return "", errs.Inputf("%v (run libvirt-pki passwords first, or pass --password-file)", err)
	}
	if err != nil {
		return "", errs.WrapInput(err)
	}
	return pw, CheckPassword(pw, passwordsYML)
}
