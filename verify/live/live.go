// Package live checks a running libvirtd the way a libvirt client (nova,
// virsh) would: TCP connect, TLS with the client certificate, libvirt's
// confirmation byte, AUTH_LIST, SASL (SCRAM-SHA-256 or DIGEST-MD5) when the
// daemon requires it, then CONNECT_OPEN and two harmless read-only calls.
// CheckVNC checks a QEMU VNC server the way nova-novncproxy reaches it:
// RFB with VeNCrypt, TLS with the proxy's client certificate, then the
// security result and the server's init message (see vnc.go).
//
// Every failure is reduced to a stable Class so that reports and scripts
// can act on it, and every check is bounded by Options.Timeout however the
// peer behaves (silent, trickling, garbage, plain TCP, half a TLS
// handshake, oversized packets, endless SASL, costly SCRAM parameters).
// Text the peer chose (mechanism names, error messages, host names,
// certificate subjects) reaches a Result escaped and bounded by
// untrusted.Clean, so reports and terminals show it inert.
package live

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/rpc"
	"github.com/libvirt-pki/libvirt-pki/internal/saslclient"
	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// Defaults for Target and Options.
const (
	DefaultPort        = "16514"
	DefaultVNCPort     = "5900" // display :0
	DefaultTimeout     = 10 * time.Second
	DefaultURI         = "qemu:///system"
	DefaultConcurrency = 32
	// maxSASLRounds bounds the AUTH_SASL_STEP calls: both mechanisms
	// finish in at most two, so a server asking for more is misbehaving
	// (protocol-error).
	maxSASLRounds = 8
)

// Class is a stable, machine-readable failure code.
type Class string

// The classes a check can end in.
const (
	ClassOK                 Class = "ok"
	ClassRefused            Class = "refused"              // nothing listens on the port
	ClassTimeout            Class = "timeout"              // the peer did not answer within Options.Timeout
	ClassNotTLS             Class = "not-tls"              // the peer does not speak TLS
	ClassUnknownCA          Class = "unknown-ca"           // server chain does not lead to our CA
	ClassNameMismatch       Class = "name-mismatch"        // server certificate does not name ServerName
	ClassServerCertExpired  Class = "server-cert-expired"  // server (or its chain) outside its validity window
	ClassClientCertRejected Class = "client-cert-rejected" // daemon closed the connection instead of confirming
	ClassSASLNoPassword     Class = "sasl-no-password"     // daemon requires SASL, no password given
	ClassMechNotOffered     Class = "mech-not-offered"     // wanted mechanism not in the daemon's list
	ClassAuthFailed         Class = "auth-failed"          // wrong credentials, or the server failed to prove its own
	ClassSASLUnknownUser    Class = "sasl-unknown-user"    // the daemon's sasldb has no such user in the realm it computes (see realm.go)
	ClassOpenFailed         Class = "open-failed"          // CONNECT_OPEN refused
	ClassProtocol           Class = "protocol-error"       // the peer broke libvirt's RPC or SASL protocol (bad packet, endless SASL)
	ClassSASLLimits         Class = "sasl-limits"          // SASL parameters beyond the client's limits (SCRAM iterations, salt, nonce)
	ClassNoVeNCrypt         Class = "no-vencrypt"          // VNC server offers no VeNCrypt X.509 subtype: the console is not TLS-protected with certificates
	ClassError              Class = "error"                // anything else
)

// The services a Target can name.
const (
	ServiceLibvirtd = "libvirtd" // the default: libvirt's TLS port
	ServiceVNC      = "vnc"      // QEMU's VNC server with VeNCrypt (CheckVNC)
)

// Target says where to connect.
type Target struct {
	Host       string // inventory name, used in reports only
	Addr       string // host:port to dial; the port defaults to 16514 (5900 for VNC), the host to Host
	ServerName string // name the server certificate must carry; default: host part of Addr
	Service    string // ServiceLibvirtd (the default) or ServiceVNC
}

// Credentials are what a libvirt client presents.
type Credentials struct {
	// CA holds the trusted CA certificates (libvirt's cacert.pem); load a
	// PEM file with x509.NewCertPool + AppendCertsFromPEM. Required.
	CA *x509.CertPool
	// ClientCert is always sent, whatever CAs the server says it accepts.
	ClientCert tls.Certificate
	// Authname and Password are the SASL credentials (auth.conf). An
	// empty Password against a daemon requiring SASL is sasl-no-password.
	Authname, Password string
	// Realms are the realms the host's sasldb holds Authname in, when
	// known (nil: unknown). A DIGEST-MD5 daemon whose realm is none of
	// them refuses the user as unknown: sasl-unknown-user.
	Realms []string
}

