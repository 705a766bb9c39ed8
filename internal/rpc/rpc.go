// Package rpc is a minimal client for libvirt's remote RPC protocol: just
// enough XDR and framing to authenticate (AUTH_LIST, AUTH_SASL_*) and to ask
// a daemon a few harmless questions (CONNECT_OPEN, CONNECT_GET_HOSTNAME,
// CONNECT_GET_LIB_VERSION, CONNECT_CLOSE).
//
// The wire format follows libvirt's src/rpc/virnetprotocol.x and
// src/remote/remote_protocol.x: every packet is a 4-byte total length
// (including itself), a 24-byte header and an XDR body.
//
// The client sets no deadlines itself: the caller sets one on the net.Conn
// (SetDeadline) and every read and write is bounded by it. Replies are
// validated strictly (length, program, version, procedure, type, serial) so
// that a hostile or confused peer yields an error, never a hang or a panic.
package rpc

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// Protocol constants from remote_protocol.x and virnetprotocol.x.
const (
	Program        = 0x20008086 // REMOTE_PROGRAM
	ProgramVersion = 1          // REMOTE_PROTOCOL_VERSION

	// MaxMessage is VIR_NET_MESSAGE_MAX: the most bytes a packet may hold
	// after its 4-byte length word. Longer announced lengths are refused
	// before anything is allocated.
	MaxMessage = 16 * 1024 * 1024
	headerLen  = 24
	// initialRead is what ReadPacket allocates before a packet's bytes
	// arrive: every reply of the handshake fits.
	initialRead = 4096
)

// Procedure numbers used here.
const (
	ProcConnectOpen          = 1
	ProcConnectClose         = 2
	ProcConnectGetHostname   = 59
	ProcAuthList             = 66
	ProcAuthSASLInit         = 67
	ProcAuthSASLStart        = 68
	ProcAuthSASLStep         = 69
	ProcConnectGetLibVersion = 157
)

// Message types and statuses from virnetprotocol.x.
const (
	TypeCall  = 0
	TypeReply = 1

	StatusOK    = 0
	StatusError = 1
)

// Auth types returned by AUTH_LIST (remote_auth_type).
const (
	AuthNone   = 0
	AuthSASL   = 1
	AuthPolkit = 2
)

// maxAuthTypes is REMOTE_AUTH_TYPE_LIST_MAX.
const maxAuthTypes = 20

// Well-known libvirt error codes (virErrorNumber) the checker classifies.
const (
	ErrCodeRPC        = 39 // VIR_ERR_RPC, e.g. "authentication required"
	ErrCodeAuthFailed = 45 // VIR_ERR_AUTH_FAILED, e.g. a wrong SASL password
)

// Header is the fixed part of every packet after the length word.
type Header struct {
	Prog, Vers uint32
	Proc       uint32
	Type       uint32
	Serial     uint32
	Status     uint32
}

// RemoteError is an error reported by the daemon (virNetMessageError).
type RemoteError struct {
	Code    int    // virErrorNumber, e.g. 45 = VIR_ERR_AUTH_FAILED
	Domain  int    // virErrorDomain, e.g. 7 = VIR_FROM_RPC
	Message string // the daemon's text, escaped and bounded (untrusted.Clean)
	Level   int    // 1 warning, 2 error
}

// Error implements error.
func (e *RemoteError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("libvirt error %d (domain %d): %s", e.Code, e.Domain, msg)
}

// ProtocolError reports a packet that violates the protocol (bad length,
// wrong program, unexpected serial, undecodable body).
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "libvirt rpc: " + e.Msg }

func protoErr(format string, a ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, a...)}
}

// Client speaks libvirt RPC over one connection. It is not safe for
// concurrent use: calls are strictly one at a time, as in the handshake.
type Client struct {
	conn   net.Conn
	serial uint32
}

// NewClient wraps conn (normally a *tls.Conn after the confirmation byte).
func NewClient(conn net.Conn) *Client { return &Client{conn: conn} }

