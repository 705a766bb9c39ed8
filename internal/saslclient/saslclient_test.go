package saslclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
	"github.com/xdg-go/scram"
)

// RFC 2831 section 4, first example (IMAP, user chris, password secret).
func TestDigestMD5RFC2831Example(t *testing.T) {
	d := NewDigestMD5("chris", "secret", "imap", "elwood.innosoft.com")
	d.newCnonce = func() (string, error) { return "OA6MHXh6VqTrRk", nil }
	if init, err := d.Start(); err != nil || init != nil {
		t.Fatalf("Start = %q, %v; want nil initial response", init, err)
	}
	chal := `realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`
	resp, done, err := d.Step([]byte(chal))
	if err != nil || done {
		t.Fatalf("Step: %v done=%v", err, done)
	}
	f, err := parseDirectives(resp)
	if err != nil {
		t.Fatalf("own response does not parse: %v", err)
	}
	want := map[string]string{
		"charset": "utf-8", "username": "chris", "realm": "elwood.innosoft.com",
		"nonce": "OA6MG9tEQGm2hh", "nc": "00000001", "cnonce": "OA6MHXh6VqTrRk",
		"digest-uri": "imap/elwood.innosoft.com", "qop": "auth",
		"response": "d388dad90d4bbd760a152321f2143af7", // published in RFC 2831
	}
	for k, v := range want {
		if got := f.one(k); got != v {
			t.Errorf("%s = %q, want %q (response %s)", k, got, v, resp)
		}
	}
	if d.Verified() {
		t.Fatal("verified before rspauth")
	}
	// RFC 2831's published rspauth for the same exchange.
	if _, done, err := d.Step([]byte("rspauth=ea40f60335c427b5527b84dbabcdfffd")); err != nil || !done {
		t.Fatalf("rspauth: %v done=%v", err, done)
	}
	if !d.Verified() {
		t.Fatal("not verified after good rspauth")
	}
}

