package verify

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// TestStaleFinding: a server presenting another certificate than its
// host's servercert.pem is reported as stale, naming both serials; the
// certificate on disk is not.
func TestStaleFinding(t *testing.T) {
	out := t.TempDir()
	hosts, _ := layout.ParseHosts([]string{"h1=192.0.2.1"}, nil, "")
	ca := testlayout.Issue(t, certs.Options{Layout: layout.Libvirt, Root: out, CADir: layout.OutCADir(out), Hosts: hosts, Algo: pki.ECDSAP256})
	o := Options{Layout: layout.Libvirt, Root: out, Hosts: hosts}
	c := &checker{o: o, tree: o.tree()}
	onDisk, err := pki.ReadCertsFile(filepath.Join(out, "h1/etc/pki/libvirt/servercert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	old, _, err := ca.Issue(pki.LeafRequest{Profile: pki.ServerProfile, CommonName: "h1", SANs: pki.SANs{DNS: []string{"h1"}}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	target := live.Target{Host: "h1", Addr: "h1:16514", Service: live.ServiceLibvirtd}
	if f, stale := c.staleFinding(live.Result{Target: target, ServerCert: onDisk[0]}); stale {
		t.Fatalf("the certificate on disk reported stale: %+v", f)
	}
	f, stale := c.staleFinding(live.Result{Target: target, ServerCert: old})
	if !stale || f.Code != CodeLiveStale || f.Severity != Warning || f.Host != "h1" ||
		!strings.Contains(f.Message, pki.SerialHex(old)) || !strings.Contains(f.Message, pki.SerialHex(onDisk[0])) || !strings.Contains(f.Message, "libvirt-pki reload") || !strings.Contains(f.Message, "virt-admin server-update-tls libvirtd") {
		t.Fatalf("stale = %v, finding %+v", stale, f)
	}
	// An endpoint of no known host has no file to compare with.
	if _, stale := c.staleFinding(live.Result{Target: live.Target{Host: SharedHost, Addr: "x:1"}, ServerCert: old}); stale {
		t.Fatal("an endpoint of no host reported stale")
	}
}

// TestLiveCodesAreDocumented keeps docs/verify-json.md in step with the
// codes the live checks add beside finding.go's.
func TestLiveCodesAreDocumented(t *testing.T) {
	src, err := os.ReadFile("livecheck.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/verify-json.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`Code = "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(codes) == 0 {
		t.Fatal("found no codes in livecheck.go")
	}
	for _, c := range codes {
		if !strings.Contains(string(doc), "`"+c[1]+"`") {
			t.Errorf("code %q is not documented in docs/verify-json.md", c[1])
		}
	}
}

// TestLiveVNCBadInput: VNC endpoints are parsed like libvirtd's, and the
// proxy's files are required (Kolla's layout holds none).
func TestLiveVNCBadInput(t *testing.T) {
	for _, c := range []struct {
		lo   LiveOptions
		want string
	}{
		{LiveOptions{VNCEndpoints: []string{"h1:5901"}}, "--vnc-ca-cert"},
		{LiveOptions{VNCEndpoints: []string{"*:5901"}, VNCFiles: VNCFiles{"a", "b", "c"}}, `--live-vnc "*:5901": not a host name`},
		{LiveOptions{Endpoints: []string{"h1:http"}}, `--live "h1:http": not a port`},
	} {
		o := Options{Layout: layout.Kolla, Root: t.TempDir()}
		_, err := (&checker{o: o, tree: o.tree()}).vncJobs(c.lo, nil)
		if len(c.lo.Endpoints) > 0 {
			_, _, err = splitEndpoint("--live", c.lo.Endpoints[0], live.DefaultPort)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.lo, err, c.want)
		}
	}
}
