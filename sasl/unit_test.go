package sasl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// assertNoLeftovers fails if any temporary file or journal is under root.
func assertNoLeftovers(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp-") || d.Name() == fsutil.JournalFileName) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// hostPassword checks that a host's auth.conf logs into its passwd.db (the
// password in auth.conf is the user's userPassword there, and verifies
// against its SCRAM secret if there is one) and returns that password.
func hostPassword(t *testing.T, dir, realm string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, tAuth))
	if err != nil {
		t.Fatal(err)
	}
	name, pw, err := ParseAuthConf(data, "")
	if err != nil {
		t.Fatal(err)
	}
	_, records, err := ReadDB(filepath.Join(dir, tDB))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range records {
		if r.AuthID != name || r.Realm != realm {
			continue
		}
		switch r.Property {
		case PropUserPassword:
			found = true
			if string(r.Value) != pw {
				t.Errorf("%s: auth.conf and passwd.db disagree on the password", dir)
			}
		case PropAuthPassword:
			if ok, err := VerifySCRAMSecret(string(r.Value), pw); err != nil || !ok {
				t.Errorf("%s: auth.conf's password does not match the SCRAM secret (%v)", dir, err)
			}
		}
	}
	if !found {
		t.Errorf("%s: passwd.db has no %s@%s", dir, name, realm)
	}
	return pw
}

// hostWhole checks a host's SASL files as a reader finds them: none yet,
// or passwd.db and both auth.conf files present and agreeing.
func hostWhole(t *testing.T, dir, realm string) {
	t.Helper()
	root, rootErr := os.ReadFile(filepath.Join(dir, "root/.config/libvirt/auth.conf"))
	nova, novaErr := os.ReadFile(filepath.Join(dir, tAuth))
	_, dbErr := os.Stat(filepath.Join(dir, tDB))
	switch {
	case rootErr != nil && novaErr != nil && dbErr != nil:
		return
	case rootErr != nil || novaErr != nil || dbErr != nil:
		t.Fatalf("%s: a member is missing: %v, %v, %v", dir, rootErr, novaErr, dbErr)
	case string(root) != string(nova):
		t.Fatalf("%s: root's and nova's auth.conf differ", dir)
	}
	hostPassword(t, dir, realm)
}

var errStopped = errors.New("stopped by the fault hook")

// applyUntil runs Apply as a killed run would, stopping it dead (its
// goroutine exits) at the stop-th call of the fault hook, counting from 1;
// 0 never stops. It returns how many times the hook was called.
func applyUntil(t *testing.T, p *Plan, stop int) int {
	t.Helper()
	calls := 0 // touched by the Apply goroutine only, until ended is sent
	ended := make(chan error, 1)
	defer fsutil.SetFaultHook(func(int, string) {
		calls++
		if calls == stop {
			ended <- errStopped
			runtime.Goexit()
		}
	})()
	go func() {
		_, err := p.Apply()
		ended <- err
	}()
	if err := <-ended; err != nil && err != errStopped {
		t.Fatal(err)
	}
	return calls
}

func rotateOptions(root, pw string) Options {
	o := deployOptions(root, "h1", "h2", "h3")
	o.Password, o.Mechs = pw, []string{"scram-sha-256"}
	return o
}

