package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The fixed-salt files were made by Ansible's own VaultLib (ansible-core
// 2.14.18, Debian 12), which takes a salt argument:
//
//	VaultLib([('default', VaultSecret(b'known answer'))]).encrypt(
//	    b'The quick brown fox jumps over the lazy dog.\n' * 3,
//	    VaultSecret(b'known answer'), vault_id=None or 'kat',
//	    salt=b'0123456789abcdef0123456789abcdef')
//
// With the salt fixed, our output must be the same bytes.
func TestEncryptKnownAnswerFixedSalt(t *testing.T) {
	plain := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 3))
	salt := []byte("0123456789abcdef0123456789abcdef")
	for id, file := range map[string]string{"": "fixed-salt-1.1.vault", "kat": "fixed-salt-1.2-kat.vault"} {
		want := readTestdata(t, file)
		got, err := encrypt(plain, []byte("known answer"), id, salt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("vault id %q: got\n%s\nwant (Ansible's)\n%s", id, got, want)
		}
		env, err := Parse(file, want)
		if err != nil {
			t.Fatal(err)
		}
		back, err := env.Decrypt([]byte("known answer"))
		if err != nil || !bytes.Equal(back, plain) {
			t.Errorf("%s: decrypt = %q, %v", file, back, err)
		}
	}
}

// Files made by the real ansible-vault encrypt (see interop_test.go for
// the same made fresh in CI).
func TestDecryptAnsibleFiles(t *testing.T) {
	want := "libvirt_sasl_password: \"s3cr3t\"\nmigration_hostname: compute1.example.org\n"
	for _, tc := range []struct{ file, password, id string }{
		{"ansible-1.1.vault", "kat password 1.1", ""},
		{"ansible-1.2-prod.vault", "kat password prod", "prod"},
	} {
		env, err := Parse(tc.file, readTestdata(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if env.VaultID != tc.id {
			t.Errorf("%s: vault id %q, want %q", tc.file, env.VaultID, tc.id)
		}
		got, err := env.Decrypt([]byte(tc.password))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v", tc.file, got, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	pw := []byte("round trip")
	for _, size := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000} {
		plain := bytes.Repeat([]byte{'x', 0, 0xff}, size)[:size]
		for _, id := range []string{"", "prod", "a-b_c.d@e"} {
			text, err := Encrypt(plain, pw, id)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, text, id)
			env, err := Parse("x", text)
			if err != nil {
				t.Fatalf("size %d id %q: %v", size, id, err)
			}
			got, err := env.Decrypt(pw)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("size %d id %q: got %q, %v", size, id, got, err)
			}
		}
	}
}

// checkLayout checks the header and the 80-column lines of a vault text.
func checkLayout(t *testing.T, text []byte, id string) {
	t.Helper()
	lines := strings.Split(string(text), "\n")
	header := "$ANSIBLE_VAULT;1.1;AES256"
	if id != "" {
		header = "$ANSIBLE_VAULT;1.2;AES256;" + id
	}
	if lines[0] != header || lines[len(lines)-1] != "" {
		t.Fatalf("header %q or final newline wrong in\n%s", lines[0], text)
	}
	body := lines[1 : len(lines)-1]
	for i, l := range body {
		if len(l) != 80 && (i != len(body)-1 || len(l) == 0 || len(l) > 80) {
			t.Fatalf("line %d is %d columns in\n%s", i+2, len(l), text)
		}
	}
}

func TestEncryptedSize(t *testing.T) {
	for _, n := range []int{0, 15, 16, 12 << 10, 64 << 10} {
		text, err := Encrypt(make([]byte, n), []byte("pw"), "a-long-vault-id-for-this-deployment")
		if err != nil {
			t.Fatal(err)
		}
		if bound := EncryptedSize(int64(n)); int64(len(text)) > bound || bound-int64(len(text)) > 1<<10 {
			t.Errorf("%d bytes: vault text %d bytes, EncryptedSize %d", n, len(text), bound)
		}
	}
	if EncryptedSize(MaxPlaintext) > MaxVaultText {
		t.Errorf("EncryptedSize(MaxPlaintext) = %d > MaxVaultText %d", EncryptedSize(MaxPlaintext), MaxVaultText)
	}
}

