// Package report assembles one self-contained HTML audit page for a whole
// tree from the checks that already exist: verify's findings (offline and
// live), audit's expiry rows, lint's zlint findings and the CA rotation's
// state. It reads nothing the engine does not already judge; it only
// joins, sorts and renders (html/template, inline SVG, no network).
package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/parallel"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/lint"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// Options says what to report on. Verify runs verify (offline, and live
// when asked) on the tree; Collect runs it while it reads audit's rows,
// lint's findings and the rotation state of the same tree, and returns
// its error unchanged.
type Options struct {
	// Tree is what to report on, CADir included. Collect reads it
	// through Tree.Files (its own Files when nil); give Verify the same
	// one, so each file is read and parsed once.
	Tree     layout.Tree
	Verify   func() (*verify.Report, error)
	Now      time.Time
	WarnDays int
	// Lint runs zlint's RFC lints over the tree.
	Lint bool
}

// unreadable collects the files audit and lint skipped; each becomes a
// finding unless verify already reported it.
type unreadable struct {
	mu    sync.Mutex
	files map[string]string // path -> error
}

func (u *unreadable) add(path string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	// audit and lint run at once and may both skip a file: keep the
	// same one of their messages whichever came first.
	if old, ok := u.files[path]; !ok || err.Error() < old {
		u.files[path] = err.Error()
	}
}

// Collect reads the rest of the tree and builds the model. Only an
// unusable tree (its root missing, a symlinked host directory) or a
// revocation list that does not parse is an error: files that cannot be
// read become findings.
func Collect(ctx context.Context, o Options) (*Model, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Tree.Files == nil {
		o.Tree.Files = fsutil.NewFiles()
	}
	skipped := &unreadable{files: map[string]string{}}
	revoked, err := certs.LoadRevocations(o.Tree.CADir)
	if err != nil {
		return nil, err
	}
	ao := audit.Options{Layout: o.Tree.Layout, Root: o.Tree.Root, CADir: o.Tree.CADir, WarnDays: o.WarnDays, Now: o.Now,
		Revoked: map[string]bool{}, Unreadable: skipped.add, Files: o.Tree.Files}
	for _, r := range revoked {
		ao.Revoked[r.Serial] = true
	}
	in := input{opts: o}
	var wg sync.WaitGroup
	var lintErr, verifyErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.verify, verifyErr = o.Verify()
	}()
	if o.Lint {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.lint, lintErr = lint.Run(lint.Options{Tree: o.Tree, Unreadable: skipped.add})
		}()
	}
	if in.rows, err = audit.Collect(ctx, ao); err != nil {
		wg.Wait()
		return nil, errs.WrapInput(err)
	}
	if in.rotation, err = rotationOf(ctx, ao); err != nil {
		wg.Wait()
		return nil, err
	}
	in.files = inspect(o.Tree.Files, in.rows)
	wg.Wait()
	if verifyErr != nil {
		return nil, verifyErr
	}
	if lintErr != nil {
		in.lintErr = lintErr.Error()
	}
	in.skipped = skipped.files
	return build(in), nil
}

// rotationOf reads the rotation state of the CA directory and audit's
// rows for its next and previous CAs (no key is read).
func rotationOf(ctx context.Context, ao audit.Options) (rotationInput, error) {
	ri := rotationInput{state: certs.StateNone}
	if ao.CADir == "" {
		return ri, nil
	}
	if _, err := os.Stat(ao.CADir); errors.Is(err, fs.ErrNotExist) {
		return ri, nil
	}
	state, err := certs.RotationState(ao.CADir)
	if err != nil {
		return ri, err
	}
	ri.state = state
	for _, role := range []string{"next", "previous"} {
		sub := audit.Options{CADir: filepath.Join(ao.CADir, role), Now: ao.Now, WarnDays: ao.WarnDays, Unreadable: ao.Unreadable, Files: ao.Files}
		rows, err := audit.Collect(ctx, sub)
		if err != nil {
			return ri, err
		}
		for _, r := range rows {
			ri.byRole = append(ri.byRole, roleRow{role, r})
		}
	}
	return ri, nil
}

// inspect reads what audit's rows do not carry for each certificate file
// (its key algorithm, usage verdict and mode), every file once, on every
// core.
func inspect(files *fsutil.Files, rows []audit.Row) map[string]*fileFacts {
	seen := map[string]bool{}
	var paths []string
	for _, r := range rows {
		if r.Kind != "crl" && r.Kind != "live" && !seen[r.Path] {
			seen[r.Path] = true
			paths = append(paths, r.Path)
		}
	}
	sort.Strings(paths)
	out := make([]*fileFacts, len(paths))
	parallel.Each(len(paths), 0, func(i int) { out[i] = readFacts(files, paths[i]) })
	m := make(map[string]*fileFacts, len(paths))
	for i, p := range paths {
		m[p] = out[i]
	}
	return m
}
