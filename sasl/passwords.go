// Package sasl makes the Cyrus SASL credentials libvirt uses in a Kolla
// Ansible deployment: the libvirt_sasl_password entry in passwords.yml, the
// SCRAM-SHA-256 secret Cyrus stores as authPassword, and the small config
// files (/etc/sasl2/libvirt.conf and libvirt's client auth.conf).
//
// NewPlan decides every host's files (passwd.db, sasl.conf, auth.conf)
// before Plan.Apply writes any: bad input (names Cyrus or auth.conf cannot
// carry, a symlink on the way, a file of the wrong kind or size) is
// refused with nothing written. Apply commits all hosts' files as one
// journalled fsutil.Batch rooted at the top of the tree, so a run killed
// at any instant leaves, once the next run's fsutil.Recover has run, every
// host's files all old or all new, never a passwd.db and an auth.conf that
// disagree; a failure part way names what was already written.
// EnsurePassword rewrites passwords.yml the same way. Callers hold the
// tree's lock (fsutil.LockTree) and run fsutil.Recover and
// fsutil.SweepTemp before reading, as the libvirt-pki commands do.
//
// Every file is read with a size limit and only if it is a regular file
// (fsutil.ReadFile). A vault-encrypted passwords.yml and an inline !vault
// value are decrypted with the vault passwords given (internal/vault),
// and an encrypted passwords.yml is written back encrypted with the same
// password and vault id: plaintext never reaches the disk.
package sasl

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/sethvargo/go-password/password"
	"gopkg.in/yaml.v3"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// SASLPasswordKey is the passwords.yml key Kolla Ansible reads the libvirt
// SASL password from.
const SASLPasswordKey = "libvirt_sasl_password"

// PasswordLength is the length of a generated password; kolla-genpwd makes
// 40 characters.
const PasswordLength = 40

// newPasswordsFileMode is the mode kolla-genpwd gives passwords.yml.
const newPasswordsFileMode fs.FileMode = 0o640

// EnsureResult reports what EnsurePassword did.
type EnsureResult struct {
	// Changed is true when the file was written.
	Changed bool
	// Generated is true when a new password value was generated.
	Generated bool
	// Created is true when the file did not exist and was created.
	Created bool
	// Encrypted is true when the file is ansible-vault encrypted (and,
	// if written, was written back so).
	Encrypted bool
}

