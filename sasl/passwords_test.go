package sasl

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// kollaPasswords is the project's own passwords.yml fixture in Kolla's shape:
// banner comments, many empty keys, nested SSH key pairs, and an empty
// libvirt_sasl_password with keys after it.
const kollaPasswords = "../testdata/kolla/passwords.yml"

var alnum40 = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)

func writeTemp(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passwords.yml")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// diffLines returns the indexes of lines that differ between a and b, which
// must have the same number of lines.
func diffLines(t *testing.T, a, b []byte) []int {
	t.Helper()
	la, lb := strings.SplitAfter(string(a), "\n"), strings.SplitAfter(string(b), "\n")
	if len(la) != len(lb) {
		t.Fatalf("line count changed: %d -> %d", len(la), len(lb))
	}
	var d []int
	for i := range la {
		if la[i] != lb[i] {
			d = append(d, i)
		}
	}
	return d
}

// TestEnsurePasswordKollaSample runs against a passwords.yml shaped like the
// one kolla-ansible ships: the empty libvirt_sasl_password line, and only it,
// gets a 40-character value; a second call is a no-op; rotation changes
// only that line again.
func TestEnsurePasswordKollaSample(t *testing.T) {
	orig, err := os.ReadFile(kollaPasswords)
	if err != nil {
		t.Fatalf("kolla fixture missing: %v", err)
	}
	if !bytes.Contains(orig, []byte("\nlibvirt_sasl_password:\n")) {
		t.Fatal("fixture no longer has an empty libvirt_sasl_password line")
	}
	p := writeTemp(t, string(orig), 0o640)

	res, err := EnsurePassword(p, SASLPasswordKey, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res != (EnsureResult{Changed: true, Generated: true}) {
		t.Fatalf("result %+v", res)
	}
	first := readFile(t, p)
	d := diffLines(t, orig, first)
	if len(d) != 1 {
		t.Fatalf("%d lines changed, want 1: %v", len(d), d)
	}
	got := strings.SplitAfter(string(first), "\n")[d[0]]
	if !regexp.MustCompile(`^libvirt_sasl_password: [A-Za-z0-9]{40}\n$`).MatchString(got) {
		t.Fatalf("changed line %q", got)
	}
	pw, err := ReadPassword(p, SASLPasswordKey)
	if err != nil || !alnum40.MatchString(pw) || !strings.Contains(got, pw) {
		t.Fatalf("ReadPassword = %q, %v", pw, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}

	// Second call: nothing to do.
	res, err = EnsurePassword(p, SASLPasswordKey, false, nil)
	if err != nil || res != (EnsureResult{}) {
		t.Fatalf("second call: %+v, %v", res, err)
	}
	if !bytes.Equal(readFile(t, p), first) {
		t.Fatal("second call changed the file")
	}

	// Rotation: same single line, new value.
	res, err = EnsurePassword(p, SASLPasswordKey, true, nil)
	if err != nil || !res.Changed || !res.Generated || res.Created {
		t.Fatalf("rotate: %+v, %v", res, err)
	}
	rotated := readFile(t, p)
	if d := diffLines(t, first, rotated); len(d) != 1 || d[0] != diffLines(t, orig, first)[0] {
		t.Fatalf("rotation changed lines %v", d)
	}
	pw2, _ := ReadPassword(p, SASLPasswordKey)
	if pw2 == pw || !alnum40.MatchString(pw2) {
		t.Fatalf("rotated password %q (was %q)", pw2, pw)
	}

	// Every other key reads back as in the original.
	var a, b map[string]any
	if err := yaml.Unmarshal(orig, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(rotated, &b); err != nil {
		t.Fatal(err)
	}
	delete(a, SASLPasswordKey)
	delete(b, SASLPasswordKey)
	if len(a) != len(b) || len(a) < 50 {
		t.Fatalf("key counts %d vs %d", len(a), len(b))
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || !sameValue(bv, v) {
			t.Fatalf("%s changed: %v -> %v", k, v, bv)
		}
	}
}

// TestEnsurePasswordEdits covers the value spellings a hand-edited file may
// hold: which count as empty, what happens to comments on the line, and
// where an absent key goes.
func TestEnsurePasswordEdits(t *testing.T) {
	const pw = "<PW>"
	cases := []struct {
		name, in string
		want     string // with <PW> for the new value; "" = unchanged
		rotate   bool
	}{
		{"empty", "a: 1\nlibvirt_sasl_password:\nb: 2\n", "a: 1\nlibvirt_sasl_password: <PW>\nb: 2\n", false},
		{"empty comment", "libvirt_sasl_password:   # set me\n", "libvirt_sasl_password: <PW>   # set me\n", false},
		{"tilde", "libvirt_sasl_password: ~\n", "libvirt_sasl_password: <PW>\n", false},
		{"null", "libvirt_sasl_password: null # x\n", "libvirt_sasl_password: <PW> # x\n", false},
		{"Null", "libvirt_sasl_password: Null\n", "libvirt_sasl_password: <PW>\n", false},
		{"single quotes", "libvirt_sasl_password: ''\n", "libvirt_sasl_password: <PW>\n", false},
		{"double quotes", "libvirt_sasl_password: \"\"  # c\n", "libvirt_sasl_password: <PW>  # c\n", false},
		{"quoted key", "'libvirt_sasl_password':\n", "'libvirt_sasl_password': <PW>\n", false},
		{"spaced colon", "libvirt_sasl_password :\n", "libvirt_sasl_password : <PW>\n", false},
		{"value on next line", "libvirt_sasl_password:\n  ~\nb: 2\n", "libvirt_sasl_password:\n  <PW>\nb: 2\n", false},
		{"kept", "libvirt_sasl_password: secret # keep me\n", "", false},
		{"kept quoted", "libvirt_sasl_password: 'it''s'\n", "", false},
		{"kept number", "libvirt_sasl_password: 12345\n", "", false},
		{"rotate plain", "libvirt_sasl_password: old # c\nz: 1\n", "libvirt_sasl_password: <PW> # c\nz: 1\n", true},
		{"rotate quoted", "libvirt_sasl_password: 'o''ld'  # c\n", "libvirt_sasl_password: <PW>  # c\n", true},
		{"rotate dquoted", "libvirt_sasl_password: \"a\\\"b\"\n", "libvirt_sasl_password: <PW>\n", true},
		{"absent", "---\n# comment\na: 1\n\n", "---\n# comment\na: 1\n\nlibvirt_sasl_password: <PW>\n", false},
		{"absent no final newline", "a: 1", "a: 1\nlibvirt_sasl_password: <PW>\n", false},
		{"absent crlf", "a: 1\r\nb: 2\r\n", "a: 1\r\nb: 2\r\nlibvirt_sasl_password: <PW>\r\n", false},
		{"absent indented", "  a: 1\n  b: 2\n", "  a: 1\n  b: 2\n  libvirt_sasl_password: <PW>\n", false},
		{"empty file", "", "libvirt_sasl_password: <PW>\n", false},
		{"comments only", "# nothing yet\n", "# nothing yet\nlibvirt_sasl_password: <PW>\n", false},
		{"document marker only", "---\n", "---\nlibvirt_sasl_password: <PW>\n", false},
		{"crlf value", "libvirt_sasl_password:\r\nb: 2\r\n", "libvirt_sasl_password: <PW>\r\nb: 2\r\n", false},
		{"unicode before", "ключ: значение\nlibvirt_sasl_password: ''\n", "ключ: значение\nlibvirt_sasl_password: <PW>\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, c.in, 0o600)
			res, err := EnsurePassword(p, SASLPasswordKey, c.rotate, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := string(readFile(t, p))
			if c.want == "" {
				if res.Changed || got != c.in {
					t.Fatalf("changed: %+v\n%q", res, got)
				}
				return
			}
			if !res.Changed || !res.Generated || res.Created {
				t.Fatalf("result %+v", res)
			}
			v, err := ReadPassword(p, SASLPasswordKey)
			if err != nil || !alnum40.MatchString(v) {
				t.Fatalf("ReadPassword %q %v", v, err)
			}
			if want := strings.Replace(c.want, pw, v, 1); got != want {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode changed to %v", fi.Mode())
			}
		})
	}
}

// TestEnsurePasswordRefuses feeds broken or unsupported files: each gives an
// error naming the file and leaves its bytes alone.
func TestEnsurePasswordRefuses(t *testing.T) {
	cases := []struct{ name, in, errPart string }{
		{"invalid yaml", "a: [1, 2\nlibvirt_sasl_password:\n", "not valid YAML"},
		{"top-level list", "- a\n- b\n", "not a mapping"},
		{"top-level scalar", "hello\n", "not a mapping"},
		{"key maps to map", "libvirt_sasl_password:\n  a: 1\n", "a mapping"},
		{"key maps to list", "libvirt_sasl_password: [a]\n", "a list"},
		{"tab indentation", "a:\n\tb: 1\nlibvirt_sasl_password:\n", "not valid YAML"},
		{"duplicate key", "libvirt_sasl_password:\nlibvirt_sasl_password: x\n", "twice"},
		{"two documents", "a: 1\n---\nb: 2\n", "more than one"},
		{"flow mapping", "{a: 1}\n", "flow-style"},
		{"alias value", "x: &p ''\nlibvirt_sasl_password: *p\n", "alias"},
		{"anchored value", "libvirt_sasl_password: &p ''\ny: *p\n", "anchor"},
		{"block scalar", "libvirt_sasl_password: |\n  \n", "block scalar"},
		{"multi-line plain", "libvirt_sasl_password: a\n  b\n", "several lines"},
		{"binary", "a: \xff\xfe\n", "UTF-8"},
		{"document end", "a: 1\n...\n", "in place"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, c.in, 0o640)
			rotate := c.name == "multi-line plain"
			_, err := EnsurePassword(p, SASLPasswordKey, rotate, nil)
			if err == nil {
				t.Fatalf("no error; file now %q", readFile(t, p))
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.errPart) {
				t.Fatalf("error %q should name %s and say %q", err, p, c.errPart)
			}
			if got := string(readFile(t, p)); got != c.in {
				t.Fatalf("file changed to %q", got)
			}
			if _, err := ReadPassword(p, SASLPasswordKey); err == nil && !rotate {
				t.Fatal("ReadPassword accepted it")
			}
		})
	}

	t.Run("directory", func(t *testing.T) {
		d := t.TempDir()
		_, err := EnsurePassword(d, SASLPasswordKey, false, nil)
		if err == nil || !strings.Contains(err.Error(), d) || !strings.Contains(err.Error(), "directory") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: mode 000 does not stop root from reading")
		}
		p := writeTemp(t, "libvirt_sasl_password:\n", 0o000)
		_, err := EnsurePassword(p, SASLPasswordKey, false, nil)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("missing parent", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nodir", "passwords.yml")
		if _, err := EnsurePassword(p, SASLPasswordKey, false, nil); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("bad key", func(t *testing.T) {
		p := writeTemp(t, "a: 1\n", 0o640)
		for _, k := range []string{"", "a b", "x: y", "123", "true"} {
			if _, err := EnsurePassword(p, k, false, nil); err == nil {
				t.Errorf("key %q accepted", k)
			}
		}
	})
}

func TestEnsurePasswordCreates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "passwords.yml")
	res, err := EnsurePassword(p, SASLPasswordKey, false, nil)
	if err != nil || res != (EnsureResult{Changed: true, Generated: true, Created: true}) {
		t.Fatalf("%+v %v", res, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	b := string(readFile(t, p))
	if !regexp.MustCompile(`^libvirt_sasl_password: [A-Za-z0-9]{40}\n$`).MatchString(b) {
		t.Fatalf("content %q", b)
	}
}

func TestReadPassword(t *testing.T) {
	p := writeTemp(t, "a: 1\nlibvirt_sasl_password: 'x y' # c\n", 0o640)
	if v, err := ReadPassword(p, SASLPasswordKey); err != nil || v != "x y" {
		t.Fatalf("%q %v", v, err)
	}
	for _, in := range []string{"a: 1\n", "libvirt_sasl_password:\n", "libvirt_sasl_password: ''\n", "libvirt_sasl_password: ~\n"} {
		p := writeTemp(t, in, 0o640)
		_, err := ReadPassword(p, SASLPasswordKey)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), SASLPasswordKey) {
			t.Errorf("%q: err %v", in, err)
		}
	}
	if _, err := ReadPassword(filepath.Join(t.TempDir(), "none.yml"), SASLPasswordKey); err == nil {
		t.Error("missing file accepted")
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 500 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if !alnum40.MatchString(pw) {
			t.Fatalf("password %q", pw)
		}
		if seen[pw] {
			t.Fatalf("repeat %q", pw)
		}
		seen[pw] = true
		for _, c := range pw {
			counts[c]++
		}
	}
	// 20000 draws over 62 symbols: every symbol shows up (each is expected
	// ~322 times; missing one has probability ~1e-138), including digits,
	// upper and lower case.
	if len(counts) != 62 {
		t.Fatalf("only %d distinct characters", len(counts))
	}
}

func TestYAMLReadsAsNonString(t *testing.T) {
	for _, s := range []string{"1234567890", "0x1F", "0o17", "0b101", "12e45", "1E5", "true", "null"} {
		if !yamlReadsAsNonString(s) {
			t.Errorf("%q should be flagged", s)
		}
	}
	for _, s := range []string{"abc", "a1", "x0", "e12", "0xZZ", "Yes1"} {
		if yamlReadsAsNonString(s) {
			t.Errorf("%q should not be flagged", s)
		}
	}
}

// FuzzEnsurePassword: EnsurePassword never panics, and when it succeeds the
// result parses, holds a 40-character alphanumeric value for the key, and
// every other top-level entry reads back unchanged. When it fails, the file
// is untouched.
func FuzzEnsurePassword(f *testing.F) {
	if b, err := os.ReadFile(kollaPasswords); err == nil {
		f.Add(b, false)
	}
	for _, s := range []string{
		"", "---\n", "a: 1\n", "libvirt_sasl_password:\n", "libvirt_sasl_password: ''  # c\r\n",
		"libvirt_sasl_password: x\n", "  a: 1\n", "a: |\n  x\nlibvirt_sasl_password: ~\n",
		"\ufeffa: 1\n", "a: 1\u2028libvirt_sasl_password:\n", "a: 'x\n  y'\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte, rotate bool) {
		p := filepath.Join(dir, "passwords.yml")
		if err := os.WriteFile(p, in, 0o600); err != nil {
			t.Fatal(err)
		}
		before, perr := parsePasswords(in)
		res, err := EnsurePassword(p, SASLPasswordKey, rotate, nil)
		out, rerr := os.ReadFile(p)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			if !bytes.Equal(in, out) {
				t.Fatalf("failed (%v) but changed the file", err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("accepted input that does not parse: %v", perr)
		}
		if !res.Changed {
			if !bytes.Equal(in, out) {
				t.Fatal("Changed=false but file differs")
			}
		}
		after, err := parsePasswords(out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%q", err, out)
		}
		_, v, err := after.lookup(SASLPasswordKey)
		if err != nil || v == nil {
			t.Fatalf("key missing afterwards: %v", err)
		}
		if res.Changed && (!alnum40.MatchString(v.Value) || v.ShortTag() != "!!str") {
			t.Fatalf("value %q (%s)", v.Value, v.ShortTag())
		}
		// Independent check of the other keys, via a plain decode.
		var a, b map[string]any
		if yaml.Unmarshal(in, &a) == nil && yaml.Unmarshal(out, &b) == nil {
			for k, av := range a {
				if k == SASLPasswordKey {
					continue
				}
				if bv, ok := b[k]; !ok || !sameValue(av, bv) {
					t.Fatalf("%s changed: %#v -> %#v", k, av, bv)
				}
			}
		}
		if err := verifyEdit(before, out, SASLPasswordKey, v.Value); res.Changed && err != nil {
			t.Fatal(err)
		}
	})
}

func sameValue(a, b any) bool {
	ya, err1 := yaml.Marshal(a)
	yb, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ya, yb)
}
