package fsutil

import (
	"cmp"
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
	// JournalDir is where the journal is kept; Root when empty. A batch
	// over directories of a host (Root "/") keeps it in a directory of its
	// own; RecoverJournal then finds it there.
	JournalDir string
	// DirMode is the mode of the directories WriteFileIn makes that do
	// not exist yet in the live directory (the swapped directory itself,
	// when new, included); 0755 when zero.
	DirMode fs.FileMode

	mu      sync.Mutex
	pending []pendingFile // in staging order; a swap's entry stands for all its files
	swaps   map[string]*dirSwap
	placed  map[string]bool // targets and swapped directories Commit put in place
	done    bool
}

// NewBatch returns a Batch that journals its commit in root.
func NewBatch(root string) *Batch { return &Batch{Root: root} }

// pendingFile is one step of a commit: the rename of the temporary file
// tmp over path, or (swap set) the exchange of a staged directory copy.
type pendingFile struct {
	tmp, path string
	swap      *dirSwap
}

// WriteFile stages data for path with perm. Safe for concurrent use.
func (b *Batch) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := b.checkPath(path); err != nil {
		return err
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
	b.pending = append(b.pending, pendingFile{tmp: name, path: path})
	return nil
}

// checkPath refuses a target through a symlink (below Root, with a Root).
func (b *Batch) checkPath(path string) error {
	if b.Root != "" {
		return CheckNoSymlinks(b.Root, path)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: refusing to write through a symlink", path)
	}
	return nil
}

// WriteFileIn stages data for path, which lies below dir, as part of
// dir's replacement: the first call for a dir makes a staged copy of it
// (files hard-linked, subdirectories copied with their mode and owner),
// every call writes its file into that copy, and Commit exchanges the copy
// with dir in one renameat2(RENAME_EXCHANGE). So every file the batch
// writes below dir, and every file it leaves there, switch together on
// disk: no reader, and no kill, ever sees some new and some old. Use it
// for the files that must agree (a certificate and its key, a database
// and the files holding its password); dir is the smallest directory
// holding them all. dir must not be Root (which holds the journal and the
// lock) and two swapped directories of a batch must not be nested. Safe
// for concurrent use.
func (b *Batch) WriteFileIn(dir, path string, data []byte, perm fs.FileMode) error {
	staged, err := b.stagedPath(dir, path)
	if err != nil {
		return err
	}
	return writeStaged(staged, data, perm)
}

// ChownIn sets the owner and group of a file WriteFileIn staged (uid or
// gid -1 keeps it), so the file has them from the instant it appears.
func (b *Batch) ChownIn(dir, path string, uid, gid int) error {
	staged, err := b.stagedPath(dir, path)
	if err != nil {
		return err
	}
	return os.Lchown(staged, uid, gid)
}

// stagedPath is where path is staged in dir's copy, made on first use.
// dir is checked (no symlink on the way from Root) once; below it, the
// stage is the batch's own copy, where a symlink is never followed
// (writeStaged, dirSwap.stagedPath).
func (b *Batch) stagedPath(dir, path string) (string, error) {
	dir = filepath.Clean(dir)
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return "", fmt.Errorf("%s: batch already committed", path)
	}
	if b.swaps == nil {
		b.swaps = map[string]*dirSwap{}
	}
	s := b.swaps[dir]
	if s == nil {
		s = &dirSwap{dir: dir, mode: cmp.Or(b.DirMode, 0o755)}
		b.swaps[dir] = s
		b.pending = append(b.pending, pendingFile{path: dir, swap: s})
	}
	b.mu.Unlock()
	s.once.Do(func() {
		if s.err = b.checkPath(dir); s.err == nil {
			s.err = s.prepare()
		}
	})
	if s.err != nil {
		return "", s.err
	}
	return s.stagedPath(path)
}

// checkUnits refuses a commit whose steps would undo each other: a file
// renamed into, or a directory swapped inside, a swapped directory.
func (b *Batch) checkUnits() error {
	for _, p := range b.pending {
		for d := filepath.Dir(p.path); ; d = filepath.Dir(d) {
			if s := b.swaps[d]; s != nil {
				return fmt.Errorf("%s: staged both on its own and inside %s, which is replaced whole", p.path, s.dir)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		if p.swap != nil && b.Root != "" && filepath.Clean(b.Root) == p.path {
			return fmt.Errorf("%s: is the batch's root (it holds the journal); it cannot be replaced whole", p.path)
		}
	}
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
	if err := b.checkUnits(); err != nil {
		b.removeTemps()
		return err
	}
	if err := syncAll(b.pending); err != nil {
		b.removeTemps()
		return err
	}
	journal := ""
	if b.Root != "" {
		var err error
		if journal, err = writeJournal(b.Root, b.journalDir(), b.pending); err != nil {
			b.removeTemps()
			return err
		}
		faultHook(-1, journal)
	}
	// From here on the staged files belong to the targets (or, after a
	// failed rename, to the journal): a later Abort must not touch them.
	pending := b.pending
	b.pending = nil
	b.placed = map[string]bool{}
	for i, p := range pending {
		if err := p.put(); err != nil {
			if journal != "" {
				return fmt.Errorf("%w (the journal %s is kept: the next run completes this write)", err, journal)
			}
			for _, rest := range pending[i:] {
				rest.remove()
			}
			removeOldCopies(pending[:i])
			return err
		}
		b.placed[p.path] = true
		faultHook(i, p.path)
	}
	if err := syncAll(pending); err != nil {
		return err
	}
	if journal != "" {
		if err := removeJournal(journal); err != nil {
			return err
		}
	}
	removeOldCopies(pending)
	return nil
}

// Placed reports whether Commit put path in place: its own rename, or the
// swap of the directory WriteFileIn staged it in. After a failed Commit,
// it tells what was written.
func (b *Batch) Placed(path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for d := path; ; d = filepath.Dir(d) {
		if b.placed[d] {
			return true
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
}

func (b *Batch) journalDir() string {
	if b.JournalDir != "" {
		return b.JournalDir
	}
	return b.Root
}

// put carries out one step: the rename or the exchange.
func (p pendingFile) put() error {
	if p.swap != nil {
		return p.swap.exchange()
	}
	return os.Rename(p.tmp, p.path)
}

// remove drops what a step staged (before it was carried out).
func (p pendingFile) remove() {
	switch {
	case p.swap != nil && p.swap.stage != "":
		os.RemoveAll(p.swap.stage)
	case p.swap == nil:
		os.Remove(p.tmp)
	}
}

// removeOldCopies removes the directories swapped out, now at their stage
// names. One left by a kill is removed by the next run (Recover, or
// SweepTemp once no journal names it).
func removeOldCopies(pending []pendingFile) {
	for _, p := range pending {
		if p.swap != nil && p.swap.oldKey != (fileKey{}) && unix.Rmdir(p.swap.stage) != nil {
			os.RemoveAll(p.swap.stage)
		}
	}
}

// removeTemps removes every staged file.
func (b *Batch) removeTemps() {
	for _, p := range b.pending {
		p.remove()
	}
	b.pending = nil
}

// syncAll syncs each filesystem the pending files live on, once.
func syncAll(pending []pendingFile) error {
	dirs := make([]string, len(pending))
	for i, p := range pending {
		dirs[i] = filepath.Dir(p.path)
		if p.swap != nil && p.swap.err != nil {
			return p.swap.err
		}
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
