package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// CA rotation without downtime, in three steps the operator runs between
// deploys:
//
//	start    next CA made in <ca-dir>/next/; every cacert.pem becomes the
//	         bundle current+next. Deploy: every peer now trusts both.
//	reissue  <ca-dir>/ becomes the next CA, the old one moves to previous/;
//	         every leaf is re-issued by the new CA (subject, SANs and key
//	         kept). Deploy: peers present new-CA certificates, which every
//	         peer already trusts; old ones still work meanwhile.
//	finish   every cacert.pem holds the new CA alone; previous/ becomes
//	         retired-<date>/. Deploy: the old CA is no longer trusted.
//
// The state is the CA directory itself (which of next/ and previous/ hold
// a CA), so there is no state file to lose or to disagree with the keys.
// Each step stages all it writes (next/, previous/, the CA directory's own
// pair, the leaves, every cacert.pem) in one journalled unit (see Roots),
// so a step killed at any instant is either not done or done once the
// next run has recovered; only the clean-ups after it (removing next/,
// renaming previous/ to retired-<date>/, each a single rename or removal)
// come after, and each is a state the step run again completes.

// Rotation states.
const (
	StateNone     = "none"
	StateStarted  = "started"
	StateReissued = "reissued"
	// StateReissuing is a reissue that stopped between saving the old CA
	// and putting the new one in place; reissue resumes it.
	StateReissuing = "reissue-interrupted"
)

// libvirt's limits on a CA file (shared/reference facts, section 2):
// larger bundles make libvirtd refuse to start.
const (
	MaxCACerts     = 16
	MaxCAFileBytes = 64 * 1024
)

const (
	nextDir     = "next"
	previousDir = "previous"
	caCertName  = "cacert.pem"
	caKeyName   = "cakey.pem"
)

// RotateOptions are the inputs of every rotate-ca step.
type RotateOptions struct {
	Layout layout.Layout
	Root   string
	CADir  string
	Top    string // as Options.Top
	// CACertFile is set when the user named an external CA: refused.
	CACertFile string
	// Remote is the signer of a remote next CA (start) or new CA
	// (reissue); see remote.go.
	Remote *Remote

	Algo   pki.KeyAlgo // start: the next CA's key ("" = the current CA's)
	Org    string      // start: the next CA's O ("" = the current CA's)
	CADays int         // start: the next CA's validity
	Days   int         // reissue: the leaves' validity
	Now    time.Time
	DryRun bool
	// Keys reads the CA and leaf keys; the CA keys and re-issued leaf
	// keys are written as the tree keeps them (Keys.ForTree).
	Keys Keys
}

// RotationCA describes one CA taking part in a rotation.
type RotationCA struct {
	Role     string    `json:"role"` // current, next or previous
	Subject  string    `json:"subject"`
	Serial   string    `json:"serial"`
	KeyAlgo  string    `json:"key_algo"`
	NotAfter time.Time `json:"not_after"`
	Dir      string    `json:"dir"`
	ca       *pki.CA
}

// RotateResult is what a step did (or, with DryRun, would do).
type RotateResult struct {
	Step    string       `json:"step"`
	DryRun  bool         `json:"dry_run"`
	State   string       `json:"state"` // after the step
	CAs     []RotationCA `json:"cas"`
	CAFiles []FilePlan   `json:"cacert_files"`
	// BundleCerts is how many certificates every cacert.pem now holds.
	BundleCerts int          `json:"bundle_certificates"`
	Leaves      *RenewResult `json:"leaves,omitempty"`
	Retired     string       `json:"retired_dir,omitempty"`
	// Tarballs are the <host>.tar files made again with the step's files.
	Tarballs []string `json:"tarballs,omitempty"`
}

// rotation is the CA directory as found.
type rotation struct {
	o     RotateOptions
	state string
	// cur is the CA in the CA directory (nil while a reissue is
	// interrupted, when its cert and key may be from different CAs);
	// next the incoming one; prev the outgoing one after reissue.
	cur, next, prev *pki.CA
}

func (o *RotateOptions) defaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.CADays <= 0 {
		o.CADays = pki.DefaultCADays
	}
	if o.Days <= 0 {
		o.Days = pki.DefaultLeafDays
	}
}

// tree is the layout the rotation works on.
func (o *RotateOptions) tree() layout.Tree {
	return layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
}