func TestEncryptFreshSalt(t *testing.T) {
	a, err := Encrypt([]byte("same"), []byte("pw"), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encrypt([]byte("same"), []byte("pw"), "")
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := Parse("a", a)
	eb, _ := Parse("b", b)
	if bytes.Equal(ea.salt, eb.salt) || len(ea.salt) != 32 {
		t.Errorf("salts %x and %x: want two different 32-byte salts", ea.salt, eb.salt)
	}
}

func TestEncryptRefuses(t *testing.T) {
	for _, tc := range []struct {
		plain, pw, id, want string
	}{
		{"x", "", "", "empty password"},
		{"$ANSIBLE_VAULT;1.1;AES256\n00", "pw", "", "already vault-encrypted"},
		{"x", "pw", "a;b", "vault id"},
		{"x", "pw", "a b", "vault id"},
		{"x", "pw", "é", "vault id"},
	} {
		_, err := Encrypt([]byte(tc.plain), []byte(tc.pw), tc.id)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Encrypt(%q, id %q): %v, want %q", tc.plain, tc.id, err, tc.want)
		}
	}
	if _, err := Encrypt(make([]byte, MaxPlaintext+1), []byte("pw"), ""); err == nil {
		t.Error("Encrypt of more than MaxPlaintext: no error")
	}
}

func TestWrongPassword(t *testing.T) {
	env, err := Parse("p12", readTestdata(t, "ansible-1.2-prod.vault"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Decrypt([]byte("kat password prod "))
	if !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrFormat) {
		t.Errorf("wrong password: %v, want ErrWrongPassword only", err)
	}
}

// rewrap re-encodes a vault text after edit changed its parts.
func rewrap(t *testing.T, text []byte, edit func(e *Envelope)) []byte {
	t.Helper()
	env, err := Parse("x", text)
	if err != nil {
		t.Fatal(err)
	}
	edit(env)
	return format(env.VaultID, env.salt, env.mac, env.ct)
}

func TestTampered(t *testing.T) {
	good := readTestdata(t, "ansible-1.1.vault")
	pw := []byte("kat password 1.1")
	for name, edit := range map[string]func(e *Envelope){
		"HMAC":       func(e *Envelope) { e.mac[5] ^= 1 },
		"ciphertext": func(e *Envelope) { e.ct[0] ^= 0x80 },
		"salt":       func(e *Envelope) { e.salt[31] ^= 1 },
	} {
		env, err := Parse(name, rewrap(t, good, edit))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := env.Decrypt(pw); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("tampered %s: %v, want ErrWrongPassword (the HMAC must refuse it)", name, err)
		}
	}
}

