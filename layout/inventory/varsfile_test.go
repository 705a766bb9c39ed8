package inventory

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseVarsFile(t *testing.T) {
	vars, err := ParseVarsFile("g.yml", []byte("---\na: yes\nb: [1, 'x']\n\nc: \"{{ x }}\"\na: 2\n"), "globals.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Var{"a": {2, 6}, "b": {[]any{1, "x"}, 3}, "c": {"{{ x }}", 5}}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("vars = %#v, want %#v (the last a wins)", vars, want)
	}
	if vars, err := ParseVarsFile("g.yml", nil, "globals.yml", nil); err != nil || len(vars) != 0 {
		t.Errorf("empty file: %v %v", vars, err)
	}
	for content, want := range map[string]string{
		"- a\n":                    "g.yml:1: globals.yml must be a mapping of variables, got a list",
		"$ANSIBLE_VAULT;1.1;AES\n": "g.yml: ",
		"a: [\n":                   "g.yml:",
	} {
		if _, err := ParseVarsFile("g.yml", []byte(content), "globals.yml", nil); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", content, err, want)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"Compute01.": "Compute01", "[2001:db8::1]": "2001:db8::1", "::ffff:192.0.2.1": "192.0.2.1", "10.0.0.1": "10.0.0.1",
	} {
		if got, err := canonicalName(in); err != nil || got != want {
			t.Errorf("canonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a_b", "a/b", "a..b", "fe80::1%eth0", "-a"} {
		if got, err := canonicalName(in); err == nil {
			t.Errorf("canonicalName(%q) = %q, want an error", in, got)
		}
	}
}
