package sasl

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// MaxAuthnameLen bounds an authname. Cyrus canonicalises "user@realm"
// into a 1024-byte buffer (CANON_BUF_SIZE); real user names are short.
const MaxAuthnameLen = 255

// CheckAuthname refuses, as an errs.Input, an authname that a sasldb key,
// libvirt's auth.conf or a login cannot carry intact:
//   - empty, longer than MaxAuthnameLen, or not valid UTF-8 (GLib's key
//     file, which libvirt reads auth.conf with, holds UTF-8 only);
//   - a control character (a newline would end the auth.conf line and is
//     no user name anyone can type);
//   - blanks at either end: Cyrus strips them from the name a client
//     sends, so the stored key would never match;
//   - '@': Cyrus reads "user@realm" as a user in that realm (saslpasswd2
//     stores "a@b" as user "a" in realm "b");
//   - ':': DIGEST-MD5 hashes "user:realm:password", and sasldb listings
//     print "user@realm: property".
func CheckAuthname(s string) error {
	if problem := authnameProblem(s); problem != "" {
		return errs.Inputf("SASL authname %q: %s", s, problem)
	}
	return nil
}

func authnameProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxAuthnameLen:
		return fmt.Sprintf("longer than %d bytes", MaxAuthnameLen)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "holds a control character"
	case strings.TrimFunc(s, unicode.IsSpace) != s:
		return "starts or ends with a blank, which Cyrus strips from a login"
	case strings.ContainsRune(s, '@'):
		return "holds '@': Cyrus reads user@realm as a user in another realm; give the realm with --realm"
	case strings.ContainsRune(s, ':'):
		return "holds ':', which DIGEST-MD5 uses to join user, realm and password"
	}
	return ""
}

// CheckRealm refuses, as an errs.Input, a realm libvirtd can never have:
// libvirtd's realm is its own host name, lowercased, so a realm must be
// a lower-case host name (no IP address with ':', no blanks, no control
// characters, no '@').
func CheckRealm(realm string) error {
	var problem string
	nameErr := layout.ValidateName(realm)
	switch {
	case realm == "":
		problem = "empty"
	case strings.ContainsRune(realm, ':'):
		problem = "holds ':'; libvirtd's realm is its host name, never an IPv6 address"
	case nameErr != nil:
		problem = "not a host name: " + nameErr.Error()
	case strings.ToLower(realm) != realm:
		problem = "has upper case; libvirtd lowercases its host name for its realm"
	}
	if problem != "" {
		return errs.Inputf("SASL realm %q: %s (libvirtd's realm is its own host name; virsh hostname shows it)", realm, problem)
	}
	return nil
}

// CheckPassword refuses, as an errs.Input, a password libvirt's auth.conf
// cannot carry: empty, not valid UTF-8, holding a NUL, or starting with a
// form feed (GLib drops one that leads a value and has no escape for it).
// from names where the password came from.
func CheckPassword(pw, from string) error {
	var problem string
	switch {
	case pw == "":
		problem = "is empty"
	case !utf8.ValidString(pw):
		problem = "is not valid UTF-8"
	case strings.ContainsRune(pw, 0):
		problem = "holds a NUL byte"
	case pw[0] == '\f':
		problem = "starts with a form feed"
	}
	if problem != "" {
		return errs.Inputf("%s: the SASL password %s, which libvirt's auth.conf cannot carry", from, problem)
	}
	return nil
}
