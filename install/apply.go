package install

import (
	"context"
	"os"
	"path/filepath"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// Apply installs the plan: CA files first, then each pair's directory as
// one unit. It returns the files written; an error after a write is an
// errs.Partial naming them.
func (p *Plan) Apply(ctx context.Context) (written []string, err error) {
	if !p.Changed() {
		return nil, nil
	}
	lockDir := filepath.Join(p.Root, filepath.FromSlash(p.Bundle.Layout.BundleDir))
	if err := fsutil.MkdirAll(lockDir, p.Bundle.Layout.DirMode); err != nil {
		return nil, err
	}
	lock, err := fsutil.Lock(ctx, lockDir, fsutil.LockOptions{})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	for _, u := range p.Units {
		if !unitChanged(u) {
			continue
		}
		if err := p.applyUnit(u); err != nil {
			return written, errs.AfterWrites(err, written)
		}
		for _, c := range u.Changes {
			if c.Action != ActionUnchanged {
				written = append(written, c.Path)
			}
		}
	}
	return written, nil
}

func unitChanged(u *Unit) bool {
	for _, c := range u.Changes {
		if c.Action != ActionUnchanged {
			return true
		}
	}
	return false
}

// applyUnit writes one unit's files.
// TODO(w19a): stage the pair's directory and swap it whole.
func (p *Plan) applyUnit(u *Unit) error {
	var b fsutil.Batch
	for _, c := range u.Changes {
		if err := fsutil.MkdirAll(filepath.Dir(c.Path), p.Bundle.Layout.DirMode); err != nil {
			b.Abort()
			return err
		}
		if err := b.WriteFile(c.Path, c.file.Data, c.Mode); err != nil {
			b.Abort()
			return err
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	for _, c := range u.Changes {
		if err := os.Lchown(c.Path, c.uid, c.gid); err != nil {
			return err
		}
		if err := os.Chmod(c.Path, c.Mode); err != nil {
			return err
		}
	}
	return nil
}
