package live

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// RFB security type and VeNCrypt subtypes (RFC 6143 §7.1.2 and the
// VeNCrypt extension as QEMU's ui/vnc-auth-vencrypt.c implements it).
const (
	rfbSecVeNCrypt    = 19
	vencryptX509None  = 260
	vencryptX509VNC   = 261
	vencryptX509Plain = 262
	// maxVNCText bounds the strings a VNC server sends (failure reasons,
	// the desktop name): QEMU's are a few dozen bytes.
	maxVNCText = 4096
)

// vencryptPreference lists the X.509 subtypes the check takes, best
// first: X509None is the only one nova-novncproxy speaks.
var vencryptPreference = []uint32{vencryptX509None, vencryptX509VNC, vencryptX509Plain}

var vencryptNames = map[uint32]string{
	256: "Plain", 257: "TLSNone", 258: "TLSVNC", 259: "TLSPlain",
	vencryptX509None: "X509None", vencryptX509VNC: "X509VNC", vencryptX509Plain: "X509Plain",
	263: "TLSSASL", 264: "X509SASL",
}

var rfbSecNames = map[byte]string{1: "None", 2: "VNC", 16: "Tight", 18: "TLS", rfbSecVeNCrypt: "VeNCrypt", 20: "SASL"}

var rfbVersion = regexp.MustCompile(`^RFB 003\.00([0-9])\n$`)

// runVNC reaches a VNC server the way nova-novncproxy does with
// auth_schemes = vencrypt: RFB 3.8, security type VeNCrypt, VeNCrypt 0.2,
// an X.509 subtype, TLS with the client certificate and the server's
// checked like GnuTLS clients check it, then the security result and the
// server's init message, which prove the session is established.
func (ck *checker) runVNC() error {
	raw, stop, err := ck.dial()
	if err != nil {
		return err
	}
	defer stop()
	if err := ck.step("rfb-version", func() (string, error) { return rfbHello(raw) }); err != nil {
		return err
	}
	if err := ck.step("security-types", func() (string, error) { return chooseVeNCrypt(raw) }); err != nil {
		return err
	}
	var sub uint32
	if err := ck.step("vencrypt", func() (string, error) {
		var err error
		sub, err = negotiateVeNCrypt(raw)
		return vencryptNames[sub], err
	}); err != nil {
		return err
	}
	ck.r.Mechanism = "VeNCrypt " + vencryptNames[sub]
	tc := tls.Client(raw, ck.tlsConfig())
	ck.conn = tc
	if err := ck.handshake(tc); err != nil {
		return err
	}
	ck.r.Identity = clientSubject(ck.c.ClientCert)
	return ck.afterVeNCrypt(tc, sub)
}

// afterVeNCrypt runs what follows the TLS handshake for subtype sub. A
// server that refuses the client certificate closes the connection
// here: QEMU checks it after the handshake, as libvirtd does.
func (ck *checker) afterVeNCrypt(tc *tls.Conn, sub uint32) error {
	switch sub {
	case vencryptX509VNC:
		// The session is up to VNC's password challenge, which only the
		// guest's VNC password answers.
		return ck.step("vnc-challenge", func() (string, error) {
			var challenge [16]byte
			if _, err := io.ReadFull(tc, challenge[:]); err != nil {
				return "", closedAfterTLS(err, "the VNC challenge")
			}
			return "password challenge received and not answered; nova-novncproxy speaks only X509None", nil
		})
	case vencryptX509Plain:
		// An empty login: the server must read it over TLS and answer,
		// which proves it kept the session; the answer is not judged.
		if err := ck.step("plain-login", func() (string, error) {
			_, err := tc.Write(make([]byte, 8))
			return "empty user name and password", err
		}); err != nil {
			return err
		}
		return ck.step("security-result", func() (string, error) {
			var res [4]byte
			if _, err := io.ReadFull(tc, res[:]); err != nil {
				return "", closedAfterTLS(err, "the security result")
			}
			return fmt.Sprintf("result %d to an empty login (not judged)", binary.BigEndian.Uint32(res[:])), nil
		})
	}
	if err := ck.step("security-result", func() (string, error) { return securityResult(tc) }); err != nil {
		return err
	}
	return ck.step("server-init", func() (string, error) { return serverInit(tc) })
}

// rfbHello reads the server's protocol version and answers 3.8 (or 3.7,
// the other version with a security-type list, if that is the server's).
func rfbHello(rw io.ReadWriter) (string, error) {
	var v [12]byte
	if _, err := io.ReadFull(rw, v[:]); err != nil {
		return "", notRFB(err)
	}
	m := rfbVersion.FindSubmatch(v[:])
	if m == nil {
		return "", fail(ClassProtocol, "not an RFB server: it sent \"%s\"", untrusted.Clean(string(v[:]), untrusted.MaxName))
	}
	if m[1][0] < '7' {
		return "", fail(ClassNoVeNCrypt, "server speaks RFB 3.%c, which has no VeNCrypt", m[1][0])
	}
	reply := "RFB 003.008\n"
	if m[1][0] == '7' {
		reply = "RFB 003.007\n"
	}
	_, err := io.WriteString(rw, reply)
	return strings.TrimSpace(reply), err
}

// notRFB words a failure to read the RFB greeting: a hang-up there is a
// peer that is not a VNC server (or one at its connection limit).
func notRFB(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return fail(ClassProtocol, "server hung up before the RFB greeting: not a VNC server (%v)", err)
	}
	return err
}

