// Package saslclient implements the client side of the two SASL mechanisms
// Kolla Ansible configures for libvirt: SCRAM-SHA-256 (RFC 5802, RFC 7677)
// and DIGEST-MD5 (RFC 2831, qop=auth only).
//
// Both mechanisms authenticate the server too, and a Mechanism reports
// Verified only after it has checked the server's proof (the SCRAM
// server-final signature or the DIGEST-MD5 rspauth). A server that lets the
// client in without proving it knows the password is a failure: libvirt's
// protocol does not do that check for us.
//
// Nothing here panics or works unboundedly on hostile input: malformed
// challenges are errors, SCRAM parameters beyond the client's limits are
// ErrLimit before any key is derived, and error texts are escaped and
// bounded (see internal/untrusted) since they may quote the server.
package saslclient

import (
	"errors"
	"fmt"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// Mechanism is one client-side SASL conversation. A Mechanism is used for
// a single authentication attempt.
type Mechanism interface {
	// Name is the IANA mechanism name, as the server lists it.
	Name() string
	// Start returns the initial response. A nil slice means "no initial
	// response" (libvirt's nil=1), as DIGEST-MD5 requires.
	Start() (initial []byte, err error)
	// Step answers a server challenge. done reports that the mechanism has
	// finished its part (the server's proof has been checked); response
	// may then be nil, meaning "send an empty response".
	Step(challenge []byte) (response []byte, done bool, err error)
	// Verified reports whether the server proved knowledge of the
	// password.
	Verified() bool
}

// Supported lists the mechanisms this package implements, most preferred
// first.
var Supported = []string{"SCRAM-SHA-256", "DIGEST-MD5"}

// Config carries what a mechanism needs.
type Config struct {
	Authname, Password string
	// Service and Host form DIGEST-MD5's digest-uri "service/host";
	// libvirt uses service "libvirt" and the host name the client
	// connected to.
	Service, Host string
}

// ErrServerNotVerified is returned when authentication finished without a
// valid server proof.
var ErrServerNotVerified = errors.New("sasl: server did not prove knowledge of the password")

// ErrRejected is returned when the server's mechanism data says it
// rejected our credentials (e.g. SCRAM "e=invalid-proof").
var ErrRejected = errors.New("sasl: server rejected the credentials")

// New returns a fresh conversation for the named mechanism
// (case-sensitive, as libvirt's mechanism names are).
func New(name string, cfg Config) (Mechanism, error) {
	switch name {
	case "SCRAM-SHA-256":
		return NewSCRAMSHA256(cfg.Authname, cfg.Password)
	case "DIGEST-MD5":
		return NewDigestMD5(cfg.Authname, cfg.Password, cfg.Service, cfg.Host), nil
	}
	return nil, fmt.Errorf("sasl: mechanism %q not supported", name)
}

// ErrLimit is returned when a server asks for more than the client will
// do, such as a SCRAM iteration count above MaxSCRAMIterations, checked
// before any work is done.
var ErrLimit = errors.New("sasl: server parameters exceed the client's limits")

// guard runs deferred by every method that parses server data: a panic in a
// dependency becomes an error, so a bad server can never crash the checker,
// and an error's text, which may quote the server, is escaped and bounded
// (untrusted.Clean) while errors.Is still sees what it wraps.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("sasl: malformed server message (%v)", r)
	}
	if *err == nil {
		return
	}
	msg := (*err).Error()
	if clean := untrusted.Clean(msg, untrusted.MaxText); clean != msg {
		*err = &cleanError{msg: clean, err: *err}
	}
}

// cleanError is an error whose text has been made safe to print.
type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }
