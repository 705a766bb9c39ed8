package untrusted

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanEscapes(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SCRAM-SHA-256", "SCRAM-SHA-256"},
		{"compute01.example.org", "compute01.example.org"},
		{"Müller, 日本", "Müller, 日本"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\x07`},
		{"line1\nline2\r\tx\x7f", `line1\nline2\r\tx\x7f`},
		{"\u009b31m", `\u009b31m`},                                   // C1 CSI
		{"abc\u202edcba\u2066x\u2069", `abc\u202edcba\u2066x\u2069`}, // bidi override, isolate
		{"a\u200bb\ufeffc\u2028d", `a\u200bb\ufeffc\u2028d`},         // zero width, BOM, line separator
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{`already \x1b escaped`, `already \x1b escaped`},
	}
	for _, c := range cases {
		if got := Clean(c.in, MaxName); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCleanBounds(t *testing.T) {
	huge := strings.Repeat("\x1b[31mEVIL\u202e,", 270000) // 3.5 MB
	got := Clean(huge, MaxName)
	if len(got) > MaxName || !strings.HasSuffix(got, "...[3510000 bytes]") || !strings.HasPrefix(got, `\x1b[31mEVIL\u202e,`) {
		t.Fatalf("Clean(3.5 MB) = %q (%d bytes)", got, len(got))
	}
	// A cut never splits an escape or a character.
	for max := 0; max < 40; max++ {
		got := Clean("é\x1b日本語\u202e"+strings.Repeat("x", 30), max)
		if len(got) > max || !utf8.ValidString(got) || strings.HasSuffix(strings.TrimRight(got, "]0123456789 bytes."), `\`) {
			t.Errorf("max %d: %q", max, got)
		}
	}
	// Exactly max bytes of output fits without a marker.
	if got := Clean("\x1b"+strings.Repeat("a", 6), 10); got != `\x1baaaaaa` {
		t.Errorf("exact fit: %q", got)
	}
}

// FuzzClean checks Clean's promises on any input: bounded, valid UTF-8,
// nothing a terminal interprets, and idempotent.
func FuzzClean(f *testing.F) {
	f.Add("\x1b[2J\u202e\u009b\xff", 64)
	f.Add(strings.Repeat("é", 100), 17)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 4096 {
			return
		}
		got := Clean(s, max)
		if len(got) > max || !utf8.ValidString(got) {
			t.Fatalf("Clean(%q, %d) = %q", s, max, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("Clean(%q, %d) = %q keeps %U", s, max, got, r)
			}
		}
		if again := Clean(got, max); again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}
