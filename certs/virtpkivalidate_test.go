package certs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// TestVirtPKIValidateIsQuiet runs libvirt's own checker, Debian 12's
// virt-pki-validate (a shell script reading /etc/pki), on the libvirt
// layout made for this machine's host name with default options and with
// --org, and after a CA rotation: it must print nothing but
// its "Found ..." lines, except the one
// complaint docs/key-modes.md answers (it wants a world-readable client
// key; the policy gives it root:nova 0640). The script compares the CA's
// CN with the leaves' O, so with --org X the CA must be named X. It reads
// fixed system paths, so it runs in a private mount namespace where an
// overlay puts the host's etc/ over /etc (libvirttest.SystemEtcCommand;
// needs root, as CI is).
func TestVirtPKIValidateIsQuiet(t *testing.T) {
	script := peer.Require(t, "virt-pki-validate", "certtool")[0]
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	h, err := layout.ParseHostSpec(host + "=localhost")
	if err != nil {
		t.Skipf("this machine's host name %q is no host name libvirt-pki takes: %v", host, err)
	}
	for _, org := range []string{"", "Example"} {
		t.Run("org="+org, func(t *testing.T) { virtPKIValidate(t, script, h, org) })
	}
}

// keyModeComplaint is what virt-pki-validate says of a client key that is
// not 0644: the key-mode policy's deliberate difference.
var keyModeComplaint = []string{
	"The client private key need to be read by client tools",
	"as root do: chmod 644 /etc/pki/libvirt/private/clientkey.pem",
}

// virtPKIValidate makes the bundle and checks it, then again after a CA
// rotation (the next CA keeps the CN the leaves' O names).
func virtPKIValidate(t *testing.T, script string, h layout.Host, org string) {
	root := filepath.Join(t.TempDir(), "out")
	p, err := MakePlan(Options{Layout: layout.Libvirt, Root: root, CADir: layout.OutCADir(root), Hosts: []layout.Host{h}, Org: org,
		Days: pki.DefaultLeafDays, CADays: pki.DefaultCADays, RenewBefore: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(nil); err != nil {
		t.Fatal(err)
	}
	tree := layout.Tree{Layout: layout.Libvirt, Root: root}
	etc := filepath.Join(tree.HostUnit(h.Name).Dir, "etc")
	checkVirtPKIValidate(t, script, etc, org, "new")
	// While cacert.pem holds two CAs the script reads the issuer CNs of
	// both as one organization ("Example Example") and complains,
	// whatever their names: it is checked once the rotation is over.
	ro := RotateOptions{Layout: layout.Libvirt, Root: root, CADir: layout.OutCADir(root)}
	for _, step := range []func(RotateOptions) (*RotateResult, error){RotateStart, RotateReissue, RotateFinish} {
		if _, err := step(ro); err != nil {
			t.Fatal(err)
		}
	}
	checkVirtPKIValidate(t, script, etc, org, "after a CA rotation")
}

// checkVirtPKIValidate runs the script on the bundle's etc: nothing but
// "Found" lines and keyModeComplaint.
func checkVirtPKIValidate(t *testing.T, script, etc, org, when string) {
	t.Helper()
	out, err := libvirttest.SystemEtcCommand(t, etc, script).CombinedOutput()
	t.Logf("virt-pki-validate, %s:\n%s", when, out)
	if err != nil {
		t.Fatalf("virt-pki-validate in a private namespace: %v", err)
	}
	found := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(line, "Found "):
			found++
		case !slices.Contains(keyModeComplaint, line):
			t.Errorf("virt-pki-validate complains (%s): %s", when, line)
		}
	}
	// certtool, the CA, the client pair and the server pair.
	if found < 6 {
		t.Errorf("virt-pki-validate found %d things, want certtool, the CA and both pairs", found)
	}
	if org != "" && !strings.Contains(string(out), "Found CA certificate /etc/pki/CA/cacert.pem for "+org+"\n") {
		t.Errorf("virt-pki-validate does not read the CA's organization as %q", org)
	}
}
