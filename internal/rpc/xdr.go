package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxString bounds any XDR string we decode (libvirt's
// VIR_NET_MESSAGE_STRING_MAX), so a hostile length cannot make us allocate
// more than the packet itself holds.
const MaxString = 4194304

// MaxSASLData is libvirt's REMOTE_AUTH_SASL_DATA_MAX: the most bytes a SASL
// token may carry in AUTH_SASL_START/STEP.
const MaxSASLData = 65536

// ErrShort is returned when a message ends before a value it must hold.
var ErrShort = errors.New("xdr: message too short")

// Encoder appends XDR (RFC 4506) values to a byte slice.
type Encoder struct{ buf []byte }

// Bytes returns what has been encoded so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Uint32 appends an unsigned int.
func (e *Encoder) Uint32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }

// Int32 appends an int.
func (e *Encoder) Int32(v int32) { e.Uint32(uint32(v)) }

// Bool appends an XDR bool (an int 0 or 1).
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint32(1)
	} else {
		e.Uint32(0)
	}
}

// String appends a length-prefixed string padded to 4 bytes.
func (e *Encoder) String(s string) {
	e.Uint32(uint32(len(s)))
	e.buf = append(e.buf, s...)
	for len(e.buf)%4 != 0 {
		e.buf = append(e.buf, 0)
	}
}

// OptString appends an optional string (XDR pointer: bool, then value).
func (e *Encoder) OptString(s *string) {
	e.Bool(s != nil)
	if s != nil {
		e.String(*s)
	}
}

// CharArray appends a variable-length array of XDR "char": rpcgen encodes
// each char as a full 4-byte int, so one byte costs four on the wire. C's
// char is signed on libvirt's main platforms, so bytes >= 0x80 are
// sign-extended as xdr_char would do.
func (e *Encoder) CharArray(b []byte) {
	e.Uint32(uint32(len(b)))
	for _, c := range b {
		e.Int32(int32(int8(c)))
	}
}

// Decoder reads XDR values from a byte slice, never beyond its end.
type Decoder struct {
	buf []byte
	off int
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Remaining is the number of bytes not yet consumed.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Uint32 reads an unsigned int.
func (d *Decoder) Uint32() (uint32, error) {
	if d.Remaining() < 4 {
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint32(d.buf[d.off:])
	d.off += 4
	return v, nil
}

// Int32 reads an int.
func (d *Decoder) Int32() (int32, error) {
	v, err := d.Uint32()
	return int32(v), err
}

// Uint64 reads an unsigned hyper.
func (d *Decoder) Uint64() (uint64, error) {
	if d.Remaining() < 8 {
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v, nil
}

// Bool reads an XDR bool; values other than 0 and 1 are an error.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.Uint32()
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("xdr: bad bool %d", v)
}

// String reads a string of at most max bytes (MaxString when max <= 0).
func (d *Decoder) String(max int) (string, error) {
	if max <= 0 {
		max = MaxString
	}
	n, err := d.Uint32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(max) {
		return "", fmt.Errorf("xdr: string length %d exceeds %d", n, max)
	}
	padded := (uint64(n) + 3) &^ 3
	if uint64(d.Remaining()) < padded {
		return "", ErrShort
	}
	s := string(d.buf[d.off : d.off+int(n)])
	d.off += int(padded)
	return s, nil
}

// OptString reads an optional string; ok is false for a null pointer.
func (d *Decoder) OptString() (s string, ok bool, err error) {
	present, err := d.Bool()
	if err != nil || !present {
		return "", false, err
	}
	s, err = d.String(0)
	return s, err == nil, err
}

// Opaque skips over fixed-length opaque data of n bytes (padded).
func (d *Decoder) Opaque(n int) ([]byte, error) {
	padded := (n + 3) &^ 3
	if n < 0 || d.Remaining() < padded {
		return nil, ErrShort
	}
	b := d.buf[d.off : d.off+n]
	d.off += padded
	return b, nil
}

// CharArray reads a variable-length array of XDR chars (one int per byte)
// of at most max elements.
func (d *Decoder) CharArray(max int) ([]byte, error) {
	n, err := d.Uint32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("xdr: char array length %d exceeds %d", n, max)
	}
	if uint64(d.Remaining()) < uint64(n)*4 {
		return nil, ErrShort
	}
	out := make([]byte, n)
	for i := range out {
		v, _ := d.Uint32()
		out[i] = byte(v) // xdr_char keeps the low byte
	}
	return out, nil
}

// Int32Array reads a variable-length array of ints of at most max elements.
func (d *Decoder) Int32Array(max int) ([]int32, error) {
	n, err := d.Uint32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("xdr: array length %d exceeds %d", n, max)
	}
	if uint64(d.Remaining()) < uint64(n)*4 {
		return nil, ErrShort
	}
	out := make([]int32, n)
	for i := range out {
		out[i], _ = d.Int32()
	}
	return out, nil
}
