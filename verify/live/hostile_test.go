package live

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libvirt-pki/libvirt-pki/internal/rpc"
	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// These tests need no libvirtd: they pit the checker against Go listeners
// that misbehave in the ways real networks do.

func TestRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here any more
	p := newPKI(t)
	wantClass(t, checkQuick(t, addr, p.creds("pw"), Options{}), ClassRefused)
}

func TestNotTLS(t *testing.T) {
	// A plain TCP service that greets with text, like sshd or a
	// misconfigured listen_tcp port.
	addr := listen(t, func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"))
		bufio.NewReader(c).ReadString('\n')
	})
	p := newPKI(t)
	wantClass(t, checkQuick(t, addr, p.creds("pw"), Options{}), ClassNotTLS)
}

func TestNotTLSHangsUp(t *testing.T) {
	// A plain service that reads the ClientHello and hangs up.
	addr := listen(t, func(c net.Conn) {
		c.Read(make([]byte, 1024))
	})
	p := newPKI(t)
	wantClass(t, checkQuick(t, addr, p.creds("pw"), Options{}), ClassNotTLS)
}

func TestTimeoutSilentListener(t *testing.T) {
	// Accepts and never speaks.
	addr := listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Read(make([]byte, 64<<10))
		time.Sleep(30 * time.Second)
	})
	p := newPKI(t)
	r := checkQuick(t, addr, p.creds("pw"), Options{Timeout: time.Second})
	wantClass(t, r, ClassTimeout)
	if last := r.Steps[len(r.Steps)-1].Name; last != "tls-handshake" {
		t.Fatalf("timed out in %q, want tls-handshake", last)
	}
}

func TestTimeoutNoConfirmationByte(t *testing.T) {
	// Completes TLS, then never sends libvirt's 0x01.
	p := newPKI(t)
	addr := listen(t, func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{p.server.tls}})
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if tc.Handshake() == nil {
			tc.Read(make([]byte, 1))
		}
	})
	r := checkQuick(t, addr, p.creds("pw"), Options{Timeout: time.Second})
	wantClass(t, r, ClassTimeout)
	if last := r.Steps[len(r.Steps)-1].Name; last != "confirmation" {
		t.Fatalf("timed out in %q, want confirmation", last)
	}
}

func TestGarbage(t *testing.T) {
	addr := listen(t, func(c net.Conn) {
		b := make([]byte, 4096)
		rand.Read(b)
		c.Write(b)
		c.Read(make([]byte, 1024))
	})
	p := newPKI(t)
	for i := 0; i < 20; i++ {
		r := checkQuick(t, addr, p.creds("pw"), Options{Timeout: time.Second})
		if r.Class != ClassNotTLS && r.Class != ClassError && r.Class != ClassTimeout {
			t.Fatalf("garbage classified %q: %s", r.Class, r.Err)
		}
	}
}

func TestGarbageTLSRecordHeader(t *testing.T) {
	// Bytes that look like a TLS handshake record, then junk.
	addr := listen(t, func(c net.Conn) {
		b := make([]byte, 300)
		rand.Read(b)
		copy(b, []byte{0x16, 0x03, 0x03, 0x01, 0x00})
		c.Write(b)
		c.Read(make([]byte, 1024))
	})
	p := newPKI(t)
	r := checkQuick(t, addr, p.creds("pw"), Options{Timeout: time.Second})
	if r.Class != ClassNotTLS && r.Class != ClassError {
		t.Fatalf("class %q: %s", r.Class, r.Err)
	}
}

func TestGarbageAfterConfirmation(t *testing.T) {
	// A TLS peer that confirms, then answers AUTH_LIST with junk.
	p := newPKI(t)
	addr := listen(t, func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{p.server.tls}})
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if tc.Handshake() != nil {
			return
		}
		tc.Write([]byte{1})
		tc.Read(make([]byte, 1024))
		tc.Write([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	})
	r := checkQuick(t, addr, p.creds("pw"), Options{Timeout: time.Second})
	wantClass(t, r, ClassProtocol)
}

func TestFakeServerOK(t *testing.T) {
	p := newPKI(t)
	for _, withComplete := range []bool{true, false} {
		f := &fakeLibvirtd{cert: p.server.tls, password: "s3cret", finalWithComplete: withComplete}
		addr := listen(t, f.serve)
		r := checkQuick(t, addr, p.creds("s3cret"), Options{})
		wantClass(t, r, ClassOK)
		if r.Mechanism != "SCRAM-SHA-256" || r.Identity != "nova" || r.Hostname != "fakehost" || r.LibVersion != "9.0.0" || r.TLSVersion == "" {
			t.Fatalf("result %+v", r)
		}
	}
}

