package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

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
	testutil.Mkfifo(t, ca)
	testutil.Mkfifo(t, crl)
	testutil.LinkDevZero(t, f.path("h1/servercert.pem"))
	keyLimit := vault.EncryptedSize(fsutil.LimitKey) // a key may be vaulted
	testutil.Sparse(t, f.path("h1/serverkey.pem"), keyLimit+1)
	var rep *Report
	var err error
	testutil.NoHang(t, func() {
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
	testutil.Mkfifo(t, crl2)
	testutil.NoHang(t, func() { rep = f2.check(t, f2.hosts...) }, crl2)
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