// Options tune one check.
type Options struct {
	// Timeout bounds the whole check: connect, handshake and every read.
	// Default 10s.
	Timeout time.Duration
	// Mech forces a SASL mechanism ("SCRAM-SHA-256" or "DIGEST-MD5");
	// "" picks from the server's list, preferring SCRAM-SHA-256.
	Mech string
	// URI is the connection URI passed to CONNECT_OPEN; default
	// "qemu:///system".
	URI string
}

// Step records one stage of a check.
type Step struct {
	Name     string
	Duration time.Duration
	Detail   string
}

// Result is the outcome of one check. OK is true exactly when Class is
// "ok"; Err then is empty.
type Result struct {
	Target Target
	OK     bool
	Class  Class
	Err    string
	Steps  []Step

	Mechanism          string    // SASL mechanism used, or "none" when the daemon needs no SASL
	Identity           string    // SASL authname; with no SASL, the client certificate subject
	Hostname           string    // CONNECT_GET_HOSTNAME
	LibVersion         string    // e.g. "9.0.0"
	TLSVersion         string    // e.g. "TLS 1.3"; set once the server's certificate arrived
	ServerCertNotAfter time.Time // server leaf expiry; set even when the certificate is rejected
	// ServerRealm is the SASL realm the daemon computes for itself, when
	// its mechanism says it (DIGEST-MD5's challenge; SCRAM never does).
	ServerRealm string
	// ServerCert is the leaf the server presented (nil when none
	// arrived), kept even when rejected, to compare with the files. The
	// peer chose every field of it: it is not for reports.
	ServerCert *x509.Certificate `json:"-"`
}

// Job is one check for CheckAll.
type Job struct {
	Target      Target
	Credentials Credentials
	Options     Options
}