// EncodeCall builds a complete call packet.
func EncodeCall(proc, serial uint32, args []byte) []byte {
	pkt := make([]byte, 4+headerLen, 4+headerLen+len(args))
	binary.BigEndian.PutUint32(pkt[0:], uint32(4+headerLen+len(args)))
	binary.BigEndian.PutUint32(pkt[4:], Program)
	binary.BigEndian.PutUint32(pkt[8:], ProgramVersion)
	binary.BigEndian.PutUint32(pkt[12:], proc)
	binary.BigEndian.PutUint32(pkt[16:], TypeCall)
	binary.BigEndian.PutUint32(pkt[20:], serial)
	binary.BigEndian.PutUint32(pkt[24:], StatusOK)
	return append(pkt, args...)
}

// ReadPacket reads one packet (length word included in the count) from r,
// refusing lengths below a header or above MaxMessage. The buffer grows as
// bytes arrive, never ahead of them, so a peer announcing 16 MiB and
// sending nothing costs nothing.
func ReadPacket(r io.Reader) ([]byte, error) {
	var lenb [4]byte
	if _, err := io.ReadFull(r, lenb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lenb[:])
	if n < 4+headerLen {
		return nil, protoErr("packet length %d shorter than a header", n)
	}
	if n-4 > MaxMessage {
		return nil, protoErr("packet length %d exceeds the %d-byte limit", n, MaxMessage)
	}
	size := int(n)
	pkt := append(make([]byte, 0, min(size, initialRead)), lenb[:]...)
	for len(pkt) < size {
		if len(pkt) == cap(pkt) {
			pkt = slices.Grow(pkt, min(size, 2*cap(pkt))-len(pkt))
		}
		got, err := r.Read(pkt[len(pkt):min(cap(pkt), size)])
		pkt = pkt[:len(pkt)+got]
		if err == io.EOF && len(pkt) < size {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return pkt, nil
}

// ParseReply checks a packet read by ReadPacket (or any byte slice) and
// splits it into header and body. It validates length and header fields
// that do not depend on the call; Call checks the rest.
func ParseReply(pkt []byte) (Header, []byte, error) {
	var h Header
	if len(pkt) < 4+headerLen {
		return h, nil, protoErr("packet of %d bytes shorter than a header", len(pkt))
	}
	n := binary.BigEndian.Uint32(pkt)
	if uint64(n) != uint64(len(pkt)) {
		return h, nil, protoErr("length word %d does not match packet size %d", n, len(pkt))
	}
	if n-4 > MaxMessage {
		return h, nil, protoErr("packet length %d exceeds the limit", n)
	}
	h.Prog = binary.BigEndian.Uint32(pkt[4:])
	h.Vers = binary.BigEndian.Uint32(pkt[8:])
	h.Proc = binary.BigEndian.Uint32(pkt[12:])
	h.Type = binary.BigEndian.Uint32(pkt[16:])
	h.Serial = binary.BigEndian.Uint32(pkt[20:])
	h.Status = binary.BigEndian.Uint32(pkt[24:])
	if h.Prog != Program {
		return h, nil, protoErr("reply for program %#x, want %#x", h.Prog, Program)
	}
	if h.Vers != ProgramVersion {
		return h, nil, protoErr("reply with protocol version %d, want %d", h.Vers, ProgramVersion)
	}
	if h.Type != TypeReply {
		return h, nil, protoErr("message type %d, want a reply", h.Type)
	}
	if h.Status != StatusOK && h.Status != StatusError {
		return h, nil, protoErr("reply status %d", h.Status)
	}
	return h, pkt[4+headerLen:], nil
}

// DecodeError decodes a virNetMessageError body. Only code, domain,
// message and level are kept; the rest (dom, str1..3, int1, int2, net) is
// checked for well-formedness only when present, since some senders omit
// trailing fields.
func DecodeError(body []byte) (*RemoteError, error) {
	d := NewDecoder(body)
	code, err := d.Int32()
	if err != nil {
		return nil, protoErr("error reply: %v", err)
	}
	domain, err := d.Int32()
	if err != nil {
		return nil, protoErr("error reply: %v", err)
	}
	msg, _, err := d.OptString()
	if err != nil {
		return nil, protoErr("error reply message: %v", err)
	}
	level, err := d.Int32()
	if err != nil {
		return nil, protoErr("error reply: %v", err)
	}
	return &RemoteError{Code: int(code), Domain: int(domain), Message: untrusted.Clean(msg, untrusted.MaxName), Level: int(level)}, nil
}

// Call sends one call and waits for its reply. It returns the reply body on
// success, a *RemoteError when the daemon answered with an error, and a
// *ProtocolError or I/O error (including deadline errors from the conn)
// otherwise. After a protocol or I/O error the connection is unusable.
func (c *Client) Call(proc uint32, args []byte) ([]byte, error) {
	c.serial++
	serial := c.serial
	if _, err := c.conn.Write(EncodeCall(proc, serial, args)); err != nil {
		return nil, err
	}
	pkt, err := ReadPacket(c.conn)
	if err != nil {
		return nil, err
	}
	h, body, err := ParseReply(pkt)
	if err != nil {
		return nil, err
	}
	// No events or streams are requested before authentication, so any
	// packet that is not our reply is a protocol violation.
	if h.Proc != proc {
		return nil, protoErr("reply for procedure %d, want %d", h.Proc, proc)
	}
	if h.Serial != serial {
		return nil, protoErr("reply serial %d, want %d", h.Serial, serial)
	}
	if h.Status == StatusError {
		rerr, err := DecodeError(body)
		if err != nil {
			return nil, err
		}
		return nil, rerr
	}
	return body, nil
}

// AuthList asks which authentication the server requires (AUTH_LIST).
func (c *Client) AuthList() ([]int, error) {
	body, err := c.Call(ProcAuthList, nil)
	if err != nil {
		return nil, err
	}
	d := NewDecoder(body)
	types, err := d.Int32Array(maxAuthTypes)
	if err != nil {
		return nil, protoErr("auth list: %v", err)
	}
	out := make([]int, len(types))
	for i, t := range types {
		out[i] = int(t)
	}
	return out, nil
}

// MaxMechanisms bounds the mechanism list AUTH_SASL_INIT may return:
// Cyrus SASL, which builds libvirtd's list, has about a dozen plugins.
const MaxMechanisms = 64

// AuthSASLInit starts SASL on the server and returns its mechanism list.
// Every entry must be a SASL mechanism name (RFC 4422: 1 to 20 letters,
// digits, '-' or '_'), as Cyrus SASL only lists those; anything else, or
// more than MaxMechanisms entries, is a *ProtocolError, so the names
// returned are safe to print.
func (c *Client) AuthSASLInit() ([]string, error) {
	body, err := c.Call(ProcAuthSASLInit, nil)
	if err != nil {
		return nil, err
	}
	return decodeMechanisms(body)
}

func decodeMechanisms(body []byte) ([]string, error) {
	s, err := NewDecoder(body).String(0)
	if err != nil {
		return nil, protoErr("sasl init: %v", err)
	}
	size := len(s)
	var mechs []string
	for len(s) > 0 {
		var m string
		m, s = nextMechanism(s)
		if m == "" {
			continue
		}
		if !isMechanismName(m) {
			return nil, protoErr("sasl init: mechanism list entry \"%s\" is not a SASL mechanism name", untrusted.Clean(m, untrusted.MaxName))
		}
		if len(mechs) == MaxMechanisms {
			return nil, protoErr("sasl init: mechanism list of %d bytes holds more than %d names", size, MaxMechanisms)
		}
		mechs = append(mechs, m)
	}
	return mechs, nil
}

// nextMechanism splits the first entry off a list separated by commas or
// spaces (Cyrus uses commas, its configuration spaces).
func nextMechanism(s string) (first, rest string) {
	if i := strings.IndexAny(s, ", "); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// isMechanismName checks RFC 4422's sasl-mech syntax, allowing lower case
// as libvirt's configuration does.
func isMechanismName(m string) bool {
	if len(m) == 0 || len(m) > 20 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SASLReply is the server's answer to AUTH_SASL_START and AUTH_SASL_STEP.
type SASLReply struct {
	Complete bool   // the server considers authentication finished
	Nil      bool   // no data (as opposed to empty data)
	Data     []byte // server challenge or final data
}

func decodeSASLReply(what string, body []byte) (SASLReply, error) {
	d := NewDecoder(body)
	complete, err := d.Int32()
	if err != nil {
		return SASLReply{}, protoErr("%s: %v", what, err)
	}
	isNil, err := d.Int32()
	if err != nil {
		return SASLReply{}, protoErr("%s: %v", what, err)
	}
	data, err := d.CharArray(MaxSASLData)
	if err != nil {
		return SASLReply{}, protoErr("%s: %v", what, err)
	}
	return SASLReply{Complete: complete != 0, Nil: isNil != 0, Data: data}, nil
}

// AuthSASLStart sends the chosen mechanism and the client's initial
// response; isNil says "no initial response" (DIGEST-MD5), as opposed to an
// empty one.
func (c *Client) AuthSASLStart(mech string, data []byte, isNil bool) (SASLReply, error) {
	if len(data) > MaxSASLData {
		return SASLReply{}, fmt.Errorf("sasl start: %d bytes exceed %d", len(data), MaxSASLData)
	}
	var e Encoder
	e.String(mech)
	e.Bool(isNil)
	e.CharArray(data)
	body, err := c.Call(ProcAuthSASLStart, e.Bytes())
	if err != nil {
		return SASLReply{}, err
	}
	return decodeSASLReply("sasl start", body)
}

// AuthSASLStep sends the next client response; a nil slice is sent as
// nil=1.
func (c *Client) AuthSASLStep(data []byte) (SASLReply, error) {
	if len(data) > MaxSASLData {
		return SASLReply{}, fmt.Errorf("sasl step: %d bytes exceed %d", len(data), MaxSASLData)
	}
	var e Encoder
	e.Bool(data == nil)
	e.CharArray(data)
	body, err := c.Call(ProcAuthSASLStep, e.Bytes())
	if err != nil {
		return SASLReply{}, err
	}
	return decodeSASLReply("sasl step", body)
}

// ConnectOpen opens a hypervisor connection on the daemon side; uri may be
// "" for the daemon's default.
func (c *Client) ConnectOpen(uri string, flags uint32) error {
	var e Encoder
	if uri == "" {
		e.OptString(nil)
	} else {
		e.OptString(&uri)
	}
	e.Uint32(flags)
	_, err := c.Call(ProcConnectOpen, e.Bytes())
	return err
}

// ConnectGetHostname returns the daemon host's name, escaped and bounded
// (untrusted.Clean).
func (c *Client) ConnectGetHostname() (string, error) {
	body, err := c.Call(ProcConnectGetHostname, nil)
	if err != nil {
		return "", err
	}
	s, err := NewDecoder(body).String(0)
	if err != nil {
		return "", protoErr("get hostname: %v", err)
	}
	return untrusted.Clean(s, untrusted.MaxName), nil
}

// ConnectGetLibVersion returns libvirt's version as major*1e6+minor*1e3+micro.
func (c *Client) ConnectGetLibVersion() (uint64, error) {
	body, err := c.Call(ProcConnectGetLibVersion, nil)
	if err != nil {
		return 0, err
	}
	v, err := NewDecoder(body).Uint64()
	if err != nil {
		return 0, protoErr("get lib version: %v", err)
	}
	return v, nil
}

// FormatVersion renders a libvirt version number as "major.minor.micro".
func FormatVersion(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// ConnectClose closes the hypervisor connection (not the socket).
func (c *Client) ConnectClose() error {
	_, err := c.Call(ProcConnectClose, nil)
	return err
}
