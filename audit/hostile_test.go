package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

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
		if c.kind == "fifo" {
			testutil.Mkfifo(t, path)
		} else {
			testutil.LinkDevZero(t, path)
		}
		var err error
		testutil.NoHang(t, func() { _, err = Collect(context.Background(), o) }, path)
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