// EnsurePassword makes sure key has a non-empty value in the passwords.yml
// at path.
//
// An existing value is kept unless rotate is set. Empty values are the YAML
// nulls (nothing, ~, null) and empty quoted strings. A missing file is
// created (mode 0640) holding only that key; its directory must exist.
//
// The file is edited as text, not re-serialised: every other key, the order,
// comments and blank lines stay byte-for-byte; only the one value changes (or
// one line is added at the end if the key is absent). The result is parsed
// again and compared with the original before anything is written, so an
// edit that would alter any other value is refused instead. The file's mode
// (and, when running as root, its owner) is kept.
//
// The write is one journalled fsutil.Batch rooted at the file's directory:
// the new file is staged in a temporary file that is 0600 from its first
// byte (it gets the final mode only once complete), then renamed over the
// old one, so a kill leaves the old or the new file, never a broken one.
// The caller holds the lock on that directory (fsutil.LockTree) and has run
// fsutil.Recover and fsutil.SweepTemp there, which remove whatever a killed
// run left. The file is read with a size limit and only if it is a regular
// file (no symlink).
//
// An ansible-vault encrypted file is decrypted with ring and the edited
// file encrypted again (vault.Opened.Seal: the same password and vault
// id, a fresh salt) before it is staged, so the temporary file, like the
// result, holds only ciphertext. ring may be nil (no vault password).
//
// Bad input (a file that is not valid YAML, whose top level is not a
// mapping, whose key holds a mapping or a list, that is ansible-vault
// encrypted and no password of ring opens, or that cannot be read) is an
// errs.Input naming the file and the problem, and the file is left
// untouched. A failure to write is a plain error; one after the new file
// is in place is an errs.Partial.
func EnsurePassword(path, key string, rotate bool, ring *vault.Keyring) (EnsureResult, error) {
	var res EnsureResult
	if !validPasswordKey(key) {
		return res, errs.Inputf("%s: invalid key %q: want letters, digits, '_' or '-'", path, key)
	}
	raw, err := fsutil.ReadFileIfExists(path, vault.EncryptedSize(fsutil.LimitConfig))
	if err != nil {
		return res, errs.WrapInput(err)
	}
	if raw == nil {
		return createPasswords(path, key)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return res, errs.WrapInput(err)
	}
	opened, err := openPasswords(path, raw, ring)
	if err != nil {
		return res, err
	}
	data := opened.Plaintext
	res.Encrypted = opened.Encrypted
	pf, err := parsePasswords(data)
	if err != nil {
		return res, errs.Inputf("%s: %w", path, err)
	}
	keyNode, valNode, err := pf.lookup(key)
	if err != nil {
		return res, errs.Inputf("%s: %w", path, err)
	}
	if valNode != nil && rotate && isVaulted(valNode) {
		return res, errs.Inputf("%s: %s (line %d) is an inline !vault value; rotate it with ansible-vault", path, key, valNode.Line)
	}
	if valNode != nil && !isEmptyValue(valNode) && !rotate {
		return res, nil
	}
	pw, err := generateYAMLSafePassword()
	if err != nil {
		return res, err
	}
	var out []byte
	if valNode == nil {
		out, err = appendKey(data, pf, key, pw)
	} else {
		out, err = replaceValue(data, keyNode, valNode, pw)
	}
	if err != nil {
		return res, errs.Inputf("%s: cannot set %s in place: %w", path, key, err)
	}
	if err := verifyEdit(pf, out, key, pw); err != nil {
		return res, errs.Inputf("%s: cannot set %s in place without disturbing the rest of the file (%v); set it by hand", path, key, err)
	}
	if out, err = opened.Seal(out); err != nil {
		return res, fmt.Errorf("%s: encrypting it again: %w", path, err)
	}
	if err := writePasswords(path, out, fi.Mode().Perm()); err != nil {
		return res, err
	}
	res = EnsureResult{Changed: true, Generated: true, Encrypted: opened.Encrypted}
	if err := keepOwner(path, fi); err != nil {
		return res, errs.AfterWrites(err, []string{path})
	}
	return res, nil
}

// openPasswords decrypts raw, the contents of the passwords.yml at path,
// when it is a vault text; errors are bad input naming the file.
func openPasswords(path string, raw []byte, ring *vault.Keyring) (*vault.Opened, error) {
	if ring == nil {
		ring = &vault.Keyring{}
	}
	o, err := ring.Open(path, raw)
	if err != nil {
		return nil, errs.WrapInput(err)
	}
	if len(o.Plaintext) > fsutil.LimitConfig {
		return nil, errs.WrapInput(&fsutil.BadFileError{Path: path, Reason: fmt.Sprintf("larger than %d bytes", fsutil.LimitConfig), Kind: fsutil.ErrTooLarge})
	}
	return o, nil
}

// createPasswords writes a new passwords.yml holding only key.
func createPasswords(path, key string) (EnsureResult, error) {
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return EnsureResult{}, errs.Inputf("%s: cannot create it: %s is not an existing directory", path, filepath.Dir(path))
	}
	pw, err := generateYAMLSafePassword()
	if err != nil {
		return EnsureResult{}, err
	}
	if err := writePasswords(path, []byte(key+": "+pw+"\n"), newPasswordsFileMode); err != nil {
		return EnsureResult{}, err
	}
	return EnsureResult{Changed: true, Generated: true, Created: true}, nil
}