// failure carries a class with an error through the check.
type failure struct {
	class Class
	err   error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(c Class, format string, a ...any) error {
	return &failure{class: c, err: fmt.Errorf(format, a...)}
}

// Check runs one live check: a libvirt login, or with t.Service
// ServiceVNC a VeNCrypt session (see runVNC). It never returns before
// recording a Class and never runs longer than o.Timeout (plus scheduling
// noise), and it stops early when ctx is done.
func Check(ctx context.Context, t Target, c Credentials, o Options) Result {
	t = t.withDefaults()
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.URI == "" {
		o.URI = DefaultURI
	}
	r := Result{Target: t}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ck := &checker{ctx: ctx, parent: parent, t: t, c: c, o: o, r: &r}
	run := ck.run
	if t.Service == ServiceVNC {
		run = ck.runVNC
	}
	err := run()
	ck.close()
	if err == nil {
		r.OK, r.Class = true, ClassOK
		return r
	}
	r.Class = ck.classify(err)
	// Errors may quote the peer at any depth; this is where they enter
	// the Result.
	r.Err = untrusted.Clean(err.Error(), untrusted.MaxText)
	return r
}

func (t Target) withDefaults() Target {
	if t.Addr == "" {
		t.Addr = t.Host
	}
	if t.Service == "" {
		t.Service = ServiceLibvirtd
	}
	if _, _, err := net.SplitHostPort(t.Addr); err != nil {
		port := DefaultPort
		if t.Service == ServiceVNC {
			port = DefaultVNCPort
		}
		t.Addr = net.JoinHostPort(strings.Trim(t.Addr, "[]"), port)
	}
	if t.ServerName == "" {
		t.ServerName, _, _ = net.SplitHostPort(t.Addr)
	}
	return t
}

type checker struct {
	ctx, parent context.Context
	t           Target
	c           Credentials
	o           Options
	r           *Result
	raw, conn   net.Conn // the TCP connection, and what runs over it (TLS)
}

// close ends the connection, sending TLS's close_notify if there is time
// left: tls.Conn.Close gives that write five seconds of its own, so the TCP
// connection is closed under it once the check's deadline passes.
func (ck *checker) close() {
	if ck.conn == nil {
		return
	}
	stop := context.AfterFunc(ck.ctx, func() { ck.raw.Close() })
	defer stop()
	ck.conn.Close()
}

// step times fn and records it; the error, if any, becomes the detail,
// escaped and bounded since it may quote the peer.
func (ck *checker) step(name string, fn func() (string, error)) error {
	start := time.Now()
	detail, err := fn()
	if err != nil {
		if detail == "" {
			detail = err.Error()
		} else {
			detail += ": " + err.Error()
		}
		err = fmt.Errorf("%s: %w", name, err)
	}
	ck.r.Steps = append(ck.r.Steps, Step{Name: name, Duration: time.Since(start), Detail: untrusted.Clean(detail, untrusted.MaxText)})
	return err
}

// run goes through the steps of a libvirt client's login, stopping at the
// first that fails.
func (ck *checker) run() error {
	raw, stop, err := ck.dial()
	if err != nil {
		return err
	}
	defer stop()

	tc := tls.Client(raw, ck.tlsConfig())
	ck.conn = tc
	if err := ck.handshake(tc); err != nil {
		return err
	}
	if err := ck.confirmation(tc); err != nil {
		return err
	}
	cl := rpc.NewClient(tc)
	if err := ck.authenticate(cl); err != nil {
		return err
	}
	return ck.openAndQuery(cl)
}

// dial checks the credentials and connects, with one deadline for every
// later read and write: the check's. Cancelling ctx moves it to the past
// so pending I/O fails at once; stop ends that watch.
func (ck *checker) dial() (raw net.Conn, stop func() bool, err error) {
	if ck.c.CA == nil {
		return nil, nil, fail(ClassError, "no CA certificates given")
	}
	if raw, err = ck.connect(); err != nil {
		return nil, nil, err
	}
	deadline, _ := ck.ctx.Deadline()
	raw.SetDeadline(deadline)
	return raw, context.AfterFunc(ck.ctx, func() { raw.SetDeadline(time.Unix(1, 0)) }), nil
}

// connect dials the target over TCP.
func (ck *checker) connect() (net.Conn, error) {
	var raw net.Conn
	err := ck.step("connect", func() (string, error) {
		var d net.Dialer
		conn, err := d.DialContext(ck.ctx, "tcp", ck.t.Addr)
		if err != nil {
			return "", err
		}
		raw = conn
		ck.raw, ck.conn = conn, conn
		return conn.RemoteAddr().String(), nil
	})
	return raw, err
}

// handshake runs the TLS handshake and records the server's certificate.
func (ck *checker) handshake(tc *tls.Conn) error {
	return ck.step("tls-handshake", func() (string, error) {
		if err := tc.HandshakeContext(ck.ctx); err != nil {
			return "", err
		}
		cs := tc.ConnectionState()
		ck.r.TLSVersion = tls.VersionName(cs.Version)
		leaf := cs.PeerCertificates[0]
		ck.r.ServerCertNotAfter = leaf.NotAfter
		return fmt.Sprintf("%s %s, server \"%s\" valid until %s", ck.r.TLSVersion, tls.CipherSuiteName(cs.CipherSuite),
			subjectOf(leaf), leaf.NotAfter.UTC().Format(time.RFC3339)), nil
	})
}

// confirmation reads libvirtd's verdict on our certificate: it checks it
// after the handshake and sends 0x01 if it accepts it; otherwise it just
// closes.
func (ck *checker) confirmation(tc *tls.Conn) error {
	return ck.step("confirmation", func() (string, error) {
		var b [1]byte
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			if isTimeout(err) {
				return "no confirmation byte", err
			}
			return "", fail(ClassClientCertRejected, "server closed the connection instead of confirming the client certificate (%v)", err)
		}
		if b[0] != 1 {
			return "", fail(ClassProtocol, "unexpected confirmation byte %#02x (want 0x01)", b[0])
		}
		return "0x01", nil
	})
}

// authenticate asks which authentication the daemon wants and does it:
// none (the client certificate is the identity) or SASL.
func (ck *checker) authenticate(cl *rpc.Client) error {
	var types []int
	if err := ck.step("auth-list", func() (string, error) {
		var err error
		types, err = cl.AuthList()
		return fmt.Sprint(types), err
	}); err != nil {
		return err
	}
	switch {
	case slices.Contains(types, rpc.AuthNone) || len(types) == 0:
		ck.r.Mechanism = "none"
		ck.r.Identity = clientSubject(ck.c.ClientCert)
		return nil
	case slices.Contains(types, rpc.AuthSASL):
		if ck.c.Password == "" {
			return fail(ClassSASLNoPassword, "daemon requires SASL but no password is configured")
		}
		return ck.sasl(cl)
	}
	return fail(ClassError, "daemon requires an unsupported authentication type %v (2 = polkit)", types)
}

