package install

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// journalDir is where an install keeps its lock and journal: the
// bundle's own directory under the root (/etc/libvirt-pki), never
// replaced whole.
func (p *Plan) journalDir() string {
	return filepath.Join(p.Root, filepath.FromSlash(p.Bundle.Layout.BundleDir))
}

// Apply installs the plan as one journalled fsutil.Batch: CA files
// first, then each pair's directory staged (a hard-linked copy carrying
// the files the bundle does not hold) and exchanged whole, so a kill at
// any instant leaves each pair old or new, and the next run rolls the
// install forward. A run killed earlier is completed first (under the
// lock) and the plan made again. It returns the files written; an error
// after a write is an errs.Partial naming them.
func (p *Plan) Apply(ctx context.Context) (written []string, err error) {
	if !p.Changed() && !pendingJournal(p.journalDir()) {
		return nil, nil
	}
	jdir := p.journalDir()
	if err := fsutil.MkdirAll(jdir, p.Bundle.Layout.DirMode); err != nil {
		return nil, err
	}
	lock, err := fsutil.Lock(ctx, jdir, fsutil.LockOptions{})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	recovered, err := fsutil.RecoverJournal(p.Root, jdir)
	if err != nil {
		return nil, err
	}
	if len(recovered) > 0 {
		if p, err = MakePlan(p.Bundle, p.Root); err != nil {
			return recovered, errs.AfterWrites(err, recovered)
		}
	}
	p.sweep()
	written, err = p.commit()
	return append(recovered, written...), errs.AfterWrites(err, append(recovered, written...))
}

// pendingJournal reports whether a killed install left its journal.
func pendingJournal(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, fsutil.JournalFileName))
	return err == nil
}

// sweep removes the stages and temporary files killed runs left beside
// the plan's targets (after recovery, so none is still needed).
func (p *Plan) sweep() {
	var dirs []string
	for _, u := range p.Units {
		for _, c := range u.Changes {
			d := filepath.Dir(c.Path)
			if u.Dir != "" {
				d = filepath.Dir(filepath.Join(p.Root, filepath.FromSlash(u.Dir)))
			}
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	for _, d := range dirs {
		fsutil.SweepTemp(d, 0)
	}
}

// commit stages every changed unit in one batch and commits it.
func (p *Plan) commit() (written []string, err error) {
	b := &fsutil.Batch{Root: p.Root, JournalDir: p.journalDir()}
	defer func() {
		if err != nil {
			b.Abort()
		}
	}()
	for _, u := range p.Units {
		if !unitChanged(u) {
			continue
		}
		for _, c := range u.Changes {
			if err := p.stage(b, u, c); err != nil {
				return nil, err
			}
			if c.Action != ActionUnchanged {
				written = append(written, c.Path)
			}
		}
	}
	if err := b.Commit(); err != nil {
		return nil, err
	}
	return written, nil
}

// stage puts one file of a unit in the batch: into its pair directory's
// copy, into its parent's copy when it is not root's (so it has its
// owner from the instant it appears), else renamed on its own. An
// unchanged file of a swapped directory is in the copy already
// (hard-linked).
func (p *Plan) stage(b *fsutil.Batch, u *Unit, c *Change) error {
	dir := ""
	switch {
	case u.Dir != "":
		dir = filepath.Join(p.Root, filepath.FromSlash(u.Dir))
	case c.uid != 0 || c.gid != 0:
		dir = filepath.Dir(c.Path)
	}
	if dir == "" {
		if c.Action == ActionUnchanged {
			return nil
		}
		if err := fsutil.MkdirAll(filepath.Dir(c.Path), p.Bundle.Layout.DirMode); err != nil {
			return err
		}
		return b.WriteFile(c.Path, c.file.Data, c.Mode)
	}
	if c.Action == ActionUnchanged {
		return nil
	}
	if err := b.WriteFileIn(dir, c.Path, c.file.Data, c.Mode); err != nil {
		return err
	}
	return b.ChownIn(dir, c.Path, c.uid, c.gid)
}

func unitChanged(u *Unit) bool {
	for _, c := range u.Changes {
		if c.Action != ActionUnchanged {
			return true
		}
	}
	return false
}