// writePasswords replaces path with data through a journalled batch
// rooted at its directory (see EnsurePassword). A symlink at path is bad
// input. A commit that fails once the new file is in place is an
// errs.Partial naming it.
func writePasswords(path string, data []byte, perm fs.FileMode) error {
	b := fsutil.NewBatch(filepath.Dir(path))
	if err := b.WriteFile(path, data, perm); err != nil {
		b.Abort()
		var bad *fsutil.BadFileError
		if fi, lerr := os.Lstat(path); errors.As(err, &bad) || (lerr == nil && fi.Mode()&fs.ModeSymlink != 0) {
			return errs.WrapInput(err)
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := b.Commit(); err != nil {
		err = fmt.Errorf("writing %s: %w", path, err)
		if now, rerr := fsutil.ReadFile(path, int64(len(data))); rerr == nil && bytes.Equal(now, data) {
			return errs.AfterWrites(err, []string{path})
		}
		return err
	}
	return nil
}

// ErrNoPassword matches (errors.Is) a ReadPassword error saying there is
// no password yet: the file is missing, or the key is absent or empty.
var ErrNoPassword = errors.New("no password set")

type noPasswordError struct{ error }

func (noPasswordError) Is(target error) bool { return target == ErrNoPassword }

// ReadPassword is ReadPasswordVault without vault passwords: a vaulted
// file or value is an error (matching vault.ErrNoPassword) naming it.
func ReadPassword(path, key string) (string, error) { return ReadPasswordVault(path, key, nil) }

// ReadPasswordVault returns the value of key in the passwords.yml at
// path, read with a size limit (a symlink is followed, but the file must
// be regular). A vault-encrypted file and an inline !vault value are
// decrypted with ring (nil holds no password). A missing file, key or
// value is an error matching ErrNoPassword; a value that is not a plain
// scalar (a mapping, a list) and a vaulted file or value no password
// opens are errors naming the file.
func ReadPasswordVault(path, key string, ring *vault.Keyring) (string, error) {
	raw, err := fsutil.ReadFileFollow(path, vault.EncryptedSize(fsutil.LimitConfig))
	if errors.Is(err, fs.ErrNotExist) {
		return "", noPasswordError{err}
	}
	if err != nil {
		return "", err
	}
	opened, err := openPasswords(path, raw, ring)
	if err != nil {
		return "", err
	}
	if ring == nil {
		ring = &vault.Keyring{}
	}
	pf, err := parsePasswords(opened.Plaintext)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	_, v, err := pf.lookup(key)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", path, err)
	case v == nil:
		return "", noPasswordError{fmt.Errorf("%s: %s is not set", path, key)}
	case isVaulted(v):
		pw, err := ring.DecryptValue(path, v)
		if err == nil && pw == "" {
			err = noPasswordError{fmt.Errorf("%s: %s (line %d) is empty", path, key, v.Line)}
		}
		return pw, err
	case v.Style&yaml.TaggedStyle != 0 && v.ShortTag() != "!!str" && v.Tag != "!unsafe":
		return "", fmt.Errorf("%s: %s (line %d) carries the tag %s; want a plain string", path, key, v.Line, v.Tag)
	case isEmptyValue(v):
		return "", noPasswordError{fmt.Errorf("%s: %s (line %d) is empty", path, key, v.Line)}
	}
	return v.Value, nil
}

// isVaulted says whether a value is an inline ansible-vault value
// ("key: !vault |" followed by the $ANSIBLE_VAULT lines).
func isVaulted(v *yaml.Node) bool { return vault.IsVaultNode(v) }

// GeneratePassword returns PasswordLength characters drawn uniformly from
// [A-Za-z0-9], like kolla-genpwd.
//
// go-password places an exact number of digits, so that number is first
// drawn the way 40 independent picks from 62 characters would produce it;
// the result is then uniform over all 62^40 strings.
func GeneratePassword() (string, error) {
	digits := 0
	for range PasswordLength {
		n, err := rand.Int(rand.Reader, big.NewInt(62))
		if err != nil {
			return "", fmt.Errorf("generating password: %w", err)
		}
		if n.Int64() < 10 {
			digits++
		}
	}
	pw, err := password.Generate(PasswordLength, digits, 0, false, true)
	if err != nil {
		return "", fmt.Errorf("generating password: %w", err)
	}
	return pw, nil
}

// generateYAMLSafePassword draws passwords until one reads back from YAML as
// a string. A 40-digit password (odds about 1e-31) would otherwise come back
// from Ansible as an integer.
func generateYAMLSafePassword() (string, error) {
	for {
		pw, err := GeneratePassword()
		if err != nil {
			return "", err
		}
		if !yamlReadsAsNonString(pw) {
			return pw, nil
		}
	}
}

// yamlReadsAsNonString reports whether the plain scalar s would resolve to
// something other than a string under YAML 1.2 (yaml.v3) or YAML 1.1
// (PyYAML, which Ansible uses). For alphanumeric s only integers (decimal,
// 0x/0o/0b) and exponent floats are possible; the check is deliberately
// broad.
func yamlReadsAsNonString(s string) bool {
	allDigits := func(t string) bool {
		if t == "" {
			return false
		}
		for _, c := range t {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if allDigits(s) {
		return true
	}
	if i := strings.IndexAny(s, "eE"); i > 0 && allDigits(s[:i]) && allDigits(s[i+1:]) {
		return true
	}
	if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		hex := true
		for _, c := range s[2:] {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				hex = false
			}
		}
		if hex {
			return true
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) != 1 {
		return true
	}
	return n.Content[0].ShortTag() != "!!str"
}

func validPasswordKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		ok := c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	// A key like "1" or "true" would not be the string key Ansible looks up.
	return !yamlReadsAsNonString(key)
}

// keepOwner gives a rewritten file back its previous owner: the atomic write
// creates a new inode owned by us, and a passwords.yml rewritten by root
// must stay readable by the deploy user who owns it.
func keepOwner(path string, old fs.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	cur, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (cur.Uid == st.Uid && cur.Gid == st.Gid) {
		return nil
	}
	if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
		if os.Geteuid() != 0 {
			// Only root could have kept it; the file was written all the same.
			return nil
		}
		return fmt.Errorf("%s: restoring owner %d:%d: %w", path, st.Uid, st.Gid, err)
	}
	return nil
}

