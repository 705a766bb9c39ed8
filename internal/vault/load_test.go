package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestSourcesOrderAndForms(t *testing.T) {
	got, err := Sources(Options{
		VaultIDs:      []string{"prod@/a", "/b", "c-client.py", "@/f"},
		PasswordFiles: []string{"/d", "x@/y"},
		Getenv: env("ANSIBLE_VAULT_IDENTITY_LIST", "x@/e, y@$HOME/f,",
			"ANSIBLE_VAULT_PASSWORD_FILE", "~/g", "HOME", "/h"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{"x", "/e", "x"}, {"y", "/h/f", "y"},
		{"prod", "/a", "prod"}, {DefaultID, "/b", ""}, {DefaultID, "c-client.py", ""}, {DefaultID, "/f", ""},
		// --vault-password-file takes a path: "x@/y" is a file of that name
		{DefaultID, "/d", DefaultID}, {DefaultID, "x@/y", DefaultID},
		{DefaultID, "/h/g", DefaultID},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	for _, bad := range []string{"prompt", "prod@prompt", "prompt_ask_vault_pass", "prod@"} {
		if _, err := Sources(Options{VaultIDs: []string{bad}, Getenv: env()}); err == nil {
			t.Errorf("--vault-id %s: no error", bad)
		}
	}
	if _, err := Sources(Options{PasswordFiles: []string{""}, Getenv: env()}); err == nil {
		t.Error("empty --vault-password-file: no error")
	}
}

func TestExpandPath(t *testing.T) {
	e := env("HOME", "/home/u", "D", "/etc")
	for in, want := range map[string]string{
		"$D/pw": "/etc/pw", "${D}/pw": "/etc/pw", "$UNSET/pw": "$UNSET/pw", "${UNSET}": "${UNSET}",
		"~/pw": "/home/u/pw", "~": "/home/u", "~x/pw": "~x/pw", "a/~/b": "a/~/b", "rel/pw": "rel/pw",
	} {
		if got := expandPath(in, e); got != want {
			t.Errorf("expandPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsClientScript(t *testing.T) {
	for path, want := range map[string]bool{
		"get-client": true, "/x/get-client.py": true, "get-client.": true, "a.b/get-client": true,
		"get-client.tar.gz": false, "get-client-x": false, "getclient": false,
		"/x/.get-client": true, "/x/..get-client": true, "/x/-client": true,
		"x.get-client": false, "/x/.get-client.sh": true, "/x/..": false, "a-client/b": false,
	} { // expectations from Python's os.path.splitext(p)[0].endswith("-client")
		if got := isClientScript(path); got != want {
			t.Errorf("isClientScript(%q) = %v, want %v", path, got, want)
		}
	}
}

// write makes a file in dir; mode 0o755 makes it a password script.
func write(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// opens checks that k decrypts a text encrypted with password under id.
func opens(t *testing.T, k *Keyring, password, id string) {
	t.Helper()
	text, err := Encrypt([]byte("payload"), []byte(password), id)
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Open("probe", text)
	if err != nil || string(o.Plaintext) != "payload" {
		t.Fatalf("keyring %v does not open a text under %q: %v", k, password, err)
	}
}

func TestLoadPasswordFileAndScript(t *testing.T) {
	dir := t.TempDir()
	file := write(t, dir, "pw", "  \tfile pw \r\n\n", 0o600)
	script := write(t, dir, "pw.sh", "#!/bin/sh\nprintf ' script pw \\r\\n\\n'\necho 'a prompt' >&2\n", 0o755)
	var stderr bytes.Buffer
	k, err := Load(context.Background(), Options{VaultIDs: []string{"s@" + script}, PasswordFiles: []string{file}, Getenv: env(), Stderr: &stderr})
	if err != nil || k.Len() != 2 || len(k.Warnings) != 0 {
		t.Fatalf("Load: %v, %v", k, err)
	}
	if !reflect.DeepEqual(k.IDs(), []string{"s", DefaultID}) {
		t.Errorf("ids %v", k.IDs())
	}
	// A file's blanks are trimmed; a script's output loses only CR and LF.
	opens(t, k, "file pw", "")
	opens(t, k, " script pw ", "s")
	if stderr.String() != "a prompt\n" {
		t.Errorf("script stderr %q, want it passed through", stderr.String())
	}
}

func TestLoadScriptReadsStdin(t *testing.T) {
	script := write(t, t.TempDir(), "ask.sh", "#!/bin/sh\nread pw\necho \"$pw\"\n", 0o755)
	k, err := Load(context.Background(), Options{PasswordFiles: []string{script}, Getenv: env(), Stdin: strings.NewReader("typed pw\n")})
	if err != nil {
		t.Fatal(err)
	}
	opens(t, k, "typed pw", "")
}

const clientScript = `#!/bin/sh
[ "$1" = --vault-id ] || { echo "called with: $*" >&2; exit 3; }
case "$2" in
prod) echo pw-prod ;;
*) echo "unknown vault id $2" >&2; echo more >&2; exit 2 ;;
esac
`

func TestLoadClientScript(t *testing.T) {
	client := write(t, t.TempDir(), "keys-client.sh", clientScript, 0o755)
	k, err := Load(context.Background(), Options{VaultIDs: []string{"prod@" + client}, Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	opens(t, k, "pw-prod", "prod")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{VaultIDs: []string{"qa@" + client}}, "client script " + client + " has no password for vault id qa: unknown vault id qa"},
		// --vault-password-file and ANSIBLE_VAULT_PASSWORD_FILE pass "default"
		{Options{PasswordFiles: []string{client}}, "has no password for vault id default: unknown vault id default"},
		{Options{Getenv: env("ANSIBLE_VAULT_PASSWORD_FILE", client)}, "has no password for vault id default"},
		// a bare --vault-id FILE passes no --vault-id
		{Options{VaultIDs: []string{client}}, "failed (exit status 3): called with:"},
	} {
		if tc.opts.Getenv == nil {
			tc.opts.Getenv = env()
		}
		_, err := Load(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "more") {
			t.Errorf("%+v: %v, want %q (first stderr line only)", tc.opts, err, tc.want)
		}
	}
}

func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good", "pw\n", 0o600)
	for name, tc := range map[string]struct {
		path, want string
	}{
		"missing":     {filepath.Join(dir, "nope"), "vault password file " + filepath.Join(dir, "nope") + " (vault id default) was not found"},
		"directory":   {dir, "is a directory"},
		"empty":       {write(t, dir, "empty", " \n\n", 0o600), "is empty"},
		"huge":        {write(t, dir, "huge", strings.Repeat("x", maxPassword+1), 0o600), "larger than"},
		"script fail": {write(t, dir, "fail.sh", "#!/bin/sh\nexit 1\n", 0o755), "vault password script " + filepath.Join(dir, "fail.sh") + " failed (exit status 1)"},
		"no output":   {write(t, dir, "quiet.sh", "#!/bin/sh\necho\n", 0o755), "printed no password"},
		"flood":       {write(t, dir, "flood.sh", "#!/bin/sh\nhead -c 100000 /dev/zero\n", 0o755), "printed more than"},
		"not script":  {write(t, dir, "bin", "\x7fELF garbage", 0o755), "remove its execute bits"},
	} {
		_, err := Load(context.Background(), Options{PasswordFiles: []string{tc.path}, Getenv: env()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		// With a good source too, the bad one is a warning (as Ansible).
		k, err := Load(context.Background(), Options{PasswordFiles: []string{tc.path, good}, Getenv: env()})
		if err != nil || k.Len() != 1 || len(k.Warnings) != 1 || !strings.Contains(k.Warnings[0].Error(), tc.want) {
			t.Errorf("%s beside a good file: %v, %v", name, k, err)
		}
	}
	k, err := Load(context.Background(), Options{Getenv: env()})
	if err != nil || k.Len() != 0 {
		t.Errorf("no sources: %v, %v", k, err)
	}
}

// A password file may itself be vault-encrypted with a password read
// before it, as Ansible allows.
func TestLoadVaultedPasswordFile(t *testing.T) {
	dir := t.TempDir()
	outer := write(t, dir, "outer", "outer pw\n", 0o600)
	inner, err := Encrypt([]byte("inner pw\n"), []byte("outer pw"), "")
	if err != nil {
		t.Fatal(err)
	}
	innerFile := write(t, dir, "inner", string(inner), 0o600)
	k, err := Load(context.Background(), Options{VaultIDs: []string{outer, "prod@" + innerFile}, Getenv: env()})
	if err != nil || k.Len() != 2 {
		t.Fatalf("%v, %v", k, err)
	}
	opens(t, k, "inner pw", "prod")
	// Given first, it cannot open: no password was read before it.
	k, err = Load(context.Background(), Options{VaultIDs: []string{"prod@" + innerFile, outer}, Getenv: env()})
	if err != nil || len(k.Warnings) != 1 || !errors.Is(k.Warnings[0], ErrNoPassword) {
		t.Fatalf("inner first: %v, %v", k, err)
	}
}

// "--vault-password-file <(pass show vault)" hands over a pipe.
func TestLoadFromPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("piped pw\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	k, err := Load(context.Background(), Options{PasswordFiles: []string{fmt.Sprintf("/proc/self/fd/%d", r.Fd())}, Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	opens(t, k, "piped pw", "")
}

func TestLoadIDMatch(t *testing.T) {
	file := write(t, t.TempDir(), "pw", "pw", 0o600)
	for v, want := range map[string]bool{"": false, "yes": true, "True": true, "1": true, "no": false, "false": false} {
		k, err := Load(context.Background(), Options{PasswordFiles: []string{file}, Getenv: env("ANSIBLE_VAULT_ID_MATCH", v)})
		if err != nil || k.MatchIDOnly != want {
			t.Errorf("ANSIBLE_VAULT_ID_MATCH=%q: MatchIDOnly %v, %v", v, k.MatchIDOnly, err)
		}
	}
}