// A ciphertext with a valid HMAC but no valid padding only comes from a
// broken encryptor; it is a format error, not a wrong password.
func TestBadPaddingBehindGoodHMAC(t *testing.T) {
	pw, salt := []byte("pw"), []byte("salt")
	aesKey, macKey, iv, err := deriveKeys(pw, salt)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(aesKey)
	ct := bytes.Repeat([]byte{0}, 16) // plaintext ends in 0x00: no padding
	cipher.NewCTR(block, iv).XORKeyStream(ct, ct)
	m := hmac.New(sha256.New, macKey)
	m.Write(ct)
	env, err := Parse("x", format("", salt, m.Sum(nil), ct))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Decrypt(pw); !errors.Is(err, ErrFormat) {
		t.Errorf("bad padding: %v, want ErrFormat", err)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(readTestdata(t, "ansible-1.2-prod.vault"))
	header, body, _ := strings.Cut(good, "\n")
	inner, _ := hex.DecodeString(strings.ReplaceAll(body, "\n", ""))
	innerParts := strings.SplitN(string(inner), "\n", 3)
	outer := func(s string) string { return header + "\n" + hex.EncodeToString([]byte(s)) + "\n" }
	cases := map[string]struct{ text, want string }{
		"no header":          {"---\nfoo: bar\n", "does not start with $ANSIBLE_VAULT"},
		"header typo":        {strings.Replace(good, "$ANSIBLE_VAULT;", "$ANSIBLE_VAULTX;", 1), "does not start with $ANSIBLE_VAULT;"},
		"version 1.0":        {strings.Replace(good, ";1.2;", ";1.0;", 1), `version "1.0"`},
		"1.2 without id":     {strings.Replace(good, ";prod", "", 1), "version 1.2 takes 4 fields"},
		"1.2 empty id":       {strings.Replace(good, ";prod", ";", 1), "version 1.2 takes 4 fields"},
		"1.1 with id":        {strings.Replace(good, ";1.2;", ";1.1;", 1), "version 1.1 takes 3 fields"},
		"extra field":        {strings.Replace(good, ";prod", ";prod;x", 1), "takes 4 fields"},
		"cipher":             {strings.Replace(good, "AES256", "AES", 1), `cipher "AES"`},
		"header only":        {header + "\n", "no data after the header"},
		"odd hex":            {good[:len(good)-2] + "\n", "bad hex"},
		"bad hex":            {strings.Replace(good, "3", "g", 1), "bad hex"},
		"spaces in body":     {strings.Replace(good, "\n3", "\n 3", 1), "bad hex"},
		"truncated lines":    {good[:len(header)+1+81*2], "(truncated?)"},
		"two parts":          {outer(innerParts[0] + "\n" + innerParts[1]), "2 of the 3 parts"},
		"bad inner hex":      {outer("zz\n" + innerParts[1] + "\n" + innerParts[2]), "salt: bad hex"},
		"short HMAC":         {outer(innerParts[0] + "\nabcd\n" + innerParts[2]), "HMAC is 2 bytes"},
		"ciphertext not 16s": {outer(innerParts[0] + "\n" + innerParts[1] + "\n" + innerParts[2][:30]), "ciphertext is 15 bytes"},
		"empty ciphertext":   {outer(innerParts[0] + "\n" + innerParts[1] + "\n"), "ciphertext is 0 bytes"},
		"non-ASCII":          {good + "é", "printable ASCII"},
		"NUL":                {good + "\x00", "printable ASCII"},
	}
	for name, tc := range cases {
		_, err := Parse("f.yml", []byte(tc.text))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "f.yml: ") {
			t.Errorf("%s: %v, want ErrFormat naming f.yml and saying %q", name, err, tc.want)
		}
	}
	// A cut at a block boundary of the ciphertext leaves a well-formed
	// text: only the HMAC can refuse it.
	for n := range len(good) - 1 {
		env, err := Parse("cut", []byte(good[:n]))
		if err == nil {
			_, err = env.Decrypt([]byte("kat password prod"))
			if !errors.Is(err, ErrWrongPassword) {
				t.Fatalf("truncated to %d bytes: Decrypt %v, want ErrWrongPassword", n, err)
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d bytes: %v, want ErrFormat", n, err)
		}
	}
	huge := append([]byte(header+"\n"), make([]byte, MaxVaultText)...)
	if _, err := Parse("big", huge); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("huge input: %v", err)
	}
}

// Ansible reads CRLF and CR line ends (Python's splitlines), upper-case
// hex (unhexlify) and blanks around the header fields.
func TestParseLenient(t *testing.T) {
	good := string(readTestdata(t, "ansible-1.2-prod.vault"))
	header, body, _ := strings.Cut(good, "\n")
	for name, text := range map[string]string{
		"CRLF":            strings.ReplaceAll(good, "\n", "\r\n"),
		"CR":              strings.ReplaceAll(good, "\n", "\r"),
		"upper-case hex":  header + "\n" + strings.ToUpper(body),
		"no final EOL":    strings.TrimSuffix(good, "\n"),
		"header blanks":   "$ANSIBLE_VAULT; 1.2 ;AES256; prod \n" + body,
		"one long line":   header + "\n" + strings.ReplaceAll(body, "\n", "") + "\n",
		"blank last line": good + "\n",
	} {
		env, err := Parse(name, []byte(text))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := env.Decrypt([]byte("kat password prod")); err != nil || env.VaultID != "prod" {
			t.Errorf("%s: id %q, %v", name, env.VaultID, err)
		}
	}
}

func TestSplitLines(t *testing.T) {
	got := splitLines([]byte("a\nb\r\nc\rd\n\ne"))
	want := []string{"a", "b", "c", "d", "", "e"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