// passwordsFile is a parsed passwords.yml. top is nil for a file without
// any content (empty, or only comments), which is treated as an empty
// mapping.
type passwordsFile struct {
	top *yaml.Node
}

// parsePasswords parses data as a single YAML document whose top level is a
// block mapping (or nothing at all).
func parsePasswords(data []byte) (pf passwordsFile, err error) {
	// yaml.v3 has panicked on hostile input in the past; a broken file must
	// come back as an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not valid YAML: %v", r)
		}
	}()
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return pf, errors.New("UTF-16 files are not supported; convert it to UTF-8")
	}
	if vault.IsEncrypted(data) {
		// Callers decrypt first (openPasswords); never parse a vault text.
		return pf, errors.New("is ansible-vault encrypted")
	}
	if !utf8.Valid(data) {
		return pf, errors.New("not valid YAML: not valid UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return pf, nil
		}
		return pf, fmt.Errorf("not valid YAML: %w", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return pf, fmt.Errorf("not valid YAML: %w", err)
		}
		return pf, errors.New("holds more than one YAML document; want one mapping")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return pf, errors.New("not valid YAML: no document")
	}
	top := doc.Content[0]
	switch {
	case top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" && top.Value == "" && top.Anchor == "" && top.Style&yaml.TaggedStyle == 0:
		// "---" alone: an empty document, as good as an empty mapping.
		return pf, nil
	case top.Kind != yaml.MappingNode:
		return pf, fmt.Errorf("top level is %s, not a mapping of names to passwords", kindName(top))
	case top.Style&yaml.FlowStyle != 0:
		return pf, errors.New("top level is a flow-style mapping ({...}); only a block mapping (one key per line) can be edited")
	}
	return passwordsFile{top: top}, nil
}

// lookup finds key among the top-level keys. It returns nil nodes if the key
// is absent, and an error if it appears twice or its value is not a scalar.
func (pf passwordsFile) lookup(key string) (k, v *yaml.Node, err error) {
	if pf.top == nil {
		return nil, nil, nil
	}
	for i := 0; i+1 < len(pf.top.Content); i += 2 {
		kn, vn := pf.top.Content[i], pf.top.Content[i+1]
		if kn.Kind != yaml.ScalarNode || kn.Value != key || kn.ShortTag() != "!!str" {
			continue
		}
		if k != nil {
			return nil, nil, fmt.Errorf("%s appears twice (lines %d and %d)", key, k.Line, kn.Line)
		}
		k, v = kn, vn
	}
	if v != nil && v.Kind != yaml.ScalarNode {
		return nil, nil, fmt.Errorf("%s (line %d) holds %s, not a password", key, k.Line, kindName(v))
	}
	return k, v, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias (*" + n.Value + ")"
	case yaml.ScalarNode:
		return "a scalar (" + n.ShortTag() + ")"
	}
	return "an unknown node"
}

