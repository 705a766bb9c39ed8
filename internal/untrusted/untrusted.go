// Package untrusted makes text that a network peer chose safe to print and
// to put in reports (table, JSON, JUnit): a libvirtd, or something posing
// as one, controls SASL mechanism lists, challenges, error messages, host
// names and certificate subjects, and could otherwise flood a terminal or
// drive it with escape sequences.
//
// Clean is applied once, where such text enters one of our types (a decoded
// RPC reply, a mechanism's error, a live check's result), not at every print.
package untrusted

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits for Clean, in bytes of output.
const (
	// MaxName bounds one peer-supplied string: a SASL mechanism name, a
	// host name, a certificate subject, a libvirt error message, a quoted
	// piece of a SASL challenge.
	MaxName = 256
	// MaxText bounds a line composed of our own words and a few such
	// strings: a live check's error, or the detail of one of its steps.
	MaxText = 1024
)

// Clean returns s escaped and bounded so that it prints as one inert line:
//
//   - C0 controls and DEL become \t, \n, \r or \xNN (ESC is \x1b);
//   - C1 controls (U+0080..U+009F), Unicode format characters (bidi
//     overrides and isolates, zero-width characters, BOM: category Cf) and
//     the line and paragraph separators U+2028/U+2029 become \uNNNN;
//   - bytes that are not UTF-8 become \xNN.
//
// Escapes, rather than U+FFFD, keep what the peer sent visible. Backslashes
// are not doubled, so Clean(Clean(s, n), n) == Clean(s, n). When the result
// would exceed max bytes, it is cut at a character (never inside an escape)
// and ends with "...[N bytes]", N being len(s); the result never exceeds max.
func Clean(s string, max int) string {
	if len(s) <= max && plainASCII(s) {
		return s
	}
	suffix := fmt.Sprintf("...[%d bytes]", len(s))
	budget := max - len(suffix)
	if budget < 0 {
		budget, suffix = max, ""
	}
	// cut is the output length, at a piece boundary, that still leaves
	// room for the marker; the loop stops as soon as the whole cannot fit,
	// so a multi-megabyte s costs no more than max bytes of work.
	var b strings.Builder
	cut := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := escape(r, size, s[i])
		if b.Len()+len(piece) > max {
			return b.String()[:cut] + suffix
		}
		b.WriteString(piece)
		if b.Len() <= budget {
			cut = b.Len()
		}
		i += size
	}
	return b.String()
}

// escape renders one decoded rune (or, for invalid UTF-8, the byte raw).
func escape(r rune, size int, raw byte) string {
	switch {
	case r == utf8.RuneError && size == 1:
		return fmt.Sprintf(`\x%02x`, raw)
	case r == '\t':
		return `\t`
	case r == '\n':
		return `\n`
	case r == '\r':
		return `\r`
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf(`\x%02x`, r)
	case r >= 0x80 && r <= 0x9f, unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return fmt.Sprintf(`\u%04x`, r)
	}
	return string(r)
}

// plainASCII reports whether s is printable ASCII only.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
