package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// JournalFileName is the journal a rooted Batch keeps in its Root while it
// renames (see the package doc).
const JournalFileName = ".libvirt-pki.journal"

// limitJournal bounds a journal: one entry is two paths, about 200 bytes,
// so this is hundreds of thousands of files.
const limitJournal = 64 << 20

// journal is the journal's JSON form. Paths are relative to the root and
// use "/" (the tool runs on Linux only). Version 1 journals (renames only)
// are still recovered.
type journal struct {
	Version int              `json:"version"`
	Renames []journalRenames `json:"renames"`
}

// journalRenames is one step: the rename of Tmp over Path or, with Swap
// set, the exchange of the staged directory Tmp with the directory Path;
// Dev/New identify the staged copy (Old the directory it replaces, 0 when
// there was none), so Recover can tell whether the exchange was done.
type journalRenames struct {
	Tmp  string `json:"tmp"`
	Path string `json:"path"`
	Swap bool   `json:"swap,omitempty"`
	Dev  uint64 `json:"dev,omitempty"`
	New  uint64 `json:"new,omitempty"`
	Old  uint64 `json:"old,omitempty"`
}

// writeJournal makes the journal of pending steps durable in dir and
// returns its path; paths in it are relative to root. The staged files
// must already be durable: the journal promises Recover that every staged
// file it lists is complete. It is published with link(2), which fails if
// a journal is already there: that is an earlier run's unfinished unit,
// which Recover must complete first, not something to overwrite.
func writeJournal(root, dir string, pending []pendingFile) (string, error) {
	path := filepath.Join(dir, JournalFileName)
	j := journal{Version: 2}
	for _, p := range pending {
		tmp := p.tmp
		if p.swap != nil {
			tmp = p.swap.stage
		}
		tmp, err := relBelow(root, tmp)
		if err != nil {
			return "", err
		}
		target, err := relBelow(root, p.path)
		if err != nil {
			return "", err
		}
		e := journalRenames{Tmp: filepath.ToSlash(tmp), Path: filepath.ToSlash(target)}
		if s := p.swap; s != nil {
			e.Swap, e.Dev, e.New, e.Old = true, s.newKey.dev, s.newKey.ino, s.oldKey.ino
		}
		j.Renames = append(j.Renames, e)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	tmp, err := writeTemp(path, append(data, '\n'), 0o600, true)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s: an earlier run was interrupted; recover it first", path)
		}
		return "", err
	}
	if err := SyncDir(dir); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// removeJournal removes a journal whose renames are all durable.
func removeJournal(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Recover completes the unit an interrupted Batch.Commit left in root: if
// root holds a journal, every step it lists not yet done is done, in
// order (a staged file still there is renamed over its target, a staged
// directory copy still at its stage name is exchanged with its directory),
// made durable, the journal removed and the swapped-out directories
// removed. It returns the targets it completed (none if there was no
// journal). Call it at the start of every run that writes under root,
// holding the tree's lock, before SweepTemp (which would otherwise see the
// journal and refuse).
//
// A journal is checked before anything is renamed: every entry must name
// a target below root with no symlink on the way, and a staged file or
// directory beside it named as Batch names them, so a planted journal
// cannot move arbitrary files.
func Recover(root string) ([]string, error) { return RecoverJournal(root, root) }

// RecoverJournal is Recover for a batch whose journal is kept in dir
// rather than in root (Batch.JournalDir).
func RecoverJournal(root, dir string) ([]string, error) {
	path := filepath.Join(dir, JournalFileName)
	data, err := ReadFileIfExists(path, limitJournal)
	if err != nil || data == nil {
		return nil, err
	}
	steps, err := parseJournal(root, path, data)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, p := range steps {
		did, err := p.redo()
		if err != nil {
			return done, fmt.Errorf("%s: completing an interrupted write: %w", path, err)
		}
		if did {
			done = append(done, p.path)
		}
	}
	// Sync even when nothing was left to do: the interrupted run may have
	// done everything without making it durable.
	if err := syncAll(steps); err != nil {
		return done, err
	}
	if err := removeJournal(path); err != nil {
		return done, err
	}
	removeOldCopies(steps)
	return done, nil
}

// redo carries out a journalled step unless the interrupted run did.
func (p pendingFile) redo() (bool, error) {
	if p.swap != nil {
		done, err := p.swap.swapState()
		if err != nil || done {
			return false, err
		}
		return true, p.swap.exchange()
	}
	fi, err := os.Lstat(p.tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // renamed before the interruption
	}
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", p.tmp)
	}
	if err == nil {
		err = os.Rename(p.tmp, p.path)
	}
	return err == nil, err
}

// parseJournal decodes and checks a journal, returning its renames as
// paths under root.
func parseJournal(root, path string, data []byte) ([]pendingFile, error) {
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s: not a libvirt-pki journal: %v", path, err)
	}
	if j.Version != 1 && j.Version != 2 {
		return nil, fmt.Errorf("%s: journal version %d, want 1 or 2", path, j.Version)
	}
	var out []pendingFile
	for _, r := range j.Renames {
		target := filepath.Join(root, filepath.FromSlash(r.Path))
		tmp := filepath.Join(root, filepath.FromSlash(r.Tmp))
		isName := isTempName
		if r.Swap {
			isName = isStageName
		}
		base, ok := isName(filepath.Base(tmp))
		if filepath.IsAbs(r.Path) || filepath.IsAbs(r.Tmp) || !ok ||
			filepath.Dir(tmp) != filepath.Dir(target) || base != filepath.Base(target) {
			return nil, fmt.Errorf("%s: bad entry %q -> %q", path, r.Tmp, r.Path)
		}
		if err := CheckNoSymlinks(root, target); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p := pendingFile{tmp: tmp, path: target}
		if r.Swap {
			p.swap = &dirSwap{dir: target, stage: tmp, newKey: fileKey{r.Dev, r.New}}
			if r.Old != 0 {
				p.swap.oldKey = fileKey{r.Dev, r.Old}
			}
		}
		out = append(out, p)
	}
	return out, nil
}
