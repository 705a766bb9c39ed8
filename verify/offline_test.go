package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// fixture is a Kolla layout made by our own certificates engine.
type fixture struct {
	dir   string // config root
	root  string // nova-libvirt
	hosts []layout.Host
	ca    *pki.CA
}

func newFixture(t *testing.T, shared bool, specs ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	hosts, err := layout.ParseHosts(specs, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, root: kolla.NovaLibvirtDir(dir, ""), hosts: hosts}
	f.ca = testlayout.Issue(t, certs.Options{Layout: layout.Kolla, Root: f.root, CADir: kolla.CADir(dir), Hosts: hosts, Shared: shared})
	return f
}

func (f *fixture) path(rel string) string { return filepath.Join(f.root, rel) }

func (f *fixture) check(t *testing.T, hosts ...layout.Host) *Report {
	t.Helper()
	rep, err := Offline(Options{Layout: layout.Kolla, Root: f.root, Hosts: hosts, WarnDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// sign issues a certificate from tmpl with the fixture's CA (or signer
// and parent, when given) for a fresh key, and writes the pair.
func (f *fixture) sign(t *testing.T, tmpl *x509.Certificate, certRel, keyRel string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.signWith(t, tmpl, key, f.ca.Cert, f.ca.Key.Signer, certRel, keyRel)
}

func (f *fixture) signWith(t *testing.T, tmpl *x509.Certificate, key crypto.Signer, parent *x509.Certificate, signer crypto.Signer, certRel, keyRel string) {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.path(certRel), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	if keyRel != "" {
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		os.WriteFile(f.path(keyRel), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	}
}

func serverTemplate(names ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		// No keyUsage: the policy for an EC key (pki.ServerProfile).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true,
	}
}

func codes(rep *Report) map[Code]Severity {
	m := map[Code]Severity{}
	for _, f := range rep.Findings {
		if f.Severity.Rank() > m[f.Code].Rank() || m[f.Code] == "" {
			m[f.Code] = f.Severity
		}
	}
	return m
}

func requireFinding(t *testing.T, rep *Report, code Code, sev Severity) {
	t.Helper()
	if got, ok := codes(rep)[code]; !ok || got != sev {
		t.Fatalf("want %s %s; findings: %+v", sev, code, rep.Findings)
	}
}

func requireQuiet(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.Findings) != 0 {
		t.Fatalf("want no findings on a good layout, got %+v", rep.Findings)
	}
}

func TestOfflineQuietOnGoodLayouts(t *testing.T) {
	f := newFixture(t, false, "h1=h1.example.org,192.0.2.1", "h2")
	requireQuiet(t, f.check(t, f.hosts...))
	requireQuiet(t, f.check(t)) // discovered host directories
	s := newFixture(t, true, "h1", "h2=10.0.0.2")
	requireQuiet(t, s.check(t, s.hosts...))
	for _, l := range []layout.Layout{layout.Libvirt, layout.PKIPath} {
		out := t.TempDir()
		hosts, _ := layout.ParseHosts([]string{"h1=192.0.2.1"}, nil, "")
		testlayout.Issue(t, certs.Options{Layout: l, Root: out, CADir: layout.OutCADir(out), Hosts: hosts, Algo: pki.ECDSAP256})
		rep, err := Offline(Options{Layout: l, Root: out, Hosts: hosts, WarnDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		requireQuiet(t, rep)
		rep, _ = Offline(Options{Layout: l, Root: out, WarnDays: 30})
		if len(rep.Hosts) != 1 || rep.Hosts[0].Host != "h1" {
			t.Fatalf("%s: discovered hosts %+v (the ca directory is no host)", l.Name, rep.Hosts)
		}
	}
}

func TestOfflineChecksFire(t *testing.T) {
	otherCA, _ := pki.NewCA(pki.CAOptions{CommonName: "other", Algo: pki.ECDSAP256})
	cases := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		hosts  []string // verify with these host specs (default: the fixture's)
		code   Code
		sev    Severity
	}{
		{"missing", func(t *testing.T, f *fixture) { os.Remove(f.path("h1/clientkey.pem")) }, nil, CodeMissing, Error},
		{"unreadable", func(t *testing.T, f *fixture) { os.WriteFile(f.path("h1/servercert.pem"), []byte("junk"), 0o644) }, nil, CodeUnreadable, Error},
		{"key mismatch", func(t *testing.T, f *fixture) {
			b, _ := os.ReadFile(f.path("h1/clientkey.pem"))
			os.WriteFile(f.path("h1/serverkey.pem"), b, 0o600)
		}, nil, CodeKeyMismatch, Error},
		{"partial shadow", func(t *testing.T, f *fixture) {
			// h1's server key comes from the shared directory.
			b, _ := os.ReadFile(f.path("h1/serverkey.pem"))
			os.WriteFile(f.path("serverkey.pem"), b, 0o600)
			os.Remove(f.path("h1/serverkey.pem"))
		}, nil, CodePartialShadow, Warning},
		{"other CA", func(t *testing.T, f *fixture) { os.WriteFile(f.path("cacert.pem"), otherCA.CertPEM, 0o644) }, nil, CodeChain, Error},
		{"cacert not CA", func(t *testing.T, f *fixture) {
			leaf, _ := os.ReadFile(f.path("h1/servercert.pem"))
			ca, _ := os.ReadFile(f.path("cacert.pem"))
			os.WriteFile(f.path("cacert.pem"), append(ca, leaf...), 0o644)
		}, nil, CodeCANotCA, Error},
		{"cacert too many", func(t *testing.T, f *fixture) {
			ca, _ := os.ReadFile(f.path("cacert.pem"))
			for i := 0; i < 16; i++ {
				c, _ := pki.NewCA(pki.CAOptions{CommonName: "old", Algo: pki.ECDSAP256})
				ca = append(ca, c.CertPEM...)
			}
			os.WriteFile(f.path("cacert.pem"), ca, 0o644)
		}, nil, CodeCATooMany, Error},
		{"cacert too large", func(t *testing.T, f *fixture) {
			ca, _ := os.ReadFile(f.path("cacert.pem"))
			ca = append(ca, []byte(strings.Repeat("# padding between PEM blocks\n", 2500))...)
			os.WriteFile(f.path("cacert.pem"), ca, 0o644)
		}, nil, CodeCATooLarge, Error},
		{"leaf is CA", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.IsCA = true
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeLeafIsCA, Error},
		{"key usage critical", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.KeyUsage = x509.KeyUsageDigitalSignature // Go marks keyUsage critical
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeKeyUsage, Error},
		{"key usage not critical", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.KeyUsage = 0
			// BIT STRING with digitalSignature only, as a non-critical extension.
			v, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80}, BitLength: 1})
			tm.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: false, Value: v}}
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeKeyUsage, Warning},
		{"old key-usage policy", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment // on an EC key
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeUsagePolicy, Warning},
		{"EKU not critical", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeExtKeyUsage, Warning},
		{"EKU critical", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.ExtKeyUsage = nil
			v, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 2}})
			tm.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: v}}
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeExtKeyUsage, Error},
		{"not yet valid", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.NotBefore = time.Now().Add(48 * time.Hour)
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeNotYetValid, Error},
		{"expired", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.NotBefore, tm.NotAfter = time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour)
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeExpired, Error},
		{"expiring", func(t *testing.T, f *fixture) {
			tm := serverTemplate("h1")
			tm.NotAfter = time.Now().Add(10 * 24 * time.Hour)
			f.sign(t, tm, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeExpiring, Warning},
		{"SAN missing", func(t *testing.T, f *fixture) {}, []string{"h1=h1.mgmt.example.org"}, CodeSANMissing, Error},
		{"weak RSA key", func(t *testing.T, f *fixture) {
			key, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Skip("this Go refuses 1024-bit RSA keys:", err)
			}
			f.signWith(t, serverTemplate("h1"), key, f.ca.Cert, f.ca.Key.Signer, "h1/servercert.pem", "h1/serverkey.pem")
		}, nil, CodeWeakKey, Error},
		{"key readable by others", func(t *testing.T, f *fixture) { os.Chmod(f.path("h1/serverkey.pem"), 0o644) }, nil, CodeKeyExposed, Error},
		{"revoked", func(t *testing.T, f *fixture) {
			if _, err := certs.Revoke(certs.RevokeOptions{Layout: layout.Kolla, Root: f.root, CADir: kolla.CADir(f.dir), Hosts: []string{"h1"}, CRLDays: 30}); err != nil {
				t.Fatal(err)
			}
		}, nil, CodeRevoked, Error},
		{"CRL expired", func(t *testing.T, f *fixture) {
			crl, err := f.ca.CRL(nil, big.NewInt(1), -time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(f.path("cacrl.pem"), crl, 0o644)
		}, nil, CodeCRLExpired, Error},
		{"CRL from another CA", func(t *testing.T, f *fixture) {
			crl, _ := otherCA.CRL(nil, big.NewInt(1), time.Hour*24*60)
			os.WriteFile(f.path("cacrl.pem"), crl, 0o644)
		}, nil, CodeCRLUntrusted, Error},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, false, "h1", "h2")
			c.mutate(t, f)
			hosts := f.hosts
			if c.hosts != nil {
				hosts, _ = layout.ParseHosts(c.hosts, nil, "")
			}
			requireFinding(t, f.check(t, hosts...), c.code, c.sev)
		})
	}
}

