package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Size limits for the files libvirt-pki reads. Each is far above what a
// real file of its kind holds, and low enough that a wrong path (a disk
// image, a log) is refused instead of read into memory.
const (
	// LimitCert bounds a certificate, a chain or a CA bundle. Debian's
	// whole ca-certificates.crt (about 150 CAs) is about 220 KiB.
	LimitCert = 1 << 20
	// LimitKey bounds a private key or a one-line password file. An RSA
	// 16384-bit key in PEM is about 12 KiB.
	LimitKey = 64 << 10
	// LimitCRL bounds a CRL. Ours list a few revoked leaves, but a CRL
	// from a large public or corporate CA can run to megabytes.
	LimitCRL = 16 << 20
	// LimitConfig bounds YAML and JSON configuration: an Ansible
	// inventory, group_vars/host_vars, globals.yml, passwords.yml
	// (Kolla's is about 20 KiB), revoked.json and auth.conf. An
	// inventory of thousands of hosts stays well under 1 MiB.
	LimitConfig = 4 << 20
	// LimitSASLDB bounds a Cyrus sasldb (Berkeley DB hash or GDBM file).
	// One user takes a few hundred bytes plus page overhead; 64 MiB holds
	// far more users than libvirt deployments have.
	LimitSASLDB = 64 << 20
)

// Kinds of bad file, for errors.Is on a ReadFile error. A missing file is
// not one of them: it matches fs.ErrNotExist.
var (
	ErrSymlink    = errors.New("is a symlink")
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// BadFileError says a file exists but is not one ReadFile reads. Its
// message is one line naming the file and the problem; errors.Is matches
// its Kind (ErrSymlink, ErrNotRegular or ErrTooLarge).
type BadFileError struct {
	Path   string
	Reason string // e.g. "not a regular file (a FIFO)"
	Kind   error
}

func (e *BadFileError) Error() string { return e.Path + ": " + e.Reason }
func (e *BadFileError) Unwrap() error { return e.Kind }

// ReadFile reads the regular file at path, refusing a symlink (as the last
// component of path; directories on the way may be links), anything
// that is not a regular file (a FIFO, a device such as /dev/zero, a socket,
// a directory) and a file larger than limit bytes. It never blocks on a
// FIFO (the open is O_NONBLOCK) and never reads more than limit+1 bytes.
// A missing file gives an error matching fs.ErrNotExist; a bad one a
// *BadFileError.
func ReadFile(path string, limit int64) ([]byte, error) {
	return readFile(path, limit, false)
}

// ReadFileFollow is ReadFile for a file the user named explicitly (such as
// --ca-cert): a symlink is followed, since system CA bundles are often
// links, but the target must still be a regular file within limit.
func ReadFileFollow(path string, limit int64) ([]byte, error) {
	return readFile(path, limit, true)
}

// ReadFileIfExists is ReadFile that returns (nil, nil) for a missing file.
func ReadFileIfExists(path string, limit int64) ([]byte, error) {
	data, err := ReadFile(path, limit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func readFile(path string, limit int64, follow bool) ([]byte, error) {
	// Check the name first so a device or FIFO is not even opened (opening
	// some devices has side effects); the fstat below is what decides.
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(path)
	return readStated(path, limit, follow, fi, err)
}

// readStated is readFile once path has been stat'ed (lstat'ed unless
// follow) with the result fi, err.
func readStated(path string, limit int64, follow bool, fi fs.FileInfo, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	flags := os.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if errors.Is(err, unix.ELOOP) && !follow {
		return nil, &BadFileError{path, "is a symlink", ErrSymlink}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := readAtMost(f, limit+1, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// readAtMost reads r to its end or to most bytes, whichever comes first,
// into a buffer sized from the expected size so a file is usually read
// with one allocation.
func readAtMost(r io.Reader, most, size int64) ([]byte, error) {
	r = io.LimitReader(r, most)
	data := make([]byte, 0, min(size+1, most))
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// checkRegular refuses a file that is not a regular file of at most limit
// bytes (by its current size; the read checks again as it goes).
func checkRegular(path string, fi fs.FileInfo, limit int64) error {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return &BadFileError{path, "is a symlink", ErrSymlink}
	case !m.IsRegular():
		return &BadFileError{path, "not a regular file (" + fileKind(m) + ")", ErrNotRegular}
	case fi.Size() > limit:
		return tooLarge(path, limit)
	}
	return nil
}

func tooLarge(path string, limit int64) error {
	return &BadFileError{path, fmt.Sprintf("larger than %d bytes", limit), ErrTooLarge}
}

// fileKind names a non-regular file type for an error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "an irregular file"
}
