package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// SASLOptions turns on the SASL checks: every auth.conf and passwd.db in
// the layout must agree with libvirt_sasl_password in PasswordsFile.
type SASLOptions struct {
	PasswordsFile string
	Authname      string // default "nova"
}

// checkSASL runs where SASL files exist. It compares, it never prints a
// secret.
func (c *checker) checkSASL(rep *Report, hosts []layout.Host) {
	so := c.o.SASL
	authname := so.Authname
	if authname == "" {
		authname = "nova"
	}
	var password string
	var pwErr error
	pwLoaded := false
	loadPassword := func() (string, error) {
		if !pwLoaded {
			password, pwErr = sasl.ReadPassword(so.PasswordsFile, sasl.SASLPasswordKey)
			pwLoaded = true
		}
		return password, pwErr
	}
	for i := range rep.Hosts {
		hr := &rep.Hosts[i]
		if hr.Host == SharedHost {
			continue
		}
		host := layout.Host{Name: hr.Host}
		for _, h := range hosts {
			if h.Name == hr.Host {
				host = h
			}
		}
		c.checkSASLHost(hr, host, authname, loadPassword)
	}
}

// checkSASLHost checks one host's auth.conf and passwd.db, if it has any,
// against the password loadPassword gives.
func (c *checker) checkSASLHost(hr *HostReport, host layout.Host, authname string, loadPassword func() (string, error)) {
	so := c.o.SASL
	dir := filepath.Join(c.o.Root, hr.Host)
	add := func(sev Severity, code Code, file, format string, a ...any) {
		hr.Findings = append(hr.Findings, Finding{sev, code, hr.Host, file, fmt.Sprintf(format, a...)})
	}
	// Both hold the password: read as every file of the tree is, never
	// through a symlink, never a FIFO or a device, within a limit.
	authPath, dbPath := filepath.Join(dir, sasl.AuthConfFile), filepath.Join(dir, sasl.DBFile)
	authData, authErr := fsutil.ReadFile(authPath, fsutil.LimitConfig)
	dbData, dbErr := fsutil.ReadFile(dbPath, fsutil.LimitSASLDB)
	if errors.Is(authErr, fs.ErrNotExist) && errors.Is(dbErr, fs.ErrNotExist) {
		return
	}
	pw, err := loadPassword()
	if err != nil {
		add(Error, CodeSASLNoPassword, filepath.Base(so.PasswordsFile), "%v: SASL files exist in %s but there is no password to check them against; run libvirt-pki passwords", err, dir)
		return
	}
	for _, secret := range []string{authPath, dbPath} {
		if fi, err := os.Lstat(secret); err == nil && fi.Mode().Perm()&0o077 != 0 {
			add(Error, CodeSecretExposed, filepath.Base(secret), "%s is mode %04o but holds a password: chmod 0600 %s", secret, fi.Mode().Perm(), secret)
		}
	}
	switch {
	case authErr == nil:
		name, apw, err := sasl.ParseAuthConf(authData, hr.Host)
		switch {
		case err != nil:
			add(Error, CodeUnreadable, sasl.AuthConfFile, "%s: %v", authPath, err)
		case apw != pw:
			add(Error, CodeSASLAuthConf, sasl.AuthConfFile, "%s holds a password other than libvirt_sasl_password in %s: run libvirt-pki sasl", authPath, so.PasswordsFile)
		case name != authname:
			add(Error, CodeSASLAuthConf, sasl.AuthConfFile, "%s logs in as %q, not %q: run libvirt-pki sasl", authPath, name, authname)
		}
	case !errors.Is(authErr, fs.ErrNotExist):
		add(Error, CodeUnreadable, sasl.AuthConfFile, "%v", authErr)
	}
	switch {
	case dbErr == nil:
		c.checkSASLDB(dbPath, dbData, host, authname, pw, add)
	case !errors.Is(dbErr, fs.ErrNotExist):
		add(Error, CodeUnreadable, sasl.DBFile, "%v", dbErr)
	}
}

// checkSASLDB checks the sasldb at path, whose contents are data.
func (c *checker) checkSASLDB(path string, data []byte, host layout.Host, authname, pw string, add func(Severity, Code, string, string, ...any)) {
	_, records, err := sasl.DecodeDB(data)
	if err != nil {
		add(Error, CodeUnreadable, sasl.DBFile, "%s: %v", path, err)
		return
	}
	realms := map[string]bool{}
	for _, r := range records {
		if r.AuthID != authname {
			continue
		}
		realms[r.Realm] = true
		switch r.Property {
		case sasl.PropUserPassword:
			if string(r.Value) != pw {
				add(Error, CodeSASLDB, sasl.DBFile, "%s: %s@%s's userPassword is not libvirt_sasl_password: run libvirt-pki sasl", path, r.AuthID, r.Realm)
			}
		case sasl.PropAuthPassword:
			if ok, err := sasl.VerifySCRAMSecret(string(r.Value), pw); err != nil || !ok {
				add(Error, CodeSASLDB, sasl.DBFile, "%s: %s@%s's SCRAM secret does not match libvirt_sasl_password: run libvirt-pki sasl", path, r.AuthID, r.Realm)
			}
		}
	}
	if len(realms) == 0 {
		add(Error, CodeSASLDB, sasl.DBFile, "%s has no user %q: run libvirt-pki sasl", path, authname)
		return
	}
	// libvirtd's realm is its own host name; a realm that is none of the
	// host's names is likely wrong (it may still be its FQDN, unknown here).
	for realm := range realms {
		known := false
		for _, n := range append([]string{host.Name}, host.Names()...) {
			if strings.EqualFold(n, realm) {
				known = true
			}
		}
		if !known {
			add(Warning, CodeSASLRealm, sasl.DBFile, "%s: user %s is in realm %q, which is none of %s's names; libvirtd's realm is its own host name (virsh hostname shows it), or logins fail", path, authname, realm, host.Name)
		}
	}
}
