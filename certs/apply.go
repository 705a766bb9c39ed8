package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Apply carries out the plan: it stages a new CA, then every cacert.pem,
// then generates keys and signs leaves on Opts.Workers goroutines, staging
// each host's files as soon as they are ready so memory does not grow with
// the host count. All files become durable and take their places together
// at the end, journalled (see Roots): on an error before the commit,
// nothing is replaced, and a kill during it is completed by the next run.
// progress, when set, is called after each leaf. The caller holds the
// trees' locks (LockTrees).
func (p *Plan) Apply(progress func(done, total int)) error {
	if err := p.apply(progress); err != nil {
		return err
	}
	if p.Opts.Bundle {
		return p.writeTarballs()
	}
	return nil
}

// apply stages and commits everything but the tarballs (made from the
// files it puts in place).
func (p *Plan) apply(progress func(done, total int)) (err error) {
	o := p.Opts
	batch := newStage(o.Layout, o.Top, o.Root, o.CADir, o.Shared)
	defer func() { err = batch.finish(err) }()
	if err := p.stageCA(batch); err != nil {
		return err
	}
	if err := p.CA.stageRecord(batch, o.CADir); err != nil {
		return err
	}
	bundle := pki.EncodeCertsPEM(p.CA.ca.Bundle()...)
	for _, f := range p.CAFiles {
		if f.Action == Unchanged {
			continue
		}
		if err := batch.mkdirsIn(p.tree, f.Path); err != nil {
			return err
		}
		caSpec, _ := o.Layout.SpecAt(f.Path)
		if err := batch.WriteFile(f.Path, bundle, caSpec.Mode); err != nil {
			return err
		}
	}
	if err := p.stageBundles(batch); err != nil {
		return err
	}
	is := &issuer{ca: p.CA.ca, tree: p.tree, batch: batch, keys: o.Keys, days: o.Days}
	return is.issueAll(p.Leaves, o.Workers, progress)
}

// stageCA stages a new CA, key first (a CA certificate without its key
// would make the next run refuse to continue), and the CA key of a tree
// whose keys are to be vaulted when it is still clear.
func (p *Plan) stageCA(batch *stage) error {
	keys := p.Opts.Keys
	encryptKey := p.CA.Source == "existing" && keys.Encrypt && !p.CA.ca.Key.Vaulted
	if !p.CA.created && !encryptKey {
		return nil
	}
	if err := fsutil.MkdirAll(p.Opts.CADir, 0o700); err != nil {
		return err
	}
	keyFile, err := keys.file(p.CA.ca.Key)
	if err != nil {
		return err
	}
	if err := batch.WriteFile(p.CA.KeyPath, keyFile, 0o600); err != nil {
		return err
	}
	if p.CA.created {
		if err := batch.WriteFile(p.CA.CertPath, p.CA.ca.CertPEM, 0o644); err != nil {
			return err
		}
		p.CA.created = false
	}
	return nil
}

// stageIfChanged keeps a file that already holds data byte for byte (a
// kept key), fixing only its mode, and stages anything else.
func stageIfChanged(batch *stage, path string, data []byte, mode fs.FileMode) error {
	if sameFile(path, data) {
		return fixMode(path, mode)
	}
	return batch.WriteFile(path, data, mode)
}

func fixMode(path string, mode fs.FileMode) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != mode {
		return os.Chmod(path, mode)
	}
	return nil
}

// mkdirsIn creates the directory of path and any missing parents below
// the tree's root with the layout's directory mode (the root's own parents
// get 0755), each directory made or checked once per
// stage: a bundle puts many files in each directory, and each check
// costs system calls.
func (s *stage) mkdirsIn(tree layout.Tree, path string) error {
	if swap := s.swaps.dirFor(path); swap != "" {
		path = swap // the swap makes swap and what is below it
	}
	dir := filepath.Dir(path)
	if _, done := s.dirs.Load(dir); done {
		return nil
	}
	return walkDirsIn(tree, path, func(d string, mode fs.FileMode) error {
		if _, done := s.dirs.Load(d); done {
			return nil
		}
		if err := fsutil.MkdirAll(d, mode); err != nil {
			return err
		}
		s.dirs.Store(d, true)
		return nil
	})
}

// walkDirsIn calls mkdir for the tree's root (mode 0755) and every
// directory from there down to path's, with the layout's mode.
func walkDirsIn(tree layout.Tree, path string, mkdir func(string, fs.FileMode) error) error {
	root, dir := tree.Root, filepath.Dir(path)
	if err := mkdir(root, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." {
		return err
	}
	cur := root
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		cur = filepath.Join(cur, part)
		if err := mkdir(cur, tree.Layout.DirMode); err != nil {
			return err
		}
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
