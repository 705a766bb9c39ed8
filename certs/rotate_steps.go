package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// RotateStart makes the next CA and bundles it into every cacert.pem.
// Run again while started, it only puts the bundle back into cacert.pem
// files that lost it (a host added by certificates meanwhile); with every
// bundle in place it is an error, like any step out of order.
func RotateStart(o RotateOptions) (*RotateResult, error) {
	o.defaults()
	r, err := loadRotation(o)
	if err != nil {
		return nil, err
	}
	if r.state != StateNone && r.state != StateStarted {
		return nil, wrongStep("start", r.state)
	}
	fresh := r.state == StateNone
	if o.Remote != nil {
		if r.next, err = r.nextFromSigner(); err != nil {
			return nil, err
		}
	} else if fresh {
		algo := o.Algo
		if algo == "" {
			if algo = pki.AlgoOf(r.cur.Cert.PublicKey); algo == "" {
				algo = pki.ECDSAP256
			}
		}
		org := o.Org
		if org == "" && len(r.cur.Cert.Subject.Organization) > 0 {
			org = r.cur.Cert.Subject.Organization[0]
		}
		cn, ou := nextCAName(org, o.Now, r.cur)
		if r.next, err = pki.NewCA(pki.CAOptions{CommonName: cn, OrgUnit: ou, Org: org, Algo: algo, Days: o.CADays}); err != nil {
			return nil, err
		}
	}
	certs := append(r.cur.Bundle(), r.next.Bundle()...)
	bundle := pki.EncodeCertsPEM(certs...)
	if err := CheckCABundle(certs, bundle); err != nil {
		return nil, err
	}
	files, err := r.caFiles(bundle)
	if err != nil {
		return nil, err
	}
	if !fresh && !anyUpdate(files) {
		return nil, inputErr("rotate-ca start: wrong order: the rotation is already started and every cacert.pem holds the bundle; deploy it everywhere, then run rotate-ca reissue")
	}
	res := &RotateResult{Step: "start", DryRun: o.DryRun, State: StateStarted, CAs: r.cas(), CAFiles: files, BundleCerts: len(certs)}
	if o.DryRun {
		return res, nil
	}
	// The bundles and the next CA are one unit. With the CA directory in
	// a tree of its own, next/ commits first: a kill before the bundles
	// leaves state "started" with bundles to restore, which start run
	// again does.
	err = func() (err error) {
		batch := o.newStage()
		defer func() { err = batch.finish(err) }()
		if fresh {
			if err := stageCADir(batch, filepath.Join(o.CADir, nextDir), r.next, r.o.Keys, nil); err != nil {
				return err
			}
		}
		res.Tarballs, err = withTarballs(batch, o.Layout, o.Root, func() error { return r.stageCAFiles(batch, files, bundle) })
		return err
	}()
	if err != nil {
		return nil, err
	}
	return res, nil
}

func anyUpdate(files []FilePlan) bool {
	for _, f := range files {
		if f.Action != Unchanged {
			return true
		}
	}
	return false
}

// nextCAName names the next CA. Its CN is what the leaves carry as
// their organization, the O (else the current CA's CN), since Debian 12's
// virt-pki-validate compares the two; an OU "generation DATE" gives it a
// subject of its own: with two CAs of one subject in a bundle, peers that
// look issuers up by subject could try the wrong one. The date also tells
// the generations apart in reports.
func nextCAName(org string, now time.Time, cur *pki.CA) (cn, ou string) {
	cn = org
	if cn == "" {
		cn = cur.Cert.Subject.CommonName
	}
	base := "generation " + now.UTC().Format("2006-01-02")
	ou = base
	for i := 2; ; i++ {
		taken := false
		for _, c := range cur.Bundle() {
			taken = taken || (c.Subject.CommonName == cn && slices.Equal(c.Subject.OrganizationalUnit, []string{ou}))
		}
		if !taken {
			return cn, ou
		}
		ou = fmt.Sprintf("%s %d", base, i)
	}
}