// Killed at every commit point, a rotation leaves every host whole at
// once (passwd.db and both auth.conf agree: each host's directory is
// swapped in whole), all old or all new once Recover has run, and all
// hosts the same.
func TestApplyIsOneUnit(t *testing.T) {
	const files = 9      // passwd.db and the two auth.conf of three hosts; libvirt.conf stays
	const points = 1 + 3 // the journal, then each host's directory swap
	for stop := 0; stop <= points; stop++ {
		root := t.TempDir()
		first, err := NewPlan(rotateOptions(root, "old-password"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Apply(); err != nil {
			t.Fatal(err)
		}
		p, err := NewPlan(rotateOptions(root, "new-password"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Changed() != files {
			t.Fatalf("plan changes %d files, want %d", p.Changed(), files)
		}
		calls := applyUntil(t, p, stop)
		if stop == 0 && calls != points {
			t.Fatalf("the commit called the fault hook %d times, want %d (journal, then each host's swap)", calls, points)
		}
		for _, h := range []string{"h1", "h2", "h3"} {
			hostWhole(t, filepath.Join(root, h), h)
		}
		if _, err := fsutil.Recover(root); err != nil {
			t.Fatal(err)
		}
		if _, err := fsutil.SweepTemp(root, 1); err != nil {
			t.Fatal(err)
		}
		want := "new-password" // the journal was durable at the first stop
		for _, h := range []string{"h1", "h2", "h3"} {
			if got := hostPassword(t, filepath.Join(root, h), h); got != want {
				t.Errorf("stop %d: %s holds %q, want %q", stop, h, got, want)
			}
		}
		assertNoLeftovers(t, root)
	}
}

// A rename that fails after the first one leaves a Partial naming what is
// in place, and a journal with which the next run completes the unit.
func TestApplyPartialAfterRename(t *testing.T) {
	root := t.TempDir()
	p, err := NewPlan(deployOptions(root, "h1", "h2"))
	if err != nil {
		t.Fatal(err)
	}
	h2, away := filepath.Join(root, "h2"), filepath.Join(root, "h2-away")
	restore := fsutil.SetFaultHook(func(i int, _ string) {
		if i == 0 {
			os.Rename(h2, away) // h2's swap finds no directory to exchange with
		}
	})
	written, err := p.Apply()
	restore()
	var partial *errs.Partial
	want := filepath.Join(root, "h1", tDB)
	if !errors.As(err, &partial) || len(written) != 4 || written[0] != want || !strings.Contains(err.Error(), want) {
		t.Fatalf("Apply: %q, %v; want a Partial naming h1's four files", written, err)
	}
	if !strings.Contains(err.Error(), "the next run completes this write") {
		t.Errorf("error %q does not say the next run completes it", err)
	}
	if err := os.Rename(away, h2); err != nil {
		t.Fatal(err)
	}
	if _, err := fsutil.Recover(root); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2"} {
		if got := hostPassword(t, filepath.Join(root, h), h); got != "secret" {
			t.Errorf("%s holds %q", h, got)
		}
	}
	assertNoLeftovers(t, root)
}

// A symlink anywhere from the tree root to a written file is bad input,
// found before anything is written, and the link's target is untouched.
func TestNewPlanRefusesSymlinks(t *testing.T) {
	for _, link := range []string{"nova-libvirt", "nova-libvirt/h1", "nova-libvirt/h1/" + tDB, "nova-libvirt/h1/" + tAuth} {
		tree, outside := t.TempDir(), t.TempDir()
		if err := os.MkdirAll(filepath.Join(tree, "nova-libvirt/h1"), 0o755); err != nil {
			t.Fatal(err)
		}
		target := outside
		if strings.HasSuffix(link, "conf") || strings.HasSuffix(link, ".db") {
			target = filepath.Join(outside, "victim")
			if err := os.WriteFile(target, []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		os.RemoveAll(filepath.Join(tree, link))
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(tree, link)); err != nil {
			t.Fatal(err)
		}
		o := deployOptions(filepath.Join(tree, "nova-libvirt"), "h1", "h2")
		o.TreeRoot = tree
		if _, err := NewPlan(o); !errs.IsInput(err) || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%s a symlink: %v, want bad input", link, err)
		}
		entries, _ := os.ReadDir(outside)
		if len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != "victim") {
			t.Errorf("%s a symlink: wrote outside the tree", link)
		}
	}
}

func TestNewPlanValidatesNames(t *testing.T) {
	root := t.TempDir()
	bad := map[string]func(*Options){
		"authname newline":   func(o *Options) { o.Authname = "nova\nx" },
		"authname control":   func(o *Options) { o.Authname = "nova\x7f" },
		"authname tab":       func(o *Options) { o.Authname = "no\tva" },
		"authname blank":     func(o *Options) { o.Authname = " nova" },
		"authname at":        func(o *Options) { o.Authname = "nova@realm" },
		"authname colon":     func(o *Options) { o.Authname = "no:va" },
		"authname utf8":      func(o *Options) { o.Authname = "nova\xff" },
		"authname long":      func(o *Options) { o.Authname = strings.Repeat("n", MaxAuthnameLen+1) },
		"realm colon":        func(o *Options) { o.Realm = "compute:01" },
		"realm newline":      func(o *Options) { o.Realm = "compute\n01" },
		"realm upper":        func(o *Options) { o.Realm = "Compute01" },
		"realm of ipv6 host": func(o *Options) { o.Hosts = []string{"fd00::1"} },
		"password ff":        func(o *Options) { o.Password = "\fsecret" },
		"password utf8":      func(o *Options) { o.Password = "secret\xff" },
		"password nul":       func(o *Options) { o.Password = "sec\x00ret" },
	}
	for name, change := range bad {
		o := deployOptions(root, "h1")
		change(&o)
		_, err := NewPlan(o)
		if !errs.IsInput(err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q, want one line of bad input", name, err)
		}
	}
	for _, authname := range []string{"nova", "nova.compute", "nova_compute-1", "nóva", "a b"} {
		o := deployOptions(root, "h1")
		o.Authname = authname
		if _, err := NewPlan(o); err != nil {
			t.Errorf("authname %q: %v", authname, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("planning wrote %d entries", len(entries))
	}
}

// sparseFile makes a file of size bytes that takes no disk space.
func sparseFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// Every input is read with a limit and only if it is a regular file.
func TestReadsAreBounded(t *testing.T) {
	if _, _, err := ReadDB("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadDB(/dev/zero): %v", err)
	}
	if _, err := LoadPassword("/dev/zero", "", nil); !errs.IsInput(err) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadPassword(/dev/zero): %v", err)
	}
	if _, err := ReadPassword("/dev/zero", SASLPasswordKey); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadPassword(/dev/zero): %v", err)
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "passwords.yml")
	sparseFile(t, big, fsutil.LimitConfig+1)
	if _, err := ReadPassword(big, SASLPasswordKey); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadPassword(huge): %v", err)
	}
	if _, err := EnsurePassword(big, SASLPasswordKey, true, nil); !errs.IsInput(err) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("EnsurePassword(huge): %v", err)
	}
	pwFile := filepath.Join(dir, "pw")
	sparseFile(t, pwFile, fsutil.LimitKey+1)
	if _, err := LoadPassword(pwFile, "", nil); !errs.IsInput(err) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadPassword(huge): %v", err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "h1", filepath.Dir(tDB)), 0o755); err != nil {
		t.Fatal(err)
	}
	sparseFile(t, filepath.Join(root, "h1", tDB), fsutil.LimitSASLDB+1)
	if _, err := NewPlan(deployOptions(root, "h1")); !errs.IsInput(err) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("NewPlan with a huge passwd.db: %v", err)
	}
}

