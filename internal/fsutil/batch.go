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
// makes writing a large PKI slow; this costs two syncs in all.
type Batch struct {
	mu      sync.Mutex
	pending []pendingFile
	done    bool
}

type pendingFile struct{ tmp, path string }

// WriteFile stages data for path with perm. Safe for concurrent use.
func (b *Batch) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: refusing to write through a symlink", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
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

// Commit makes every staged file durable and puts it in place.
func (b *Batch) Commit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if len(b.pending) == 0 {
		return nil
	}
	if err := b.syncAll(func(p pendingFile) string { return p.tmp }); err != nil {
		return err
	}
	for i, p := range b.pending {
		if err := os.Rename(p.tmp, p.path); err != nil {
			for _, rest := range b.pending[i:] {
				os.Remove(rest.tmp)
			}
			return err
		}
	}
	return b.syncAll(func(p pendingFile) string { return p.path })
}

// syncAll syncs each filesystem the pending files live on, once.
func (b *Batch) syncAll(pick func(pendingFile) string) error {
	seen := map[uint64]bool{}
	for _, p := range b.pending {
		var st unix.Stat_t
		if err := unix.Stat(pick(p), &st); err != nil {
			return err
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		if err := syncFS(pick(p)); err != nil {
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
	for _, p := range b.pending {
		os.Remove(p.tmp)
	}
	b.pending = nil
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