func TestFakeServerNoAuth(t *testing.T) {
	p := newPKI(t)
	f := &fakeLibvirtd{cert: p.server.tls}
	r := checkQuick(t, listen(t, f.serve), p.creds(""), Options{})
	wantClass(t, r, ClassOK)
	if r.Mechanism != "none" || r.Identity == "" {
		t.Fatalf("mechanism %q identity %q", r.Mechanism, r.Identity)
	}
}

func TestFakeServerForgedSCRAMFinal(t *testing.T) {
	p := newPKI(t)
	f := &fakeLibvirtd{cert: p.server.tls, password: "s3cret", finalWithComplete: true, forgeFinal: true}
	wantClass(t, checkQuick(t, listen(t, f.serve), p.creds("s3cret"), Options{}), ClassAuthFailed)
}

func TestFakeServerWrongPassword(t *testing.T) {
	p := newPKI(t)
	f := &fakeLibvirtd{cert: p.server.tls, password: "s3cret"}
	wantClass(t, checkQuick(t, listen(t, f.serve), p.creds("wrong"), Options{}), ClassAuthFailed)
}

func TestFakeServerCertProblems(t *testing.T) {
	p := newPKI(t)
	expired := p.ca.leaf(t, leafOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	notYet := p.ca.leaf(t, leafOpts{notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
	expiredForeign := p.otherCA.leaf(t, leafOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	cnOnly := p.ca.leaf(t, leafOpts{cn: "localhost", noSAN: true})
	cases := []struct {
		name       string
		cert       tls.Certificate
		serverName string
		want       Class
	}{
		{"expired", expired.tls, "", ClassServerCertExpired},
		{"not yet valid", notYet.tls, "", ClassServerCertExpired},
		{"expired from another CA", expiredForeign.tls, "", ClassUnknownCA},
		{"other CA", p.otherServer.tls, "", ClassUnknownCA},
		{"name mismatch", p.server.tls, "compute99.example.org", ClassNameMismatch},
		{"SAN by name", p.server.tls, "localhost", ClassOK},
		{"CN-only cert accepted like GnuTLS", cnOnly.tls, "localhost", ClassOK},
		{"CN-only cert, other name", cnOnly.tls, "127.0.0.1", ClassNameMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLibvirtd{cert: tc.cert}
			addr := listen(t, f.serve)
			r := Check(context.Background(), Target{Addr: addr, ServerName: tc.serverName}, p.creds(""), Options{Timeout: 2 * time.Second})
			wantClass(t, r, tc.want)
		})
	}
}

func TestMatchHostname(t *testing.T) {
	p := newPKI(t)
	wild := p.ca.leaf(t, leafOpts{dns: []string{"*.compute.example.org", "Node1.Example.org"}})
	ipOnly := p.ca.leaf(t, leafOpts{cn: "node2", ips: []net.IP{net.ParseIP("10.0.0.2")}})
	dnsIP := p.ca.leaf(t, leafOpts{dns: []string{"10.0.0.3"}})
	cases := []struct {
		l    leaf
		name string
		want bool
	}{
		{wild, "a.compute.example.org", true},
		{wild, "a.b.compute.example.org", false},
		{wild, "compute.example.org", false},
		{wild, "node1.example.org.", true},
		{ipOnly, "10.0.0.2", true},
		{ipOnly, "node2", false}, // has an IP SAN, so the CN does not count
		{dnsIP, "10.0.0.3", true},
		{p.server, "127.0.0.1", true},
		{p.server, "127.0.0.2", false},
	}
	for _, c := range cases {
		if got := matchHostname(c.l.tls.Leaf, c.name); got != c.want {
			t.Errorf("%v vs %q = %v, want %v", c.l.tls.Leaf.DNSNames, c.name, got, c.want)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	addr := listen(t, func(c net.Conn) { time.Sleep(5 * time.Second) })
	p := newPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	start := time.Now()
	r := Check(ctx, Target{Addr: addr}, p.creds("pw"), Options{Timeout: 10 * time.Second})
	if r.Class != ClassError || time.Since(start) > 5*time.Second {
		t.Fatalf("class %q after %s: %s", r.Class, time.Since(start), r.Err)
	}
}

func TestCheckAllBounded(t *testing.T) {
	// 8 silent peers, concurrency 4: never more than 4 checks in flight,
	// so the run lasts two timeouts, not eight; results come in job order.
	var inFlight, maxInFlight atomic.Int32
	checkFunc = func(ctx context.Context, tg Target, c Credentials, o Options) Result {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		return Check(ctx, tg, c, o)
	}
	defer func() { checkFunc = Check }()
	addr := listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 64<<10))
		c.Read(make([]byte, 1))
	})
	p := newPKI(t)
	jobs := make([]Job, 8)
	for i := range jobs {
		jobs[i] = Job{Target: Target{Host: fmt.Sprint("h", i), Addr: addr}, Credentials: p.creds("pw"), Options: Options{Timeout: 300 * time.Millisecond}}
	}
	rs := CheckAll(context.Background(), jobs, 4)
	for i, r := range rs {
		if r.Class != ClassTimeout || r.Target.Host != jobs[i].Target.Host {
			t.Fatalf("result %d: %s %q: %s", i, r.Target.Host, r.Class, r.Err)
		}
	}
	if m := maxInFlight.Load(); m != 4 {
		t.Fatalf("%d checks were in flight at most, want exactly the limit 4", m)
	}
}

func TestTargetDefaults(t *testing.T) {
	cases := []struct{ in, addr, name string }{
		{"compute01", "compute01:16514", "compute01"},
		{"10.0.0.1:1234", "10.0.0.1:1234", "10.0.0.1"},
		{"[fd00::1]", "[fd00::1]:16514", "fd00::1"},
	}
	for _, c := range cases {
		got := Target{Addr: c.in}.withDefaults()
		if got.Addr != c.addr || got.ServerName != c.name {
			t.Errorf("%q -> %+v", c.in, got)
		}
	}
	if got := (Target{Host: "node"}).withDefaults(); got.Addr != "node:16514" {
		t.Errorf("Host default -> %+v", got)
	}
}

func TestClientCertRejectedByGoServer(t *testing.T) {
	// A TLS server that verifies client certificates itself: with TLS 1.2
	// the rejection arrives as an alert during the handshake, with TLS 1.3
	// on the first read (where libvirt's confirmation byte would be).
	p := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		addr := listen(t, func(c net.Conn) {
			tc := tls.Server(c, &tls.Config{
				Certificates: []tls.Certificate{p.server.tls}, MaxVersion: v,
				ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.pool(),
			})
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.Handshake() == nil {
				tc.Write([]byte{1})
			}
		})
		c := p.creds("")
		c.ClientCert = p.otherClient.tls
		r := checkQuick(t, addr, c, Options{})
		wantClass(t, r, ClassClientCertRejected)
		if r.TLSVersion != tls.VersionName(v) {
			t.Fatalf("TLS version %q, want %q", r.TLSVersion, tls.VersionName(v))
		}
	}
}

