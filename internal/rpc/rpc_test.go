package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
)

// replyPacket builds a reply packet by hand, independent of EncodeCall, so
// the tests do not just mirror the code under test.
func replyPacket(prog, vers, proc, typ, serial, status uint32, body []byte) []byte {
	var b bytes.Buffer
	for _, v := range []uint32{uint32(28 + len(body)), prog, vers, proc, typ, serial, status} {
		binary.Write(&b, binary.BigEndian, v)
	}
	b.Write(body)
	return b.Bytes()
}

// fakeServer serves one connection: for each call it receives, handle
// returns the raw bytes to send back (nil = close the connection). A reply
// whose length word promises more than it holds is followed by a close, as
// a peer that dies mid-packet would do.
func fakeServer(t *testing.T, handle func(h Header, args []byte) []byte) *Client {
	t.Helper()
	cli, srv := net.Pipe()
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() {
		defer srv.Close()
		for {
			var lenb [4]byte
			if _, err := io.ReadFull(srv, lenb[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(lenb[:])
			if n < 28 || n > 1<<20 {
				return
			}
			pkt := make([]byte, n)
			copy(pkt, lenb[:])
			if _, err := io.ReadFull(srv, pkt[4:]); err != nil {
				return
			}
			h := Header{
				Prog: binary.BigEndian.Uint32(pkt[4:]), Vers: binary.BigEndian.Uint32(pkt[8:]),
				Proc: binary.BigEndian.Uint32(pkt[12:]), Type: binary.BigEndian.Uint32(pkt[16:]),
				Serial: binary.BigEndian.Uint32(pkt[20:]), Status: binary.BigEndian.Uint32(pkt[24:]),
			}
			out := handle(h, pkt[28:])
			if out == nil {
				return
			}
			if _, err := srv.Write(out); err != nil {
				return
			}
			if len(out) >= 4 && int(binary.BigEndian.Uint32(out)) > len(out) {
				return
			}
		}
	}()
	cli.SetDeadline(time.Now().Add(5 * time.Second))
	return NewClient(cli)
}

func okReply(h Header, body []byte) []byte {
	return replyPacket(Program, 1, h.Proc, TypeReply, h.Serial, StatusOK, body)
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func xdrString(s string) []byte {
	var e Encoder
	e.String(s)
	return e.Bytes()
}

func TestCallHeaderAndSerials(t *testing.T) {
	var serials []uint32
	c := fakeServer(t, func(h Header, args []byte) []byte {
		if h.Prog != Program || h.Vers != 1 || h.Type != TypeCall || h.Status != StatusOK {
			t.Errorf("bad call header %+v", h)
		}
		serials = append(serials, h.Serial)
		return okReply(h, u32s(1, AuthSASL))
	})
	for i := 0; i < 3; i++ {
		types, err := c.AuthList()
		if err != nil {
			t.Fatal(err)
		}
		if len(types) != 1 || types[0] != AuthSASL {
			t.Fatalf("types = %v", types)
		}
	}
	if len(serials) != 3 || serials[0] == serials[1] || serials[1] == serials[2] {
		t.Fatalf("serials = %v, want distinct", serials)
	}
}

func TestTypedHelpers(t *testing.T) {
	c := fakeServer(t, func(h Header, args []byte) []byte {
		switch h.Proc {
		case ProcAuthSASLInit:
			return okReply(h, xdrString("SCRAM-SHA-256,DIGEST-MD5"))
		case ProcAuthSASLStart:
			d := NewDecoder(args)
			mech, _ := d.String(0)
			isNil, _ := d.Int32()
			data, err := d.CharArray(MaxSASLData)
			if mech != "SCRAM-SHA-256" || isNil != 0 || string(data) != "n,,n=nova,r=\xff" || err != nil || d.Remaining() != 0 {
				t.Errorf("start args: %q %d %q %v", mech, isNil, data, err)
			}
			// one byte per 4-byte int: 13 bytes of data -> 8+4+4+13*4 args
			if want := 4 + 16 + 4 + 4 + 13*4; len(args) != want {
				t.Errorf("start args %d bytes, want %d", len(args), want)
			}
			var e Encoder
			e.Int32(0)
			e.Int32(0)
			e.CharArray([]byte("r=abc"))
			return okReply(h, e.Bytes())
		case ProcAuthSASLStep:
			d := NewDecoder(args)
			isNil, _ := d.Int32()
			data, _ := d.CharArray(MaxSASLData)
			if isNil != 1 || len(data) != 0 {
				t.Errorf("step args: nil=%d data=%q", isNil, data)
			}
			var e Encoder
			e.Int32(1)
			e.Int32(1)
			e.CharArray(nil)
			return okReply(h, e.Bytes())
		case ProcConnectOpen:
			d := NewDecoder(args)
			uri, ok, _ := d.OptString()
			flags, _ := d.Uint32()
			if !ok || uri != "test:///default" || flags != 0 {
				t.Errorf("open args %q %v %d", uri, ok, flags)
			}
			return okReply(h, nil)
		case ProcConnectGetHostname:
			return okReply(h, xdrString("compute01"))
		case ProcConnectGetLibVersion:
			return okReply(h, binary.BigEndian.AppendUint64(nil, 9000000))
		case ProcConnectClose:
			return okReply(h, nil)
		}
		t.Errorf("unexpected proc %d", h.Proc)
		return nil
	})
	mechs, err := c.AuthSASLInit()
	if err != nil || strings.Join(mechs, " ") != "SCRAM-SHA-256 DIGEST-MD5" {
		t.Fatalf("mechs %v %v", mechs, err)
	}
	r, err := c.AuthSASLStart("SCRAM-SHA-256", []byte("n,,n=nova,r=\xff"), false)
	if err != nil || r.Complete || string(r.Data) != "r=abc" {
		t.Fatalf("start %+v %v", r, err)
	}
	r, err = c.AuthSASLStep(nil)
	if err != nil || !r.Complete || !r.Nil {
		t.Fatalf("step %+v %v", r, err)
	}
	if err := c.ConnectOpen("test:///default", 0); err != nil {
		t.Fatal(err)
	}
	if h, err := c.ConnectGetHostname(); err != nil || h != "compute01" {
		t.Fatalf("hostname %q %v", h, err)
	}
	v, err := c.ConnectGetLibVersion()
	if err != nil || FormatVersion(v) != "9.0.0" {
		t.Fatalf("version %d %v", v, err)
	}
	if err := c.ConnectClose(); err != nil {
		t.Fatal(err)
	}
}

func errorBody(code, domain int32, msg string) []byte {
	var e Encoder
	e.Int32(code)
	e.Int32(domain)
	e.OptString(&msg)
	e.Int32(2)
	e.Uint32(0) // dom
	e.Uint32(0) // str1
	e.Uint32(0) // str2
	e.Uint32(0) // str3
	e.Int32(0)
	e.Int32(0)
	e.Uint32(0) // net
	return e.Bytes()
}

func TestErrorReply(t *testing.T) {
	c := fakeServer(t, func(h Header, args []byte) []byte {
		return replyPacket(Program, 1, h.Proc, TypeReply, h.Serial, StatusError, errorBody(45, 7, "authentication failed: x\n"))
	})
	_, err := c.AuthSASLStep([]byte("x"))
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *RemoteError", err)
	}
	if re.Code != ErrCodeAuthFailed || re.Domain != 7 || re.Level != 2 || re.Message != `authentication failed: x\n` {
		t.Fatalf("got %+v", re)
	}
	if !strings.Contains(re.Error(), "45") {
		t.Fatalf("Error() = %q", re.Error())
	}
}

func TestHostileReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply func(h Header) []byte
		want  string
	}{
		{"oversize length", func(h Header) []byte { return u32s(MaxMessage + 5) }, "exceeds"},
		{"huge length", func(h Header) []byte { return u32s(0xffffffff) }, "exceeds"},
		{"length below header", func(h Header) []byte { return u32s(8, 0) }, "shorter"},
		{"short packet then close", func(h Header) []byte { return u32s(100, Program) }, "unexpected EOF"},
		{"wrong program", func(h Header) []byte { return replyPacket(0x6b656570, 1, h.Proc, 1, h.Serial, 0, nil) }, "program"},
		{"wrong version", func(h Header) []byte { return replyPacket(Program, 2, h.Proc, 1, h.Serial, 0, nil) }, "version"},
		{"wrong serial", func(h Header) []byte { return replyPacket(Program, 1, h.Proc, 1, h.Serial+7, 0, nil) }, "serial"},
		{"wrong proc", func(h Header) []byte { return replyPacket(Program, 1, h.Proc+1, 1, h.Serial, 0, nil) }, "procedure"},
		{"call not reply", func(h Header) []byte { return replyPacket(Program, 1, h.Proc, 0, h.Serial, 0, nil) }, "type"},
		{"bad status", func(h Header) []byte { return replyPacket(Program, 1, h.Proc, 1, h.Serial, 9, nil) }, "status"},
		{"truncated error", func(h Header) []byte { return replyPacket(Program, 1, h.Proc, 1, h.Serial, 1, u32s(45)) }, "error reply"},
		{"empty body", func(h Header) []byte { return okReply(h, nil) }, "too short"},
		{"array too long", func(h Header) []byte { return okReply(h, u32s(21)) }, "exceeds"},
		{"array past end", func(h Header) []byte { return okReply(h, u32s(5, 1)) }, "too short"},
		{"immediate close", func(h Header) []byte { return nil }, "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeServer(t, func(h Header, _ []byte) []byte {
				out := tc.reply(h)
				if out == nil {
					return nil
				}
				return out
			})
			_, err := c.AuthList()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSilentServerHitsDeadline(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	defer srv.Close()
	go io.Copy(io.Discard, srv) // accept the call, never answer
	cli.SetDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := NewClient(cli).AuthList()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestSASLDataLimit(t *testing.T) {
	c := NewClient(nil) // never used: the size check comes first
	if _, err := c.AuthSASLStep(make([]byte, MaxSASLData+1)); err == nil {
		t.Fatal("oversize SASL data accepted")
	}
	var e Encoder
	e.Int32(0)
	e.Int32(0)
	e.Uint32(MaxSASLData + 1)
	if _, err := decodeSASLReply("x", e.Bytes()); err == nil {
		t.Fatal("oversize SASL reply accepted")
	}
}

func TestFormatVersion(t *testing.T) {
	for v, want := range map[uint64]string{9000000: "9.0.0", 10010002: "10.10.2", 0: "0.0.0"} {
		if got := FormatVersion(v); got != want {
			t.Errorf("FormatVersion(%d) = %q, want %q", v, got, want)
		}
	}
}

// FuzzDecodeReply feeds arbitrary bytes to everything that parses data
// from the peer; it must never panic or over-allocate.
func FuzzDecodeReply(f *testing.F) {
	f.Add(replyPacket(Program, 1, ProcAuthList, 1, 1, 0, u32s(1, 1)))
	f.Add(replyPacket(Program, 1, ProcAuthList, 1, 1, 1, errorBody(45, 7, "authentication failed")))
	f.Add(replyPacket(Program, 1, ProcAuthSASLStart, 1, 1, 0, u32s(0, 0, 2, 'r', '=')))
	f.Add(u32s(0xffffffff))
	f.Add(replyPacket(Program, 1, ProcAuthSASLInit, 1, 1, 0, xdrString("SCRAM-SHA-256,DIGEST-MD5")))
	f.Add(replyPacket(Program, 1, ProcAuthSASLInit, 1, 1, 0, xdrString("\x1b[2J,\u202eX")))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if p, err := ReadPacket(bytes.NewReader(pkt)); err == nil && len(p) > len(pkt) {
			t.Fatalf("packet grew: %d > %d", len(p), len(pkt))
		}
		h, body, err := ParseReply(pkt)
		if err != nil {
			return
		}
		if h.Status == StatusError {
			DecodeError(body)
		}
		decodeSASLReply("fuzz", body)
		d := NewDecoder(body)
		d.Int32Array(maxAuthTypes)
		NewDecoder(body).String(0)
		NewDecoder(body).Uint64()
		NewDecoder(body).OptString()
		if mechs, err := decodeMechanisms(body); err == nil {
			for _, m := range mechs {
				if !isMechanismName(m) {
					t.Fatalf("mechanism %q accepted", m)
				}
			}
		}
	})
}

