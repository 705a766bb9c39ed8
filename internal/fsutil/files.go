package fsutil

import (
	"errors"
	"io/fs"
	"os"

	"github.com/libvirt-pki/libvirt-pki/internal/memo"
)

// Files reads the files of one run: each file is read, and each name
// stat'ed, at most once, and every later ask gets what the first found.
// A command that judges one tree several ways (report runs verify,
// audit, lint and its own facts over it) shares one Files, so a tree of
// 40,000 files costs 40,000 reads, not four times that.
//
// It is a snapshot: a file changed during the run is seen as first read.
// Its methods behave as the package functions of the same names; a nil
// *Files reads from disk every time. The bytes returned are shared, and
// callers must not modify them.
type Files struct {
	lstat   memo.Map[string, statResult]
	stat    memo.Map[string, statResult] // symlinks only: Stat of anything else is its Lstat
	reads   memo.Map[readKey, readResult]
	derived memo.Map[derivedKey, any]
}

type statResult struct {
	fi  fs.FileInfo
	err error
}

type readKey struct {
	path   string
	limit  int64
	follow bool
}

type readResult struct {
	data []byte
	err  error
}

type derivedKey struct{ path, what string }

// NewFiles returns an empty Files for one run.
func NewFiles() *Files { return &Files{} }

// Lstat is os.Lstat, once per name.
func (f *Files) Lstat(path string) (fs.FileInfo, error) {
	if f == nil {
		return os.Lstat(path)
	}
	r := f.lstat.Get(path, func() statResult {
		fi, err := os.Lstat(path)
		return statResult{fi, err}
	})
	return r.fi, r.err
}

// Stat is os.Stat, once per name. Only a symlink's answer differs from
// Lstat's (a name that cannot be lstat'ed cannot be stat'ed either, for
// the same reason), so only a symlink costs a second call.
func (f *Files) Stat(path string) (fs.FileInfo, error) {
	if f == nil {
		return os.Stat(path)
	}
	fi, err := f.Lstat(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, &fs.PathError{Op: "stat", Path: pe.Path, Err: pe.Err}
	}
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return fi, err
	}
	r := f.stat.Get(path, func() statResult {
		fi, err := os.Stat(path)
		return statResult{fi, err}
	})
	return r.fi, r.err
}

// ReadFile is the package's ReadFile, once per name and limit.
func (f *Files) ReadFile(path string, limit int64) ([]byte, error) {
	if f == nil {
		return ReadFile(path, limit)
	}
	r := f.reads.Get(readKey{path, limit, false}, func() readResult {
		fi, err := f.Lstat(path)
		data, err := readStated(path, limit, false, fi, err)
		return readResult{data, err}
	})
	return r.data, r.err
}

// ReadFileFollow is the package's ReadFileFollow, once per name and
// limit. A name that is not a symlink reads as ReadFile does, and shares
// its read.
func (f *Files) ReadFileFollow(path string, limit int64) ([]byte, error) {
	if f == nil {
		return ReadFileFollow(path, limit)
	}
	if fi, err := f.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return f.ReadFile(path, limit)
	}
	r := f.reads.Get(readKey{path, limit, true}, func() readResult {
		fi, err := f.Stat(path)
		data, err := readStated(path, limit, true, fi, err)
		return readResult{data, err}
	})
	return r.data, r.err
}

// Derive returns what compute makes of the file at path (what names the
// making: "x509" for its parsed certificates), computed once per run.
// compute must depend only on the file as this Files reads it. A nil
// *Files computes it every time.
func Derive[T any](f *Files, path, what string, compute func() T) T {
	if f == nil {
		return compute()
	}
	return f.derived.Get(derivedKey{path, what}, func() any { return compute() }).(T)
}
