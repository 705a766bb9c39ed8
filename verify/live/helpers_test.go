package live

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/rpc"
	"github.com/xdg-go/scram"
)

// testCA is a throwaway CA made with crypto/x509 the way libvirt wants
// one: basicConstraints CA:TRUE, keyUsage keyCertSign (critical).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"libvirt-pki test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leafOpts describes a leaf; zero values mean a server cert for
// localhost/127.0.0.1 valid now.
type leafOpts struct {
	cn        string
	client    bool
	dns       []string
	ips       []net.IP
	noSAN     bool
	notBefore time.Time
	notAfter  time.Time
}

type leaf struct {
	certPEM, keyPEM []byte
	tls             tls.Certificate
}

func (ca *testCA) leaf(t testing.TB, o leafOpts) leaf {
	t.Helper()
	key := newKey(t)
	if o.cn == "" {
		o.cn = "localhost"
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(12 * time.Hour)
	}
	eku := x509.ExtKeyUsageServerAuth
	if o.client {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: o.cn, Organization: []string{"libvirt-pki test"}},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		// No keyUsage: libvirt-pki's policy for ECDSA leaves
		// (docs/key-usage.md; libvirt 9.0 would want keyEncipherment in
		// one, which RFC 8813 forbids on EC keys).
		ExtKeyUsage: []x509.ExtKeyUsage{eku},
	}
	if !o.noSAN {
		tmpl.DNSNames = o.dns
		tmpl.IPAddresses = o.ips
		if o.dns == nil && o.ips == nil {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := leaf{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
	l.tls, err = tls.X509KeyPair(l.certPEM, l.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pki is a consistent set: a CA, a server and a client cert from it, and
// an unrelated CA with its own server and client certs.
type pki struct {
	ca, otherCA              *testCA
	server, client           leaf
	otherServer, otherClient leaf
}

func newPKI(t testing.TB) *pki {
	p := &pki{ca: newCA(t, "Test CA"), otherCA: newCA(t, "Other CA")}
	p.server = p.ca.leaf(t, leafOpts{})
	p.client = p.ca.leaf(t, leafOpts{cn: "nova-client", client: true, noSAN: true})
	p.otherServer = p.otherCA.leaf(t, leafOpts{})
	p.otherClient = p.otherCA.leaf(t, leafOpts{cn: "intruder", client: true, noSAN: true})
	return p
}

func (p *pki) creds(password string) Credentials {
	return Credentials{CA: p.ca.pool(), ClientCert: p.client.tls, Authname: "nova", Password: password}
}

// listen starts a loopback listener whose connections are handled by fn
// until the test ends.
func listen(t testing.TB, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return l.Addr().String()
}

// fakeLibvirtd speaks just enough libvirt RPC for the checker: the
// confirmation byte, AUTH_LIST, SCRAM-SHA-256 via xdg-go/scram's server,
// CONNECT_OPEN, GET_HOSTNAME, GET_LIB_VERSION and CLOSE. It lets the
// non-peer tests and the benchmark exercise the whole path.
type fakeLibvirtd struct {
	cert     tls.Certificate
	password string // "" = auth_tls none
	// finalWithComplete sends SCRAM's server-final with complete=1 (as
	// libvirt does) rather than complete=0 followed by an empty round.
	finalWithComplete bool
	forgeFinal        bool   // send a server-final with a wrong signature
	endlessSASL       bool   // after the server-final, never report completion
	hostname          string // CONNECT_GET_HOSTNAME's answer; default "fakehost"
}

func (f *fakeLibvirtd) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{f.cert}, ClientAuth: tls.RequireAnyClientCert})
	if err := tc.Handshake(); err != nil {
		return
	}
	if _, err := tc.Write([]byte{1}); err != nil {
		return
	}
	var conv *scram.ServerConversation
	if f.password != "" {
		srv, _ := scram.SHA256.NewServer(func(user string) (scram.StoredCredentials, error) {
			cl, err := scram.SHA256.NewClient(user, f.password, "")
			if err != nil {
				return scram.StoredCredentials{}, err
			}
			return cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "fake-salt-123456", Iters: 4096})
		})
		conv = srv.NewConversation()
	}
	pendingEmpty := false
	for {
		pkt, err := rpc.ReadPacket(tc)
		if err != nil || len(pkt) < 28 {
			return
		}
		proc := binary.BigEndian.Uint32(pkt[12:])
		serialNo := binary.BigEndian.Uint32(pkt[20:])
		args := rpc.NewDecoder(pkt[28:])
		var body rpc.Encoder
		status := uint32(rpc.StatusOK)
		saslReply := func(complete bool, data string) {
			body.Bool(complete)
			body.Bool(false)
			body.CharArray([]byte(data))
		}
		saslFail := func(msg string) {
			status = rpc.StatusError
			body.Int32(rpc.ErrCodeAuthFailed)
			body.Int32(7)
			body.OptString(&msg)
			body.Int32(2)
		}
		switch proc {
		case rpc.ProcAuthList:
			body.Uint32(1)
			if conv != nil {
				body.Uint32(rpc.AuthSASL)
			} else {
				body.Uint32(rpc.AuthNone)
			}
		case rpc.ProcAuthSASLInit:
			body.String("SCRAM-SHA-256")
		case rpc.ProcAuthSASLStart, rpc.ProcAuthSASLStep:
			if proc == rpc.ProcAuthSASLStart {
				args.String(0)
			}
			args.Int32()
			data, _ := args.CharArray(rpc.MaxSASLData)
			if pendingEmpty {
				saslReply(!f.endlessSASL, "")
				break
			}
			out, err := conv.Step(string(data))
			if err != nil {
				saslFail("authentication failed: " + err.Error())
				break
			}
			if !conv.Done() {
				saslReply(false, out)
				break
			}
			if f.forgeFinal {
				out = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			}
			if f.finalWithComplete {
				saslReply(true, out)
			} else {
				pendingEmpty = true
				saslReply(false, out)
			}
		case rpc.ProcConnectOpen, rpc.ProcConnectClose:
		case rpc.ProcConnectGetHostname:
			if f.hostname == "" {
				f.hostname = "fakehost"
			}
			body.String(f.hostname)
		case rpc.ProcConnectGetLibVersion:
			body.Uint32(0) // unsigned hyper 9000000 = 9.0.0, high word first
			body.Uint32(9000000)
		default:
			return
		}
		if _, err := tc.Write(replyPacket(proc, serialNo, status, body.Bytes())); err != nil {
			return
		}
		if proc == rpc.ProcConnectClose {
			io.Copy(io.Discard, tc)
			return
		}
	}
}

