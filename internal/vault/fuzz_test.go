package vault

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser (run longer with
// go test -fuzz=FuzzParse ./internal/vault). Whatever the input: no
// panic; a refusal is ErrFormat on one line naming the input; an accepted
// text lays out again to the same parts; decrypting it gives plaintext,
// ErrWrongPassword or ErrFormat.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"ansible-1.1.vault", "ansible-1.2-prod.vault", "fixed-salt-1.1.vault", "fixed-salt-1.2-kat.vault"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
	}
	f.Add([]byte("$ANSIBLE_VAULT;1.1;AES256\n"))
	f.Add([]byte("$ANSIBLE_VAULT;1.2;AES256;x;y\n00\n"))
	f.Add([]byte("$ANSIBLE_VAULT;1.1;AES256\n0a0a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse("fuzz.yml", data)
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(msg, "fuzz.yml: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("refusal %q: want one line, ErrFormat, naming the input", msg)
			}
			return
		}
		if env.Version != "1.1" && env.Version != "1.2" || (env.VaultID == "") != (env.Version == "1.1") {
			t.Fatalf("accepted version %q with vault id %q", env.Version, env.VaultID)
		}
		again, err := Parse("again", format(env.VaultID, env.salt, env.mac, env.ct))
		if err != nil || again.VaultID != env.VaultID || !bytes.Equal(again.salt, env.salt) ||
			!bytes.Equal(again.mac, env.mac) || !bytes.Equal(again.ct, env.ct) {
			t.Fatalf("laid out again, it parses differently: %v", err)
		}
		if _, err := env.Decrypt([]byte("fuzz")); err != nil && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrFormat) {
			t.Fatalf("Decrypt: %v", err)
		}
	})
}