func digestAfterChallenge(t *testing.T) *DigestMD5 {
	d := NewDigestMD5("nova", "pw", "libvirt", "compute01")
	d.Start()
	if _, _, err := d.Step([]byte(`realm="compute01",nonce="abc",qop="auth,auth-int,auth-conf",cipher="rc4",maxbuf=65536,charset=utf-8,algorithm=md5-sess`)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDigestMD5BadRspauth(t *testing.T) {
	d := digestAfterChallenge(t)
	if _, _, err := d.Step([]byte("rspauth=00000000000000000000000000000000")); !errors.Is(err, ErrServerNotVerified) {
		t.Fatalf("err = %v, want ErrServerNotVerified", err)
	}
	if d.Verified() {
		t.Fatal("verified with wrong rspauth")
	}
	d = digestAfterChallenge(t)
	if _, _, err := d.Step([]byte(`realm="x"`)); err == nil {
		t.Fatal("missing rspauth accepted")
	}
}

func TestDigestMD5LibvirtURI(t *testing.T) {
	d := NewDigestMD5("nova", "pw", "libvirt", "compute01.example.org")
	d.Start()
	resp, _, err := d.Step([]byte(`nonce="n",realm="compute01",qop="auth",algorithm=md5-sess`))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := parseDirectives(resp)
	if f.one("digest-uri") != "libvirt/compute01.example.org" || f.one("realm") != "compute01" || f.one("charset") != "" {
		t.Fatalf("response %s", resp)
	}
}

func TestDigestMD5MalformedChallenges(t *testing.T) {
	bad := []string{
		"",
		",,,",
		`nonce`,
		`nonce=`,
		`nonce="abc`,
		`realm="r",qop="auth",algorithm=md5-sess`,                          // no nonce
		`nonce="a",nonce="b",algorithm=md5-sess`,                           // repeated nonce
		`nonce="a",qop="auth"`,                                             // no algorithm
		`nonce="a",algorithm=md5`,                                          // wrong algorithm
		`nonce="a",qop="auth-conf",algorithm=md5-sess`,                     // no qop=auth
		`nonce="a",charset=latin1,algorithm=md5-sess`,                      // bad charset
		`nonce="a" junk,algorithm=md5-sess`,                                // garbage after value
		`nonce=a"b,algorithm=md5-sess`,                                     // stray quote
		`="x",nonce="a",algorithm=md5-sess`,                                // empty name
		"\x00\xff\xfe",                                                     // binary
		strings.Repeat("a=b,", maxChallenge/4+1),                           // too long
		`nonce="a",algorithm=md5-sess,algorithm=md5-sess`,                  // repeated algorithm
		`nonce="a\",algorithm=md5-sess`,                                    // escape eats the closing quote
		`nonce = "a" , algorithm = md5-sess , qop = "auth" ,charset=UTF-8`, // fine: LWS allowed
	}
	for i, c := range bad {
		d := NewDigestMD5("u", "p", "libvirt", "h")
		d.Start()
		_, _, err := d.Step([]byte(c))
		if i == len(bad)-1 {
			if err != nil {
				t.Errorf("valid challenge with whitespace rejected: %v", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("challenge %q accepted", c)
		}
	}
}

func TestDigestMD5Charset(t *testing.T) {
	// With charset=utf-8, ISO 8859-1 representable values are hashed as
	// ISO 8859-1 (RFC 2831 2.1.2.1): "pässword" must hash like its Latin-1
	// bytes.
	if got := hashCharset("pässword"); got != "p\xe4ssword" {
		t.Fatalf("hashCharset = %q", got)
	}
	if got := hashCharset("日本"); got != "日本" {
		t.Fatalf("non-Latin-1 value changed: %q", got)
	}
}

func TestStepBeforeStart(t *testing.T) {
	for _, name := range Supported {
		m, err := New(name, Config{Authname: "nova", Password: "pw", Service: "libvirt", Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Step([]byte("x")); err == nil {
			t.Errorf("%s: Step before Start accepted", name)
		}
	}
	if _, err := New("PLAIN", Config{}); err == nil {
		t.Fatal("unsupported mechanism accepted")
	}
}

// scramServer returns an xdg-go/scram server conversation knowing nova/pw.
func scramServer(t *testing.T, password string) *scram.ServerConversation {
	t.Helper()
	srv, err := scram.SHA256.NewServer(func(user string) (scram.StoredCredentials, error) {
		c, err := scram.SHA256.NewClient(user, password, "")
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		return c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096})
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv.NewConversation()
}

func TestSCRAMAgainstServer(t *testing.T) {
	sc := scramServer(t, "pw")
	m, err := NewSCRAMSHA256("nova", "pw")
	if err != nil {
		t.Fatal(err)
	}
	c1, err := m.Start()
	if err != nil || !strings.HasPrefix(string(c1), "n,,n=nova,r=") {
		t.Fatalf("client-first %q %v", c1, err)
	}
	s1, err := sc.Step(string(c1))
	if err != nil {
		t.Fatal(err)
	}
	c2, done, err := m.Step([]byte(s1))
	if err != nil || done {
		t.Fatalf("client-final: %v %v", err, done)
	}
	s2, err := sc.Step(string(c2))
	if err != nil || !sc.Valid() {
		t.Fatalf("server rejected client: %v", err)
	}
	if _, done, err := m.Step([]byte(s2)); err != nil || !done {
		t.Fatalf("server-final: %v %v", err, done)
	}
	if !m.Verified() {
		t.Fatal("not verified")
	}
}

func TestSCRAMBadServerSignature(t *testing.T) {
	sc := scramServer(t, "pw")
	m, _ := NewSCRAMSHA256("nova", "pw")
	c1, _ := m.Start()
	s1, _ := sc.Step(string(c1))
	m.Step([]byte(s1))
	// A forged server-final (an impostor that does not know the password).
	_, _, err := m.Step([]byte("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	if !errors.Is(err, ErrServerNotVerified) || m.Verified() {
		t.Fatalf("forged server signature accepted (err %v)", err)
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	sc := scramServer(t, "right")
	m, _ := NewSCRAMSHA256("nova", "wrong")
	c1, _ := m.Start()
	s1, _ := sc.Step(string(c1))
	c2, _, _ := m.Step([]byte(s1))
	s2, err := sc.Step(string(c2))
	if err == nil && sc.Valid() {
		t.Fatal("server accepted wrong password")
	}
	if s2 != "" {
		if _, _, err := m.Step([]byte(s2)); err == nil {
			t.Fatal("client accepted server error")
		}
	}
}

func TestSCRAMMalformed(t *testing.T) {
	bad := []string{"", "garbage", "r=", "r=x,s=,i=1", "r=wrongnonce,s=c2FsdA==,i=4096", "m=ext,r=a,s=b,i=1",
		"r=%s,s=!!!,i=4096", "r=%s,s=c2FsdA==,i=1", "r=%s,s=c2FsdA==,i=notanumber", "\x00\xff"}
	for _, b := range bad {
		m, _ := NewSCRAMSHA256("nova", "pw")
		c1, _ := m.Start()
		nonce := string(c1[strings.Index(string(c1), "r=")+2:])
		chal := strings.ReplaceAll(b, "%s", nonce+"srv")
		if _, _, err := m.Step([]byte(chal)); err == nil {
			t.Errorf("server-first %q accepted", chal)
		}
	}
	// server-final garbage after a good server-first
	for _, b := range []string{"", "x", "v=", "v=!!!", "e=other-error", ","} {
		sc := scramServer(t, "pw")
		m, _ := NewSCRAMSHA256("nova", "pw")
		c1, _ := m.Start()
		s1, _ := sc.Step(string(c1))
		m.Step([]byte(s1))
		if _, _, err := m.Step([]byte(b)); err == nil || m.Verified() {
			t.Errorf("server-final %q accepted", b)
		}
	}
}

func FuzzDigestChallenge(f *testing.F) {
	f.Add([]byte(`realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDigestMD5("u", "p", "libvirt", "h")
		d.Start()
		d.Step(b)
		d.Step(b)
	})
}

// serverFirst answers m's client-first with a server-first built from
// format, where %s stands for the client's nonce.
func serverFirst(t *testing.T, m *SCRAM, format string) []byte {
	t.Helper()
	c1, err := m.Start()
	if err != nil {
		t.Fatal(err)
	}
	nonce := string(c1[strings.Index(string(c1), "r=")+2:])
	return []byte(strings.ReplaceAll(format, "%s", nonce))
}

func TestSCRAMLimits(t *testing.T) {
	salt := "c2FsdHNhbHRzYWx0c2FsdA==" // 16 bytes, as Cyrus uses
	over := []string{
		"r=%ssrv,s=" + salt + ",i=4294967295",
		"r=%ssrv,s=" + salt + ",i=100001",
		"r=%ssrv,s=" + salt + ",i=000000000000000000000000000000000000000099999999999999999999",
		"r=%s" + strings.Repeat("n", 600) + ",s=" + salt + ",i=4096",
		"r=%ssrv,s=" + strings.Repeat("AAAA", 100) + ",i=4096",
		"r=%ssrv,s=" + salt + ",i=4096,x=" + strings.Repeat("y", 2048),
	}
	for _, f := range over {
		m, _ := NewSCRAMSHA256("nova", "pw")
		_, _, err := m.Step(serverFirst(t, m, f))
		if !errors.Is(err, ErrLimit) || len(err.Error()) > 200 {
			t.Errorf("server-first %.80q: err = %v, want a short ErrLimit", f, err)
		}
	}
	// Not numbers: errors, but not limits (the library alone took "+N").
	for _, i := range []string{"+4096", "-1", " 4096", "4096 ", "0x1000", ""} {
		m, _ := NewSCRAMSHA256("nova", "pw")
		_, _, err := m.Step(serverFirst(t, m, "r=%ssrv,s="+salt+",i="+i))
		if err == nil || errors.Is(err, ErrLimit) {
			t.Errorf("i=%q: err = %v, want a malformed-message error", i, err)
		}
	}
	// The bound itself is accepted.
	m, _ := NewSCRAMSHA256("nova", "pw")
	if resp, _, err := m.Step(serverFirst(t, m, "r=%ssrv,s="+salt+",i=100000")); err != nil || !strings.HasPrefix(string(resp), "c=biws,r=") {
		t.Fatalf("i=100000: %q, %v", resp, err)
	}
}

func TestErrorTextIsCleaned(t *testing.T) {
	junk := "\x1b]0;pwned\x07\u009b2J\u202e" + strings.Repeat("Z", 60000)
	d := NewDigestMD5("u", "p", "libvirt", "h")
	d.Start()
	_, _, err := d.Step([]byte(`nonce="a",algorithm=md5-sess,charset="` + junk + `"`))
	checkClean(t, err, nil)

	sc := scramServer(t, "pw")
	m, _ := NewSCRAMSHA256("nova", "pw")
	c1, _ := m.Start()
	s1, _ := sc.Step(string(c1))
	m.Step([]byte(s1))
	_, _, err = m.Step([]byte("e=" + junk))
	checkClean(t, err, ErrRejected)
}

// checkClean wants a non-nil error that is still errors.Is target (when
// given) and whose text is bounded and holds no control characters.
func checkClean(t *testing.T, err, target error) {
	t.Helper()
	if err == nil || (target != nil && !errors.Is(err, target)) {
		t.Fatalf("err = %v, want one wrapping %v", err, target)
	}
	msg := err.Error()
	if len(msg) > untrusted.MaxText || strings.ContainsAny(msg, "\x1b\x07\u009b\u202e") {
		t.Fatalf("error text of %d bytes: %.200q", len(msg), msg)
	}
}

// FuzzSCRAMServerFirst feeds any server-first ("%s" stands for the
// client's nonce) and server-final to the client: no panic, and never an
// unbounded key derivation (a hang here is a failure).
func FuzzSCRAMServerFirst(f *testing.F) {
	f.Add("r=%ssrv,s=c2FsdA==,i=4096", "v=AAAA")
	f.Add("r=%ssrv,s=c2FsdA==,i=4294967295", "")
	f.Add("r=%ssrv,s=c2FsdA==,i=+99999999999", "e=\x1b[2J")
	f.Fuzz(func(t *testing.T, first, final string) {
		m, _ := NewSCRAMSHA256("nova", "pw")
		if _, _, err := m.Step(serverFirst(t, m, first)); err != nil {
			return
		}
		if _, _, err := m.Step([]byte(final)); err == nil || m.Verified() {
			t.Fatalf("forged server-final %q accepted", final)
		}
	})
}