// isEmptyValue reports whether a scalar counts as "no password yet", the
// way kolla-genpwd sees it: YAML null or the empty string.
func isEmptyValue(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!null" || v.Value == "")
}

// line is one line of the file: data[start:end] is its content and
// data[end:next] its line break (empty on a last line without one).
type line struct{ start, end, next int }

// splitLines splits data into lines using YAML's line breaks (CRLF, CR, LF,
// NEL, LS, PS), so line numbers agree with the ones yaml.v3 reports.
func splitLines(data []byte) []line {
	var lines []line
	start := 0
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		start = 3 // the BOM is not part of line 1's columns
	}
	for i := start; i < len(data); {
		brk := 0
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			brk = 2
		case data[i] == '\r' || data[i] == '\n':
			brk = 1
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			brk = 2
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			brk = 3
		}
		if brk == 0 {
			i++
			continue
		}
		lines = append(lines, line{start, i, i + brk})
		i += brk
		start = i
	}
	if start < len(data) || len(lines) == 0 {
		lines = append(lines, line{start, len(data), len(data)})
	}
	return lines
}

// offsetOf converts yaml.v3's 1-based line and column (counted in
// characters) into a byte offset in data.
func offsetOf(data []byte, lines []line, ln, col int) (int, error) {
	if ln < 1 || ln > len(lines) || col < 1 {
		return 0, fmt.Errorf("position %d:%d is outside the file", ln, col)
	}
	l := lines[ln-1]
	off := l.start
	for c := 1; c < col; c++ {
		if off >= l.end {
			return 0, fmt.Errorf("position %d:%d is past the end of its line", ln, col)
		}
		_, size := utf8.DecodeRune(data[off:l.end])
		off += size
	}
	return off, nil
}

// replaceValue swaps the source text of the scalar v for pw, or, when v is
// an implicit null with no text at all ("key:"), writes pw after the colon.
func replaceValue(data []byte, k, v *yaml.Node, pw string) ([]byte, error) {
	if v.Anchor != "" || v.Style&yaml.TaggedStyle != 0 {
		return nil, fmt.Errorf("the value (line %d) carries an anchor or an explicit tag", v.Line)
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, fmt.Errorf("the value (line %d) is a block scalar (| or >)", v.Line)
	}
	lines := splitLines(data)
	if v.ShortTag() == "!!null" && v.Value == "" {
		// No value text: put the password right after the key's colon, so
		// "key:  # comment" becomes "key: PW  # comment".
		off, err := offsetOf(data, lines, k.Line, k.Column)
		if err != nil {
			return nil, err
		}
		l := lines[k.Line-1]
		var tok []byte
		if k.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			tok, err = scalarToken(data[off:l.end], k)
		} else if bytes.HasPrefix(data[off:l.end], []byte(k.Value)) {
			// validPasswordKey allows no characters a plain key would
			// escape, so its text is its value.
			tok = data[off : off+len(k.Value)]
		} else {
			err = errors.New("unexpected key text")
		}
		if err != nil {
			return nil, fmt.Errorf("key at line %d: %w", k.Line, err)
		}
		i := off + len(tok)
		for i < l.end && (data[i] == ' ' || data[i] == '\t') {
			i++
		}
		if i >= l.end || data[i] != ':' {
			return nil, fmt.Errorf("no ':' after the key on line %d", k.Line)
		}
		return splice(data, i+1, i+1, " "+pw), nil
	}
	off, err := offsetOf(data, lines, v.Line, v.Column)
	if err != nil {
		return nil, err
	}
	l := lines[v.Line-1]
	tok, err := scalarToken(data[off:l.end], v)
	if err != nil {
		return nil, fmt.Errorf("value at line %d: %w", v.Line, err)
	}
	return splice(data, off, off+len(tok), pw), nil
}

