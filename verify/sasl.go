package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
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
// secret. A layout without SASL rows (Kolla's container, which templates
// its own files) has nothing to check.
func (c *checker) checkSASL(rep *Report, hosts []layout.Host) {
	if len(c.o.Layout.SASL) == 0 {
		return
	}
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
		if hr.Host == SharedHost || hr.Host == "" {
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

// saslFile is one of a host's SASL files, as the layout places it, read.
type saslFile struct {
	spec layout.FileSpec
	path string
	data []byte
	err  error
}

// readSASLFiles reads host's SASL files where the layout's SASL rows put
// them. Each is read as every file of the tree is: never through a
// symlink, never a FIFO or a device, within a limit.
func (c *checker) readSASLFiles(host string) []saslFile {
	u := c.tree.HostUnit(host)
	var out []saslFile
	for _, spec := range c.o.Layout.SASL {
		f := saslFile{spec: spec, path: c.tree.In(u, spec.Role)}
		limit := int64(fsutil.LimitConfig)
		if spec.Role == layout.SASLDB {
			limit = fsutil.LimitSASLDB
		}
		f.data, f.err = fsutil.ReadFile(f.path, limit)
		out = append(out, f)
	}
	return out
}

// checkSASLHost checks one host's auth.conf files and passwd.db, if it
// has any, against the password loadPassword gives.
func (c *checker) checkSASLHost(hr *HostReport, host layout.Host, authname string, loadPassword func() (string, error)) {
	so := c.o.SASL
	add := func(sev Severity, code Code, file, format string, a ...any) {
		hr.Findings = append(hr.Findings, Finding{sev, code, hr.Host, file, fmt.Sprintf(format, a...)})
	}
	files := c.readSASLFiles(hr.Host)
	if !slices.ContainsFunc(files, func(f saslFile) bool { return !errors.Is(f.err, fs.ErrNotExist) }) {
		return
	}
	pw, err := loadPassword()
	if err != nil {
		add(Error, CodeSASLNoPassword, "passwords.yml", "%v: SASL files exist in %s but there is no password to check them against; run libvirt-pki passwords", err, c.tree.HostUnit(hr.Host).Dir)
		return
	}
	for _, f := range files {
		switch {
		case errors.Is(f.err, fs.ErrNotExist):
			continue
		case f.err != nil:
			add(Error, CodeUnreadable, f.spec.Rel, "%v", f.err)
			continue
		}
		// A file the table keeps private holds a password.
		if fi, err := os.Lstat(f.path); err == nil && f.spec.Mode&0o077 == 0 && fi.Mode().Perm()&0o077 != 0 {
			add(Error, CodeSecretExposed, f.spec.Rel, "%s is mode %04o but holds a password: chmod %04o %s", f.path, fi.Mode().Perm(), f.spec.Mode, f.path)
		}
		switch f.spec.Role {
		case layout.SASLDB:
			c.checkSASLDB(f, host, authname, pw, add)
		case layout.AuthConfRoot, layout.AuthConfNova:
			checkAuthConf(f, hr.Host, authname, pw, so.PasswordsFile, add)
		}
	}
}

// checkAuthConf checks that an auth.conf logs in as authname with pw.
func checkAuthConf(f saslFile, host, authname, pw, passwords string, add func(Severity, Code, string, string, ...any)) {
	name, apw, err := sasl.ParseAuthConf(f.data, host)
	switch {
	case err != nil:
		add(Error, CodeUnreadable, f.spec.Rel, "%s: %v", f.path, err)
	case apw != pw:
		add(Error, CodeSASLAuthConf, f.spec.Rel, "%s holds a password other than libvirt_sasl_password in %s: run libvirt-pki sasl", f.path, passwords)
	case name != authname:
		add(Error, CodeSASLAuthConf, f.spec.Rel, "%s logs in as %q, not %q: run libvirt-pki sasl", f.path, name, authname)
	}
}

// checkSASLDB checks the sasldb f: the user's records hold the password,
// in every realm libvirtd on the host may compute.
func (c *checker) checkSASLDB(f saslFile, host layout.Host, authname, pw string, add func(Severity, Code, string, string, ...any)) {
	_, records, err := sasl.DecodeDB(f.data)
	if err != nil {
		add(Error, CodeUnreadable, f.spec.Rel, "%s: %v", f.path, err)
		return
	}
	var realms []string
	for _, r := range records {
		if r.AuthID != authname {
			continue
		}
		if !slices.Contains(realms, r.Realm) {
			realms = append(realms, r.Realm)
		}
		switch r.Property {
		case sasl.PropUserPassword:
			if string(r.Value) != pw {
				add(Error, CodeSASLDB, f.spec.Rel, "%s: %s@%s's userPassword is not libvirt_sasl_password: run libvirt-pki sasl", f.path, r.AuthID, r.Realm)
			}
		case sasl.PropAuthPassword:
			if ok, err := sasl.VerifySCRAMSecret(string(r.Value), pw); err != nil || !ok {
				add(Error, CodeSASLDB, f.spec.Rel, "%s: %s@%s's SCRAM secret does not match libvirt_sasl_password: run libvirt-pki sasl", f.path, r.AuthID, r.Realm)
			}
		}
	}
	if len(realms) == 0 {
		add(Error, CodeSASLDB, f.spec.Rel, "%s has no user %q: run libvirt-pki sasl", f.path, authname)
		return
	}
	checkRealms(f, host, authname, realms, add)
}

// HostRealms are the SASL realms libvirtd on host may compute for itself
// (its host name, or its canonical FQDN, lowercased): the host's names
// that are not addresses. libvirt-pki sasl writes the user in each.
func HostRealms(host layout.Host) []string {
	var out []string
	for _, n := range append([]string{host.Name}, host.Names()...) {
		if n = strings.ToLower(n); net.ParseIP(n) == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// checkRealms compares the realms the sasldb holds the user in with the
// host's: a host name it lacks is a realm libvirtd may compute and then
// refuse nova in. A sasldb holding none of them was made with --realm:
// that realm is named as likely wrong, not each missing one.
func checkRealms(f saslFile, host layout.Host, authname string, have []string, add func(Severity, Code, string, string, ...any)) {
	want := HostRealms(host)
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) == len(want) {
		add(Warning, CodeSASLRealm, f.spec.Rel, "%s: user %s is in realm %s, none of %s's names; libvirtd's realm is its own host name, or its FQDN when the name resolves to one (virsh hostname shows it), or logins fail", f.path, authname, quoteJoin(have), host.Name)
		return
	}
	if len(missing) > 0 {
		add(Error, CodeSASLRealmMissing, f.spec.Rel, "%s: user %s is not in realm %s (it is in %s); libvirtd computes its realm from its host name (the FQDN when /etc/hosts or DNS gives one) and refuses a user its sasldb lacks in that realm: run libvirt-pki sasl with the same hosts and --domain", f.path, authname, quoteJoin(missing), quoteJoin(have))
	}
}

// quoteJoin is names quoted and joined with ", ".
func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
