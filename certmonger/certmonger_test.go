package certmonger

import (
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// listText is getcert list -u as certmonger 0.79.17 prints it.
const listText = `Number of certificates and requests being tracked: 2.
Request ID 'libvirt-pki-server':
	status: MONITORING
	stuck: no
	key pair storage: type=FILE,location='/r/etc/pki/libvirt/private/serverkey.pem'
	certificate: type=FILE,location='/r/etc/pki/libvirt/servercert.pem'
	CA: libvirt-pki
	issuer: CN=signing CA,O=Example
	subject: CN=compute1
	issued: 2026-12-06 11:45:00 UTC
	expires: 2027-01-05 11:45:00 UTC
	dns: compute1
	profile: server
	pre-save command: 
	post-save command: /usr/bin/libvirt-pki reload
	track: yes
	auto-renew: yes
Request ID 'libvirt-pki-client':
	status: CA_REJECTED
	ca-error: libvirt-pki certmonger-helper: bad request
	stuck: yes
	key pair storage: type=FILE,location='/r/etc/pki/libvirt/private/clientkey.pem'
	certificate: type=FILE,location='/r/etc/pki/libvirt/clientcert.pem'
	CA: libvirt-pki
	issuer: 
	subject: 
	issued: unknown
	expires: unknown
	profile: client
	track: yes
	auto-renew: yes
`

func TestParseList(t *testing.T) {
	all := parseList(listText)
	if len(all) != 2 {
		t.Fatalf("%d requests", len(all))
	}
	s, c := all[0], all[1]
	if s.ID != "libvirt-pki-server" || s.Status != "MONITORING" || s.Stuck || s.CertFile != "/r/etc/pki/libvirt/servercert.pem" ||
		s.KeyFile != "/r/etc/pki/libvirt/private/serverkey.pem" || s.CA != "libvirt-pki" || s.Profile != "server" ||
		s.PostSave != "/usr/bin/libvirt-pki reload" || !s.AutoRenew || !s.Expires.Equal(time.Date(2027, 1, 5, 11, 45, 0, 0, time.UTC)) {
		t.Errorf("server: %+v", s)
	}
	if s.Problem() != "" || !s.RenewAt().Equal(s.Expires.Add(-RenewBefore)) {
		t.Errorf("server: problem %q, renews %v", s.Problem(), s.RenewAt())
	}
	if !c.Stuck || c.Status != "CA_REJECTED" || !c.Expires.IsZero() || !c.RenewAt().IsZero() ||
		!strings.Contains(c.Problem(), "CA_REJECTED and stuck: libvirt-pki certmonger-helper: bad request") {
		t.Errorf("client: %+v, problem %q", c, c.Problem())
	}
}

// TestPlan: the requests come from the layout and credential tables:
// paths, modes, owners and the set's CA copy.
func TestPlan(t *testing.T) {
	host, _ := layout.ParseHostSpec("compute1=compute1.example.org,192.0.2.1")
	reqs, err := Plan(PlanOptions{Layout: layout.Libvirt, Root: "/r", Sets: []string{"libvirt", "qemu", "novncproxy"}, Host: host, Algo: pki.RSA3072, CA: "ca", PostSave: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	if want := []string{"libvirt-pki-server", "libvirt-pki-client", "libvirt-pki-qemu-server", "libvirt-pki-qemu-client", "libvirt-pki-novncproxy-client"}; !slices.Equal(ids, want) {
		t.Fatalf("ids %q, want %q", ids, want)
	}
	got := strings.Join(reqs[2].Args(), " ")
	want := "request -I libvirt-pki-qemu-server -c ca -f /r/etc/pki/qemu/server-cert.pem -k /r/etc/pki/qemu/server-key.pem -G RSA -g 3072 " +
		"-o root:qemu -m 0640 -O root:root -M 0644 -N CN=compute1 -T server -U id-kp-serverAuth -D compute1 -D compute1.example.org -A 192.0.2.1 -F /r/etc/pki/qemu/ca-cert.pem -C p"
	if got != want {
		t.Errorf("qemu-server:\n got %s\nwant %s", got, want)
	}
	if p := reqs[4]; p.KeyOwner != "root:nova" || p.CAFile != "/r/etc/pki/nova-novncproxy/ca-cert.pem" || p.Kind.Profile.Name != "client" {
		t.Errorf("novncproxy: %+v", p)
	}
	keep, _ := Plan(PlanOptions{Layout: layout.Libvirt, Root: "/r", Sets: []string{"libvirt"}, Host: host, Algo: pki.ECDSAP256, CA: "ca", KeepCAFiles: true})
	if a := strings.Join(keep[0].Args(), " "); strings.Contains(a, "-F") || reqs[0].CAMode != 0o644 {
		t.Errorf("--keep-ca-files: %s; CA mode %v", a, reqs[0].CAMode)
	}
	for _, a := range []struct {
		algo pki.KeyAlgo
		typ  string
		bits int
	}{{pki.ECDSAP256, "EC", 256}, {pki.ECDSAP384, "EC", 384}, {pki.RSA2048, "RSA", 2048}, {pki.RSA4096, "RSA", 4096}} {
		if typ, bits, err := keyArgs(a.algo); typ != a.typ || bits != a.bits || err != nil {
			t.Errorf("%s: -G %s -g %d (%v)", a.algo, typ, bits, err)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/usr/bin/libvirt-pki": "/usr/bin/libvirt-pki", "": "''", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCompare: what getcert list and the saved certificate show decides
// between nothing, resubmit, rekey and a new request.
func TestCompare(t *testing.T) {
	host, _ := layout.ParseHostSpec("compute1=192.0.2.1")
	reqs, _ := Plan(PlanOptions{Layout: layout.Libvirt, Root: "/r", Sets: []string{"libvirt"}, Host: host, Algo: pki.ECDSAP256, CA: "ca", PostSave: "p"})
	r := reqs[0]
	ca, _ := pki.NewCA(pki.CAOptions{CommonName: "ca", Algo: pki.ECDSAP256, Days: 30})
	issue := func(algo pki.KeyAlgo, names ...string) *x509.Certificate {
		key, _ := pki.GenerateKey(algo)
		h, _ := layout.ParseHostSpec(names[0] + "=" + strings.Join(names[1:], ","))
		h.Name = "compute1"
		cert, _, err := ca.Issue(pki.LeafRequest{Profile: pki.ServerProfile, CommonName: "compute1", SANs: h.SANs, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	tracked := Tracked{ID: r.ID, CertFile: r.CertFile, KeyFile: r.KeyFile, CA: "ca", Profile: "server", PostSave: "p"}
	moved, otherPost := tracked, tracked
	moved.CertFile = "/elsewhere.pem"
	otherPost.PostSave = "q"
	for _, c := range []struct {
		name string
		t    Tracked
		cert *x509.Certificate
		want Change
	}{
		{"as planned, pending", tracked, nil, Unchanged},
		{"as planned, issued", tracked, issue(pki.ECDSAP256, "compute1", "192.0.2.1"), Unchanged},
		{"another name", tracked, issue(pki.ECDSAP256, "compute1", "192.0.2.2"), Resubmit},
		{"another post-save", otherPost, nil, Resubmit},
		{"another key algorithm", tracked, issue(pki.RSA2048, "compute1", "192.0.2.1"), Rekey},
		{"another file", moved, nil, Replace},
	} {
		if got := r.Compare(c.t, c.cert); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if got := strings.Join(r.ChangeArgs(Rekey)[:7], " "); got != "rekey -i libvirt-pki-server -G EC -g 256" {
		t.Errorf("rekey: %s", got)
	}
}