func splice(data []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(s))
	out = append(out, data[:from]...)
	out = append(out, s...)
	return append(out, data[to:]...)
}

// scalarToken returns the source text of the single-line scalar n that
// starts at the beginning of rest (the remainder of its line). It fails if
// the text found does not decode to n's value, which is what a scalar
// continued on the next lines looks like.
func scalarToken(rest []byte, n *yaml.Node) ([]byte, error) {
	var tok []byte
	var decoded string
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		i := 1
		for ; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				break
			}
		}
		if len(rest) == 0 || rest[0] != '\'' || i >= len(rest) {
			return nil, errors.New("quoted scalar spans several lines")
		}
		tok = rest[:i+1]
		decoded = strings.ReplaceAll(string(tok[1:len(tok)-1]), "''", "'")
	case n.Style&yaml.DoubleQuotedStyle != 0:
		i := 1
		for ; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '"' {
				break
			}
		}
		if len(rest) == 0 || rest[0] != '"' || i >= len(rest) {
			return nil, errors.New("quoted scalar spans several lines")
		}
		tok = rest[:i+1]
		var s string
		if err := yaml.Unmarshal(tok, &s); err != nil {
			return nil, err
		}
		decoded = s
	default:
		// A plain scalar ends at " #" (a comment) or the end of the line,
		// without trailing blanks.
		end := len(rest)
		for i := 1; i < len(rest); i++ {
			if rest[i] == '#' && (rest[i-1] == ' ' || rest[i-1] == '\t') {
				end = i
				break
			}
		}
		tok = bytes.TrimRight(rest[:end], " \t")
		decoded = string(tok)
	}
	if decoded != n.Value {
		return nil, errors.New("scalar spans several lines")
	}
	return tok, nil
}

// appendKey adds "key: pw" as a new last line, indented like the existing
// top-level keys and ended like the file's other lines.
func appendKey(data []byte, pf passwordsFile, key, pw string) ([]byte, error) {
	lines := splitLines(data)
	indent := ""
	if pf.top != nil && len(pf.top.Content) > 0 {
		first := pf.top.Content[0]
		off, err := offsetOf(data, lines, first.Line, first.Column)
		if err != nil {
			return nil, err
		}
		ind := data[lines[first.Line-1].start:off]
		if strings.Trim(string(ind), " ") != "" {
			return nil, fmt.Errorf("first key (line %d) is not at the start of its line", first.Line)
		}
		indent = string(ind)
	}
	eol := "\n"
	if l := lines[0]; l.next-l.end == 2 && data[l.end] == '\r' {
		eol = "\r\n"
	}
	out := append([]byte(nil), data...)
	if last := lines[len(lines)-1]; last.end > last.start && last.next == last.end {
		out = append(out, eol...) // finish a last line that lacks its break
	}
	out = append(out, indent+key+": "+pw+eol...)
	return out, nil
}

// verifyEdit re-parses the edited text and checks that key now holds pw as a
// plain string and that every other top-level entry is exactly as before.
func verifyEdit(before passwordsFile, out []byte, key, pw string) error {
	after, err := parsePasswords(out)
	if err != nil {
		return fmt.Errorf("edited file does not parse: %v", err)
	}
	_, v, err := after.lookup(key)
	if err != nil {
		return err
	}
	if v == nil || v.ShortTag() != "!!str" || v.Value != pw {
		return errors.New("the new value does not read back")
	}
	others := func(pf passwordsFile) []*yaml.Node {
		var ns []*yaml.Node
		if pf.top == nil {
			return nil
		}
		for i := 0; i+1 < len(pf.top.Content); i += 2 {
			if k := pf.top.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() == "!!str" {
				continue
			}
			ns = append(ns, pf.top.Content[i], pf.top.Content[i+1])
		}
		return ns
	}
	a, b := others(before), others(after)
	if len(a) != len(b) {
		return errors.New("the other entries changed")
	}
	for i := range a {
		if !sameNode(a[i], b[i]) {
			return fmt.Errorf("the entry at line %d changed", a[i-i%2].Line)
		}
	}
	return nil
}

// sameNode compares the meaning of two YAML nodes, ignoring positions and
// comments.
func sameNode(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value ||
		a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
