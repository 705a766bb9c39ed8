// Package fsutil holds the file rules every libvirt-pki command follows, so
// that a run never leaves a torn certificate/key pair, never hangs on a
// strange file and never writes outside the tree it was given.
//
// Writes: files are written atomically (a temporary file beside the target,
// created 0600 with O_EXCL, written, chmod'ed, synced, then renamed over the
// target), so a crash or a concurrent reader never sees half a key, a
// certificate or a database. Temporary files are named ".NAME.tmp-DIGITS";
// SweepTemp removes those an earlier, killed run left behind.
//
// Units: a Batch with a Root replaces a whole set of files (a host's
// certificate and key, a CA directory, a whole PKI) as one unit. A rename
// is atomic only per file, so a kill between two renames would leave one
// new and one old file. Commit therefore writes a journal first: after every
// staged file is durable, it publishes <Root>/.libvirt-pki.journal listing
// each step, then carries the steps out, then removes the journal.
// Recover, run at the start of every run, completes the steps of a journal
// it finds (roll forward). Rolling forward is always possible because
// everything staged was durable before the journal existed, and a step's
// state is visible on disk (a staged file gone, a staged directory in
// place). So after Recover every target holds the complete old set or the
// complete new set.
//
// Pairs: the journal makes the batch whole only after a recovery; files
// that must agree at every instant (a certificate and its key, the CA's
// certificate and key, a SASL database and the auth.conf files holding its
// password) are written with WriteFileIn into a staged copy of the
// smallest directory holding them all (".NAME.swap-DIGITS" beside it, its
// other files hard-linked, its subdirectories copied with mode and owner),
// which Commit exchanges with the live directory in one
// renameat2(RENAME_EXCHANGE) and then removes. A reader, or a kill,
// sees the old directory or the new one, never a mix: right after a kill,
// before any recovery, every pair on disk is whole. Files shared between
// units (Kolla's nova-libvirt/cacert.pem beside every host's directory)
// are single files, replaced by a rename. A Batch's Root (which holds the
// journal and the lock) is never swapped, so a pair directly in a tree's
// root (a --ca-dir given as its own tree) is replaced file by file and is
// whole again only after Recover. The file system must support
// RENAME_EXCHANGE (ext4, xfs, btrfs, tmpfs do).
//
// API, for a tree (a journal in its root) or directories of a host (Root
// "/" and JournalDir a state directory, recovered with RecoverJournal):
//
//	b := fsutil.NewBatch(root)                     // or &fsutil.Batch{Root: "/", JournalDir: state}
//	err = b.WriteFileIn(dir, path, data, 0o600)    // path below dir: switches with all of dir
//	err = b.ChownIn(dir, path, 0, qemuGID)         // owner in the stage, before it appears
//	err = b.WriteFile(shared, data, 0o644)         // a single file, renamed on its own
//	err = b.Commit()                               // or b.Abort()
//
// Reads: ReadFile opens without following symlinks and without blocking,
// refuses anything but a regular file and never reads more than a limit,
// so a FIFO, /dev/zero or a huge file is refused at once.
//
// Concurrency: Lock and LockTree take an flock(2) lock on the tree's
// directory itself (its own descriptor; for a tree not made yet, its
// nearest existing ancestor), so two runs never interleave their writes;
// Recover, SweepTemp and Commit assume the caller holds it. Locking writes
// nothing anywhere: no lock file, so a tree's parent never gets one and a
// run refused for bad input leaves the file system exactly as it was. The
// holder a waiting run names comes from /proc/locks (its pid) and
// /proc/PID/cmdline. The choice over "validate all input before creating
// anything, then lock": a run must lock before it reads (another run may
// be rewriting what it reads), so the lock cannot wait for validation, and
// a directory lock costs one open(2) and one flock(2), nothing measurable
// beside a run's writes (TestLockWritesNothing, the CLI's
// TestRefusalWritesNothing). A run that writes under root therefore does:
//
//	l, err := fsutil.LockTree(ctx, root, fsutil.LockOptions{Waiting: say})
//	defer l.Unlock()
//	completed, err := fsutil.Recover(root)     // finish a killed run's unit
//	removed, err := fsutil.SweepTemp(root, 6)  // then drop its temporary files
//	b := fsutil.NewBatch(root)
//	err = b.WriteFileIn(dir, path, data, 0o600) // ... for every file of a pair
//	err = b.Commit()                            // or b.Abort() on any error
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WriteFileAtomic writes data to path with the given permission bits. The
// file is created as a temporary file beside path, written, chmod'ed, synced
// and then renamed over path, so readers see either the old or the new
// content. If path is a symlink, the write is refused: following it could
// let a hostile link redirect a private key.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: refusing to write through a symlink", path)
	}
	tmpName, err := writeTemp(path, data, perm, true)
	if err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// WriteFileUnder is WriteFileAtomic for a path inside root: it first
