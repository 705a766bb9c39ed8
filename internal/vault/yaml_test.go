package vault

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parseYAML(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		t.Fatal(err)
	}
	return &root
}

// testdata/inline.yml was made by ansible-vault encrypt_string: one value
// under vault id prod, one with no id.
func TestDecryptYAMLInline(t *testing.T) {
	root := parseYAML(t, string(readTestdata(t, "inline.yml")))
	k := keyring(t, "prod", "kat password prod", "", "kat password 1.1")
	n, err := k.DecryptYAML("inline.yml", root)
	if err != nil || n != 2 {
		t.Fatalf("DecryptYAML: %d values, %v", n, err)
	}
	var vars map[string]any
	if err := root.Decode(&vars); err != nil {
		t.Fatal(err)
	}
	if vars["libvirt_sasl_password"] != "p@ss: word!" || vars["number"] != "123" || vars["plain"] != "not secret" {
		t.Fatalf("decoded %#v", vars)
	}
}

func TestDecryptYAMLShapes(t *testing.T) {
	k := keyring(t, "", "pw")
	secret, err := Encrypt([]byte("true"), []byte("pw"), "")
	if err != nil {
		t.Fatal(err)
	}
	indented := "    " + strings.ReplaceAll(strings.TrimSuffix(string(secret), "\n"), "\n", "\n    ")
	text := "top: !vault |\n" + indented + "\n" +
		"nested:\n  list:\n    - !vault-encrypted |\n  " + strings.ReplaceAll(indented, "\n", "\n  ") + "\n" +
		"quoted: !vault \"" + strings.ReplaceAll(string(secret), "\n", "\\n") + "\"\n" +
		"anchor: &a !vault |\n" + indented + "\nalias: *a\n"
	root := parseYAML(t, text)
	n, err := k.DecryptYAML("g.yml", root)
	if err != nil || n != 4 {
		t.Fatalf("%d values, %v in\n%s", n, err, text)
	}
	var vars struct {
		Top    any
		Nested struct{ List []any }
		Quoted any
		Alias  any
	}
	if err := root.Decode(&vars); err != nil {
		t.Fatal(err)
	}
	// "true" stays a string, as Ansible keeps a vaulted value.
	if vars.Top != "true" || vars.Nested.List[0] != "true" || vars.Quoted != "true" || vars.Alias != "true" {
		t.Fatalf("decoded %+v", vars)
	}
}

func TestDecryptYAMLErrors(t *testing.T) {
	k := keyring(t, "", "pw")
	good, _ := Encrypt([]byte("x"), []byte("other"), "")
	indented := "  " + strings.ReplaceAll(strings.TrimSuffix(string(good), "\n"), "\n", "\n  ")
	for _, tc := range []struct {
		text string
		is   error
		want string
	}{
		{"a: 1\nb: !vault |\n" + indented + "\n", ErrWrongPassword, "h.yml:2: vault password does not decrypt it"},
		{"a: 1\n\nb: !vault not-a-vault\n", ErrFormat, "h.yml:3: not a valid ansible-vault text"},
		{"b: !vault {x: 1}\n", ErrFormat, "h.yml:1: !vault tags a mapping"},
		{"b: !vault [1]\n", ErrFormat, "h.yml:1: !vault tags a sequence"},
		{"b: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  zz\n", ErrFormat, "h.yml:1: not a valid ansible-vault text: body: bad hex"},
	} {
		_, err := k.DecryptYAML("h.yml", parseYAML(t, tc.text))
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %v saying %q", tc.text, err, tc.is, tc.want)
		}
	}
	if _, err := (&Keyring{}).DecryptYAML("h.yml", parseYAML(t, "b: !vault |\n"+indented+"\n")); !errors.Is(err, ErrNoPassword) {
		t.Errorf("no keyring: %v", err)
	}
}

func TestDecryptValue(t *testing.T) {
	root := parseYAML(t, string(readTestdata(t, "inline.yml")))
	k := keyring(t, "prod", "kat password prod")
	m := root.Content[0]
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value != "libvirt_sasl_password" {
			continue
		}
		v := m.Content[i+1]
		if !IsVaultNode(v) {
			t.Fatalf("tag %q", v.Tag)
		}
		got, err := k.DecryptValue("inline.yml", v)
		if err != nil || got != "p@ss: word!" {
			t.Fatalf("got %q, %v", got, err)
		}
		if v.Tag != "!vault" {
			t.Fatal("DecryptValue changed the node")
		}
		return
	}
	t.Fatal("no libvirt_sasl_password in inline.yml")
}

func TestWholeFileVsPlainYAML(t *testing.T) {
	if !IsEncrypted(readTestdata(t, "ansible-1.1.vault")) {
		t.Error("vault file not detected")
	}
	for _, plain := range []string{"a: 1\n", "---\n$ANSIBLE_VAULT: 1\n", " $ANSIBLE_VAULT;1.1;AES256\n", ""} {
		if IsEncrypted([]byte(plain)) {
			t.Errorf("%q detected as a vault file", plain)
		}
	}
}
