package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// noHang runs fn, which must not block on the FIFOs given. Should it still
// run after a minute, a writer opens and closes each FIFO so that fn ends
// and the test fails instead of hanging.
func noHang(t *testing.T, fn func(), fifos ...string) {
	t.Helper()
	fired := make(chan struct{})
	guard := time.AfterFunc(time.Minute, func() {
		close(fired)
		for _, fifo := range fifos {
			go func() {
				if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					f.Close()
				}
			}()
		}
	})
	fn()
	if !guard.Stop() {
		<-fired
		t.Fatalf("blocked reading one of the FIFOs %q", fifos)
	}
}

// replace puts a FIFO, a symlink or a sparse file of size bytes in place
// of the file at path.
func replace(t *testing.T, path, kind string, size int64) {
	t.Helper()
	os.Remove(path)
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(path, 0o600)
	case "zero-link":
		err = os.Symlink("/dev/zero", path)
	case "sparse":
		if err = os.WriteFile(path, nil, 0o600); err == nil {
			err = os.Truncate(path, size)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// findingWith returns the message of the first finding of code whose
// message holds want ("" when none does).
func findingWith(rep *Report, code Code, want string) string {
	for _, f := range rep.Findings {
		if f.Code == code && strings.Contains(f.Message, want) {
			return f.Message
		}
	}
	return ""
}

// A FIFO, a symlink to /dev/zero or an oversized file where a credential
// or a CRL is expected is an unreadable finding naming the file, found at
// once: nothing blocks, nothing is read whole (SASL files:
// TestSASLSpecialFiles).
func TestOfflineSpecialFiles(t *testing.T) {
	f := newFixture(t, false, "h1")
	ca, crl := f.path("cacert.pem"), f.path("cacrl.pem")
	replace(t, ca, "fifo", 0)
	replace(t, crl, "fifo", 0)
	replace(t, f.path("h1/servercert.pem"), "zero-link", 0)
	keyLimit := vault.EncryptedSize(fsutil.LimitKey) // a key may be vaulted
	replace(t, f.path("h1/serverkey.pem"), "sparse", keyLimit+1)
	var rep *Report
	var err error
	noHang(t, func() {
		rep, err = Offline(Options{Layout: layout.Kolla, Root: f.root, Hosts: f.hosts, WarnDays: 30})
	}, ca, crl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		ca + ": not a regular file (a FIFO)",
		f.path("h1/servercert.pem") + ": is a symlink",
		f.path("h1/serverkey.pem") + fmt.Sprintf(": larger than %d bytes", keyLimit),
	} {
		if findingWith(rep, CodeUnreadable, want) == "" {
			t.Errorf("no unreadable finding %q in %+v", want, rep.Findings)
		}
	}
	// The CRL is looked for beside a CA file that was read: put the CA
	// back to reach it.
	f2 := newFixture(t, false, "h1")
	crl2 := f2.path("cacrl.pem")
	replace(t, crl2, "fifo", 0)
	noHang(t, func() { rep = f2.check(t, f2.hosts...) }, crl2)
	if findingWith(rep, CodeUnreadable, crl2+": not a regular file (a FIFO)") == "" {
		t.Errorf("no unreadable finding for the FIFO %s in %+v", crl2, rep.Findings)
	}
}

// A symlinked host directory is refused, naming it, whether the hosts are
// discovered or given (even when only another host is given), offline and
// live: no check silently skips it or follows it.
func TestSymlinkedHostDirRefused(t *testing.T) {
	f := newFixture(t, false, "h1", "h2")
	if err := os.Rename(f.path("h2"), filepath.Join(f.dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(f.dir, "elsewhere"), f.path("h2")); err != nil {
		t.Fatal(err)
	}
	want := f.path("h2") + ": host directory is a symlink"
	for _, hosts := range [][]layout.Host{nil, f.hosts, f.hosts[1:], f.hosts[:1]} {
		o := Options{Layout: layout.Kolla, Root: f.root, Hosts: hosts, WarnDays: 30}
		if _, err := Offline(o); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Offline with hosts %v: %v; want %q", hosts, err, want)
		}
		err := LiveCheck(context.Background(), o, LiveOptions{All: true, Timeout: time.Second}, hosts, &Report{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("LiveCheck with hosts %v: %v; want %q", hosts, err, want)
		}
	}
}
