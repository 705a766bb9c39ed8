// Package fsutil holds the file-writing rules every libvirt-pki command follows:
// files are written atomically (temp file in the same directory, fsync, rename,
// fsync of the directory) so a crash or a concurrent reader never sees half a
// key, a certificate or a database.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path with the given permission bits. The
// file is created as a temporary file beside path, synced, chmod'ed and then
// renamed over path, so readers see either the old or the new content.
// If path is a symlink, the write is refused: following it could let a
// hostile link redirect a private key.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: refusing to write through a symlink", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// Chmod before writing so a secret is never readable by others, not
	// even for the moment between write and chmod.
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so a rename into it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

// MkdirAll creates dir and its parents with perm, and refuses a path whose
// final element exists as a symlink or a non-directory, so output never
// lands somewhere the user did not name.
func MkdirAll(dir string, perm fs.FileMode) error {
	if fi, err := os.Lstat(dir); err == nil {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: is a symlink; refusing to write into it", dir)
		case !fi.IsDir():
			return fmt.Errorf("%s: exists and is not a directory", dir)
		}
		return nil
	}
	return os.MkdirAll(dir, perm)
}
