package saslclient

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxChallenge bounds DIGEST-MD5 challenges (RFC 2831 says 2048 bytes; we
// allow libvirt's whole SASL token size but parse nothing larger).
const maxChallenge = 65536

// DigestMD5 is an RFC 2831 DIGEST-MD5 client conversation, authentication
// only (qop=auth): libvirt over TLS offers exactly that, since the TLS
// layer already protects the stream.
type DigestMD5 struct {
	authname, password string
	service, host      string
	newCnonce          func() (string, error) // replaced in tests
	state              int                    // 0 new, 1 started, 2 response sent, 3 verified
	expectRspauth      string                 // hex rspauth we expect from the server
}

// NewDigestMD5 prepares a DIGEST-MD5 conversation whose digest-uri is
// service/host (libvirt: "libvirt/<host the client connected to>").
func NewDigestMD5(authname, password, service, host string) *DigestMD5 {
	return &DigestMD5{authname: authname, password: password, service: service, host: host, newCnonce: randomCnonce}
}

func randomCnonce() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// Name implements Mechanism.
func (d *DigestMD5) Name() string { return "DIGEST-MD5" }

// Start returns no initial response: DIGEST-MD5 is server-first.
func (d *DigestMD5) Start() ([]byte, error) {
	if d.state != 0 {
		return nil, errors.New("digest-md5: already started")
	}
	d.state = 1
	return nil, nil
}

// Step answers the digest-challenge with a digest-response, then checks
// the server's rspauth.
func (d *DigestMD5) Step(challenge []byte) (response []byte, done bool, err error) {
	defer guard(&err)
	switch d.state {
	case 1:
		resp, err := d.respond(challenge)
		if err != nil {
			return nil, false, err
		}
		d.state = 2
		return resp, false, nil
	case 2:
		fields, err := parseDirectives(challenge)
		if err != nil {
			return nil, false, fmt.Errorf("digest-md5: response-auth: %w", err)
		}
		got := fields.one("rspauth")
		if got == "" {
			return nil, false, errors.New("digest-md5: server sent no rspauth")
		}
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(d.expectRspauth)) != 1 {
			return nil, false, ErrServerNotVerified
		}
		d.state = 3
		return nil, true, nil
	case 3:
		return nil, false, errors.New("digest-md5: unexpected challenge after rspauth")
	}
	return nil, false, errors.New("digest-md5: Step before Start")
}

// Verified implements Mechanism.
func (d *DigestMD5) Verified() bool { return d.state == 3 }

func (d *DigestMD5) respond(challenge []byte) ([]byte, error) {
	f, err := parseDirectives(challenge)
	if err != nil {
		return nil, fmt.Errorf("digest-md5: challenge: %w", err)
	}
	for _, k := range []string{"nonce", "qop", "charset", "algorithm", "maxbuf", "stale"} {
		if len(f[k]) > 1 {
			return nil, fmt.Errorf("digest-md5: challenge repeats %q", k)
		}
	}
	nonce := f.one("nonce")
	if nonce == "" {
		return nil, errors.New("digest-md5: challenge has no nonce")
	}
	if !strings.EqualFold(f.one("algorithm"), "md5-sess") {
		return nil, errors.New("digest-md5: challenge lacks algorithm=md5-sess")
	}
	qops := "auth" // RFC 2831: absent qop means "auth"
	if v, ok := f["qop"]; ok {
		qops = v[0]
	}
	hasAuth := false
	for _, q := range strings.Split(qops, ",") {
		if strings.EqualFold(strings.TrimSpace(q), "auth") {
			hasAuth = true
		}
	}
	if !hasAuth {
		return nil, fmt.Errorf("digest-md5: server does not offer qop=auth (offers %q)", qops)
	}
	utf8Charset := false
	if cs, ok := f["charset"]; ok {
		if !strings.EqualFold(cs[0], "utf-8") {
			return nil, fmt.Errorf("digest-md5: unsupported charset %q", cs[0])
		}
		utf8Charset = true
	}
	// The server names its realm; libvirt's is the server's host name.
	// With several, take the first, as Cyrus does by default.
	realm := ""
	if r := f["realm"]; len(r) > 0 {
		realm = r[0]
	}
	cnonce, err := d.newCnonce()
	if err != nil {
		return nil, fmt.Errorf("digest-md5: cnonce: %w", err)
	}
	const nc = "00000001"
	digestURI := d.service + "/" + d.host

	// A1 = H(user:realm:pass) ":" nonce ":" cnonce   (no authzid)
	inner := md5.Sum([]byte(hashCharset(d.authname) + ":" + hashCharset(realm) + ":" + hashCharset(d.password)))
	a1 := make([]byte, 0, 16+2+len(nonce)+len(cnonce))
	a1 = append(a1, inner[:]...)
	a1 = append(a1, ":"+nonce+":"+cnonce...)
	ha1 := md5Hex(a1)
	kd := func(a2 string) string {
		return md5Hex([]byte(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + md5Hex([]byte(a2))))
	}
	response := kd("AUTHENTICATE:" + digestURI)
	d.expectRspauth = kd(":" + digestURI)

	var b strings.Builder
	if utf8Charset {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, "username=%s,", quote(d.authname))
	if _, ok := f["realm"]; ok {
		fmt.Fprintf(&b, "realm=%s,", quote(realm))
	}
	fmt.Fprintf(&b, "nonce=%s,nc=%s,cnonce=%s,digest-uri=%s,response=%s,qop=auth",
		quote(nonce), nc, quote(cnonce), quote(digestURI), response)
	return []byte(b.String()), nil
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// hashCharset applies RFC 2831's rule: with charset=utf-8, a value whose
// characters all fit ISO 8859-1 is hashed in ISO 8859-1; otherwise in
// UTF-8. Without charset the value is taken as ISO 8859-1 when it can be.
func hashCharset(s string) string {
	if !utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		out = append(out, byte(r))
	}
	return string(out)
}

// quote renders a quoted-string, escaping '"' and '\'.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

type directives map[string][]string

func (d directives) one(k string) string {
	if v := d[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseDirectives parses RFC 2831's comma-separated list of
// name=token / name="quoted-string" pairs, tolerating linear whitespace and
// empty list elements. Names are lowercased.
func parseDirectives(b []byte) (directives, error) {
	if len(b) > maxChallenge {
		return nil, fmt.Errorf("%d bytes is too long", len(b))
	}
	s := string(b)
	out := directives{}
	i := 0
	isLWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	for {
		for i < len(s) && (isLWS(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && !isLWS(s[i]) && s[i] != '"' {
			i++
		}
		name := strings.ToLower(s[start:i])
		if name == "" {
			return nil, fmt.Errorf("expected a directive name at offset %d", start)
		}
		for i < len(s) && isLWS(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("directive %q has no value", name)
		}
		i++
		for i < len(s) && isLWS(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				val.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value for %q", name)
			}
		} else {
			start := i
			for i < len(s) && s[i] != ',' && !isLWS(s[i]) {
				if s[i] == '"' {
					return nil, fmt.Errorf("stray quote in %q", name)
				}
				i++
			}
			val.WriteString(s[start:i])
		}
		out[name] = append(out[name], val.String())
		for i < len(s) && isLWS(s[i]) {
			i++
		}
		if i < len(s) && s[i] != ',' {
			return nil, fmt.Errorf("expected ',' after %q", name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty challenge")
	}
	return out, nil
}
