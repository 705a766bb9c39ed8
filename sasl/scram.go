package sasl

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
)

const (
	// DefaultSCRAMIterations is Cyrus SASL's default PBKDF2 iteration count
	// for SCRAM, and what saslpasswd2 writes.
	DefaultSCRAMIterations = 4096
	// MinSCRAMIterations is the minimum RFC 7677 asks for; clients built on
	// xdg-go/scram (and others) refuse fewer.
	MinSCRAMIterations = 4096
	// MaxSCRAMIterations is the most a Cyrus SASL client will compute
	// (MAX_ITERATION_COUNTER in plugins/scram.c); libvirt's own client
	// would refuse a server asking for more.
	MaxSCRAMIterations = 65536

	scramSHA256Prefix = "SCRAM-SHA-256$"
	scramSaltSize     = 16 // what Cyrus uses (SALT_SIZE)
	sha256Size        = 32
)

// NewSCRAMSecret returns Cyrus SASL's authPassword value for SCRAM-SHA-256,
//
//	SCRAM-SHA-256$<iter>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//
// (standard base64 with padding, 16-byte random salt), the same shape
// saslpasswd2 writes with scram_secret_generate: yes. iterations 0 means
// DefaultSCRAMIterations; otherwise it must lie in
// [MinSCRAMIterations, MaxSCRAMIterations].
//
// The password is used as raw bytes, not SASLprep-normalised, because that
// is what the Cyrus server does when it derives keys from userPassword; the
// two stay interchangeable for any password.
func NewSCRAMSecret(password string, iterations int) (string, error) {
	if iterations == 0 {
		iterations = DefaultSCRAMIterations
	}
	if iterations < MinSCRAMIterations || iterations > MaxSCRAMIterations {
		return "", fmt.Errorf("SCRAM iteration count %d out of range [%d, %d]", iterations, MinSCRAMIterations, MaxSCRAMIterations)
	}
	if password == "" {
		return "", errors.New("SCRAM secret: empty password") // Cyrus refuses it too
	}
	if strings.ContainsRune(password, 0) {
		// Cyrus handles passwords as C strings; and HMAC would not tell
		// "pw" from "pw\x00" anyway.
		return "", errors.New("SCRAM secret: password contains a NUL byte")
	}
	salt := make([]byte, scramSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("SCRAM salt: %w", err)
	}
	stored, server, err := scramKeys(password, salt, iterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s%d:%s$%s:%s", scramSHA256Prefix, iterations, b64(salt), b64(stored), b64(server)), nil
}

// VerifySCRAMSecret reports whether secret (an authPassword value as
// NewSCRAMSecret or saslpasswd2 writes it) was derived from password: it
// recomputes StoredKey and ServerKey from the secret's salt and iteration
// count. A malformed secret is an error, as is one whose StoredKey matches
// but ServerKey does not (a corrupted secret, not a wrong password).
func VerifySCRAMSecret(secret, password string) (bool, error) {
	salt, iters, stored, server, err := parseSCRAMSecret(secret)
	if err != nil {
		return false, err
	}
	if password == "" {
		return false, nil
	}
	gotStored, gotServer, err := scramKeys(password, salt, iters)
	if err != nil {
		return false, err
	}
	storedOK := subtle.ConstantTimeCompare(gotStored, stored) == 1
	serverOK := subtle.ConstantTimeCompare(gotServer, server) == 1
	switch {
	case storedOK && serverOK:
		return true, nil
	case storedOK != serverOK:
		return false, errors.New("SCRAM secret is inconsistent: only one of StoredKey and ServerKey matches the password")
	}
	return false, nil
}

// scramKeys derives StoredKey and ServerKey (RFC 5802 section 3) with
// SHA-256.
func scramKeys(password string, salt []byte, iters int) (stored, server []byte, err error) {
	// Unprepped: Cyrus hashes the stored bytes as they are (see above).
	c, err := scram.SHA256.NewClientUnprepped("", password, "")
	if err != nil {
		return nil, nil, fmt.Errorf("SCRAM: %w", err)
	}
	creds, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return nil, nil, fmt.Errorf("SCRAM: %w", err)
	}
	return creds.StoredKey, creds.ServerKey, nil
}

// parseSCRAMSecret splits an authPassword value for SCRAM-SHA-256. It is
// stricter than Cyrus (which skips stray spaces) so that a secret we accept
// is one Cyrus accepts too.
func parseSCRAMSecret(secret string) (salt []byte, iters int, stored, server []byte, err error) {
	bad := func(why string) error { return fmt.Errorf("malformed SCRAM-SHA-256 secret: %s", why) }
	rest, ok := strings.CutPrefix(secret, scramSHA256Prefix)
	if !ok {
		return nil, 0, nil, nil, bad("does not start with " + scramSHA256Prefix)
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, 0, nil, nil, bad("missing '$' before the keys")
	}
	itStr, saltB64, ok := strings.Cut(params, ":")
	if !ok {
		return nil, 0, nil, nil, bad("missing ':' after the iteration count")
	}
	for _, c := range itStr {
		if c < '0' || c > '9' {
			return nil, 0, nil, nil, bad("iteration count is not a number")
		}
	}
	iters, err = strconv.Atoi(itStr)
	if err != nil || iters < 1 {
		return nil, 0, nil, nil, bad("iteration count is not a positive number")
	}
	if iters > MaxSCRAMIterations {
		return nil, 0, nil, nil, bad(fmt.Sprintf("iteration count %d exceeds %d, which Cyrus clients refuse", iters, MaxSCRAMIterations))
	}
	salt, err = base64.StdEncoding.Strict().DecodeString(saltB64)
	if err != nil || len(salt) == 0 {
		return nil, 0, nil, nil, bad("salt is not base64")
	}
	storedB64, serverB64, ok := strings.Cut(keys, ":")
	if !ok {
		return nil, 0, nil, nil, bad("missing ':' between StoredKey and ServerKey")
	}
	stored, err = base64.StdEncoding.Strict().DecodeString(storedB64)
	if err != nil || len(stored) != sha256Size {
		return nil, 0, nil, nil, bad("StoredKey is not 32 bytes of base64")
	}
	server, err = base64.StdEncoding.Strict().DecodeString(serverB64)
	if err != nil || len(server) != sha256Size {
		return nil, 0, nil, nil, bad("ServerKey is not 32 bytes of base64")
	}
	return salt, iters, stored, server, nil
}