// refuses a path that leaves root or passes through a symlink below root
// (see CheckNoSymlinks).
func WriteFileUnder(root, path string, data []byte, perm fs.FileMode) error {
	if err := CheckNoSymlinks(root, path); err != nil {
		return err
	}
	return WriteFileAtomic(path, data, perm)
}

// writeTemp writes data to a new temporary file beside path and returns its
// name. os.CreateTemp opens with O_CREATE|O_EXCL and mode 0600, so the file
// is private from its first byte; it gets perm only once written.
func writeTemp(path string, data []byte, perm fs.FileMode, sync bool) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPattern(filepath.Base(path)))
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	err = func() error {
		if _, err := tmp.Write(data); err != nil {
			return err
		}
		if err := tmp.Chmod(perm); err != nil {
			return err
		}
		if sync {
			return tmp.Sync()
		}
		return nil
	}()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// tempPattern is the os.CreateTemp pattern for a temporary file beside a
// file named base: ".BASE.tmp-" followed by the decimal digits CreateTemp
// puts in place of the "*".
func tempPattern(base string) string { return "." + base + ".tmp-*" }

// isTempName says whether name is a temporary file name tempPattern makes,
// and for which target base name.
func isTempName(name string) (base string, ok bool) {
	i := strings.LastIndex(name, ".tmp-")
	if i < 2 || name[0] != '.' {
		return "", false
	}
	digits := name[i+len(".tmp-"):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", false
	}
	return name[1:i], true
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

// CheckNoSymlinks refuses a path that would make a write land outside root:
// a path with a ".." element, a path that is not below root, or a path of
// which some existing component below root is a symlink (or, before the
// last, not a directory). Components that do not exist yet are fine: they
// will be created as real directories and files. root itself may be a
// symlink: the user named it. The check is made with Lstat before the
// write, so it stops links that are already there, not a writer racing to
// plant one; the lock (Lock) keeps our own runs from racing each other.
func CheckNoSymlinks(root, path string) error {
	for _, elem := range strings.Split(path, string(filepath.Separator)) {
		if elem == ".." {
			return fmt.Errorf("%s: has a \"..\" element; refusing to write outside %s", path, root)
		}
	}
	rel, err := relBelow(root, path)
	if err != nil {
		return err
	}
	cur := filepath.Clean(root)
	elems := strings.Split(rel, string(filepath.Separator))
	for i, elem := range elems {
		cur = filepath.Join(cur, elem)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: is a symlink; refusing to write through it", cur)
		}
		if i < len(elems)-1 && !fi.IsDir() {
			return fmt.Errorf("%s: is not a directory", cur)
		}
	}
	return nil
}

// relBelow returns path relative to root, refusing a path that is root
// itself or not below it. Both are made absolute first, so a relative root
// and an absolute path (or the reverse) compare correctly.
func relBelow(root, path string) (string, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absRoot, absPath)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: is not below %s; refusing to write there", path, root)
	}
	return rel, nil
}
