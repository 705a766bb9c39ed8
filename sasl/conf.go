package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SASL mechanism names as libvirt and Kolla spell them. libvirt compares
// the name in a client URI (auth=sasl.SCRAM-SHA-256) case-sensitively, so
// the canonical spelling is upper case.
const (
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechDigestMD5   = "DIGEST-MD5"
)

// ParseMech accepts a mechanism name in any case and returns its canonical
// upper-case spelling; mechanisms other than SCRAM-SHA-256 and DIGEST-MD5
// (the two Kolla configures for libvirt) are an error.
func ParseMech(s string) (string, error) {
	for _, m := range []string{MechSCRAMSHA256, MechDigestMD5} {
		if strings.EqualFold(strings.TrimSpace(s), m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("unsupported SASL mechanism %q: want %s or %s", s, MechSCRAMSHA256, MechDigestMD5)
}

// SASLConf renders the Cyrus SASL application config libvirtd reads,
// /etc/sasl2/libvirt.conf, the way Kolla writes it:
//
//	mech_list: <mechs joined by spaces>
//	sasldb_path: <sasldbPath>
//
// Mechanisms are written as given (Kolla uses the upper-case names); Cyrus
// matches mech_list entries without regard to case. Callers pass names from
// ParseMech and a path without line breaks: each setting is one line.
func SASLConf(mechs []string, sasldbPath string) []byte {
	var b bytes.Buffer
	b.WriteString("mech_list: " + strings.Join(mechs, " ") + "\n")
	b.WriteString("sasldb_path: " + sasldbPath + "\n")
	return b.Bytes()
}

// AuthConf renders libvirt's client credentials file (auth.conf, a GLib key
// file) holding one set of credentials used for every host:
//
//	[credentials-default]
//	authname=<authname>
//	password=<password>
//
//	[auth-libvirt-default]
//	credentials=default
//
// Values are escaped as GLib reads them back (\\, \n, \t, \r, and \s for a
// space at either end, which GLib would otherwise trim or an editor might
// strip); '#', ';', '=' and quotes need nothing. Both values must be valid
// UTF-8 without NUL bytes and must not start with a form feed: GLib can
// carry none of these (it has no escape for a form feed and drops one that
// leads a value).
func AuthConf(authname, password string) []byte {
	var b bytes.Buffer
	b.WriteString("[credentials-default]\n")
	b.WriteString("authname=" + escapeKeyFileValue(authname) + "\n")
	b.WriteString("password=" + escapeKeyFileValue(password) + "\n")
	b.WriteString("\n[auth-libvirt-default]\n")
	b.WriteString("credentials=default\n")
	return b.Bytes()
}

func escapeKeyFileValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case ' ':
			if i == 0 || i == len(s)-1 {
				b.WriteString(`\s`)
			} else {
				b.WriteByte(' ')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// keyFileValue is a raw value and the line it came from.
type keyFileValue struct {
	raw  string
	line int
}

// ParseAuthConf reads an auth.conf the way libvirt does (GLib key file
// syntax, then virAuthConfigLookup) and returns the SASL credentials for
// host: an [auth-libvirt-<host>] section wins over [auth-libvirt-default];
// either names a [credentials-<name>] section holding authname and password.
// An empty host means "localhost", as in libvirt. Malformed input is an
// error naming the line; a missing section or key is an error too, since
// libvirt would then fall back to prompting.
func ParseAuthConf(data []byte, host string) (authname, password string, err error) {
	groups, err := parseKeyFile(data)
	if err != nil {
		return "", "", err
	}
	if host == "" {
		host = "localhost"
	}
	authGroup := "auth-libvirt-" + host
	if _, ok := groups[authGroup]; !ok {
		authGroup = "auth-libvirt-default"
	}
	ag, ok := groups[authGroup]
	if !ok {
		return "", "", fmt.Errorf("auth.conf: no [auth-libvirt-%s] or [auth-libvirt-default] section", host)
	}
	credName, err := ag.get(authGroup, "credentials")
	if err != nil {
		return "", "", err
	}
	credGroup := "credentials-" + credName
	cg, ok := groups[credGroup]
	if !ok {
		return "", "", fmt.Errorf("auth.conf: section [%s] refers to missing section [%s]", authGroup, credGroup)
	}
	if authname, err = cg.get(credGroup, "authname"); err != nil {
		return "", "", err
	}
	if password, err = cg.get(credGroup, "password"); err != nil {
		return "", "", err
	}
	return authname, password, nil
}

type keyFileGroup map[string]keyFileValue

// get returns the unescaped value of key, as g_key_file_get_string would.
func (g keyFileGroup) get(group, key string) (string, error) {
	v, ok := g[key]
	if !ok {
		return "", fmt.Errorf("auth.conf: section [%s] has no %s", group, key)
	}
	s, err := unescapeKeyFileValue(v.raw)
	if err != nil {
		return "", fmt.Errorf("auth.conf line %d: %s: %w", v.line, key, err)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("auth.conf line %d: %s is not valid UTF-8", v.line, key)
	}
	return s, nil
}

// parseKeyFile follows GLib's key file rules: leading blanks are ignored;
// lines that are empty or start with '#' are comments; "[name]" (blanks may
// follow) starts a group, and a repeated group continues the earlier one;
// "key=value" sets a key in the current group (blanks around '=' are
// dropped, a later duplicate wins). Anything else is an error.
func parseKeyFile(data []byte) (map[string]keyFileGroup, error) {
	groups := map[string]keyFileGroup{}
	var cur keyFileGroup
	for i, l := range strings.Split(string(data), "\n") {
		n := i + 1
		l = strings.TrimSuffix(l, "\r")
		t := strings.TrimLeft(l, glibSpace)
		switch {
		case t == "" || t[0] == '#':
			continue
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 || strings.TrimRight(t[end+1:], " \t") != "" {
				return nil, fmt.Errorf("auth.conf line %d: malformed section header %q", n, t)
			}
			name := t[1:end]
			if name == "" || strings.ContainsAny(name, "[") || strings.ContainsFunc(name, isControl) {
				return nil, fmt.Errorf("auth.conf line %d: invalid section name %q", n, name)
			}
			if groups[name] == nil {
				groups[name] = keyFileGroup{}
			}
			cur = groups[name]
		case strings.Contains(t, "=") && t[0] != '=':
			if cur == nil {
				return nil, fmt.Errorf("auth.conf line %d: key before any [section]", n)
			}
			k, v, _ := strings.Cut(t, "=")
			k = strings.TrimRight(k, glibSpace)
			if !validKeyFileKey(k) {
				return nil, fmt.Errorf("auth.conf line %d: invalid key name %q", n, k)
			}
			cur[k] = keyFileValue{raw: strings.TrimLeft(v, glibSpace), line: n}
		default:
			return nil, fmt.Errorf("auth.conf line %d: %q is not a section, key=value or comment", n, t)
		}
	}
	return groups, nil
}

// glibSpace is what g_ascii_isspace accepts on a line (newline aside):
// GLib's set leaves out the vertical tab.
const glibSpace = " \t\f\r"

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validKeyFileKey mirrors g_key_file_is_key_name: no '[' or ']' except one
// trailing [locale], no blank at either end.
func validKeyFileKey(k string) bool {
	if k == "" || k[0] == ' ' {
		return false
	}
	base := k
	if i := strings.IndexByte(k, '['); i >= 0 {
		base = k[:i]
		loc := k[i:]
		if len(loc) < 2 || loc[len(loc)-1] != ']' || strings.ContainsAny(loc[1:len(loc)-1], "[]= ") {
			return false
		}
	}
	return base != "" && !strings.ContainsAny(base, "]=") && base[len(base)-1] != ' '
}

// unescapeKeyFileValue undoes GLib's string escapes (\s \n \t \r \\); any
// other escape, or a backslash at the end, is an error in GLib too.
func unescapeKeyFileValue(raw string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", errors.New("value ends with a backslash")
		}
		switch raw[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf("invalid escape \\%c", raw[i])
		}
	}
	return b.String(), nil
}
