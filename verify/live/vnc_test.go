package live

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/qemutest"
)

// vncDir is a tls-creds-x509 directory serving server (QEMU's
// libvirt-vnc directory) with ca's certificate as ca-cert.pem.
func vncDir(t *testing.T, ca *testCA, server leaf) string {
	return qemutest.WriteDir(t, map[string][]byte{
		"ca-cert.pem": ca.pem, "server-cert.pem": server.certPEM, "server-key.pem": server.keyPEM,
	})
}

func checkVNC(t *testing.T, addr, serverName string, c Credentials) Result {
	t.Helper()
	return Check(context.Background(), Target{Host: "node", Addr: addr, ServerName: serverName, Service: ServiceVNC}, c, Options{Timeout: 5 * time.Second})
}

// TestQEMUVNC reaches a real QEMU VNC server with x509 verification (a
// guest console as nova-novncproxy reaches it): the proxy's client pair
// completes VeNCrypt X509None, TLS and ServerInit; another CA's client
// is refused by QEMU after the handshake; a wrong name or CA is refused by
// the check, as GnuTLS clients refuse them.
func TestQEMUVNC(t *testing.T) {
	p := newPKI(t)
	vnc := qemutest.StartVNC(t, vncDir(t, p.ca, p.server))

	r := checkVNC(t, vnc.Addr(), "localhost", p.creds(""))
	wantClass(t, r, ClassOK)
	if r.Mechanism != "VeNCrypt X509None" || r.ServerCert == nil || string(r.ServerCert.Raw) != string(p.server.tls.Leaf.Raw) {
		t.Fatalf("mechanism %q, server certificate %v: want X509None and the served certificate", r.Mechanism, r.ServerCert)
	}
	if last := r.Steps[len(r.Steps)-1]; last.Name != "server-init" || !strings.Contains(last.Detail, "desktop") {
		t.Fatalf("last step %+v, want the server's init message", last)
	}

	intruder := Credentials{CA: p.ca.pool(), ClientCert: p.otherClient.tls}
	r = checkVNC(t, vnc.Addr(), "localhost", intruder)
	wantClass(t, r, ClassClientCertRejected)
	// QEMU 7.2 completes the handshake, checks the certificate, and
	// closes the connection without an alert or a log line.
	if !strings.Contains(r.Err, "after the TLS handshake") {
		t.Fatalf("refusal not seen after the handshake: %s", r.Err)
	}

	wantClass(t, checkVNC(t, vnc.Addr(), "elsewhere.test", p.creds("")), ClassNameMismatch)
	wantClass(t, checkVNC(t, vnc.Addr(), "localhost", Credentials{CA: p.otherCA.pool(), ClientCert: p.client.tls}), ClassUnknownCA)
}

// fakeVNC is a scripted VNC server: it sends the RFB greeting, then the
// security step serve writes, and reads what the client answers.
func fakeVNC(t *testing.T, serve func(c net.Conn)) string {
	return listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "RFB 003.008\n")
		var v [12]byte
		if _, err := io.ReadFull(c, v[:]); err != nil {
			return
		}
		serve(c)
	})
}

// vencryptServer offers VeNCrypt with subtypes, accepts the client's
// pick and completes TLS with cert; after is what follows over TLS.
func vencryptServer(cert tls.Certificate, subtypes []uint32, after func(tc *tls.Conn)) func(net.Conn) {
	return func(c net.Conn) {
		c.Write([]byte{1, rfbSecVeNCrypt})
		var b [4]byte
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return
		}
		c.Write([]byte{0, 2})
		if _, err := io.ReadFull(c, b[:2]); err != nil {
			return
		}
		c.Write([]byte{0, byte(len(subtypes))})
		binary.Write(c, binary.BigEndian, subtypes)
		if _, err := io.ReadFull(c, b[:4]); err != nil {
			return
		}
		c.Write([]byte{1})
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert})
		if tc.Handshake() == nil {
			after(tc)
		}
	}
}

func TestFakeVNC(t *testing.T) {
	p := newPKI(t)
	serverInit := func(tc *tls.Conn) {
		tc.Write([]byte{0, 0, 0, 0})
		var b [1]byte
		io.ReadFull(tc, b[:])
		tc.Write(append(make([]byte, 20), 0, 0, 0, 4, 'Q', 'E', 'M', 'U'))
	}
	cases := []struct {
		name  string
		serve func(net.Conn)
		want  Class
		in    string // in the error
	}{
		{"ok", vencryptServer(p.server.tls, []uint32{vencryptX509None}, serverInit), ClassOK, ""},
		{"x509vnc", vencryptServer(p.server.tls, []uint32{vencryptX509VNC}, func(tc *tls.Conn) { tc.Write(make([]byte, 16)) }), ClassOK, ""},
		{"no vencrypt", func(c net.Conn) { c.Write([]byte{2, 1, 2}) }, ClassNoVeNCrypt, "None(1),VNC(2), not VeNCrypt"},
		{"anonymous tls", vencryptServer(p.server.tls, []uint32{257, 258}, nil), ClassNoVeNCrypt, "TLSNone(257),TLSVNC(258)"},
		{"refused", func(c net.Conn) { c.Write([]byte{0, 0, 0, 0, 9, 'b', 'u', 's', 'y', '\x1b', '[', '2', 'J', '!'}) }, ClassError, `busy\x1b[2J!`},
		{"huge reason", func(c net.Conn) { c.Write([]byte{0, 0xff, 0xff, 0xff, 0xff}) }, ClassProtocol, "limit 4096"},
		{"closed after tls", vencryptServer(p.server.tls, []uint32{vencryptX509None}, func(tc *tls.Conn) {}), ClassClientCertRejected, "security result"},
		{"security failure", vencryptServer(p.server.tls, []uint32{vencryptX509None}, func(tc *tls.Conn) {
			tc.Write([]byte{0, 0, 0, 1, 0, 0, 0, 3, 'n', 'o', '!'})
		}), ClassAuthFailed, `"no!"`},
		{"silent after tls", vencryptServer(p.server.tls, []uint32{vencryptX509None}, func(tc *tls.Conn) { time.Sleep(3 * time.Second) }), ClassTimeout, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Check(context.Background(), Target{Host: "n", Addr: fakeVNC(t, c.serve), ServerName: "localhost", Service: ServiceVNC},
				p.creds(""), Options{Timeout: time.Second})
			wantClass(t, r, c.want)
			if !strings.Contains(r.Err, c.in) {
				t.Fatalf("error %q does not contain %q", r.Err, c.in)
			}
		})
	}
}

// TestNotRFB: a peer that is not a VNC server is named as such, and a
// silent one times out.
func TestNotRFB(t *testing.T) {
	p := newPKI(t)
	garbage := listen(t, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n") })
	r := Check(context.Background(), Target{Addr: garbage, Service: ServiceVNC}, p.creds(""), Options{Timeout: 2 * time.Second})
	wantClass(t, r, ClassProtocol)
	silent := listen(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	r = Check(context.Background(), Target{Addr: silent, Service: ServiceVNC}, p.creds(""), Options{Timeout: 500 * time.Millisecond})
	wantClass(t, r, ClassTimeout)
}

func TestVNCTargetDefaults(t *testing.T) {
	if got := (Target{Host: "node", Service: ServiceVNC}).withDefaults(); got.Addr != "node:5900" {
		t.Fatalf("VNC default address %q, want node:5900", got.Addr)
	}
}
