package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// saslExec runs the test binary as libvirt-pki (see TestMain) with extra
// environment, and says whether SIGKILL ended it.
func saslExec(t *testing.T, env []string, args ...string) (code int, killed bool, stderr string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"libvirt-pki"}, args...), Env: append(os.Environ(), env...), Stderr: &errOut}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws, _ := ee.Sys().(syscall.WaitStatus)
		return ee.ExitCode(), ws.Signaled() && ws.Signal() == syscall.SIGKILL, errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, false, errOut.String()
}

// saslRun runs libvirt-pki in this process and fails the test unless it
// exits 0.
func saslRun(t *testing.T, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("libvirt-pki %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
}

// saslHostPassword checks with the sasl package's own readers that a
// host's auth.conf logs into its passwd.db (auth.conf's password is the
// user's userPassword there and verifies against its SCRAM secret, if
// any) and returns that password.
func saslHostPassword(t *testing.T, dir, realm string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, saslAuth))
	if err != nil {
		t.Fatal(err)
	}
	name, pw, err := sasl.ParseAuthConf(data, "")
	if err != nil {
		t.Fatal(err)
	}
	_, records, err := sasl.ReadDB(filepath.Join(dir, saslDB))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range records {
		switch {
		case r.AuthID != name || r.Realm != realm:
		case r.Property == sasl.PropUserPassword:
			found = true
			if string(r.Value) != pw {
				t.Errorf("%s: auth.conf and passwd.db disagree", dir)
			}
		case r.Property == sasl.PropAuthPassword:
			if ok, err := sasl.VerifySCRAMSecret(string(r.Value), pw); err != nil || !ok {
				t.Errorf("%s: auth.conf's password does not match the SCRAM secret", dir)
			}
		}
	}
	if !found {
		t.Errorf("%s: no %s@%s in passwd.db", dir, name, realm)
	}
	return pw
}

// saslNoLeftovers fails if a temporary file or a journal is under dir.
func saslNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp-") || d.Name() == fsutil.JournalFileName) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// killTrial is one kind of run killed at each of its commit points.
type killTrial struct {
	name string
	// setup prepares a config dir and returns what the checks compare
	// against: the password before the run ("" if none) and the args of
	// the run to kill.
	setup func(t *testing.T, config string) (old string, args []string)
	// check says whether the tree holds a valid old or new state.
	check func(t *testing.T, config, old string)
	// killed, if set, checks the tree as the kill left it, before
	// anything recovers it.
	killed func(t *testing.T, config string)
}

var killHosts = []string{"h1", "h2", "h3"}

// saslTrial: sasl on three hosts with flags, after a first run with
// first and a rotated password (or, if first is nil, as the first run);
// realm is the realm the run writes ("" for each host's name).
func saslTrial(name string, first, flags []string, realm string) killTrial {
	return killTrial{
		name: name,
		setup: func(t *testing.T, config string) (string, []string) {
			saslRun(t, "passwords", "--config-dir", config)
			base := []string{"sasl", "--layout", "libvirt", "--out", config, "--config-dir", config, "--hosts", strings.Join(killHosts, ",")}
			old := ""
			if first != nil {
				saslRun(t, append(base[:len(base):len(base)], first...)...)
				old = saslHostPassword(t, filepath.Join(config, "h1"), "h1")
				saslRun(t, "passwords", "--config-dir", config, "--rotate")
			}
			return old, append(base, flags...)
		},
		check: func(t *testing.T, config, old string) {
			want, err := sasl.ReadPassword(filepath.Join(config, "passwords.yml"), sasl.SASLPasswordKey)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range killHosts {
				dir := filepath.Join(config, ".", h)
				if _, err := os.Stat(filepath.Join(dir, saslAuth)); errors.Is(err, fs.ErrNotExist) && first == nil {
					t.Errorf("%s: no files after recovery, though the journal was durable", h)
					continue
				}
				// The journal is durable at the first commit point, so
				// recovery always rolls forward to the new files.
				if got := saslHostPassword(t, dir, cmp.Or(realm, h)); got != want {
					t.Errorf("%s: holds %s password", h, map[bool]string{true: "the old", false: "an unknown"}[got == old])
				}
			}
		},
		killed: func(t *testing.T, config string) {
			for _, h := range killHosts {
				saslHostWhole(t, filepath.Join(config, h))
			}
		},
	}
}