// replyPacket frames a reply to call proc/serial.
func replyPacket(proc, serial, status uint32, body []byte) []byte {
	var hdr [28]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(28+len(body)))
	binary.BigEndian.PutUint32(hdr[4:], rpc.Program)
	binary.BigEndian.PutUint32(hdr[8:], 1)
	binary.BigEndian.PutUint32(hdr[12:], proc)
	binary.BigEndian.PutUint32(hdr[16:], rpc.TypeReply)
	binary.BigEndian.PutUint32(hdr[20:], serial)
	binary.BigEndian.PutUint32(hdr[24:], status)
	return append(hdr[:], body...)
}

// rpcPeer completes TLS and libvirt's confirmation byte like libvirtd,
// then hands each call to answer, which writes whatever it likes to the
// connection (replyPacket frames proper replies) and returns false to hang
// up. Each connection lives at most 30 s.
func rpcPeer(t *testing.T, cert tls.Certificate, answer func(c net.Conn, proc, serial uint32, args []byte) bool) string {
	return listen(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert})
		if tc.Handshake() != nil {
			return
		}
		if _, err := tc.Write([]byte{1}); err != nil {
			return
		}
		for {
			pkt, err := rpc.ReadPacket(tc)
			if err != nil || len(pkt) < 28 {
				return
			}
			if !answer(tc, binary.BigEndian.Uint32(pkt[12:]), binary.BigEndian.Uint32(pkt[20:]), pkt[28:]) {
				return
			}
		}
	})
}

// checkQuick runs Check with a short timeout for hostile-peer tests and
// fails if it overran it noticeably (a hang, not a slow machine).
func checkQuick(t *testing.T, addr string, c Credentials, o Options) Result {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.URI == "" {
		o.URI = "test:///default"
	}
	done := make(chan Result, 1)
	go func() { done <- Check(context.Background(), Target{Host: "t", Addr: addr}, c, o) }()
	select {
	case r := <-done:
		return r
	case <-time.After(o.Timeout + 20*time.Second):
		t.Fatalf("Check against %s hung far beyond its %s timeout", addr, o.Timeout)
		return Result{}
	}
}

func wantClass(t *testing.T, r Result, want Class) {
	t.Helper()
	if r.Class != want || r.OK != (want == ClassOK) {
		t.Fatalf("class = %q (ok=%v), want %q; err: %s\nsteps: %+v", r.Class, r.OK, want, r.Err, r.Steps)
	}
	t.Logf("%s: %s (%d steps)", r.Class, r.Err, len(r.Steps))
}
