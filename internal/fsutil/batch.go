package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Batch makes many atomic writes durable together. Each WriteFile writes a
// temporary file beside its target at once (so memory does not grow with
// the number of files); Commit then syncs the filesystem once, renames
// every file into place in the order they were written, and syncs once
// more so the renames are durable. A crash before Commit leaves every
// target as it was. One fsync per file, thousands of times over, is what
// makes writing a large PKI slow; this costs two syncs in all (three with
// a Root).
//
// With Root set (see NewBatch), every target must lie below Root with no
// symlink on the way (CheckNoSymlinks), and Commit journals its renames in
// Root so that a kill between two of them is completed by Recover(Root):
// the batch is then one unit, entirely old or entirely new (see the
// package doc). Without Root, each file is atomic on its own only.
type Batch struct {
	// Root is the tree the batch writes into; empty for no journal.
	Root string

	mu      sync.Mutex
	pending []pendingFile
	done    bool
}

// NewBatch returns a Batch that journals its commit in root.
func NewBatch(root string) *Batch { return &Batch{Root: root} }

type pendingFile struct{ tmp, path string }

// WriteFile stages data for path with perm. Safe for concurrent use.
func (b *Batch) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if b.Root != "" {
		if err := CheckNoSymlinks(b.Root, path); err != nil {
			return err
		}
	} else if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: refusing to write through a symlink", path)
	}
	name, err := writeTemp(path, data, perm, false)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		os.Remove(name)
		return fmt.Errorf("%s: batch already committed", path)
	}
	b.pending = append(b.pending, pendingFile{name, path})
	return nil
}

// Commit makes every staged file durable and puts it in place. On an
// error before the first rename (including ENOSPC while writing the
// journal) every target is left as it was and every staged file removed.
// With a Root, an error after the first rename leaves the journal, so the
// next Recover completes the unit.
func (b *Batch) Commit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if len(b.pending) == 0 {
		return nil
	}
	if err := syncAll(b.pending); err != nil {
		b.removeTemps()
		return err
	}
	journal := ""
	if b.Root != "" {
		var err error
		if journal, err = writeJournal(b.Root, b.pending); err != nil {
			b.removeTemps()
			return err
		}
		faultHook(-1, journal)
	}
	// From here on the staged files belong to the targets (or, after a
	// failed rename, to the journal): a later Abort must not touch them.
	pending := b.pending
	b.pending = nil
	for i, p := range pending {
		if err := os.Rename(p.tmp, p.path); err != nil {
			if journal != "" {
				return fmt.Errorf("%w (the journal %s is kept: the next run completes this write)", err, journal)
			}
			for _, rest := range pending[i:] {
				os.Remove(rest.tmp)
			}
			return err
		}
		faultHook(i, p.path)
	}
	if err := syncAll(pending); err != nil {
		return err
	}
	if journal == "" {
		return nil
	}
	return removeJournal(journal)
}

// removeTemps removes every staged file.
func (b *Batch) removeTemps() {
	for _, p := range b.pending {
		os.Remove(p.tmp)
	}
	b.pending = nil
}

// syncAll syncs each filesystem the pending files live on, once.
func syncAll(pending []pendingFile) error {
	dirs := make([]string, len(pending))
	for i, p := range pending {
		dirs[i] = filepath.Dir(p.path)
	}
	return syncFilesystems(dirs)
}

// syncFilesystems syncs each filesystem holding one of dirs, once.
func syncFilesystems(dirs []string) error {
	seen := map[uint64]bool{}
	for _, dir := range dirs {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return err
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		if err := syncFS(dir); err != nil {
			return err
		}
	}
	return nil
}

// Abort removes every staged file.
func (b *Batch) Abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	b.removeTemps()
}

// syncFS flushes the whole filesystem holding path (syncfs(2)): one call
// covers every file and directory written on it.
func syncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
