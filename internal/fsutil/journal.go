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
// use "/" (the tool runs on Linux only).
type journal struct {
	Version int              `json:"version"`
	Renames []journalRenames `json:"renames"`
}

type journalRenames struct {
	Tmp  string `json:"tmp"`
	Path string `json:"path"`
}

// writeJournal makes the journal of pending renames durable in root and
// returns its path. The staged files must already be durable: the journal
// promises Recover that every temporary file it lists is complete. It is
// published with link(2), which fails if a journal is already there: that
// is an earlier run's unfinished unit, which Recover must complete first,
// not something to overwrite.
func writeJournal(root string, pending []pendingFile) (string, error) {
	path := filepath.Join(root, JournalFileName)
	j := journal{Version: 1}
	for _, p := range pending {
		tmp, err := relBelow(root, p.tmp)
		if err != nil {
			return "", err
		}
		target, err := relBelow(root, p.path)
		if err != nil {
			return "", err
		}
		j.Renames = append(j.Renames, journalRenames{filepath.ToSlash(tmp), filepath.ToSlash(target)})
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
	if err := SyncDir(root); err != nil {
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
// root holds a journal, every rename it lists whose temporary file still
// exists is done, in order, made durable, and the journal removed. It
// returns the targets it completed (none if there was no journal). Call it
// at the start of every run that writes under root, holding the tree's
// lock, before SweepTemp (which would otherwise see the journal and refuse).
//
// A journal is checked before anything is renamed: every entry must name
// a target below root with no symlink on the way, and a temporary file
// beside it named as Batch names them, so a planted journal cannot move
// arbitrary files.
func Recover(root string) ([]string, error) {
	path := filepath.Join(root, JournalFileName)
	data, err := ReadFileIfExists(path, limitJournal)
	if err != nil || data == nil {
		return nil, err
	}
	renames, err := parseJournal(root, path, data)
	if err != nil {
		return nil, err
	}
	var done []string
	dirs := make([]string, len(renames))
	for i, r := range renames {
		dirs[i] = filepath.Dir(r.path)
		fi, err := os.Lstat(r.tmp)
		if errors.Is(err, fs.ErrNotExist) {
			continue // renamed before the interruption
		}
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s: not a regular file", r.tmp)
		}
		if err == nil {
			err = os.Rename(r.tmp, r.path)
		}
		if err != nil {
			return done, fmt.Errorf("%s: completing an interrupted write: %w", path, err)
		}
		done = append(done, r.path)
	}
	// Sync even when nothing was left to rename: the interrupted run may
	// have renamed everything without making it durable.
	if err := syncFilesystems(dirs); err != nil {
		return done, err
	}
	return done, removeJournal(path)
}

// parseJournal decodes and checks a journal, returning its renames as
// paths under root.
func parseJournal(root, path string, data []byte) ([]pendingFile, error) {
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s: not a libvirt-pki journal: %v", path, err)
	}
	if j.Version != 1 {
		return nil, fmt.Errorf("%s: journal version %d, want 1", path, j.Version)
	}
	var out []pendingFile
	for _, r := range j.Renames {
		target := filepath.Join(root, filepath.FromSlash(r.Path))
		tmp := filepath.Join(root, filepath.FromSlash(r.Tmp))
		base, ok := isTempName(filepath.Base(tmp))
		if filepath.IsAbs(r.Path) || filepath.IsAbs(r.Tmp) || !ok ||
			filepath.Dir(tmp) != filepath.Dir(target) || base != filepath.Base(target) {
			return nil, fmt.Errorf("%s: bad entry %q -> %q", path, r.Tmp, r.Path)
		}
		if err := CheckNoSymlinks(root, target); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, pendingFile{tmp, target})
	}
	return out, nil
}