// saslPeer answers AUTH_LIST with "SASL required", AUTH_SASL_INIT with
// mechs, and AUTH_SASL_START with what start returns for the client's
// initial response (a reply packet body and status).
func saslPeer(t *testing.T, p *pki, mechs string, start func(initial []byte) (uint32, []byte)) string {
	return rpcPeer(t, p.server.tls, func(c net.Conn, proc, serial uint32, args []byte) bool {
		var body rpc.Encoder
		status := uint32(rpc.StatusOK)
		switch proc {
		case rpc.ProcAuthList:
			body.Uint32(1)
			body.Uint32(rpc.AuthSASL)
		case rpc.ProcAuthSASLInit:
			body.String(mechs)
		case rpc.ProcAuthSASLStart:
			d := rpc.NewDecoder(args)
			d.String(0)
			d.Int32()
			initial, _ := d.CharArray(rpc.MaxSASLData)
			var b []byte
			status, b = start(initial)
			c.Write(replyPacket(proc, serial, status, b))
			return true
		default:
			return false
		}
		c.Write(replyPacket(proc, serial, status, body.Bytes()))
		return true
	})
}

// evilText carries terminal escapes (CSI, OSC, C1 CSI), a bidi override
// and a zero-width space.
const evilText = "\x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\u200b"

