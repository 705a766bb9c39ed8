package certs

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

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
