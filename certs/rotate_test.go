package certs

import (
	"crypto/x509"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

func rotateOpts(o Options) RotateOptions {
	return RotateOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
}

// wantWrongOrder runs a step that must fail with an input error and
// write nothing.
func wantWrongOrder(t *testing.T, dir, what string, step func() error) {
	t.Helper()
	before := snapshot(t, dir)
	err := step()
	if !errs.IsInput(err) {
		t.Fatalf("%s: want an input error, got %v", what, err)
	}
	sameSnapshot(t, before, snapshot(t, dir), what)
}

func state(t *testing.T, caDir string) string {
	t.Helper()
	s, err := RotationState(caDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func certsIn(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	c, err := pki.ReadCertsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRotateSteps walks a libvirt layout (a cacert.pem per host) through
// start, reissue and finish, checking every file each step writes and
// every out-of-order step refused without a write.
func TestRotateSteps(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Libvirt, dir, false, "h1", "h2")
	ro := rotateOpts(o)
	old := loadTestCA(t, o.CADir)
	caFiles := []string{filepath.Join(o.Root, "h1/etc/pki/CA/cacert.pem"), filepath.Join(o.Root, "h2/etc/pki/CA/cacert.pem")}
	keyPath := filepath.Join(o.Root, "h1/etc/pki/libvirt/private/serverkey.pem")
	keyBefore, _ := os.ReadFile(keyPath)

	wantWrongOrder(t, dir, "reissue before start", func() error { _, err := RotateReissue(ro); return err })
	wantWrongOrder(t, dir, "finish before start", func() error { _, err := RotateFinish(ro); return err })
	ext := ro
	ext.CACertFile = filepath.Join(o.CADir, "cacert.pem")
	wantWrongOrder(t, dir, "external CA", func() error { _, err := RotateStart(ext); return err })

	// Dry run: nothing written.
	dry := ro
	dry.DryRun = true
	before := snapshot(t, dir)
	if _, err := RotateStart(dry); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, before, snapshot(t, dir), "start --dry-run")

	res, err := RotateStart(ro)
	if err != nil {
		t.Fatal(err)
	}
	if state(t, o.CADir) != StateStarted || res.BundleCerts != 2 || len(res.CAFiles) != 2 {
		t.Fatalf("after start: state %s, %d certs, files %+v", state(t, o.CADir), res.BundleCerts, res.CAFiles)
	}
	next := loadTestCA(t, filepath.Join(o.CADir, "next"))
	if next.Cert.Subject.CommonName == old.Cert.Subject.CommonName || next.Cert.Subject.Organization[0] != "Example" || pki.AlgoOf(next.Key.Signer.Public()) != pki.ECDSAP256 {
		t.Errorf("next CA %s (%s): want a new name, the current O and key type", next.Cert.Subject, pki.AlgoOf(next.Key.Signer.Public()))
	}
	if fi, _ := os.Stat(filepath.Join(o.CADir, "next/cakey.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("next CA key mode %v", fi.Mode())
	}
	for _, f := range caFiles {
		c := certsIn(t, f)
		if len(c) != 2 || !c[0].Equal(old.Cert) || !c[1].Equal(next.Cert) {
			t.Errorf("%s: want current+next, got %d certificates", f, len(c))
		}
	}
	// The current CA still signs: certificates changes nothing now.
	cp := o
	cp.RenewBefore = time.Hour
	plan, err := MakePlan(cp)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range plan.CAFiles {
		if f.Action != Unchanged {
			t.Errorf("certificates during rotation would %s %s", f.Action, f.Path)
		}
	}
	if s := plan.Summary(); s[Unchanged] != len(plan.Leaves) {
		t.Errorf("certificates during rotation: %v", s)
	}
	wantWrongOrder(t, dir, "start twice", func() error { _, err := RotateStart(ro); return err })
	wantWrongOrder(t, dir, "finish before reissue", func() error { _, err := RotateFinish(ro); return err })

	st, err := Status(ro)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateStarted || st.CACertCounts["current+next"] != 2 || st.LeafCounts["current"] != 4 {
		t.Errorf("status after start: %s %v %v", st.State, st.CACertCounts, st.LeafCounts)
	}

	res, err = RotateReissue(ro)
	if err != nil {
		t.Fatal(err)
	}
	if state(t, o.CADir) != StateReissued || res.Leaves.Renewed != 4 {
		t.Fatalf("after reissue: state %s, %d re-issued", state(t, o.CADir), res.Leaves.Renewed)
	}
	if cur := loadTestCA(t, o.CADir); !cur.Cert.Equal(next.Cert) {
		t.Fatal("the next CA is not current after reissue")
	}
	if prev := loadTestCA(t, filepath.Join(o.CADir, "previous")); !prev.Cert.Equal(old.Cert) {
		t.Fatal("previous/ does not hold the old CA")
	}
	if _, err := os.Stat(filepath.Join(o.CADir, "next")); err == nil {
		t.Error("next/ left behind")
	}
	for _, h := range []string{"h1", "h2"} {
		for _, rel := range []string{"etc/pki/libvirt/servercert.pem", "etc/pki/libvirt/clientcert.pem"} {
			c := readCert(t, filepath.Join(o.Root, h, rel))
			if next.Signed(c) != nil || c.Subject.CommonName != h || !strings.Contains(strings.Join(pki.SANsOf(c).Strings(), " "), h+".example.org") {
				t.Errorf("%s/%s: %s, issuer %s", h, rel, c.Subject, c.Issuer)
			}
		}
	}
	if keyAfter, _ := os.ReadFile(keyPath); string(keyAfter) != string(keyBefore) {
		t.Error("reissue changed a key")
	}
	for _, f := range caFiles {
		if len(certsIn(t, f)) != 2 {
			t.Errorf("%s: the bundle did not stay through reissue", f)
		}
	}
	wantWrongOrder(t, dir, "reissue twice", func() error { _, err := RotateReissue(ro); return err })
	wantWrongOrder(t, dir, "start during reissued", func() error { _, err := RotateStart(ro); return err })

	st, _ = Status(ro)
	if st.State != StateReissued || st.CACertCounts["current+previous"] != 2 || st.LeafCounts["current"] != 4 {
		t.Errorf("status after reissue: %s %v %v", st.State, st.CACertCounts, st.LeafCounts)
	}

	now := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	fo := ro
	fo.Now = now
	res, err = RotateFinish(fo)
	if err != nil {
		t.Fatal(err)
	}
	if state(t, o.CADir) != StateNone || filepath.Base(res.Retired) != "retired-2031-02-03" {
		t.Fatalf("after finish: state %s, retired %s", state(t, o.CADir), res.Retired)
	}
	if r := loadTestCA(t, res.Retired); !r.Cert.Equal(old.Cert) {
		t.Error("retired dir does not hold the old CA")
	}
	for _, f := range caFiles {
		if c := certsIn(t, f); len(c) != 1 || !c[0].Equal(next.Cert) {
			t.Errorf("%s: want the new CA alone", f)
		}
	}
	wantWrongOrder(t, dir, "finish twice", func() error { _, err := RotateFinish(ro); return err })
	// A second rotation the same day retires to a name of its own.
	if got := retiredDir(o.CADir, now); filepath.Base(got) != "retired-2031-02-03-2" {
		t.Errorf("second retired dir %s", got)
	}
}

// TestRotateInterruptedReissue: a reissue whose CA directory was written
// (previous/ and the new pair in place) while next/ is still there and the
// leaves are not re-issued (a kill between the CA directory's batch and the
// tree's, when they are separate trees) is recognised, and reissue
// completes it.
func TestRotateInterruptedReissue(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "c1")
	ro := rotateOpts(o)
	old := loadTestCA(t, o.CADir)
	if _, err := RotateStart(ro); err != nil {
		t.Fatal(err)
	}
	next := loadTestCA(t, filepath.Join(o.CADir, "next"))
	// What the CA directory's batch does, up to the crash.
	batch := newStage(layout.Kolla, "", o.CADir, "", false)
	if err := stageCADir(batch, filepath.Join(o.CADir, "previous"), old, Keys{}, nil); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"cakey.pem": next.Key.PEM, "cacert.pem": next.CertPEM} {
		if err := batch.WriteFile(filepath.Join(o.CADir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Commit(); err != nil {
		t.Fatal(err)
	}
	if s := state(t, o.CADir); s != StateReissuing {
		t.Fatalf("state %s", s)
	}
	wantWrongOrder(t, dir, "finish during an interrupted reissue", func() error { _, err := RotateFinish(ro); return err })
	st, err := Status(ro)
	if err != nil || st.LeafCounts["previous"] != 2 {
		t.Fatalf("status of an interrupted reissue: %+v %v", st, err)
	}
	res, err := RotateReissue(ro)
	if err != nil {
		t.Fatal(err)
	}
	if res.Leaves.Renewed != 2 || state(t, o.CADir) != StateReissued || !loadTestCA(t, o.CADir).Cert.Equal(next.Cert) {
		t.Fatalf("resumed reissue: %d leaves, state %s", res.Leaves.Renewed, state(t, o.CADir))
	}
	if _, err := RotateFinish(ro); err != nil {
		t.Fatal(err)
	}
}

// TestRotateFinishRefusesOldLeaves: finish will not cut off a host whose
// certificate the old CA signed; reissue, run again, re-issues just that.
func TestRotateFinishRefusesOldLeaves(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Kolla, dir, false, "c1", "c2")
	ro := rotateOpts(o)
	old := loadTestCA(t, o.CADir)
	if _, err := RotateStart(ro); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateReissue(ro); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(o.Root, "c2/clientcert.pem")
	shorten(t, old, stale, filepath.Join(o.Root, "c2/clientkey.pem"), pki.ClientProfile, 100)
	wantWrongOrder(t, dir, "finish with a leaf from the old CA", func() error { _, err := RotateFinish(ro); return err })
	res, err := RotateReissue(ro)
	if err != nil || res.Leaves.Renewed != 1 || res.Leaves.Leaves[3].File != stale {
		t.Fatalf("resumed reissue: %v %+v", err, res)
	}
	if _, err := RotateFinish(ro); err != nil {
		t.Fatal(err)
	}
}

// TestRotateStartRepairsBundles: a cacert.pem written after start without
// the next CA (a host added by certificates) blocks reissue; start, run
// again, restores the bundle there only.
func TestRotateStartRepairsBundles(t *testing.T) {
	dir := t.TempDir()
	o := makeLayout(t, layout.Libvirt, dir, false, "h1", "h2")
	ro := rotateOpts(o)
	old := loadTestCA(t, o.CADir)
	if _, err := RotateStart(ro); err != nil {
		t.Fatal(err)
	}
	h2 := filepath.Join(o.Root, "h2/etc/pki/CA/cacert.pem")
	if err := os.WriteFile(h2, old.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	wantWrongOrder(t, dir, "reissue with a cacert.pem lacking the next CA", func() error { _, err := RotateReissue(ro); return err })
	res, err := RotateStart(ro)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.CAFiles {
		if (f.Action == Update) != (f.Path == h2) {
			t.Errorf("repair: %s %s", f.Action, f.Path)
		}
	}
	if len(certsIn(t, h2)) != 2 {
		t.Error("bundle not restored")
	}
	if _, err := RotateReissue(ro); err != nil {
		t.Fatal(err)
	}
}

// TestRotateNoCA: rotation needs a CA directory made by certificates.
func TestRotateNoCA(t *testing.T) {
	dir := t.TempDir()
	ro := RotateOptions{Layout: layout.Kolla, Root: filepath.Join(dir, "nl"), CADir: filepath.Join(dir, "ca")}
	wantWrongOrder(t, dir, "start without a CA", func() error { _, err := RotateStart(ro); return err })
	wantWrongOrder(t, dir, "status without a CA", func() error { _, err := Status(ro); return err })
}

// TestCheckCABundle: libvirt's limits, 16 certificates and 64 KiB.
func TestCheckCABundle(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "t"})
	if err != nil {
		t.Fatal(err)
	}
	certs := make([]*x509.Certificate, 16)
	for i := range certs {
		certs[i] = ca.Cert
	}
	if err := CheckCABundle(certs, pki.EncodeCertsPEM(certs...)); err != nil {
		t.Errorf("16 certificates refused: %v", err)
	}
	certs = append(certs, ca.Cert)
	if err := CheckCABundle(certs, pki.EncodeCertsPEM(certs...)); err == nil || !strings.Contains(err.Error(), "at most 16") {
		t.Errorf("17 certificates: %v", err)
	}
	if err := CheckCABundle(certs[:2], make([]byte, MaxCAFileBytes)); err != nil {
		t.Errorf("exactly 64 KiB refused: %v", err)
	}
	if err := CheckCABundle(certs[:2], make([]byte, MaxCAFileBytes+1)); err == nil || !strings.Contains(err.Error(), "65536") {
		t.Errorf("64 KiB + 1: %v", err)
	}
}