// saslHostWhole checks a host's SASL files as a reader finds them right
// after a kill, before any recovery: none yet, or passwd.db and both
// auth.conf files (root's and nova-compute's) present and agreeing: the
// same, and their password passwd.db's for their user (in the old realm
// or the new one: either state is whole).
func saslHostWhole(t *testing.T, dir string) {
	t.Helper()
	root, rootErr := os.ReadFile(filepath.Join(dir, saslAuthRoot))
	nova, novaErr := os.ReadFile(filepath.Join(dir, saslAuth))
	_, dbErr := os.Stat(filepath.Join(dir, saslDB))
	switch {
	case rootErr != nil && novaErr != nil && dbErr != nil:
		return
	case rootErr != nil || novaErr != nil || dbErr != nil:
		t.Fatalf("%s, right after the kill: a member is missing: %v, %v, %v", dir, rootErr, novaErr, dbErr)
	case !bytes.Equal(root, nova):
		t.Fatalf("%s, right after the kill: root's and nova-compute's auth.conf differ", dir)
	}
	name, pw, err := sasl.ParseAuthConf(nova, "")
	if err != nil {
		t.Fatal(err)
	}
	_, records, err := sasl.ReadDB(filepath.Join(dir, saslDB))
	if err != nil {
		t.Fatalf("%s, right after the kill: %v", dir, err)
	}
	for _, r := range records {
		if r.AuthID == name && r.Property == sasl.PropUserPassword && string(r.Value) == pw {
			return
		}
	}
	t.Fatalf("%s, right after the kill: auth.conf and passwd.db disagree", dir)
}

// passwordsTrial: passwords on a file holding before (none if "").
func passwordsTrial(name, before string, args ...string) killTrial {
	return killTrial{
		name: name,
		setup: func(t *testing.T, config string) (string, []string) {
			p := filepath.Join(config, "passwords.yml")
			if before != "" {
				if err := os.WriteFile(p, []byte(before), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			old, _ := sasl.ReadPassword(p, sasl.SASLPasswordKey)
			return old, append([]string{"passwords", "--config-dir", config}, args...)
		},
		check: func(t *testing.T, config, old string) {
			p := filepath.Join(config, "passwords.yml")
			got, err := sasl.ReadPassword(p, sasl.SASLPasswordKey)
			if err != nil || got == old || !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(got) {
				t.Errorf("passwords.yml after recovery: %v (same as before: %v)", err, got == old)
			}
			data, _ := os.ReadFile(p)
			if before != "" && !strings.HasPrefix(string(data), "a: 1\n") {
				t.Errorf("passwords.yml lost its other keys: %q", data)
			}
		},
	}
}

// The vault password of vaultedPasswordsTrial, and the plaintext it
// encrypts: no file may ever hold that text.
const (
	killVaultPassword = "kill-vault-pass"
	killPlainMarker   = "nova_database_password: keep-me"
)

// vaultedPasswordsTrial: passwords --rotate on an ansible-vault encrypted
// passwords.yml (vault id prod). At every point the file must be a vault
// text of id prod that the password opens, whole, and no file on the
// disk (temporary files and the journal included) may hold plaintext.
func vaultedPasswordsTrial(name string) killTrial {
	plain := killPlainMarker + "\nlibvirt_sasl_password: old\nb: 2\n"
	open := func(t *testing.T, p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		env, err := vault.Parse(p, data)
		if err != nil || env.VaultID != "prod" {
			t.Fatalf("passwords.yml is no vault text of id prod (%v): %.60q", err, data)
		}
		clear, err := env.Decrypt([]byte(killVaultPassword))
		if err != nil || !strings.HasPrefix(string(clear), killPlainMarker+"\n") {
			t.Fatalf("passwords.yml does not decrypt to the file with its other keys: %v", err)
		}
		return string(clear)
	}
	return killTrial{
		name: name,
		setup: func(t *testing.T, config string) (string, []string) {
			pwFile := filepath.Join(t.TempDir(), "vault-pass")
			text, err := vault.Encrypt([]byte(plain), []byte(killVaultPassword), "prod")
			if err == nil {
				err = os.WriteFile(pwFile, []byte(killVaultPassword+"\n"), 0o600)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(config, "passwords.yml"), text, 0o640)
			}
			if err != nil {
				t.Fatal(err)
			}
			return "old", []string{"passwords", "--config-dir", config, "--rotate", "--vault-id", "prod@" + pwFile}
		},
		check: func(t *testing.T, config, old string) {
			clear := open(t, filepath.Join(config, "passwords.yml"))
			m := regexp.MustCompile(`(?m)^libvirt_sasl_password: ([A-Za-z0-9]{40})$`).FindStringSubmatch(clear)
			if m == nil {
				t.Errorf("passwords.yml after recovery holds no new password")
			}
			noPlaintext(t, config)
		},
		killed: func(t *testing.T, config string) {
			noPlaintext(t, config)
			open(t, filepath.Join(config, "passwords.yml"))
		},
	}
}

// noPlaintext fails if any file under dir holds the vaulted trial's
// plaintext.
func noPlaintext(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(killPlainMarker)) || bytes.Contains(data, []byte("libvirt_sasl_password")) {
			t.Errorf("%s holds plaintext", p)
		}
		return nil
	})
}

