package sasl

import (
	"os"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

// LoadPassword returns the SASL password: the one line of passwordFile
// when it is given, else libvirt_sasl_password from the passwords.yml at
// passwordsYML. Every failure is bad input naming the file.
func LoadPassword(passwordFile, passwordsYML string) (string, error) {
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return "", errs.WrapInput(err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
			return "", errs.Inputf("%s: want one line holding the password", passwordFile)
		}
		return pw, nil
	}
	pw, err := ReadPassword(passwordsYML, SASLPasswordKey)
	if err != nil {
		return "", errs.Inputf("%v (run libvirt-pki passwords first, or pass --password-file)", err)
	}
	return pw, nil
}