// RotationState says which step the CA directory is in. next/ and
// previous/ count when they hold a CA certificate: a directory without one
// is what an interrupted step left before its commit, or after removing
// the certificate.
func RotationState(caDir string) (string, error) {
	isDir := func(name string) (bool, error) {
		fi, err := os.Lstat(filepath.Join(caDir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		case err != nil:
			return false, readErr(err)
		case !fi.IsDir():
			return false, inputErr("%s: not a directory", filepath.Join(caDir, name))
		}
		_, err = os.Lstat(filepath.Join(caDir, name, caCertName))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, readErr(err)
		}
		return err == nil, nil
	}
	next, err := isDir(nextDir)
	if err != nil {
		return "", err
	}
	prev, err := isDir(previousDir)
	if err != nil {
		return "", err
	}
	switch {
	case next && prev:
		return StateReissuing, nil
	case next:
		return StateStarted, nil
	case prev:
		return StateReissued, nil
	}
	return StateNone, nil
}

// loadRotation reads the CA directory and the CAs the state implies.
func loadRotation(o RotateOptions) (*rotation, error) {
	if o.CACertFile != "" {
		return nil, inputErr("rotate-ca rotates only a CA that libvirt-pki made and keeps in a CA directory; --ca-cert names an external CA: have its owner issue a new one, then run certificates with it")
	}
	r := &rotation{o: o}
	var err error
	if r.state, err = RotationState(o.CADir); err != nil {
		return nil, err
	}
	load := o.Keys.loadCADirCA // a remote CA is its cacert.pem alone
	if r.state != StateReissuing {
		if _, err := os.Lstat(filepath.Join(o.CADir, caCertName)); errors.Is(err, fs.ErrNotExist) {
			return nil, inputErr("no CA in %s: rotate-ca rotates the CA that certificates made there (run certificates first, or give --ca-dir)", o.CADir)
		}
		if r.cur, err = load(o.CADir); err != nil {
			return nil, err
		}
	}
	switch r.state {
	case StateStarted:
		r.next, err = load(filepath.Join(o.CADir, nextDir))
	case StateReissued:
		r.prev, err = load(filepath.Join(o.CADir, previousDir))
	case StateReissuing:
		if r.prev, err = load(filepath.Join(o.CADir, previousDir)); err != nil {
			return nil, err
		}
		r.next, err = o.Keys.loadResumingNext(o.CADir)
	}
	if err != nil {
		return nil, err
	}
	r.o.Keys, err = o.Keys.ForTree(o.tree(), filepath.Join(o.CADir, caKeyName))
	return r, err
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

// cas lists the rotation's CAs with their roles.
func (r *rotation) cas() []RotationCA {
	var out []RotationCA
	add := func(role, dir string, ca *pki.CA) {
		if ca == nil {
			return
		}
		out = append(out, RotationCA{
			Role: role, Subject: ca.Cert.Subject.String(), Serial: pki.SerialHex(ca.Cert),
			KeyAlgo: string(pki.AlgoOf(ca.Cert.PublicKey)), NotAfter: ca.Cert.NotAfter, Dir: dir, ca: ca,
		})
	}
	add("current", r.o.CADir, r.cur)
	nextAt := filepath.Join(r.o.CADir, nextDir)
	if r.state == StateReissuing {
		nextAt = r.o.CADir
	}
	add("next", nextAt, r.next)
	add("previous", filepath.Join(r.o.CADir, previousDir), r.prev)
	return out
}

// wrongStep is the error for a step run out of order.
func wrongStep(step, state string) error {
	want := map[string]string{
		StateNone:      "no rotation is in progress: the first step is rotate-ca start",
		StateStarted:   "the rotation is started: deploy the bundled cacert.pem everywhere, then run rotate-ca reissue",
		StateReissuing: "a reissue was interrupted: run rotate-ca reissue again to complete it",
		StateReissued:  "the leaves are re-issued: deploy them everywhere, then run rotate-ca finish",
	}[state]
	return inputErr("rotate-ca %s: wrong order: %s", step, want)
}

// caFiles plans writing data to every cacert.pem of the layout.
func (r *rotation) caFiles(data []byte) ([]FilePlan, error) {
	paths, err := caFilesOf(r.o.tree())
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, inputErr("no cacert.pem under %s: run certificates first", r.o.Root)
	}
	var out []FilePlan
	for _, p := range paths {
		fp := FilePlan{Path: p, Action: Unchanged}
		if !sameFile(p, data) {
			fp.Action = Update
		}
		out = append(out, fp)
	}
	return out, nil
}

