package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// makeLayout runs the certificates engine: a CA and per-host (or shared)
// pairs for hosts, under dir.
func makeLayout(t *testing.T, l layout.Layout, dir string, shared bool, hosts ...string) Options {
	t.Helper()
	o := Options{Layout: l, Root: filepath.Join(dir, "root"), CADir: filepath.Join(dir, "root", "ca"), Org: "Example", Days: pki.DefaultLeafDays, CADays: pki.DefaultCADays, RenewBefore: time.Hour, Shared: shared}
	if l.ConfigRooted {
		o.CADir = filepath.Join(dir, "ca")
	}
	for _, name := range hosts {
		h, err := layout.ParseHostSpec(name + "=" + name + ".example.org,192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		o.Hosts = append(o.Hosts, h)
	}
	p, err := MakePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(nil); err != nil {
		t.Fatal(err)
	}
	return o
}

func loadTestCA(t *testing.T, caDir string) *pki.CA {
	t.Helper()
	ca, err := Keys{}.loadCAFiles(filepath.Join(caDir, "cacert.pem"), filepath.Join(caDir, "cakey.pem"), false)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := pki.ReadCertsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

// shorten re-issues the certificate at certPath with its own key, subject
// and SANs but only days of validity: a certificate about to expire.
func shorten(t *testing.T, ca *pki.CA, certPath, keyPath string, prof pki.Profile, days int) {
	t.Helper()
	old := readCert(t, certPath)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, certPEM, err := ca.Issue(pki.LeafRequest{Profile: prof, CommonName: old.Subject.CommonName, Org: old.Subject.Organization[0], SANs: pki.SANsOf(old), Key: key, Days: days})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every file and directory under dir: path to mode and bytes.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += string(b)
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string]string, what string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed or vanished", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared", what, p)
		}
	}
}

func renewedPaths(res *RenewResult) []string {
	var out []string
	for _, l := range res.Leaves {
		if l.Action == Reissue {
			out = append(out, l.File)
		}
	}
	slices.Sort(out)
	return out
}