// wantInert fails unless every string of r is short and holds nothing a
// terminal or a bidi-aware viewer would interpret, and the whole result
// stays small once encoded for a report.
func wantInert(t *testing.T, r Result) {
	t.Helper()
	fields := []string{r.Err, r.Mechanism, r.Identity, r.Hostname, r.LibVersion, r.TLSVersion}
	for _, st := range r.Steps {
		fields = append(fields, st.Detail)
	}
	for _, f := range fields {
		if len(f) > untrusted.MaxText || !utf8.ValidString(f) {
			t.Fatalf("field of %d bytes: %.200q", len(f), f)
		}
		for _, c := range f {
			if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("field keeps %U: %.300q", c, f)
			}
		}
	}
	if j, _ := json.Marshal(r); len(j) > 16<<10 {
		t.Fatalf("result encodes to %d bytes", len(j))
	}
}

func TestHostileMechanismList(t *testing.T) {
	// 3.5 MB of escape sequences around the mechanism libvirt would use.
	p := newPKI(t)
	huge := strings.Repeat(evilText+",SCRAM-SHA-256,", 3500000/(len(evilText)+15))
	for _, mechs := range []string{huge, "SCRAM-SHA-256," + strings.Repeat("X,", 100000)} {
		addr := saslPeer(t, p, mechs, func([]byte) (uint32, []byte) { return rpc.StatusOK, nil })
		r := checkQuick(t, addr, p.creds("pw"), Options{})
		wantClass(t, r, ClassProtocol)
		wantInert(t, r)
	}
}

func TestHostileErrorMessage(t *testing.T) {
	// libvirtd's error message reaches the report; this one is 1 MB of
	// escapes.
	p := newPKI(t)
	msg := strings.Repeat(evilText, 1<<20/len(evilText))
	addr := saslPeer(t, p, "SCRAM-SHA-256", func([]byte) (uint32, []byte) {
		var e rpc.Encoder
		e.Int32(rpc.ErrCodeAuthFailed)
		e.Int32(7)
		e.OptString(&msg)
		e.Int32(2)
		return rpc.StatusError, e.Bytes()
	})
	r := checkQuick(t, addr, p.creds("pw"), Options{})
	// Refused at SCRAM's first message: how libvirtd refuses a user its
	// sasldb lacks in its realm.
	wantClass(t, r, ClassSASLUnknownUser)
	wantInert(t, r)
}

