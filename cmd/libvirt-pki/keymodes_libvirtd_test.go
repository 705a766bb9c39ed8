package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
)

// The ids of nova-compute's user and group in TestBundleClientKeyForNova,
// and of a user of another group (no account needs to exist).
const (
	novaUID, novaGID   = 54320, 54321
	otherUID, otherGID = 54330, 54331
)

// TestBundleClientKeyForNova proves docs/key-modes.md with the real
// libvirtd and virsh on a host bundle: the client key is root:nova 0640
// (the group given on the host by the bundle's tar), so nova-compute,
// running as an unprivileged user of group nova, logs in to libvirtd
// over TLS with the bundle's client pair at libvirt's default paths,
// while a user of another group cannot read the key and fails.
func TestBundleClientKeyForNova(t *testing.T) {
	bins := peer.Require(t, "virsh", "setpriv")
	hosts := []string{"--host", "compute01=localhost,127.0.0.1"}
	out := bundle(t, "libvirt", hosts...)
	etc := filepath.Join(out, "compute01/etc")
	key := filepath.Join(etc, "pki/libvirt/private/clientkey.pem")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("the client key: %v, want mode 0640", err)
	}
	if err := os.Chown(key, 0, novaGID); err != nil { // what tar -xpf does on the host
		t.Fatal(err)
	}
	add, err := os.ReadFile(filepath.Join(out, "compute01/etc/libvirt-pki/libvirtd.conf.add"))
	if err != nil {
		t.Fatal(err)
	}
	d := libvirttest.Start(t, libvirttest.Config{SystemEtc: etc, Extra: string(add)})
	uri := "test+tls://localhost:" + strconv.Itoa(d.Port) + "/default"
	virshAs := func(uid, gid int) (string, error) {
		home, err := os.MkdirTemp("", "libvirt-pki-home-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(home) })
		if err := os.Chown(home, uid, gid); err != nil {
			t.Fatal(err)
		}
		cmd := libvirttest.SystemEtcCommand(t, etc, bins[1], "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups",
			"env", "-i", "PATH=/usr/bin:/bin", "HOME="+home, bins[0], "-q", "-c", uri, "uri")
		o, err := cmd.CombinedOutput()
		return string(o), err
	}
	if o, err := virshAs(novaUID, novaGID); err != nil || strings.TrimSpace(o) != uri {
		t.Fatalf("virsh as a user of group nova with the bundle's client pair: %v\n%s\nlibvirtd:\n%s", err, o, d.Log())
	}
	o, err := virshAs(otherUID, otherGID)
	if err == nil || !strings.Contains(o, "clientkey.pem") {
		t.Fatalf("virsh as a user of another group: %v, want a failure to read clientkey.pem\n%s", err, o)
	}
	t.Logf("another group: %s", strings.TrimSpace(o))
}