// TestRenewExpiringOnly: with two leaves five days from expiry, renew
// re-issues exactly those two, keeps their keys, subjects and SANs; a
// second run changes nothing; --all re-issues every leaf; --rotate-keys
// makes new keys; openssl accepts every renewed leaf.
func TestRenewExpiringOnly(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "compute01", "compute02", "compute03")
	ca := loadTestCA(t, o.CADir)
	srv1 := filepath.Join(o.Root, "compute01/servercert.pem")
	cli2 := filepath.Join(o.Root, "compute02/clientcert.pem")
	shorten(t, ca, srv1, filepath.Join(o.Root, "compute01/serverkey.pem"), pki.ServerProfile, 5)
	shorten(t, ca, cli2, filepath.Join(o.Root, "compute02/clientkey.pem"), pki.ClientProfile, 5)
	oldSrv1, oldCli2 := readCert(t, srv1), readCert(t, cli2)
	ro := RenewOptions{Layout: layout.Kolla, Root: o.Root, CADir: o.CADir, RenewBefore: 30 * 24 * time.Hour}

	// Dry run: the plan, and not a byte written.
	before := snapshot(t, dir)
	dry := ro
	dry.DryRun = true
	res, err := Renew(dry)
	if err != nil {
		t.Fatal(err)
	}
	if got := renewedPaths(res); !slices.Equal(got, []string{srv1, cli2}) {
		t.Fatalf("dry run would renew %v, want compute01 server and compute02 client", got)
	}
	sameSnapshot(t, before, snapshot(t, dir), "dry run")

	res, err = Renew(ro)
	if err != nil {
		t.Fatal(err)
	}
	if got := renewedPaths(res); !slices.Equal(got, []string{srv1, cli2}) || res.Renewed != 2 || res.Unchanged != 4 {
		t.Fatalf("renewed %v (%d, %d kept), want exactly the two expiring leaves", got, res.Renewed, res.Unchanged)
	}
	after := snapshot(t, dir)
	for p, v := range before {
		if changed := after[p] != v; changed != (p == srv1 || p == cli2) {
			t.Errorf("%s: changed=%v", p, changed)
		}
	}
	for _, pair := range []struct {
		old  *x509.Certificate
		path string
		ext  x509.ExtKeyUsage
	}{{oldSrv1, srv1, x509.ExtKeyUsageServerAuth}, {oldCli2, cli2, x509.ExtKeyUsageClientAuth}} {
		c := readCert(t, pair.path)
		if time.Until(c.NotAfter) < 700*24*time.Hour {
			t.Errorf("%s: renewed until %s only", pair.path, c.NotAfter)
		}
		if c.Subject.String() != pair.old.Subject.String() || !slices.Equal(pki.SANsOf(c).Strings(), pki.SANsOf(pair.old).Strings()) {
			t.Errorf("%s: subject/SANs %s %v, want %s %v", pair.path, c.Subject, pki.SANsOf(c).Strings(), pair.old.Subject, pki.SANsOf(pair.old).Strings())
		}
		if !c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pair.old.PublicKey) {
			t.Errorf("%s: key not kept", pair.path)
		}
		if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{pair.ext}) {
			t.Errorf("%s: EKU %v, want the file's profile", pair.path, c.ExtKeyUsage)
		}
		if err := ca.Verify(c, time.Now()); err != nil {
			t.Errorf("%s: %v", pair.path, err)
		}
	}
	for _, l := range res.Leaves {
		if l.Action == Reissue && (l.Key != "kept" || l.NewNotAfter == nil || !l.OldNotAfter.Before(*l.NewNotAfter)) {
			t.Errorf("report for %s: key %q, %s → %v", l.File, l.Key, l.OldNotAfter, l.NewNotAfter)
		}
	}

	// Second run: nothing to do, byte for byte.
	before = snapshot(t, dir)
	if res, err = Renew(ro); err != nil || res.Renewed != 0 {
		t.Fatalf("second run renewed %d (%v)", res.Renewed, err)
	}
	sameSnapshot(t, before, snapshot(t, dir), "second run")

	// --all: every leaf, keys kept.
	all := ro
	all.All = true
	if res, err = Renew(all); err != nil || res.Renewed != 6 {
		t.Fatalf("--all renewed %d (%v), want 6", res.Renewed, err)
	}
	after = snapshot(t, dir)
	for p, v := range before {
		isKey := filepath.Ext(p) == ".pem" && (filepath.Base(p) == "serverkey.pem" || filepath.Base(p) == "clientkey.pem")
		isLeaf := filepath.Base(p) == "servercert.pem" || filepath.Base(p) == "clientcert.pem"
		switch {
		case isKey && after[p] != v:
			t.Errorf("--all changed key %s", p)
		case isLeaf && after[p] == v:
			t.Errorf("--all left %s", p)
		case !isKey && !isLeaf && after[p] != v:
			t.Errorf("--all touched %s (the CA and cacert.pem are never written)", p)
		}
	}

	// --rotate-keys: new keys of the same algorithm, matching.
	all.RotateKeys = true
	if res, err = Renew(all); err != nil || res.Renewed != 6 {
		t.Fatalf("--rotate-keys renewed %d (%v)", res.Renewed, err)
	}
	for _, l := range res.Leaves {
		if l.Key != "new" {
			t.Errorf("%s: key %q with --rotate-keys", l.File, l.Key)
		}
	}
	keyPath := filepath.Join(o.Root, "compute03/serverkey.pem")
	if after[keyPath] == snapshot(t, dir)[keyPath] {
		t.Error("--rotate-keys kept compute03's server key")
	}
	keyPEM, _ := os.ReadFile(keyPath)
	key, err := pki.ParseKey(keyPEM)
	if err != nil || !pki.KeyMatches(key.Signer, readCert(t, filepath.Join(o.Root, "compute03/servercert.pem"))) || pki.AlgoOf(key.Signer.Public()) != pki.ECDSAP256 {
		t.Errorf("rotated key does not match its certificate or changed algorithm (%v)", err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated key mode %v", fi.Mode())
	}

	// The real openssl accepts every renewed leaf.
	openssl := peer.Require(t, "openssl")[0]
	args := []string{"verify", "-CAfile", filepath.Join(o.Root, "cacert.pem")}
	for _, h := range []string{"compute01", "compute02", "compute03"} {
		args = append(args, filepath.Join(o.Root, h, "servercert.pem"), filepath.Join(o.Root, h, "clientcert.pem"))
	}
	if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

// TestRenewSharedCopies: in the libvirt layout's shared mode every host
// directory holds the same pair; renew issues it once and writes the same
// new pair everywhere, and never looks into the CA directory under --out.
func TestRenewSharedCopies(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Libvirt, dir, true, "h1", "h2")
	res, err := Renew(RenewOptions{Layout: layout.Libvirt, Root: o.Root, CADir: o.CADir, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Leaves) != 2 || res.Renewed != 2 {
		t.Fatalf("want the shared server and client pair once each, got %+v", res.Leaves)
	}
	for _, l := range res.Leaves {
		if len(l.Copies) != 1 {
			t.Errorf("%s: copies %v", l.File, l.Copies)
		}
	}
	for _, rel := range []string{"etc/pki/libvirt/servercert.pem", "etc/pki/libvirt/private/clientkey.pem"} {
		a, _ := os.ReadFile(filepath.Join(o.Root, "h1", rel))
		b, _ := os.ReadFile(filepath.Join(o.Root, "h2", rel))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs between the hosts after renew", rel)
		}
	}
	if fi, _ := os.Stat(filepath.Join(o.Root, "h1/etc/pki/libvirt/private/clientkey.pem")); fi.Mode().Perm() != 0o640 {
		t.Errorf("libvirt layout client key mode %v, want the layout's 0640", fi.Mode())
	}
}