// chooseVeNCrypt reads the security types and picks VeNCrypt.
func chooseVeNCrypt(rw io.ReadWriter) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(rw, n[:]); err != nil {
		return "", err
	}
	if n[0] == 0 {
		reason, err := readVNCString(rw)
		if err != nil {
			return "", err
		}
		return "", fail(ClassError, "server refused the connection: \"%s\"", reason)
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(rw, types); err != nil {
		return "", err
	}
	var names []string
	for _, t := range types {
		names = append(names, nameOr(rfbSecNames[t], uint32(t)))
	}
	offered := strings.Join(names, ",")
	if !slices.Contains(types, rfbSecVeNCrypt) {
		return "", fail(ClassNoVeNCrypt, "server offers security types %s, not VeNCrypt: the console is not protected by TLS with certificates (qemu.conf vnc_tls = 1)", offered)
	}
	_, err := rw.Write([]byte{rfbSecVeNCrypt})
	return offered, err
}

// negotiateVeNCrypt agrees on VeNCrypt 0.2 and an X.509 subtype.
func negotiateVeNCrypt(rw io.ReadWriter) (uint32, error) {
	var v [2]byte
	if _, err := io.ReadFull(rw, v[:]); err != nil {
		return 0, err
	}
	if v[0] == 0 && v[1] < 2 {
		return 0, fail(ClassProtocol, "server offers VeNCrypt %d.%d; the check speaks 0.2", v[0], v[1])
	}
	if _, err := rw.Write([]byte{0, 2}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(rw, b[:]); err != nil {
		return 0, err
	}
	if b[0] != 0 {
		return 0, fail(ClassProtocol, "server refused VeNCrypt 0.2 (status %d)", b[0])
	}
	if _, err := io.ReadFull(rw, b[:]); err != nil {
		return 0, err
	}
	subs := make([]uint32, b[0])
	if err := binary.Read(rw, binary.BigEndian, subs); err != nil {
		return 0, err
	}
	var names []string
	for _, s := range subs {
		names = append(names, nameOr(vencryptNames[s], s))
	}
	i := slices.IndexFunc(vencryptPreference, func(p uint32) bool { return slices.Contains(subs, p) })
	if i < 0 {
		return 0, fail(ClassNoVeNCrypt, "server offers VeNCrypt subtypes %s, none with X.509 certificates (qemu.conf vnc_tls = 1 with vnc_tls_x509_verify = 1)", strings.Join(names, ","))
	}
	sub := vencryptPreference[i]
	if err := binary.Write(rw, binary.BigEndian, sub); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(rw, b[:]); err != nil {
		return 0, err
	}
	if b[0] != 1 {
		return 0, fail(ClassProtocol, "server refused the subtype %s it offered", vencryptNames[sub])
	}
	return sub, nil
}

// securityResult reads RFB's SecurityResult over TLS: 0 is success; a
// failure carries a reason (RFB 3.8).
func securityResult(r io.Reader) (string, error) {
	var res [4]byte
	if _, err := io.ReadFull(r, res[:]); err != nil {
		return "", closedAfterTLS(err, "the security result")
	}
	if v := binary.BigEndian.Uint32(res[:]); v != 0 {
		reason, err := readVNCString(r)
		if err != nil {
			reason = fmt.Sprintf("no reason (%v)", err)
		}
		return "", fail(ClassAuthFailed, "server reports security failure %d: \"%s\"", v, reason)
	}
	return "0 (ok)", nil
}

// serverInit sends ClientInit (shared) and reads ServerInit: the
// framebuffer size, pixel format and desktop name.
func serverInit(rw io.ReadWriter) (string, error) {
	if _, err := rw.Write([]byte{1}); err != nil {
		return "", err
	}
	var hdr [20]byte // width, height, 16-byte pixel format
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return "", err
	}
	name, err := readVNCString(rw)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%dx%d desktop \"%s\"", binary.BigEndian.Uint16(hdr[0:]), binary.BigEndian.Uint16(hdr[2:]), name), nil
}

// readVNCString reads a u32-length-prefixed string of at most maxVNCText
// bytes, escaped: the server chose it.
func readVNCString(r io.Reader) (string, error) {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return "", err
	}
	if n > maxVNCText {
		return "", fail(ClassProtocol, "server sent a %d-byte string (limit %d)", n, maxVNCText)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return untrusted.Clean(string(b), untrusted.MaxName), nil
}

// closedAfterTLS words a connection the server ends right after the TLS
// handshake: QEMU verifies the client certificate then, and closes the
// connection on one it refuses (no TLS alert, since the handshake itself
// succeeded). A TLS alert there means the same.
func closedAfterTLS(err error, what string) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "remote error: tls: ") {
		return fail(ClassClientCertRejected, "server closed the connection after the TLS handshake instead of sending %s: it refused the client certificate (%v)", what, err)
	}
	return err
}

func nameOr(name string, code uint32) string {
	if name == "" {
		return fmt.Sprint(code)
	}
	return fmt.Sprintf("%s(%d)", name, code)
}

// clientSubject is the subject of the client certificate the check sent.
func clientSubject(c tls.Certificate) string {
	if c.Leaf != nil {
		return c.Leaf.Subject.String()
	}
	if len(c.Certificate) > 0 {
		if cert, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
			return cert.Subject.String()
		}
	}
	return ""
}