// vaultRing holds the password pw under vault id id.
func vaultRing(t *testing.T, id, pw string) *vault.Keyring {
	t.Helper()
	k := &vault.Keyring{}
	if err := k.Add(id, []byte(pw)); err != nil {
		t.Fatal(err)
	}
	return k
}

func vaultText(t *testing.T, plaintext, pw, id string) string {
	t.Helper()
	out, err := vault.Encrypt([]byte(plaintext), []byte(pw), id)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A vaulted passwords.yml is read and rewritten with the vault password,
// encrypted again with the same vault id; without the password it is
// refused in one line naming the file, and left as it was.
func TestVaultedPasswords(t *testing.T) {
	plain := "a: 1\nlibvirt_sasl_password:\nb: 2\n"
	vaulted := vaultText(t, plain, "vpw", "prod")
	p := writeTemp(t, vaulted, 0o640)
	want := p + ": is ansible-vault encrypted (vault id prod) and no vault password was given"
	if _, err := ReadPassword(p, SASLPasswordKey); err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, vault.ErrNoPassword) {
		t.Errorf("ReadPassword: %v", err)
	}
	if _, err := EnsurePassword(p, SASLPasswordKey, false, nil); !errs.IsInput(err) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("EnsurePassword: %v", err)
	}
	if _, err := LoadPassword("", p, nil); !errs.IsInput(err) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("LoadPassword: %v", err)
	}
	if _, err := EnsurePassword(p, SASLPasswordKey, false, vaultRing(t, "prod", "wrong")); !errs.IsInput(err) || !errors.Is(err, vault.ErrWrongPassword) {
		t.Errorf("EnsurePassword, wrong password: %v", err)
	}
	if string(readFile(t, p)) != vaulted {
		t.Error("vaulted file changed")
	}
	k := vaultRing(t, "prod", "vpw")
	if res, err := EnsurePassword(p, SASLPasswordKey, false, k); err != nil || !res.Generated {
		t.Fatalf("EnsurePassword with the password: %+v %v", res, err)
	}
	data := readFile(t, p)
	env, err := vault.Parse(p, data)
	if err != nil || env.VaultID != "prod" || strings.Contains(string(data), "a: 1") {
		t.Fatalf("rewritten file is no vault text of id prod: %v", err)
	}
	pw, err := LoadPassword("", p, k)
	if err != nil || len(pw) != PasswordLength {
		t.Errorf("LoadPassword after the rewrite: %v", err)
	}
	clear, _ := env.Decrypt([]byte("vpw"))
	if string(clear) != "a: 1\nlibvirt_sasl_password: "+pw+"\nb: 2\n" {
		t.Errorf("plaintext after the rewrite: %q", clear)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}

	inlineVault := "a: 1\nlibvirt_sasl_password: !vault |\n  " + strings.ReplaceAll(strings.TrimSpace(vaultText(t, "s3cret", "vpw", "")), "\n", "\n  ") + "\nb: 2\n"
	p = writeTemp(t, inlineVault, 0o640)
	if _, err := ReadPassword(p, SASLPasswordKey); err == nil || !strings.HasPrefix(err.Error(), p+":2: is ansible-vault encrypted") {
		t.Errorf("ReadPassword of an inline !vault value: %v", err)
	}
	if _, err := LoadPassword("", p, nil); !errs.IsInput(err) {
		t.Errorf("LoadPassword of an inline !vault value: %v", err)
	}
	if pw, err := LoadPassword("", p, vaultRing(t, "", "vpw")); err != nil || pw != "s3cret" {
		t.Errorf("LoadPassword of an inline !vault value, with the password: %q %v", pw, err)
	}
	if _, err := EnsurePassword(p, SASLPasswordKey, true, nil); !errs.IsInput(err) || !strings.Contains(err.Error(), "!vault") {
		t.Errorf("EnsurePassword --rotate of an inline !vault value: %v", err)
	}
	if res, err := EnsurePassword(p, SASLPasswordKey, false, nil); err != nil || res.Changed {
		t.Errorf("EnsurePassword of a set (vaulted) value: %+v %v", res, err)
	}
	if string(readFile(t, p)) != inlineVault {
		t.Error("file with an inline vault value changed")
	}
	p = writeTemp(t, "libvirt_sasl_password: !custom abc\n", 0o640)
	if _, err := ReadPassword(p, SASLPasswordKey); err == nil || !strings.Contains(err.Error(), "tag !custom") {
		t.Errorf("ReadPassword of a tagged value: %v", err)
	}
	p = writeTemp(t, "libvirt_sasl_password: !unsafe 'a{{b'\n", 0o640)
	if v, err := ReadPassword(p, SASLPasswordKey); err != nil || v != "a{{b" {
		t.Errorf("ReadPassword of an !unsafe string: %q %v", v, err)
	}
}

