package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// dirSwap is a directory a Batch replaces whole: a staged copy of it
// (".NAME.swap-DIGITS" beside it) receives the batch's files for it, and
// Commit exchanges the copy with the directory in one
// renameat2(RENAME_EXCHANGE), so the files in it switch together on disk.
// After the exchange the old directory sits at the stage name until it is
// removed.
type dirSwap struct {
	dir, stage string
	// mode is for the directories made that have no live counterpart.
	mode fs.FileMode
	// newKey identifies the staged copy; oldKey the directory it replaces
	// (zero when dir did not exist: then the copy is renamed into place).
	newKey, oldKey fileKey

	once sync.Once
	err  error
	mu   sync.Mutex      // guards made
	made map[string]bool // directories of the stage made or checked
}

// stagePattern is the os.MkdirTemp pattern of a stage beside a directory
// named base.
func stagePattern(base string) string { return "." + base + ".swap-*" }

// isStageName says whether name is a stage name stagePattern makes, and
// for which directory base name.
func isStageName(name string) (base string, ok bool) {
	i := strings.LastIndex(name, ".swap-")
	if i < 2 || name[0] != '.' {
		return "", false
	}
	digits := name[i+len(".swap-"):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", false
	}
	return name[1:i], true
}

// prepare makes the stage: an empty directory if dir does not exist, else
// a copy of dir in which every file is a hard link to dir's (so carrying
// a file over costs one link(2) and keeps its mode, owner and contents)
// and every subdirectory a new directory with the same mode and owner.
func (s *dirSwap) prepare() error {
	fi, err := os.Lstat(s.dir)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case err != nil && !missing:
		return err
	case !missing && !fi.IsDir():
		return fmt.Errorf("%s: is not a directory (a symlink or a file); refusing to replace it", s.dir)
	}
	parent := filepath.Dir(s.dir)
	if missing {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	stage, err := os.MkdirTemp(parent, stagePattern(filepath.Base(s.dir)))
	if err != nil {
		return err
	}
	s.stage = stage
	if missing {
		err = os.Chmod(stage, s.mode)
	} else {
		s.oldKey = keyOf(fi)
		err = copyDirLinked(s.dir, stage, fi)
	}
	if err == nil {
		var sfi fs.FileInfo
		if sfi, err = os.Lstat(stage); err == nil {
			s.newKey = keyOf(sfi)
		}
	}
	if err != nil {
		os.RemoveAll(stage)
		return fmt.Errorf("staging a copy of %s: %w", s.dir, err)
	}
	return nil
}

// copyDirLinked fills the new directory dst with src's entries (fi is
// src's): files hard-linked (copied where linking is refused),
// subdirectories recursed, then dst given src's mode and owner. Temporary
// files and stages a killed run left in src are not carried over.
func copyDirLinked(src, dst string, fi fs.FileInfo) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := isTempName(e.Name()); ok {
			continue
		}
		if _, ok := isStageName(e.Name()); ok && e.IsDir() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() {
			sub, err := os.Lstat(from)
			if err == nil {
				err = os.Mkdir(to, 0o700)
			}
			if err == nil {
				err = copyDirLinked(from, to, sub)
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := linkOrCopy(from, to); err != nil {
			return err
		}
	}
	return copyModeOwner(dst, fi)
}

// linkOrCopy hard-links from to to, without following a symlink; where
// the kernel refuses the link (fs.protected_hardlinks for a file of
// another user), a regular file is copied with its mode and owner.
func linkOrCopy(from, to string) error {
	err := unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, to, 0)
	if err == nil || !errors.Is(err, unix.EPERM) {
		return err
	}
	fi, lerr := os.Lstat(from)
	if lerr != nil || !fi.Mode().IsRegular() {
		return err
	}
	in, err := os.OpenFile(from, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = copyModeOwner(to, fi)
	}
	return err
}

// copyModeOwner gives path fi's permission bits and, when they differ
// from what creating it gave, fi's owner and group.
func copyModeOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok {
		var now unix.Stat_t
		if err := unix.Lstat(path, &now); err != nil {
			return err
		}
		if now.Uid != st.Uid || now.Gid != st.Gid {
			if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
	}
	return os.Chmod(path, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

// stagedPath is where path (below s.dir) lives in the stage, its parent
// directories made: with the mode and owner of the same directory in
// s.dir when that exists, else s.mode.
func (s *dirSwap) stagedPath(path string) (string, error) {
	rel, err := relBelow(s.dir, path)
	if err != nil {
		return "", err
	}
	relDir := filepath.Dir(rel)
	if relDir == "." {
		return filepath.Join(s.stage, rel), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.made[relDir] {
		return filepath.Join(s.stage, rel), nil
	}
	if s.made == nil {
		s.made = map[string]bool{}
	}
	live, staged := s.dir, s.stage
	for _, e := range strings.Split(relDir, string(filepath.Separator)) {
		live, staged = filepath.Join(live, e), filepath.Join(staged, e)
		fi, err := os.Lstat(staged)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: is not a directory", live)
			}
			continue
		}
		if err := os.Mkdir(staged, 0o700); err != nil {
			return "", err
		}
		if lfi, err := os.Lstat(live); err == nil && lfi.IsDir() {
			if err := copyModeOwner(staged, lfi); err != nil {
				return "", err
			}
		} else if err := os.Chmod(staged, s.mode); err != nil {
			return "", err
		}
	}
	s.made[relDir] = true
	return filepath.Join(s.stage, rel), nil
}

// writeStaged writes data to the file at staged (replacing the hard link
// the copy holds there, which leaves the live file untouched), created
// 0600 with O_EXCL so a key is private from its first byte, then given
// perm.
func writeStaged(staged string, data []byte, perm fs.FileMode) error {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	f, err := os.OpenFile(staged, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err = unix.Unlink(staged); err == nil {
			f, err = os.OpenFile(staged, flags, 0o600)
		}
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// exchange puts the stage in place of dir: renameat2(RENAME_EXCHANGE), or
// RENAME_NOREPLACE when dir did not exist when staged.
func (s *dirSwap) exchange() error {
	flags := uint(unix.RENAME_EXCHANGE)
	if s.oldKey == (fileKey{}) {
		flags = unix.RENAME_NOREPLACE
	}
	err := unix.Renameat2(unix.AT_FDCWD, s.stage, unix.AT_FDCWD, s.dir, flags)
	if err == unix.EEXIST && unix.Rmdir(s.dir) == nil {
		// Made empty since it was staged (a writer's mkdir): nothing to keep.
		err = unix.Renameat2(unix.AT_FDCWD, s.stage, unix.AT_FDCWD, s.dir, flags)
	}
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: s.stage, New: s.dir, Err: err}
	}
	return nil
}

// swapState says where an exchange stands, by the identity of what is at
// dir and at the stage name: done (the staged copy is at dir), pending
// (it is still at the stage name) or an error when it is at neither.
func (s *dirSwap) swapState() (done bool, err error) {
	if fi, err := os.Lstat(s.dir); err == nil && fi.IsDir() && keyOf(fi) == s.newKey {
		return true, nil
	}
	if fi, err := os.Lstat(s.stage); err == nil && fi.IsDir() && keyOf(fi) == s.newKey {
		return false, nil
	}
	return false, fmt.Errorf("%s: neither it nor %s is the staged copy the journal names", s.dir, s.stage)
}
