package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noHang runs fn, which must not block on the FIFO at fifo. Should it
// still run after a minute, a writer opens and closes the FIFO so that fn
// ends and the test fails instead of hanging.
func noHang(t *testing.T, fifo string, fn func()) {
	t.Helper()
	fired := make(chan struct{})
	guard := time.AfterFunc(time.Minute, func() {
		close(fired)
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	})
	fn()
	if !guard.Stop() {
		<-fired
		t.Fatalf("blocked reading the FIFO %s", fifo)
	}
}

// A FIFO or a device where a certificate or a CRL is expected stops the
// audit at once with one line naming it; a symlinked host directory too.
func TestCollectRefusesSpecialFiles(t *testing.T) {
	for _, c := range []struct {
		rel  func(o Options) string
		kind string
		want string
	}{
		{func(o Options) string { return filepath.Join(o.CADir, "cacert.pem") }, "fifo", ": not a regular file (a FIFO)"},
		{func(o Options) string { return filepath.Join(o.Root, "cacert.pem") }, "fifo", ": not a regular file (a FIFO)"},
		{func(o Options) string { return filepath.Join(o.Root, "h2", "servercert.pem") }, "fifo", ": not a regular file (a FIFO)"},
		{func(o Options) string { return filepath.Join(o.Root, "cacrl.pem") }, "fifo", ": not a regular file (a FIFO)"},
		{func(o Options) string { return filepath.Join(o.Root, "h1", "clientcert.pem") }, "zero-link", ": is a symlink"},
	} {
		o, _ := layoutWithKnownDates(t)
		path := c.rel(o)
		os.Remove(path)
		var err error
		if c.kind == "fifo" {
			err = syscall.Mkfifo(path, 0o644)
		} else {
			err = os.Symlink("/dev/zero", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		noHang(t, path, func() { _, err = Collect(context.Background(), o) })
		if err == nil || err.Error() != path+c.want {
			t.Errorf("Collect with %s a %s: %v; want %q", path, c.kind, err, path+c.want)
		}
	}
	o, _ := layoutWithKnownDates(t)
	h2 := filepath.Join(o.Root, "h2")
	if err := os.Rename(h2, h2+"-real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(h2+"-real", h2); err != nil {
		t.Fatal(err)
	}
	if _, err := Collect(context.Background(), o); err == nil || !strings.HasPrefix(err.Error(), h2+": host directory is a symlink") {
		t.Errorf("symlinked host directory: %v", err)
	}
}