// The passwords.yml rewrite is one journalled commit in the file's
// directory: stopped at either point, Recover gives the new file, and
// nothing is left behind.
func TestEnsurePasswordJournalled(t *testing.T) {
	for stop := 1; stop <= 2; stop++ {
		p := writeTemp(t, "a: 1\nlibvirt_sasl_password:\n", 0o640)
		calls := 0
		restore := fsutil.SetFaultHook(func(int, string) {
			calls++
			if calls == stop {
				runtime.Goexit()
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			EnsurePassword(p, SASLPasswordKey, false, nil)
		}()
		<-done
		restore()
		if calls != stop {
			t.Fatalf("stop %d: the fault hook was called %d times", stop, calls)
		}
		dir := filepath.Dir(p)
		if _, err := fsutil.Recover(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := fsutil.SweepTemp(dir, 0); err != nil {
			t.Fatal(err)
		}
		if v, err := ReadPassword(p, SASLPasswordKey); err != nil || !alnum40.MatchString(v) {
			t.Errorf("stop %d: %q %v", stop, v, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("stop %d: mode %v", stop, fi.Mode())
		}
		assertNoLeftovers(t, dir)
	}
}

// A symlinked passwords.yml is refused, not written through.
func TestEnsurePasswordRefusesSymlink(t *testing.T) {
	outside := writeTemp(t, "libvirt_sasl_password:\n", 0o640)
	p := filepath.Join(t.TempDir(), "passwords.yml")
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsurePassword(p, SASLPasswordKey, false, nil); !errs.IsInput(err) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("EnsurePassword through a symlink: %v", err)
	}
	if string(readFile(t, outside)) != "libvirt_sasl_password:\n" {
		t.Error("wrote through the symlink")
	}
}
