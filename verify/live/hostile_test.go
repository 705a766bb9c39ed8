package live

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
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
	wantClass(t, r, ClassError)
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
