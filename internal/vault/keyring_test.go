package vault

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func keyring(t *testing.T, idPasswords ...string) *Keyring {
	t.Helper()
	k := &Keyring{}
	for i := 0; i < len(idPasswords); i += 2 {
		if err := k.Add(idPasswords[i], []byte(idPasswords[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

const katPlain = "libvirt_sasl_password: \"s3cr3t\"\nmigration_hostname: compute1.example.org\n"

func TestOpenPlainPassesThrough(t *testing.T) {
	o, err := (&Keyring{}).Open("globals.yml", []byte("a: 1\n"))
	if err != nil || o.Encrypted || string(o.Plaintext) != "a: 1\n" {
		t.Fatalf("plain: %+v, %v", o, err)
	}
	sealed, err := o.Seal([]byte("a: 2\n"))
	if err != nil || string(sealed) != "a: 2\n" {
		t.Fatalf("Seal of a plain file: %q, %v", sealed, err)
	}
}

func TestOpenTriesMatchingIDFirst(t *testing.T) {
	// Both ids hold the right password: the one matching the header wins.
	k := keyring(t, "dev", "kat password prod", "prod", "kat password prod")
	o, err := k.Open("p12", readTestdata(t, "ansible-1.2-prod.vault"))
	if err != nil || o.KeyID != "prod" || o.VaultID != "prod" || string(o.Plaintext) != katPlain {
		t.Fatalf("got %v, %v", o, err)
	}
	// A 1.1 text names no id: Ansible files it under "default".
	k = keyring(t, "x", "kat password 1.1", "", "kat password 1.1")
	o, err = k.Open("p11", readTestdata(t, "ansible-1.1.vault"))
	if err != nil || o.KeyID != DefaultID || o.VaultID != "" {
		t.Fatalf("1.1: got %v, %v", o, err)
	}
	// Other ids are tried too, unless MatchIDOnly.
	k = keyring(t, "dev", "wrong", "other", "kat password prod")
	if o, err = k.Open("p12", readTestdata(t, "ansible-1.2-prod.vault")); err != nil || o.KeyID != "other" {
		t.Fatalf("fallback: got %v, %v", o, err)
	}
	k.MatchIDOnly = true
	_, err = k.Open("p12", readTestdata(t, "ansible-1.2-prod.vault"))
	if !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), "ANSIBLE_VAULT_ID_MATCH") {
		t.Fatalf("MatchIDOnly: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	p12 := readTestdata(t, "ansible-1.2-prod.vault")
	p11 := readTestdata(t, "ansible-1.1.vault")
	for _, tc := range []struct {
		name string
		k    *Keyring
		data []byte
		is   error
		want string
	}{
		{"one wrong", keyring(t, "prod", "nope"), p12, ErrWrongPassword,
			"passwords.yml: vault password does not decrypt it (vault id prod)"},
		{"1.1 wrong", keyring(t, "", "nope"), p11, ErrWrongPassword,
			"passwords.yml: vault password does not decrypt it (format 1.1, no vault id)"},
		{"several wrong", keyring(t, "a", "1", "prod", "2"), p12, ErrWrongPassword,
			"passwords.yml: no vault password decrypts it (vault id prod; tried the passwords of ids prod, a)"},
		{"none given", &Keyring{}, p12, ErrNoPassword,
			"passwords.yml: is ansible-vault encrypted (vault id prod) and no vault password was given"},
		{"nil keyring", nil, p11, ErrNoPassword, "no vault password was given"},
		{"malformed", keyring(t, "prod", "x"), p12[:40], ErrFormat, "passwords.yml: not a valid ansible-vault text"},
	} {
		_, err := tc.k.Open("passwords.yml", tc.data)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.is, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), "\n") {
			t.Errorf("%s: error is not one line: %q", tc.name, err)
		}
	}
}

func TestSealKeepsHeaderAndPassword(t *testing.T) {
	for _, tc := range []struct{ file, id, pw, header string }{
		{"ansible-1.1.vault", "", "kat password 1.1", "$ANSIBLE_VAULT;1.1;AES256\n"},
		// opened by a password filed under another id: the header keeps prod
		{"ansible-1.2-prod.vault", "other", "kat password prod", "$ANSIBLE_VAULT;1.2;AES256;prod\n"},
	} {
		src := readTestdata(t, tc.file)
		o, err := keyring(t, tc.id, tc.pw).Open(tc.file, src)
		if err != nil {
			t.Fatal(err)
		}
		a, err := o.Seal([]byte("new: contents\n"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := o.Seal([]byte("new: contents\n"))
		if !bytes.HasPrefix(a, []byte(tc.header)) || bytes.Equal(a, b) {
			t.Fatalf("%s: Seal gave\n%s\nand\n%s\nwant header %q and a fresh salt each time", tc.file, a, b, tc.header)
		}
		back, err := keyring(t, "x", tc.pw).Open("again", a)
		if err != nil || string(back.Plaintext) != "new: contents\n" {
			t.Fatalf("%s: reopen: %v, %v", tc.file, back, err)
		}
	}
}

func TestKeyringEncrypt(t *testing.T) {
	k := keyring(t, "", "pw-default", "prod", "pw-prod")
	if _, err := k.Encrypt([]byte("x"), ""); err == nil || !strings.Contains(err.Error(), "default, prod") {
		t.Errorf("two passwords, no id: %v", err)
	}
	if _, err := k.Encrypt([]byte("x"), "qa"); err == nil || !strings.Contains(err.Error(), "no vault password of id qa") {
		t.Errorf("unknown id: %v", err)
	}
	for id, header := range map[string]string{DefaultID: "$ANSIBLE_VAULT;1.1;AES256\n", "prod": "$ANSIBLE_VAULT;1.2;AES256;prod\n"} {
		text, err := k.Encrypt([]byte("x"), id)
		if err != nil || !bytes.HasPrefix(text, []byte(header)) {
			t.Errorf("id %s: %q, %v", id, text, err)
		}
		o, err := keyring(t, "z", "pw-"+id).Open("t", text)
		if err != nil || string(o.Plaintext) != "x" {
			t.Errorf("id %s: reopen %v, %v", id, o, err)
		}
	}
	one := keyring(t, "solo", "pw")
	if text, err := one.Encrypt([]byte("x"), ""); err != nil || !bytes.HasPrefix(text, []byte("$ANSIBLE_VAULT;1.2;AES256;solo\n")) {
		t.Errorf("only password: %q, %v", text, err)
	}
	if _, err := (&Keyring{}).Encrypt([]byte("x"), ""); !errors.Is(err, ErrNoPassword) {
		t.Errorf("empty keyring: %v", err)
	}
}

func TestNoPasswordInPrint(t *testing.T) {
	k := keyring(t, "prod", "kat password prod")
	o, err := k.Open("p12", readTestdata(t, "ansible-1.2-prod.vault"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{k, *k, o, *o} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			s := fmt.Sprintf(verb, v)
			if strings.Contains(s, "kat password") || strings.Contains(s, "s3cr3t") || strings.Contains(s, "107 97 116") {
				t.Errorf("%s of %T shows a secret: %s", verb, v, s)
			}
		}
	}
	if err := k.Add("x", nil); err == nil {
		t.Error("Add of an empty password: no error")
	}
}