// openAndQuery opens the connection URI and makes two harmless read-only
// calls, then closes.
func (ck *checker) openAndQuery(cl *rpc.Client) error {
	if err := ck.step("connect-open", func() (string, error) {
		err := cl.ConnectOpen(ck.o.URI, 0)
		if err != nil && !isTimeout(err) {
			err = &failure{class: ClassOpenFailed, err: err}
		}
		return ck.o.URI, err
	}); err != nil {
		return err
	}
	if err := ck.step("get-hostname", func() (string, error) {
		h, err := cl.ConnectGetHostname()
		ck.r.Hostname = h
		return h, err
	}); err != nil {
		return err
	}
	if err := ck.step("lib-version", func() (string, error) {
		v, err := cl.ConnectGetLibVersion()
		if err != nil {
			return "", err
		}
		ck.r.LibVersion = rpc.FormatVersion(v)
		return ck.r.LibVersion, nil
	}); err != nil {
		return err
	}
	// The answers are in; a failed close is worth a note, not a failure.
	ck.step("close", func() (string, error) {
		if err := cl.ConnectClose(); err != nil {
			return "close failed (ignored): " + err.Error(), nil
		}
		return "", nil
	})
	return nil
}

// sasl logs in with the mechanism chosen from those the daemon offers.
func (ck *checker) sasl(cl *rpc.Client) error {
	var offered []string
	if err := ck.step("sasl-init", func() (string, error) {
		var err error
		offered, err = cl.AuthSASLInit()
		return strings.Join(offered, ","), err
	}); err != nil {
		return err
	}
	mechName, wireName, err := ck.pickMech(offered)
	if err != nil {
		return err
	}
	mech, err := saslclient.New(mechName, saslclient.Config{
		Authname: ck.c.Authname, Password: ck.c.Password,
		Service: "libvirt", Host: ck.t.ServerName,
	})
	if err != nil {
		return fail(ClassError, "%v", err)
	}
	ck.r.Mechanism = wireName
	if err := ck.saslExchange(cl, mech, wireName); err != nil {
		return ck.unknownUser(err, mechName)
	}
	ck.r.Identity = ck.c.Authname
	return nil
}

// pickMech chooses the mechanism: the one forced by Options.Mech, else
// the first of saslclient.Supported the daemon offers. wireName is the
// daemon's spelling of it.
func (ck *checker) pickMech(offered []string) (mechName, wireName string, err error) {
	serverName := func(want string) string {
		for _, m := range offered {
			if strings.EqualFold(m, want) {
				return m
			}
		}
		return ""
	}
	if ck.o.Mech != "" {
		if wireName = serverName(ck.o.Mech); wireName == "" {
			return "", "", fail(ClassMechNotOffered, "mechanism %s not offered by the daemon (offers %s)", ck.o.Mech, strings.Join(offered, ","))
		}
		return strings.ToUpper(ck.o.Mech), wireName, nil
	}
	for _, m := range saslclient.Supported {
		if wireName = serverName(m); wireName != "" {
			return m, wireName, nil
		}
	}
	return "", "", fail(ClassMechNotOffered, "daemon offers none of %s (offers %s)", strings.Join(saslclient.Supported, ","), strings.Join(offered, ","))
}

