package vault

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// Interop with the real ansible-vault (Debian's ansible-core), both ways.
// Passwords reach it only through password files and scripts in the test
// directory, never its argv; plaintext values go through its stdin.

// runAnsibleVault runs ansible-vault in dir with a clean Ansible
// environment (no ANSIBLE_* from the caller, an empty config, HOME=dir)
// plus extraEnv, and returns its stdout.
func runAnsibleVault(t *testing.T, bin, dir, stdin string, extraEnv []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, append([]string{"HOME=" + dir, "ANSIBLE_CONFIG=" + cfg}, extraEnv...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ansible-vault %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// Payloads: YAML as Kolla's passwords.yml has it, a PEM-like key with
// no final newline, and bytes that are not text.
var interopPayloads = map[string]string{
	"passwords.yml": "libvirt_sasl_password: \"p4ss;word\"\nkeystone_admin_password: x\n",
	"serverkey.pem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----",
	"binary":        "\x00\x01\xfe\xff\r\n\x10" + strings.Repeat("z", 100),
}

func TestInteropAnsibleVault(t *testing.T) {
	bin := peer.Require(t, "ansible-vault")[0]
	dir := t.TempDir()
	// Every file and script is written before anything runs (an executable
	// written while another goroutine forks can fail with ETXTBSY).
	write(t, dir, "pw11", "ansible pw 1.1\n", 0o600)
	write(t, dir, "pwprod", "  ansible pw prod \n", 0o600)
	write(t, dir, "keys-client", clientScript, 0o755)
	write(t, dir, "spaces.sh", "#!/bin/sh\nprintf ' script pw \\r\\n'\n", 0o755)
	for name, content := range interopPayloads {
		for _, tag := range []string{"a11-", "a12-"} {
			write(t, dir, tag+name, content, 0o600)
		}
	}
	t.Run("ansible encrypts, we decrypt", func(t *testing.T) {
		t.Parallel()
		ansibleEncryptsWeDecrypt(t, bin, dir)
	})
	t.Run("ansible encrypt_string, we decrypt", func(t *testing.T) {
		t.Parallel()
		ansibleInlineWeDecrypt(t, bin, dir)
	})
	t.Run("we encrypt, ansible decrypts", func(t *testing.T) {
		t.Parallel()
		weEncryptAnsibleDecrypts(t, bin, dir)
	})
}

// ourKeyring loads the test's password files the way a user gives them.
func ourKeyring(t *testing.T, dir string, opts Options) *Keyring {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = env()
	}
	k, err := Load(context.Background(), opts)
	if err != nil || len(k.Warnings) > 0 {
		t.Fatalf("Load: %v %v", err, k.Warnings)
	}
	return k
}

func ansibleEncryptsWeDecrypt(t *testing.T, bin, dir string) {
	var a11, a12 []string
	for name := range interopPayloads {
		a11 = append(a11, "a11-"+name)
		a12 = append(a12, "a12-"+name)
	}
	runAnsibleVault(t, bin, dir, "", nil, append([]string{"encrypt", "--vault-password-file", "pw11"}, a11...)...)
	runAnsibleVault(t, bin, dir, "", nil, append([]string{"encrypt", "--vault-id", "prod@pwprod"}, a12...)...)
	k := ourKeyring(t, dir, Options{VaultIDs: []string{"prod@" + filepath.Join(dir, "pwprod")}, PasswordFiles: []string{filepath.Join(dir, "pw11")}})
	for name, want := range interopPayloads {
		for tag, header := range map[string]string{"a11-": "$ANSIBLE_VAULT;1.1;AES256\n", "a12-": "$ANSIBLE_VAULT;1.2;AES256;prod\n"} {
			data, err := os.ReadFile(filepath.Join(dir, tag+name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), header) {
				t.Fatalf("%s%s: ansible-vault wrote header %q", tag, name, strings.SplitN(string(data), "\n", 2)[0])
			}
			o, err := k.Open(tag+name, data)
			if err != nil || string(o.Plaintext) != want {
				t.Errorf("%s%s: got %q, %v", tag, name, o.Plaintext, err)
			}
		}
	}
}

func ansibleInlineWeDecrypt(t *testing.T, bin, dir string) {
	yml := runAnsibleVault(t, bin, dir, "p@ss: w\"ord", nil,
		"encrypt_string", "--vault-id", "prod@pwprod", "--stdin-name", "libvirt_sasl_password")
	root := parseYAML(t, "plain: 1\n"+yml+"\n")
	k := ourKeyring(t, dir, Options{VaultIDs: []string{"prod@" + filepath.Join(dir, "pwprod")}})
	if n, err := k.DecryptYAML("inline.yml", root); err != nil || n != 1 {
		t.Fatalf("DecryptYAML: %d, %v in\n%s", n, err, yml)
	}
	var vars map[string]any
	if err := root.Decode(&vars); err != nil {
		t.Fatal(err)
	}
	if vars["libvirt_sasl_password"] != "p@ss: w\"ord" {
		t.Errorf("decoded %#v", vars)
	}
}

// weEncryptAnsibleDecrypts encrypts with passwords our Load read from a
// file with blanks, a plain script and a client script, and has
// ansible-vault read the same sources: this checks the format and that
// both trim and call scripts alike. Then it seals new contents into the
// files ansible-vault made (testdata) and has ansible-vault view them.
func weEncryptAnsibleDecrypts(t *testing.T, bin, dir string) {
	k := ourKeyring(t, dir, Options{
		VaultIDs:      []string{"prod@" + filepath.Join(dir, "keys-client"), "spaced@" + filepath.Join(dir, "spaces.sh")},
		PasswordFiles: []string{filepath.Join(dir, "pwprod")},
	})
	payloadOf := map[string]string{}
	var files []string
	for name, content := range interopPayloads {
		for _, id := range []string{"prod", "spaced", DefaultID} {
			text, err := k.Encrypt([]byte(content), id)
			if err != nil {
				t.Fatal(err)
			}
			f := "ours-" + id + "-" + name
			files = append(files, f)
			payloadOf[f] = name
			write(t, dir, f, string(text), 0o600)
		}
	}
	runAnsibleVault(t, bin, dir, "", nil, append([]string{"decrypt",
		"--vault-id", "prod@keys-client", "--vault-id", "spaced@spaces.sh", "--vault-password-file", "pwprod"}, files...)...)
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || string(got) != interopPayloads[payloadOf[f]] {
			t.Errorf("%s: ansible-vault decrypted it to %q, %v", f, got, err)
		}
	}

	write(t, dir, "katpw11", "kat password 1.1\n", 0o600)
	write(t, dir, "katprod", "kat password prod\n", 0o600)
	kat := ourKeyring(t, dir, Options{VaultIDs: []string{"prod@" + filepath.Join(dir, "katprod")}, PasswordFiles: []string{filepath.Join(dir, "katpw11")}})
	for _, f := range []string{"ansible-1.1.vault", "ansible-1.2-prod.vault"} {
		o, err := kat.Open(f, readTestdata(t, f))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := o.Seal([]byte("resealed: " + f + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, "resealed-"+f, string(sealed), 0o600)
	}
	view := runAnsibleVault(t, bin, dir, "", []string{"ANSIBLE_VAULT_PASSWORD_FILE=katpw11"},
		"view", "--vault-id", "prod@katprod", "resealed-ansible-1.1.vault", "resealed-ansible-1.2-prod.vault")
	if want := "resealed: ansible-1.1.vault\nresealed: ansible-1.2-prod.vault\n"; view != want {
		t.Errorf("ansible-vault view of the files we sealed: %q, want %q", view, want)
	}
}