// TestOfflineWeakSignature uses the real openssl to sign with SHA-1, which
// Go refuses to do.
func TestOfflineWeakSignature(t *testing.T) {
	openssl := peer.Require(t, "openssl")[0]
	f := newFixture(t, false, "h1")
	caDir := kolla.CADir(f.dir)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = f.path("h1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(f.path("h1/ext.cnf"), []byte("subjectAltName=DNS:h1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"), 0o644)
	run("req", "-new", "-key", "serverkey.pem", "-subj", "/CN=h1", "-out", "s.csr")
	run("x509", "-req", "-sha1", "-in", "s.csr", "-CA", filepath.Join(caDir, "cacert.pem"), "-CAkey", filepath.Join(caDir, "cakey.pem"), "-CAcreateserial", "-days", "30", "-extfile", "ext.cnf", "-out", "servercert.pem")
	requireFinding(t, f.check(t, f.hosts...), CodeWeakSignature, Error)
}

func TestOfflinePermProfiles(t *testing.T) {
	out := t.TempDir()
	hosts, _ := layout.ParseHosts([]string{"h1"}, nil, "")
	testlayout.Issue(t, certs.Options{Layout: layout.Libvirt, Root: out, CADir: layout.OutCADir(out), Hosts: hosts, Algo: pki.ECDSAP256})
	check := func(perms string) *Report {
		rep, err := Offline(Options{Layout: layout.Libvirt, Root: out, Hosts: hosts, Perms: perms})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	requireQuiet(t, check("libvirt-system"))
	// The same files judged by the user-mode rules: certs must be 0600
	// and the client key must not be world-readable.
	rep := check("libvirt-user")
	requireFinding(t, rep, CodePermissions, Warning)
	requireFinding(t, rep, CodeKeyExposed, Error)
	os.Chmod(filepath.Join(out, "h1/etc/pki/libvirt/private/serverkey.pem"), 0o640)
	requireFinding(t, check("libvirt-system"), CodeKeyExposed, Error)
	if _, err := Offline(Options{Layout: layout.Libvirt, Root: out, Perms: "nonsense"}); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

// TestOfflineJudgesKollaSchemeFairly builds a layout the way
// `kolla-ansible certificates` does, with the real openssl: one RSA-2048
// key and certificate shared by every host as server and client, no CN, no
// key usages, a DNS SAN per host, a 4096-bit root, files mode 0660. libvirt
// accepts it, so verify must report no errors.
func TestOfflineJudgesKollaSchemeFairly(t *testing.T) {
	openssl := peer.Require(t, "openssl")[0]
	dir := t.TempDir()
	nl := kolla.NovaLibvirtDir(dir, "")
	os.MkdirAll(nl, 0o755)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = nl
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", "root.key", "-out", "cacert.pem", "-subj", "/CN=KollaTestCA", "-days", "1024")
	run("genrsa", "-out", "serverkey.pem", "2048")
	run("req", "-new", "-key", "serverkey.pem", "-subj", "/", "-out", "s.csr")
	os.WriteFile(filepath.Join(nl, "ext.cnf"), []byte("subjectAltName=DNS:compute01,DNS:compute02\n"), 0o644)
	run("x509", "-req", "-in", "s.csr", "-CA", "cacert.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "500", "-extfile", "ext.cnf", "-out", "servercert.pem")
	b, _ := os.ReadFile(filepath.Join(nl, "servercert.pem"))
	os.WriteFile(filepath.Join(nl, "clientcert.pem"), b, 0o660)
	b, _ = os.ReadFile(filepath.Join(nl, "serverkey.pem"))
	os.WriteFile(filepath.Join(nl, "clientkey.pem"), b, 0o660)
	for _, f := range []string{"cacert.pem", "servercert.pem", "serverkey.pem"} {
		os.Chmod(filepath.Join(nl, f), 0o660)
	}
	hosts, _ := layout.ParseHosts(nil, []string{"compute01,compute02"}, "")
	rep, err := Offline(Options{Layout: layout.Kolla, Root: nl, Hosts: hosts, WarnDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(Error); n != 0 {
		t.Fatalf("kolla's scheme got %d errors: %+v", n, rep.Findings)
	}
	// And its weakness shows: a host it was not issued for.
	hosts, _ = layout.ParseHosts(nil, []string{"compute01,compute03"}, "")
	rep, _ = Offline(Options{Layout: layout.Kolla, Root: nl, Hosts: hosts, WarnDays: 30})
	requireFinding(t, rep, CodeSANMissing, Error)
}

// TestOfflineOldPolicyNamesLint: a client certificate of the key-usage
// policy before issue 12 (digitalSignature and keyEncipherment on an EC
// key) is no libvirt problem, only key-usage-policy warnings, each naming
// the zlint lint it breaks.
func TestOfflineOldPolicyNamesLint(t *testing.T) {
	f := newFixture(t, false, "h1")
	tm := serverTemplate("h1")
	tm.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tm.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	f.sign(t, tm, "h1/clientcert.pem", "h1/clientkey.pem")
	var msgs []string
	for _, fd := range f.check(t).Findings {
		if fd.Code != CodeUsagePolicy || fd.Severity != Warning {
			t.Errorf("unexpected finding %s %s: %s", fd.Severity, fd.Code, fd.Message)
		}
		msgs = append(msgs, fd.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, lint := range []string{pki.LintECDSAKeyUsage, pki.LintKUInconsistent} {
		if !strings.Contains(all, lint) {
			t.Errorf("no finding names %s:\n%s", lint, all)
		}
	}
}

// TestOfflineHostBundleKeyModes: in a host bundle a private key readable
// by others, or by a group the policy does not name for it, is an error
// (key-exposed), not a mode to tidy. On the bundle as written verify is
// quiet. Before the policy a world-readable client key passed silently.
func TestOfflineHostBundleKeyModes(t *testing.T) {
	out := t.TempDir()
	hosts, _ := layout.ParseHosts([]string{"h1"}, nil, "")
	testlayout.Issue(t, certs.Options{Layout: layout.Libvirt, Root: out, CADir: layout.OutCADir(out), Hosts: hosts, Algo: pki.ECDSAP256,
		Sets: []string{"libvirt", "qemu"}})
	check := func() *Report {
		rep, err := Offline(Options{Layout: layout.Libvirt, Root: out, Hosts: hosts, Sets: []string{"libvirt", "qemu"}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	requireQuiet(t, check())
	for _, c := range []struct {
		rel  string
		mode os.FileMode
	}{
		{"etc/pki/libvirt/private/clientkey.pem", 0o644}, // the old default
		{"etc/pki/libvirt/private/clientkey.pem", 0o660},
		{"etc/pki/libvirt/private/serverkey.pem", 0o640}, // root's alone
		{"etc/pki/qemu/server-key.pem", 0o644},
	} {
		path := filepath.Join(out, "h1", c.rel)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, c.mode)
		requireFinding(t, check(), CodeKeyExposed, Error)
		os.Chmod(path, fi.Mode().Perm())
	}
	requireQuiet(t, check())
	// A group-readable key whose group is neither the named one (nova
	// here), root's, nor its owner's: only root can give a file away.
	if os.Geteuid() != 0 {
		t.Log("not root: the foreign-group case needs chown")
		return
	}
	key := filepath.Join(out, "h1/etc/pki/libvirt/private/clientkey.pem")
	if err := os.Chown(key, 0, 54321); err != nil {
		t.Fatal(err)
	}
	rep := check()
	requireFinding(t, rep, CodeKeyExposed, Error)
	if !strings.Contains(fmt.Sprint(rep.Findings), "with group 54321") {
		t.Errorf("the finding does not name the group: %+v", rep.Findings)
	}
	os.Chown(key, 0, 0)
	requireQuiet(t, check())
}