// stageCAFiles stages data for every cacert.pem of files to change.
func (r *rotation) stageCAFiles(batch *stage, files []FilePlan, data []byte) error {
	for _, f := range files {
		if f.Action == Unchanged {
			continue
		}
		spec, _ := r.o.Layout.SpecAt(f.Path)
		if err := batch.WriteFile(f.Path, data, spec.Mode); err != nil {
			return err
		}
	}
	return nil
}

// newStage is a stage over the rotation's trees.
func (o *RotateOptions) newStage() *stage { return newStage(o.Layout, o.Top, o.Root, o.CADir, false) }

// CheckCABundle refuses a cacert.pem libvirt cannot load: more than
// MaxCACerts certificates or more than MaxCAFileBytes.
func CheckCABundle(certs []*x509.Certificate, data []byte) error {
	if len(certs) > MaxCACerts {
		return inputErr("the CA bundle would hold %d certificates; libvirt loads at most %d from a CA file", len(certs), MaxCACerts)
	}
	if len(data) > MaxCAFileBytes {
		return inputErr("the CA bundle would be %d bytes; libvirt reads at most %d bytes of a CA file", len(data), MaxCAFileBytes)
	}
	return nil
}

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

// RotationStatus reports where a rotation stands.
type RotationStatus struct {
	State    string       `json:"state"`
	NextStep string       `json:"next_step"`
	CAs      []RotationCA `json:"cas"`
	// CACertFiles lists each cacert.pem with the roles of the CAs it
	// holds ("current", "next", "previous", "other").
	CACertFiles []CAFileStatus `json:"cacert_files"`
	// CACertCounts counts cacert.pem files by what they hold, e.g.
	// "current+next": 3.
	CACertCounts map[string]int `json:"cacert_counts"`
	Leaves       []LeafStatus   `json:"leaves"`
	// LeafCounts counts leaves by the role of the CA that signed them.
	LeafCounts map[string]int `json:"leaf_counts"`
}

// CAFileStatus is one cacert.pem.
type CAFileStatus struct {
	Path  string   `json:"path"`
	Holds []string `json:"holds"`
}

// LeafStatus is one leaf and the CA that signed it.
type LeafStatus struct {
	Host     string `json:"host"`
	Profile  string `json:"profile"`
	Path     string `json:"path"`
	SignedBy string `json:"signed_by"`
}

// NextStep says what to do next in a rotation state.
func NextStep(state string) string {
	return map[string]string{
		StateNone:      "none in progress (rotate-ca start begins one)",
		StateStarted:   "deploy cacert.pem everywhere, then rotate-ca reissue",
		StateReissuing: "rotate-ca reissue (interrupted: run it again)",
		StateReissued:  "deploy the new certificates everywhere, then rotate-ca finish",
	}[state]
}

// Status reads the rotation state, every cacert.pem and every leaf.
func Status(o RotateOptions) (*RotationStatus, error) {
	o.defaults()
	r, err := loadRotation(o)
	if err != nil {
		return nil, err
	}
	st := &RotationStatus{
		State: r.state, CAs: r.cas(), CACertCounts: map[string]int{}, LeafCounts: map[string]int{},
		CACertFiles: []CAFileStatus{}, Leaves: []LeafStatus{},
		NextStep: NextStep(r.state),
	}
	paths, err := caFilesOf(o.tree())
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		certs, err := readCerts(p)
		if err != nil {
			return nil, err
		}
		var holds []string
		for _, role := range []string{"current", "next", "previous", "other"} {
			for _, c := range certs {
				if roleOfCACert(st.CAs, c) == role {
					holds = append(holds, role)
					break
				}
			}
		}
		st.CACertFiles = append(st.CACertFiles, CAFileStatus{Path: p, Holds: holds})
		st.CACertCounts[strings.Join(holds, "+")]++
	}
	leaves, err := scanLeaves(o.tree(), r.o.Keys)
	if err != nil {
		return nil, err
	}
	for _, l := range leaves {
		by := "other"
		for _, c := range st.CAs {
			if c.ca.Signed(l.cert) == nil {
				by = c.Role
				break
			}
		}
		st.Leaves = append(st.Leaves, LeafStatus{Host: l.unit.Name, Profile: l.kind.Name, Path: l.t.cert, SignedBy: by})
		st.LeafCounts[by]++
	}
	return st, nil
}

func roleOfCACert(cas []RotationCA, c *x509.Certificate) string {
	for _, ca := range cas {
		for _, b := range ca.ca.Bundle() {
			if b.Equal(c) {
				return ca.Role
			}
		}
	}
	return "other"
}