func TestReadPacketAllocatesAsBytesArrive(t *testing.T) {
	// A peer announcing the largest packet allowed, then sending 100
	// bytes and hanging up, must not cost 16 MiB.
	in := append(u32s(MaxMessage+4), make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadPacket(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("ReadPacket allocated %d bytes for a 104-byte stream", n)
	}
	// A full packet still arrives whole.
	body := bytes.Repeat([]byte{7}, 100000)
	pkt := replyPacket(Program, 1, 1, 1, 1, 0, body)
	for _, r := range []io.Reader{bytes.NewReader(pkt), iotest.OneByteReader(bytes.NewReader(pkt)), iotest.DataErrReader(bytes.NewReader(pkt))} {
		got, err := ReadPacket(r)
		if err != nil || !bytes.Equal(got, pkt) {
			t.Fatalf("ReadPacket of %d bytes: %d bytes, %v", len(pkt), len(got), err)
		}
	}
}

func TestAuthSASLInitMechanismList(t *testing.T) {
	evil := strings.Repeat("\x1b[31mSCRAM-SHA-256\u202e\u009b2J,", 140000) // 3.5 MB
	cases := []struct {
		list string
		want []string // nil: a *ProtocolError
	}{
		{"SCRAM-SHA-256,DIGEST-MD5", []string{"SCRAM-SHA-256", "DIGEST-MD5"}},
		{"scram-sha-256 digest-md5", []string{"scram-sha-256", "digest-md5"}},
		{"", nil},
		{evil, nil},
		{"SCRAM-SHA-256," + strings.Repeat("X,", MaxMechanisms), nil},
		{"SCRAM-SHA-256,SCRAM-SHA-256-PLUS-TOO-LONG-NAME", nil},
		{"DIGEST-MD5,PL\x00AIN", nil},
	}
	for _, tc := range cases {
		c := fakeServer(t, func(h Header, _ []byte) []byte { return okReply(h, xdrString(tc.list)) })
		got, err := c.AuthSASLInit()
		if tc.want == nil && tc.list == "" {
			if err != nil || len(got) != 0 {
				t.Errorf("empty list: %q, %v", got, err)
			}
			continue
		}
		if tc.want == nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || len(err.Error()) > 2*untrusted.MaxName || strings.ContainsAny(err.Error(), "\x1b\u202e\u009b\x00") {
				t.Errorf("list of %d bytes: err = %.300q, want a short, clean *ProtocolError", len(tc.list), err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: %q, %v", tc.list, got, err)
		}
	}
}

func TestServerTextIsCleaned(t *testing.T) {
	evil := "\x1b]0;pwned\x07\u009b2J\u202e" + strings.Repeat("A", 1<<20)
	c := fakeServer(t, func(h Header, _ []byte) []byte {
		if h.Proc == ProcConnectGetHostname {
			return okReply(h, xdrString(evil))
		}
		return replyPacket(Program, 1, h.Proc, TypeReply, h.Serial, StatusError, errorBody(45, 7, evil))
	})
	_, err := c.AuthSASLStep(nil)
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	host, err := c.ConnectGetHostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{re.Message, host} {
		if len(s) > untrusted.MaxName || !strings.HasPrefix(s, `\x1b]0;pwned\x07\u009b2J\u202eAAA`) {
			t.Errorf("server text kept as %q", s)
		}
	}
}