// saslExchange runs AUTH_SASL_START and the steps after it until the
// daemon reports completion, and checks the server's proof.
func (ck *checker) saslExchange(cl *rpc.Client, mech saslclient.Mechanism, wireName string) error {
	var reply rpc.SASLReply
	if err := ck.step("sasl-start", func() (string, error) {
		initial, err := mech.Start()
		if err != nil {
			return "", err
		}
		reply, err = cl.AuthSASLStart(wireName, initial, initial == nil)
		if err == nil && mech.Name() == mechDigestMD5 {
			ck.r.ServerRealm = digestRealm(reply.Data)
		}
		return wireName, saslErr(err)
	}); err != nil {
		return err
	}
	for round := 1; !reply.Complete; round++ {
		if round > maxSASLRounds {
			return fail(ClassProtocol, "SASL did not complete after %d steps", maxSASLRounds)
		}
		if err := ck.step("sasl-step", func() (string, error) {
			var resp []byte
			// Once the server has proved itself, Cyrus may still want an
			// empty round before it reports completion.
			if !mech.Verified() {
				var err error
				if resp, _, err = mech.Step(reply.Data); err != nil {
					return "", mechErr(err)
				}
			}
			var err error
			reply, err = cl.AuthSASLStep(resp)
			return fmt.Sprintf("round %d", round), saslErr(err)
		}); err != nil {
			return err
		}
	}
	// Final data (SCRAM's server-final, DIGEST-MD5's rspauth) may come
	// with completion; the server's proof is checked either way.
	if len(reply.Data) > 0 && !mech.Verified() {
		if _, _, err := mech.Step(reply.Data); err != nil {
			return mechErr(err)
		}
	}
	if !mech.Verified() {
		return &failure{class: ClassAuthFailed, err: saslclient.ErrServerNotVerified}
	}
	return nil
}

// saslErr maps libvirt's VIR_ERR_AUTH_FAILED to auth-failed.
func saslErr(err error) error {
	var re *rpc.RemoteError
	if errors.As(err, &re) && re.Code == rpc.ErrCodeAuthFailed {
		return &failure{class: ClassAuthFailed, err: err}
	}
	return err
}

// mechErr maps a bad server proof to auth-failed, parameters beyond the
// client's limits to sasl-limits, and anything else the mechanism rejects
// (malformed challenges) to protocol-error.
func mechErr(err error) error {
	switch {
	case errors.Is(err, saslclient.ErrServerNotVerified) || errors.Is(err, saslclient.ErrRejected):
		return &failure{class: ClassAuthFailed, err: err}
	case errors.Is(err, saslclient.ErrLimit):
		return &failure{class: ClassSASLLimits, err: err}
	}
	return &failure{class: ClassProtocol, err: err}
}

func (ck *checker) tlsConfig() *tls.Config {
	cfg := &tls.Config{
		// Go's verifier rejects CN-only certificates that libvirt (GnuTLS)
		// accepts, so verification happens in VerifyConnection instead.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		// Send our certificate even when the server's acceptable-CA
		// list does not name its issuer; libvirtd decides, not us.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &ck.c.ClientCert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			// Record what the server presented even if we reject it, so
			// a report on an expired certificate can say when it expired.
			ck.r.TLSVersion = tls.VersionName(cs.Version)
			if len(cs.PeerCertificates) > 0 {
				ck.r.ServerCertNotAfter = cs.PeerCertificates[0].NotAfter
				ck.r.ServerCert = cs.PeerCertificates[0]
			}
			return verifyServer(cs.PeerCertificates, ck.c.CA, ck.t.ServerName, time.Now())
		},
	}
	if net.ParseIP(ck.t.ServerName) == nil {
		cfg.ServerName = ck.t.ServerName // SNI
	}
	return cfg
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// clientCertAlerts are TLS alerts a server sends when it dislikes our
// certificate.
var clientCertAlerts = []string{
	"bad certificate", "unsupported certificate", "certificate revoked", "certificate expired",
	"certificate unknown", "unknown certificate authority", "certificate required", "access denied",
}

func (ck *checker) classify(err error) Class {
	var f *failure
	if errors.As(err, &f) && f.class != ClassError {
		return f.class
	}
	var pe *rpc.ProtocolError
	if errors.As(err, &pe) {
		return ClassProtocol
	}
	// Our own deadline fired (or the caller's): a timeout, whatever I/O
	// error it surfaced as. A caller's cancellation is not a timeout.
	if ck.parent.Err() == context.Canceled {
		return ClassError
	}
	if ck.ctx.Err() != nil || isTimeout(err) {
		return ClassTimeout
	}
	if f != nil {
		return f.class
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ClassRefused
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return ClassNotTLS
	}
	last := ck.lastStep()
	msg := err.Error()
	if last == "tls-handshake" {
		for _, a := range clientCertAlerts {
			if strings.Contains(msg, "remote error: tls: "+a) {
				return ClassClientCertRejected
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			// Hung up on our ClientHello: not a TLS service (or one
			// that rejects every TLS version we speak).
			return ClassNotTLS
		}
	}
	return ClassError
}

func (ck *checker) lastStep() string {
	if n := len(ck.r.Steps); n > 0 {
		return ck.r.Steps[n-1].Name
	}
	return ""
}