// TestRenewRefusesSubjectItCannotKeep: a leaf whose DN holds an OU would
// come back without it and fail tls_allowed_dn_list, so renew refuses and
// writes nothing.
func TestRenewRefusesSubjectItCannotKeep(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "compute01")
	ca := loadTestCA(t, o.CADir)
	keyPEM, _ := os.ReadFile(filepath.Join(o.Root, "compute01/clientkey.pem"))
	key, _ := pki.ParseKey(keyPEM)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "compute01", OrganizationalUnit: []string{"Ops"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Signer.Public(), ca.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	if err := os.WriteFile(filepath.Join(o.Root, "compute01/clientcert.pem"), pki.EncodeCertsPEM(c), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err = Renew(RenewOptions{Layout: layout.Kolla, Root: o.Root, CADir: o.CADir, RenewBefore: 30 * 24 * time.Hour})
	if !errs.IsInput(err) {
		t.Fatalf("want an input error, got %v", err)
	}
	t.Log(err)
	sameSnapshot(t, before, snapshot(t, dir), "refused renew")
}

// TestRenewNeedsCA: no CA directory, no renewal (and no new CA made).
func TestRenewNeedsCA(t *testing.T) {
	dir := t.TempDir()
	_, err := Renew(RenewOptions{Layout: layout.Kolla, Root: filepath.Join(dir, "nl"), CADir: filepath.Join(dir, "ca")})
	if !errs.IsInput(err) {
		t.Fatalf("want an input error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca")); err == nil {
		t.Error("renew made a CA directory")
	}
}

// TestRenewRevokedGetsNewKey: renewing a revoked certificate with its old
// key would undo the revocation, so it gets a new key, as certificates does.
func TestRenewRevokedGetsNewKey(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "compute01", "compute02")
	if _, err := Revoke(RevokeOptions{Layout: layout.Kolla, Root: o.Root, CADir: o.CADir, Hosts: []string{"compute02"}, CRLDays: 30}); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(o.Root, "compute02/clientkey.pem")
	before, _ := os.ReadFile(keyPath)
	res, err := Renew(RenewOptions{Layout: layout.Kolla, Root: o.Root, CADir: o.CADir, All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Leaves {
		if want := map[bool]string{true: "new", false: "kept"}[l.Host == "compute02"]; l.Key != want {
			t.Errorf("%s %s: key %s, want %s", l.Host, l.Profile, l.Key, want)
		}
	}
	if after, _ := os.ReadFile(keyPath); string(after) == string(before) {
		t.Error("the revoked certificate's key was kept")
	}
}
