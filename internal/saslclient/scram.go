package saslclient

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
	"github.com/xdg-go/scram"
)

// Limits on a SCRAM server-first message, checked before any key is
// derived: key derivation (PBKDF2) cannot be interrupted, so a hostile
// server asking for billions of iterations would otherwise hold a CPU far
// beyond any timeout.
const (
	// MaxSCRAMIterations is the largest iteration count accepted. Cyrus
	// SASL's client, which virsh and nova use through libvirt, refuses more
	// than 65536 (MAX_ITERATION_COUNTER, fixed at build time), so a daemon
	// asking for 65537..100000 passes this check but fails those clients.
	MaxSCRAMIterations = 100000
	// maxServerFirst is Cyrus's MAX_SERVERIN_LEN: its client refuses
	// longer server messages.
	maxServerFirst = 2048
	// maxSCRAMNonce and maxSCRAMSalt bound the combined nonce (Cyrus sends
	// 32 bytes base64-encoded and the server as much again) and the
	// decoded salt (Cyrus uses 16 bytes).
	maxSCRAMNonce = 512
	maxSCRAMSalt  = 256
)

// SCRAM is a SCRAM-SHA-256 client conversation without channel binding
// (libvirt runs SASL inside TLS and offers no -PLUS variant).
type SCRAM struct {
	conv  *scram.ClientConversation
	state int // 0 new, 1 sent client-first, 2 sent client-final, 3 verified
}

// NewSCRAMSHA256 prepares a SCRAM-SHA-256 conversation. Username and
// password are SASLprep'ed; a password SASLprep rejects is an error.
func NewSCRAMSHA256(authname, password string) (*SCRAM, error) {
	c, err := scram.SHA256.NewClient(authname, password, "")
	if err != nil {
		return nil, fmt.Errorf("scram: %w", err)
	}
	return &SCRAM{conv: c.NewConversation()}, nil
}

// Name implements Mechanism.
func (s *SCRAM) Name() string { return "SCRAM-SHA-256" }

// Start returns the client-first message.
func (s *SCRAM) Start() (initial []byte, err error) {
	if s.state != 0 {
		return nil, errors.New("scram: already started")
	}
	defer guard(&err)
	msg, err := s.conv.Step("")
	if err != nil {
		return nil, fmt.Errorf("scram: %w", err)
	}
	s.state = 1
	return []byte(msg), nil
}

// Step answers server-first with client-final, then checks server-final's
// signature. A wrong or missing signature, or a server error ("e=..."),
// is an error.
func (s *SCRAM) Step(challenge []byte) (response []byte, done bool, err error) {
	defer guard(&err)
	switch s.state {
	case 1:
		if err := checkServerFirst(challenge); err != nil {
			return nil, false, err
		}
		msg, err := s.conv.Step(string(challenge))
		if err != nil {
			return nil, false, fmt.Errorf("scram: server-first: %w", err)
		}
		s.state = 2
		return []byte(msg), false, nil
	case 2:
		if _, err := s.conv.Step(string(challenge)); err != nil {
			switch {
			case strings.HasPrefix(string(challenge), "e="):
				return nil, false, fmt.Errorf("%w: scram server-final %q", ErrRejected, challenge)
			case wellFormedVerifier(challenge):
				// Well-formed but wrong: the server does not know our
				// password (or is an impostor).
				return nil, false, fmt.Errorf("%w (scram server signature mismatch)", ErrServerNotVerified)
			}
			return nil, false, fmt.Errorf("scram: server-final: %w", err)
		}
		// The library compares the server signature with the one it
		// computed from the password; insist on its verdict explicitly.
		if !s.conv.Valid() {
			return nil, false, ErrServerNotVerified
		}
		s.state = 3
		return nil, true, nil
	case 3:
		return nil, false, errors.New("scram: unexpected challenge after server-final")
	}
	return nil, false, errors.New("scram: Step before Start")
}

// Verified implements Mechanism.
func (s *SCRAM) Verified() bool { return s.state == 3 && s.conv.Valid() }

// wellFormedVerifier reports whether a server-final is "v=" followed by a
// base64 SHA-256 sized signature.
func wellFormedVerifier(b []byte) bool {
	v, ok := strings.CutPrefix(string(b), "v=")
	if !ok {
		return false
	}
	v, _, _ = strings.Cut(v, ",")
	sig, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(sig) == sha256.Size
}

// checkServerFirst refuses a server-first message ("r=...,s=...,i=...")
// whose size, nonce, salt or iteration count exceeds the limits above, with
// an error wrapping ErrLimit, and an iteration count that is not a plain
// number. Anything else malformed is left for the SCRAM library to reject.
func checkServerFirst(msg []byte) error {
	if len(msg) > maxServerFirst {
		return fmt.Errorf("%w: scram server-first of %d bytes exceeds %d", ErrLimit, len(msg), maxServerFirst)
	}
	for _, field := range strings.Split(string(msg), ",") {
		key, val, _ := strings.Cut(field, "=")
		switch key {
		case "r":
			if len(val) > maxSCRAMNonce {
				return fmt.Errorf("%w: scram nonce of %d bytes exceeds %d", ErrLimit, len(val), maxSCRAMNonce)
			}
		case "s":
			if len(val) > base64.StdEncoding.EncodedLen(maxSCRAMSalt) {
				return fmt.Errorf("%w: scram salt of %d base64 characters exceeds %d bytes", ErrLimit, len(val), maxSCRAMSalt)
			}
		case "i":
			if err := checkIterations(val); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkIterations accepts only plain decimal digits (the SCRAM library
// would also take "+123") up to MaxSCRAMIterations.
func checkIterations(v string) error {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return fmt.Errorf("scram: server-first iteration count \"%s\" is not a decimal number", untrusted.Clean(v, untrusted.MaxName))
	}
	digits := strings.TrimLeft(v, "0")
	tooLong := len(digits) > len(strconv.Itoa(MaxSCRAMIterations))
	if n, _ := strconv.Atoi(digits); tooLong || n > MaxSCRAMIterations {
		return fmt.Errorf("%w: scram iteration count %s exceeds %d (Cyrus SASL clients refuse above 65536)",
			ErrLimit, untrusted.Clean(v, 32), MaxSCRAMIterations)
	}
	return nil
}