// stageCADir stages ca (and extra files, name to content, 0600) into dir,
// created 0700 if missing. The directory counts as holding a CA only once
// the batch commits its cacert.pem (RotationState).
func stageCADir(batch *stage, dir string, ca *pki.CA, keys Keys, extra map[string][]byte) error {
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if ca.Key != nil { // a remote CA keeps its key on the signer
		keyFile, err := keys.file(ca.Key)
		if err != nil {
			return err
		}
		if err := batch.WriteFile(filepath.Join(dir, caKeyName), keyFile, 0o600); err != nil {
			return err
		}
	}
	if err := batch.WriteFile(filepath.Join(dir, caCertName), ca.CertPEM, 0o644); err != nil {
		return err
	}
	for name, data := range extra {
		if err := batch.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// RotateReissue makes the next CA current (the old one is kept in
// previous/) and re-issues every leaf with it, keeping subjects, SANs and
// keys. cacert.pem files keep the bundle. Run again after an interrupted
// reissue it completes the swap and re-issues only what the new CA has not
// signed yet.
func RotateReissue(o RotateOptions) (*RotateResult, error) {
	o.defaults()
	r, err := loadRotation(o)
	if err != nil {
		return nil, err
	}
	var newCA *pki.CA
	switch r.state {
	case StateStarted, StateReissuing:
		newCA = r.next
	case StateReissued:
		newCA = r.cur
	default:
		return nil, wrongStep("reissue", r.state)
	}
	signer, err := o.signingCA(newCA)
	if err != nil {
		return nil, err
	}
	// Leaves from the new CA are only safe where the peers trust it.
	paths, err := caFilesOf(o.tree())
	if err != nil {
		return nil, err
	}
	var lacking []string
	for _, p := range paths {
		if data, _ := fsutil.ReadFile(p, fsutil.LimitCert); !containsCert(data, newCA.Cert) {
			lacking = append(lacking, p)
		}
	}
	if len(lacking) > 0 {
		return nil, inputErr("%s do not hold the next CA (written after rotate-ca start?): run rotate-ca start again to restore the bundle, deploy it, then reissue", strings.Join(lacking, ", "))
	}
	ro := RenewOptions{Layout: o.Layout, Root: o.Root, CADir: o.CADir, Top: o.Top, Days: o.Days, Now: o.Now, DryRun: o.DryRun, Keys: r.o.Keys, Workers: o.Remote.workers(0)}
	if r.state == StateStarted {
		ro.All, ro.allReason = true, "new CA"
	} else {
		ro.selectFn = func(c *x509.Certificate) string {
			if newCA.Signed(c) != nil {
				return "not signed by the new CA"
			}
			return ""
		}
	}
	leaves, err := planRenew(ro, signer)
	if err != nil {
		return nil, err
	}
	if r.state == StateReissued && leaves.Renewed == 0 {
		return nil, wrongStep("reissue", r.state)
	}
	leaves.RenewBefore = ""
	res := &RotateResult{Step: "reissue", DryRun: o.DryRun, State: StateReissued, Leaves: leaves}
	if o.DryRun {
		res.CAs = r.cas()
		return res, nil
	}
	written, err := r.reissue(leaves, res)
	if err != nil {
		return nil, err
	}
	if r.state != StateReissued {
		if r.state == StateStarted { // resumed runs loaded previous/ already
			r.prev = r.cur
		}
		r.cur, r.next, r.state = newCA, nil, StateReissued
	}
	res.CAs = r.cas()
	if newCA.Key == nil { // previous/ holds the previous CA's key, if any
		err = dropLocalKey(o.CADir)
	}
	if err == nil {
		err = r.removeNext()
	}
	if err != nil {
		return nil, errs.AfterWrites(fmt.Errorf("%w (the new CA is in place: run rotate-ca reissue again to finish)", err), written)
	}
	return res, nil
}

// reissue stages the swap (unless done), the re-issued leaves and the
// host tarballs holding them (noted in res) as one unit and commits it;
// it returns what it wrote.
func (r *rotation) reissue(leaves *RenewResult, res *RotateResult) (written []string, err error) {
	batch := r.o.newStage()
	defer func() {
		if err = batch.finish(err); err == nil {
			written = batch.Written()
		}
	}()
	if r.state != StateReissued {
		if err := r.stageSwap(batch); err != nil {
			return nil, err
		}
	}
	res.Tarballs, err = withTarballs(batch, r.o.Layout, r.o.Root, func() error { return leaves.stage(batch) })
	return nil, err
}

// stageSwap stages the current CA into previous/ (with copies of the
// revocation list, CRL number and CRL, which stay: revocations are by serial and the
// list is history) and the next CA's pair into the CA directory. Run to
// resume an interrupted reissue, previous/ is already there.
func (r *rotation) stageSwap(batch *stage) error {
	dir := r.o.CADir
	if r.state == StateStarted {
		extra := map[string][]byte{}
		for _, f := range []struct {
			name  string
			limit int64
		}{{revokedFile, fsutil.LimitConfig}, {crlNumberFile, fsutil.LimitConfig}, {CRLFile, fsutil.LimitCRL}} {
			data, err := readIfExists(filepath.Join(dir, f.name), f.limit)
			if err != nil {
				return err
			}
			if data != nil {
				extra[f.name] = data
			}
		}
		if err := stageCADir(batch, filepath.Join(dir, previousDir), r.cur, r.o.Keys, extra); err != nil {
			return err
		}
	}
	if r.next.Key != nil { // a remote CA's key stays on the signer (dropLocalKey)
		keyFile, err := r.o.Keys.file(r.next.Key)
		if err != nil {
			return err
		}
		if err := batch.WriteFile(filepath.Join(dir, caKeyName), keyFile, 0o600); err != nil {
			return err
		}
	}
	return batch.WriteFile(filepath.Join(dir, caCertName), r.next.CertPEM, 0o644)
}

// removeNext removes next/ once its CA is current: its certificate first,
// which ends the interrupted-reissue state (RotationState), then the rest
// (the key, anything a person put there).
func (r *rotation) removeNext() error {
	next := filepath.Join(r.o.CADir, nextDir)
	if err := fsutil.CheckNoSymlinks(r.o.CADir, filepath.Join(next, caCertName)); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(next, caCertName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := fsutil.SyncDir(r.o.CADir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(next); err != nil {
		return err
	}
	return fsutil.SyncDir(r.o.CADir)
}

// RotateFinish makes every cacert.pem hold the new CA alone and retires
// the old CA to retired-<UTC date>/. It refuses while any leaf is still
// signed by another CA: that host would be cut off.
func RotateFinish(o RotateOptions) (*RotateResult, error) {
	o.defaults()
	r, err := loadRotation(o)
	if err != nil {
		return nil, err
	}
	if r.state != StateReissued {
		return nil, wrongStep("finish", r.state)
	}
	leaves, err := scanLeaves(o.tree(), r.o.Keys)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, l := range leaves {
		if r.cur.Signed(l.cert) != nil {
			stale = append(stale, l.t.cert)
		}
	}
	if len(stale) > 0 {
		if len(stale) > 5 {
			stale = append(stale[:5], fmt.Sprintf("and %d more", len(stale)-5))
		}
		return nil, inputErr("rotate-ca finish: not signed by the current CA (they would be cut off): %s; run rotate-ca reissue again first", strings.Join(stale, ", "))
	}
	certs := r.cur.Bundle()
	bundle := pki.EncodeCertsPEM(certs...)
	files, err := r.caFiles(bundle)
	if err != nil {
		return nil, err
	}
	retired := retiredDir(o.CADir, o.Now)
	res := &RotateResult{Step: "finish", DryRun: o.DryRun, State: StateNone, CAs: r.cas(), CAFiles: files, BundleCerts: len(certs), Retired: retired}
	if o.DryRun {
		return res, nil
	}
	// Bundles first: until previous/ is renamed the step can run again.
	written, err := func() (written []string, err error) {
		batch := o.newStage()
		defer func() {
			if err = batch.finish(err); err == nil {
				written = batch.Written()
			}
		}()
		res.Tarballs, err = withTarballs(batch, o.Layout, o.Root, func() error { return r.stageCAFiles(batch, files, bundle) })
		return nil, err
	}()
	if err != nil {
		return nil, err
	}
	if err := r.retire(retired); err != nil {
		return nil, errs.AfterWrites(fmt.Errorf("%w (run rotate-ca finish again to retire the old CA)", err), written)
	}
	return res, nil
}

// retire renames previous/ to retired (one atomic rename) and drops what
// an interrupted reissue may have left of next/.
func (r *rotation) retire(retired string) error {
	prev := filepath.Join(r.o.CADir, previousDir)
	for _, p := range []string{prev, retired} {
		if err := fsutil.CheckNoSymlinks(r.o.CADir, p); err != nil {
			return err
		}
	}
	if err := os.Rename(prev, retired); err != nil {
		return err
	}
	if err := fsutil.SyncDir(r.o.CADir); err != nil {
		return err
	}
	return r.removeNext()
}

// retiredDir is retired-<UTC date>, with -2, -3... for more than one
// rotation on a day.
func retiredDir(caDir string, now time.Time) string {
	base := filepath.Join(caDir, "retired-"+now.UTC().Format("2006-01-02"))
	name := base
	for i := 2; exists(name); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}
