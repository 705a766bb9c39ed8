package live

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// The mechanisms whose refusals tell an unknown user from a wrong
// password, each its own way.
const (
	mechSCRAMSHA256 = "SCRAM-SHA-256"
	mechDigestMD5   = "DIGEST-MD5"
)

// unknownUser turns an auth-failed refusal into sasl-unknown-user when it
// is the daemon's sasldb lacking the user in the realm the daemon
// computes (its host name, or its FQDN when that resolves to one).
// libvirtd says only "authentication failed" (error 45) over RPC either
// way (Cyrus's "user not found: unable to canonify user and get
// auxprops" stays in its log), so the refusal is told by where it came:
//   - SCRAM-SHA-256: Cyrus looks the user up to answer the client's
//     first message (AUTH_SASL_START); a wrong password fails only at
//     the proof (AUTH_SASL_STEP). A refused START is an unknown user.
//   - DIGEST-MD5: both fail at STEP, but the challenge names the
//     daemon's realm (Result.ServerRealm): a realm the host's sasldb
//     does not hold the user in (Credentials.Realms) is an unknown user.
func (ck *checker) unknownUser(err error, mech string) error {
	var f *failure
	if !errors.As(err, &f) || f.class != ClassAuthFailed {
		return err
	}
	realm := ck.r.ServerRealm
	switch {
	case mech == mechSCRAMSHA256 && ck.lastStep() == "sasl-start":
		return &failure{class: ClassSASLUnknownUser, err: fmt.Errorf("%w: SCRAM-SHA-256 was refused at its first message, before any password is checked: libvirtd's sasldb has no user %q in the realm libvirtd computes", err, ck.c.Authname)}
	case mech == mechDigestMD5 && realm != "" && ck.c.Realms != nil && !slices.ContainsFunc(ck.c.Realms, func(r string) bool { return strings.EqualFold(r, realm) }):
		return &failure{class: ClassSASLUnknownUser, err: fmt.Errorf("%w: libvirtd's realm is %q, and the host's sasldb has no user %q there", err, realm, ck.c.Authname)}
	case mech == mechDigestMD5 && realm != "":
		return &failure{class: ClassAuthFailed, err: fmt.Errorf("%w (libvirtd's realm is %q)", err, realm)}
	}
	return err
}

// digestRealmRE finds the first realm directive of a DIGEST-MD5
// challenge (RFC 2831: realm="..."; Cyrus takes the first by default).
var digestRealmRE = regexp.MustCompile(`(?:^|,)\s*realm\s*=\s*"((?:[^"\\]|\\.)*)"`)

// digestRealm is the realm a DIGEST-MD5 challenge names ("" for none),
// unquoted and cleaned for reports: the peer chose it.
func digestRealm(challenge []byte) string {
	m := digestRealmRE.FindSubmatch(challenge)
	if m == nil {
		return ""
	}
	var b strings.Builder
	escaped := false
	for _, c := range string(m[1]) {
		if c == '\\' && !escaped {
			escaped = true
			continue
		}
		escaped = false
		b.WriteRune(c)
	}
	return untrusted.Clean(b.String(), untrusted.MaxName)
}
