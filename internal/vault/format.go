package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Header is how every vault text starts.
const Header = "$ANSIBLE_VAULT"

// The format's fixed parameters, as Ansible's VaultAES256 has them.
const (
	cipherName = "AES256"
	iterations = 10000
	keyLen     = 32 // AES-256 key, and HMAC-SHA256 key
	saltLen    = 32 // what Ansible draws from os.urandom
	lineWidth  = 80
)

// Size bounds. MaxPlaintext is above any file libvirt-pki keeps in a vault
// (the largest, a CRL, is bounded by fsutil.LimitCRL); MaxVaultText is the
// vault text of that much plaintext (about 4.05 times as large) with room
// for a long salt and vault id.
const (
	MaxPlaintext = 16 << 20
	MaxVaultText = 4*MaxPlaintext + 4*MaxPlaintext/lineWidth + 64<<10
)

// EncryptedSize bounds the size of the vault text of a plaintext of n
// bytes, for callers that pick a read limit (fsutil.ReadFile) for a file
// that may be vaulted: a vault text is about 4.05 times its plaintext, so
// a vaulted key does not fit fsutil.LimitKey's bound for the clear key.
// It allows a vault id or a salt up to 1 KiB longer than Ansible's.
func EncryptedSize(n int64) int64 {
	ct := (n/aes.BlockSize + 1) * aes.BlockSize
	body := 2 * (2*saltLen + 1 + 2*sha256.Size + 1 + 2*ct)
	return body + (body+lineWidth-1)/lineWidth + 1<<10
}

// Kinds of failure, for errors.Is.
var (
	// ErrFormat: the data is not a well-formed vault text.
	ErrFormat = errors.New("not a valid ansible-vault text")
	// ErrWrongPassword: the text is well formed but no password given
	// opens it (its HMAC does not verify): a wrong password, or a
	// tampered file.
	ErrWrongPassword = errors.New("vault password does not decrypt it")
	// ErrNoPassword: the text is encrypted and no vault password was given.
	ErrNoPassword = errors.New("no vault password given")
)

// FormatError says why data is not a vault text. Its message is one line
// naming the data (a file name, or "file:line" for an inline value).
type FormatError struct {
	Name   string
	Reason string
}

func (e *FormatError) Error() string {
	return e.Name + ": not a valid ansible-vault text: " + e.Reason
}
func (e *FormatError) Unwrap() error { return ErrFormat }

// Envelope is a parsed vault text: its header fields and the three parts
// of its body. Parsing checks the structure only; Decrypt checks the HMAC.
type Envelope struct {
	Version string // "1.1" or "1.2"
	VaultID string // the 1.2 header's vault id; "" for 1.1
	salt    []byte
	mac     []byte
	ct      []byte
}

// IsEncrypted reports whether data is a vault text (starts with the
// header), as Ansible decides it for a whole file or a value.
func IsEncrypted(data []byte) bool { return bytes.HasPrefix(data, []byte(Header)) }

// Parse checks that data is a well-formed vault text and splits it.
// name labels errors. A non-vault text gives a *FormatError.
func Parse(name string, data []byte) (*Envelope, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxVaultText {
		return nil, bad("%d bytes, more than the %d a vault text may have", len(data), MaxVaultText)
	}
	if !IsEncrypted(data) {
		return nil, bad("it does not start with %s", Header)
	}
	for i, c := range data {
		if c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			return nil, bad("byte %d is 0x%02x; a vault text is printable ASCII", i, c)
		}
	}
	lines := splitLines(data)
	env, err := parseHeader(lines[0])
	if err != nil {
		return nil, bad("header %q: %v", clip(lines[0]), err)
	}
	body := bytes.Join(lines[1:], nil)
	if len(body) == 0 {
		return nil, bad("no data after the header (truncated?)")
	}
	inner, err := unhex(body)
	if err != nil {
		return nil, bad("body: %v", err)
	}
	parts := bytes.SplitN(inner, []byte("\n"), 3)
	if len(parts) != 3 {
		return nil, bad("body holds %d of the 3 parts salt, HMAC, ciphertext (truncated?)", len(parts))
	}
	for i, part := range [...]string{"salt", "HMAC", "ciphertext"} {
		if parts[i], err = unhex(parts[i]); err != nil {
			return nil, bad("%s: %v", part, err)
		}
	}
	env.salt, env.mac, env.ct = parts[0], parts[1], parts[2]
	if len(env.mac) != sha256.Size {
		return nil, bad("HMAC is %d bytes, not %d", len(env.mac), sha256.Size)
	}
	if len(env.ct) == 0 || len(env.ct)%aes.BlockSize != 0 {
		return nil, bad("ciphertext is %d bytes, not a non-zero multiple of %d (truncated?)", len(env.ct), aes.BlockSize)
	}
	return env, nil
}

// parseHeader reads "$ANSIBLE_VAULT;1.1;AES256" or
// "$ANSIBLE_VAULT;1.2;AES256;ID". Like Ansible it trims blanks around the
// header and its fields; unlike Ansible it refuses versions and field
// counts that no Ansible version writes.
func parseHeader(line []byte) (*Envelope, error) {
	fields := strings.Split(strings.TrimSpace(string(line)), ";")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	if fields[0] != Header {
		return nil, fmt.Errorf("does not start with %s;", Header)
	}
	if len(fields) < 3 {
		return nil, errors.New("needs a version and a cipher")
	}
	env := &Envelope{Version: fields[1]}
	switch env.Version {
	case "1.1":
		if len(fields) != 3 {
			return nil, fmt.Errorf("version 1.1 takes 3 fields (no vault id), not %d", len(fields))
		}
	case "1.2":
		if len(fields) != 4 || fields[3] == "" {
			return nil, fmt.Errorf("version 1.2 takes 4 fields, the last a vault id")
		}
		env.VaultID = fields[3]
	default:
		return nil, fmt.Errorf("version %q is not 1.1 or 1.2", env.Version)
	}
	if fields[2] != cipherName {
		return nil, fmt.Errorf("cipher %q is not %s", fields[2], cipherName)
	}
	return env, nil
}

// splitLines splits at "\n", "\r\n" and "\r", as Python's
// bytes.splitlines does, dropping a final empty line.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i])
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return lines
}

func unhex(s []byte) ([]byte, error) {
	out := make([]byte, hex.DecodedLen(len(s)))
	if _, err := hex.Decode(out, s); err != nil {
		return nil, fmt.Errorf("bad hex: %v", err)
	}
	return out, nil
}

// clip shortens a header for an error message.
func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// deriveKeys runs PBKDF2 as Ansible does: 80 bytes split into the AES key,
// the HMAC key and the initial counter block.
func deriveKeys(password, salt []byte) (aesKey, macKey, iv []byte, err error) {
	k, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, 2*keyLen+aes.BlockSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("deriving the vault key: %w", err)
	}
	return k[:keyLen], k[keyLen : 2*keyLen], k[2*keyLen:], nil
}

// Decrypt opens the envelope with password. A password whose HMAC does
// not verify gives an error matching ErrWrongPassword (the caller adds the
// file name: see Keyring.Open); bad padding behind a good HMAC, which
// only a broken encryptor makes, gives ErrFormat.
func (e *Envelope) Decrypt(password []byte) ([]byte, error) {
	aesKey, macKey, iv, err := deriveKeys(password, e.salt)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, macKey)
	m.Write(e.ct)
	if !hmac.Equal(m.Sum(nil), e.mac) {
		return nil, ErrWrongPassword
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(e.ct))
	cipher.NewCTR(block, iv).XORKeyStream(plain, e.ct)
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, fmt.Errorf("%w: bad padding after decryption", ErrFormat)
	}
	for _, c := range plain[len(plain)-n:] {
		if int(c) != n {
			return nil, fmt.Errorf("%w: bad padding after decryption", ErrFormat)
		}
	}
	return plain[:len(plain)-n], nil
}

// Encrypt returns plaintext as a vault text under password, with a fresh
// random salt: "$ANSIBLE_VAULT;1.2;AES256;<vaultID>" when vaultID is set,
// "$ANSIBLE_VAULT;1.1;AES256" when it is "". Like ansible-vault it refuses
// plaintext that is already a vault text and an empty password.
func Encrypt(plaintext, password []byte, vaultID string) ([]byte, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return encrypt(plaintext, password, vaultID, salt)
}

func encrypt(plaintext, password []byte, vaultID string, salt []byte) ([]byte, error) {
	if err := checkEncryptArgs(plaintext, password, vaultID); err != nil {
		return nil, err
	}
	aesKey, macKey, iv, err := deriveKeys(password, salt)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	ct := make([]byte, len(plaintext)+n)
	copy(ct, plaintext)
	for i := len(plaintext); i < len(ct); i++ {
		ct[i] = byte(n)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, err
	}
	cipher.NewCTR(block, iv).XORKeyStream(ct, ct)
	m := hmac.New(sha256.New, macKey)
	m.Write(ct)
	return format(vaultID, salt, m.Sum(nil), ct), nil
}

func checkEncryptArgs(plaintext, password []byte, vaultID string) error {
	switch {
	case len(password) == 0:
		return errors.New("vault: refusing to encrypt with an empty password")
	case len(plaintext) > MaxPlaintext:
		return fmt.Errorf("vault: refusing to encrypt %d bytes (at most %d)", len(plaintext), MaxPlaintext)
	case IsEncrypted(plaintext):
		return errors.New("vault: input is already vault-encrypted")
	}
	return CheckVaultID(vaultID)
}

// CheckVaultID says whether id can stand in a 1.2 header ("" means none):
// printable ASCII without ';' or blanks, since Ansible splits the header
// at ';', trims blanks and takes only ASCII text for a vault.
func CheckVaultID(id string) error {
	for _, c := range id {
		if c <= ' ' || c >= 0x7f || c == ';' {
			return fmt.Errorf("vault id %q: only printable ASCII without ';' or blanks may be a vault id", id)
		}
	}
	return nil
}

// format lays out the envelope: header, then the hex body in 80-column
// lines, each ending in "\n".
func format(vaultID string, salt, mac, ct []byte) []byte {
	inner := make([]byte, 0, 2*(len(salt)+len(mac)+len(ct))+2)
	inner = hex.AppendEncode(inner, salt)
	inner = append(inner, '\n')
	inner = hex.AppendEncode(inner, mac)
	inner = append(inner, '\n')
	inner = hex.AppendEncode(inner, ct)
	body := hex.EncodeToString(inner)

	var b strings.Builder
	b.Grow(len(body) + len(body)/lineWidth + 64 + len(vaultID))
	b.WriteString(Header + ";")
	if vaultID == "" {
		b.WriteString("1.1;" + cipherName)
	} else {
		b.WriteString("1.2;" + cipherName + ";" + vaultID)
	}
	b.WriteByte('\n')
	for len(body) > 0 {
		n := min(lineWidth, len(body))
		b.WriteString(body[:n])
		b.WriteByte('\n')
		body = body[n:]
	}
	return []byte(b.String())
}