// TestSASLKillTrials kills sasl and passwords with SIGKILL at every commit
// point (the journal made durable, then each rename or directory swap) of
// several kinds of run. Right after each kill, before anything recovers
// the tree, every host's passwd.db and both auth.conf files must be there
// and agree (or none be there yet). The next run's first step (fsutil.Recover) must
// leave every host's passwd.db and auth.conf agreeing and passwords.yml
// whole; the re-run must then complete and leave no temporary or journal
// file behind.
func TestSASLKillTrials(t *testing.T) {
	trials := []killTrial{
		saslTrial("sasl rotate bdb scram", []string{}, nil, ""),
		saslTrial("sasl rotate gdbm digest-md5", []string{"--db-format", "gdbm", "--mech", "digest-md5"}, []string{"--db-format", "gdbm", "--mech", "digest-md5"}, ""),
		saslTrial("sasl first run bdb", nil, nil, ""),
		saslTrial("sasl first run gdbm", nil, []string{"--db-format", "gdbm"}, ""),
		saslTrial("sasl rotate, new realm and mechanism", []string{}, []string{"--realm", "elsewhere.example", "--mech", "digest-md5"}, "elsewhere.example"),
		passwordsTrial("passwords rotate", "a: 1\nlibvirt_sasl_password: old\nb: 2\n", "--rotate"),
		passwordsTrial("passwords fill", "a: 1\nlibvirt_sasl_password:\nb: 2\n"),
		passwordsTrial("passwords create", ""),
		vaultedPasswordsTrial("passwords rotate, vaulted"),
	}
	total := 0
	for _, tr := range trials {
		killed := 0
		for at := 1; ; at++ {
			done := killOnce(t, tr, at)
			if done {
				break
			}
			killed++
		}
		t.Logf("%s: killed at %d points, all clean", tr.name, killed)
		if killed < 2 {
			t.Errorf("%s: only %d commit points", tr.name, killed)
		}
		total += killed
	}
	t.Logf("%d kill trials", total)
	if total < 25 { // a sasl run has a point per host (its swap) after its journal
		t.Errorf("%d kill trials, want at least 25", total)
	}
}

// killOnce runs one trial killed at commit point at; done is true when
// the run finished before reaching it.
func killOnce(t *testing.T, tr killTrial, at int) (done bool) {
	t.Helper()
	config := t.TempDir()
	old, args := tr.setup(t, config)
	code, killed, stderr := saslExec(t, []string{fmt.Sprintf("%s=%d", envSASLKillAt, at)}, args...)
	if !killed {
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tr.name, code, stderr)
		}
		tr.check(t, config, old)
		saslNoLeftovers(t, config)
		return true
	}
	if tr.killed != nil {
		tr.killed(t, config)
	}
	if _, err := fsutil.Recover(config); err != nil {
		t.Fatalf("%s, killed at %d: Recover: %v", tr.name, at, err)
	}
	tr.check(t, config, old)
	if code, _, stderr := saslExec(t, nil, args...); code != 0 {
		t.Fatalf("%s, killed at %d: the re-run exits %d: %s", tr.name, at, code, stderr)
	}
	tr.check(t, config, old)
	saslNoLeftovers(t, config)
	return false
}