func TestHostileCertificateAndHostname(t *testing.T) {
	p := newPKI(t)
	evil := p.ca.leaf(t, leafOpts{
		cn:  evilText + strings.Repeat("x", 2000),
		dns: []string{"localhost", "evil\x1b[2J\x1b[31m.example.org"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	f := &fakeLibvirtd{cert: evil.tls, hostname: evilText + strings.Repeat("h", 100000)}
	addr := listen(t, f.serve)
	r := checkQuick(t, addr, p.creds(""), Options{})
	wantClass(t, r, ClassOK) // the subject is in the handshake's detail
	wantInert(t, r)
	r = Check(context.Background(), Target{Addr: addr, ServerName: "compute99"}, p.creds(""), Options{Timeout: 2 * time.Second})
	wantClass(t, r, ClassNameMismatch) // the names are in the error
	wantInert(t, r)
}

// scramFirst answers a SCRAM client-first with a server-first built from
// format, "%s" standing for the client's nonce.
func scramFirst(format string) func([]byte) (uint32, []byte) {
	return func(initial []byte) (uint32, []byte) {
		_, nonce, _ := strings.Cut(string(initial), ",r=")
		var e rpc.Encoder
		e.Bool(false)
		e.Bool(false)
		e.CharArray([]byte(strings.ReplaceAll(format, "%s", nonce)))
		return rpc.StatusOK, e.Bytes()
	}
}

func TestHostileSCRAMParameters(t *testing.T) {
	// Key derivation cannot be interrupted by the timeout, so these must
	// be refused before it starts: the old client spent hours on the first.
	p := newPKI(t)
	for _, first := range []string{
		"r=%sxyz,s=c2FsdHNhbHRzYWx0c2FsdA==,i=4294967295",
		"r=%sxyz,s=c2FsdHNhbHRzYWx0c2FsdA==,i=100001",
		"r=%sxyz,s=" + strings.Repeat("c2Fs", 100) + ",i=4096",
		"r=%s" + strings.Repeat("n", 1000) + ",s=c2FsdHNhbHRzYWx0c2FsdA==,i=4096",
	} {
		r := checkQuick(t, saslPeer(t, p, "SCRAM-SHA-256", scramFirst(first)), p.creds("pw"), Options{})
		wantClass(t, r, ClassSASLLimits)
		wantInert(t, r)
	}
	// A malformed count is a protocol error, not a limit.
	r := checkQuick(t, saslPeer(t, p, "SCRAM-SHA-256", scramFirst("r=%sxyz,s=c2FsdA==,i=+4096")), p.creds("pw"), Options{})
	wantClass(t, r, ClassProtocol)
}

func TestHostileEndlessSASL(t *testing.T) {
	// A server that proves itself, then never declares SASL complete.
	p := newPKI(t)
	f := &fakeLibvirtd{cert: p.server.tls, password: "s3cret", endlessSASL: true}
	r := checkQuick(t, listen(t, f.serve), p.creds("s3cret"), Options{})
	wantClass(t, r, ClassProtocol)
	if n := len(r.Steps); r.Steps[n-1].Name != "sasl-step" || !strings.Contains(r.Err, "did not complete") {
		t.Fatalf("ended in %q: %s", r.Steps[n-1].Name, r.Err)
	}
}

func TestHostileLengthPrefix(t *testing.T) {
	// Libvirt packets hold at most 16 MiB after the length word; a larger
	// announcement is refused at once, without waiting for the bytes.
	p := newPKI(t)
	for _, n := range []uint32{rpc.MaxMessage + 5, 0xffffffff} {
		addr := rpcPeer(t, p.server.tls, func(c net.Conn, proc, serial uint32, _ []byte) bool {
			c.Write(binary.BigEndian.AppendUint32(nil, n))
			time.Sleep(30 * time.Second)
			return false
		})
		r := checkQuick(t, addr, p.creds("pw"), Options{})
		wantClass(t, r, ClassProtocol)
	}
}

// trickleConn writes one byte at a time, pausing between bytes.
type trickleConn struct {
	net.Conn
	pause time.Duration
}

func (c trickleConn) Write(b []byte) (int, error) {
	for i := range b {
		if _, err := c.Conn.Write(b[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(c.pause)
	}
	return len(b), nil
}

func TestHostileSlowPeers(t *testing.T) {
	// However slowly a peer answers, the check ends as a timeout within
	// Options.Timeout, in the step it was in.
	p := newPKI(t)
	trickleReply := func(c net.Conn, proc, serial uint32, _ []byte) bool {
		trickleConn{c, 100 * time.Millisecond}.Write(replyPacket(proc, serial, 0, []byte{0, 0, 0, 1, 0, 0, 0, 0}))
		return false
	}
	cases := []struct {
		name, step string
		addr       string
	}{
		{"trickled TLS handshake", "tls-handshake", listen(t, func(c net.Conn) {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			tls.Server(trickleConn{c, 20 * time.Millisecond}, &tls.Config{Certificates: []tls.Certificate{p.server.tls}}).Handshake()
		})},
		{"silent after confirmation", "auth-list", rpcPeer(t, p.server.tls, func(net.Conn, uint32, uint32, []byte) bool {
			time.Sleep(30 * time.Second)
			return false
		})},
		{"trickled reply", "auth-list", rpcPeer(t, p.server.tls, trickleReply)},
		{"16 MiB announced, then a trickle", "auth-list", rpcPeer(t, p.server.tls, func(c net.Conn, _, _ uint32, _ []byte) bool {
			trickleConn{c, 50 * time.Millisecond}.Write(append(binary.BigEndian.AppendUint32(nil, rpc.MaxMessage+4), make([]byte, 1000)...))
			return false
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := checkQuick(t, tc.addr, p.creds("pw"), Options{Timeout: 700 * time.Millisecond})
			wantClass(t, r, ClassTimeout)
			if last := r.Steps[len(r.Steps)-1].Name; last != tc.step {
				t.Fatalf("timed out in %q, want %s", last, tc.step)
			}
		})
	}
}

// TestEveryClassIsDocumented keeps docs/verify-json.md in step with the
// classes: each failure becomes the finding code "live-<class>".
func TestEveryClassIsDocumented(t *testing.T) {
	src, err := os.ReadFile("live.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/verify-json.md")
	if err != nil {
		t.Fatal(err)
	}
	classes := regexp.MustCompile(`Class += "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(classes) < 12 {
		t.Fatalf("found only %d classes in live.go", len(classes))
	}
	for _, c := range classes {
		if c[1] != string(ClassOK) && !strings.Contains(string(doc), "`live-"+c[1]+"`") {
			t.Errorf("class %q: code `live-%s` is not documented in docs/verify-json.md", c[1], c[1])
		}
	}
}
