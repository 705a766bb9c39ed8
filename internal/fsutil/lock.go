package fsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LockFileName is the lock file Lock creates in the directory it locks.
const LockFileName = ".libvirt-pki.lock"

// ErrLocked matches (errors.Is) every error saying another process holds
// a lock.
var ErrLocked = errors.New("locked by another process")

// LockOptions says how Lock waits for a lock another process holds.
type LockOptions struct {
	// NoWait fails at once with a *LockHeldError instead of waiting.
	NoWait bool
	// Waiting, if set, is called once, when the lock turns out to be
	// held, with "waiting for <lock file>, held by pid N (...)".
	Waiting func(msg string)
	// Poll is how often a waiting Lock retries; 100 ms if zero.
	Poll time.Duration
}

// Holder describes the process holding a lock, as it recorded itself in
// the lock file. PID is 0 when the file does not say (yet).
type Holder struct {
	PID     int
	Since   time.Time
	Command string
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another process"
	}
	s := "pid " + strconv.Itoa(h.PID)
	var more []string
	if h.Command != "" {
		more = append(more, h.Command)
	}
	if !h.Since.IsZero() {
		more = append(more, "since "+h.Since.Format(time.RFC3339))
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, ", ") + ")"
	}
	return s
}

// LockHeldError says a lock is held by another process.
type LockHeldError struct {
	Path   string // the lock file
	Holder Holder
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("%s: locked by %s", e.Path, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockHeldError) Is(target error) bool { return target == ErrLocked }

// Locked is a held lock.
type Locked struct {
	f    *os.File
	path string
	key  fileKey
}

// Path is the lock file.
func (l *Locked) Path() string { return l.path }

// Unlock releases the lock. The lock file stays: removing it would let a
// process that opened it just before take a lock on an unlinked file while
// a third process locks a new one.
func (l *Locked) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	heldHere.Lock()
	delete(heldHere.m, l.key)
	heldHere.Unlock()
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// fileKey identifies a lock file by device and inode.
type fileKey struct{ dev, ino uint64 }

// heldHere records the lock files this process holds. flock(2) locks taken
// through two opens conflict even within one process, so locking a file
// twice would wait for ourselves forever.
var heldHere = struct {
	sync.Mutex
	m map[fileKey]bool
}{m: map[fileKey]bool{}}

// Lock takes an exclusive lock on dir (an existing directory) through the
// lock file dir/.libvirt-pki.lock, created 0600 if missing. If another
// process holds it, Lock retries every opts.Poll until it gets the lock or
// ctx ends, telling opts.Waiting once; with opts.NoWait it fails at once
// with a *LockHeldError naming the holder's pid.
//
// The lock is flock(2): the kernel releases it when the holder's last
// descriptor closes, which includes the holder dying in any way (even
// SIGKILL). So a dead holder never leaves a stale lock; the next run just
// takes it, and the pid left in the file is overwritten.
func Lock(ctx context.Context, dir string, opts LockOptions) (*Locked, error) {
	path := filepath.Join(dir, LockFileName)
	for {
		l, err := openLockFile(path)
		if err != nil {
			return nil, err
		}
		if err := waitFlock(ctx, l.f, path, unix.LOCK_EX, opts); err != nil {
			l.f.Close()
			return nil, err
		}
		// The file may have been replaced while we waited (someone removed
		// it by hand): then our lock guards nothing, so start again.
		if fi, err := os.Lstat(path); err != nil || keyOf(fi) != l.key {
			l.f.Close()
			continue
		}
		heldHere.Lock()
		heldHere.m[l.key] = true
		heldHere.Unlock()
		l.writeHolder()
		return l, nil
	}
}

// openLockFile opens (creating) a lock file, refusing a symlink or a
// non-regular file and a file this process already holds.
func openLockFile(path string) (*Locked, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, &BadFileError{path, "is a symlink", ErrSymlink}
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &BadFileError{path, "not a regular file (" + fileKind(fi.Mode()) + ")", ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	key := keyOf(fi)
	heldHere.Lock()
	held := heldHere.m[key]
	heldHere.Unlock()
	if held {
		f.Close()
		return nil, fmt.Errorf("%s: already locked by this process", path)
	}
	return &Locked{f: f, path: path, key: key}, nil
}

func keyOf(fi fs.FileInfo) fileKey {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}
	}
	return fileKey{st.Dev, st.Ino}
}

// waitFlock takes flock(how) on f, polling with LOCK_NB as opts says.
func waitFlock(ctx context.Context, f *os.File, path string, how int, opts LockOptions) error {
	poll := opts.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	told := false
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			return fmt.Errorf("%s: %w", path, err)
		}
		held := &LockHeldError{path, readHolder(path)}
		if opts.NoWait {
			return held
		}
		if !told && opts.Waiting != nil {
			opts.Waiting(fmt.Sprintf("waiting for %s, held by %s", path, held.Holder))
			told = true
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w; gave up waiting: %w", held, ctx.Err())
		case <-t.C:
		}
	}
}

// writeHolder records this process in the lock file for whoever waits.
// It writes over the old record and then truncates, so a reader never
// finds the file empty; readHolder takes the first of each field.
func (l *Locked) writeHolder() {
	rec := fmt.Sprintf("pid %d\nsince %s\ncommand %s\n",
		os.Getpid(), time.Now().UTC().Format(time.RFC3339), commandLine())
	if _, err := l.f.WriteAt([]byte(rec), 0); err == nil {
		l.f.Truncate(int64(len(rec)))
	}
}

// commandLine is this process's command line on one line, for the lock
// record. The project never puts secrets in argv.
func commandLine() string {
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		if i == 0 {
			a = filepath.Base(a)
		}
		args[i] = strings.Map(func(r rune) rune {
			if r < ' ' {
				return ' '
			}
			return r
		}, a)
	}
	s := strings.Join(args, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// readHolder reads the record a holder left in a lock file. A record it
// cannot read gives Holder{}: the message then says "another process".
func readHolder(path string) Holder {
	data, err := ReadFile(path, 4096)
	if err != nil {
		return Holder{}
	}
	var h Holder
	for _, line := range strings.Split(string(data), "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch {
		case key == "pid" && h.PID == 0:
			h.PID, _ = strconv.Atoi(val)
		case key == "since" && h.Since.IsZero():
			h.Since, _ = time.Parse(time.RFC3339, val)
		case key == "command" && h.Command == "":
			h.Command = val
		}
	}
	return h
}

// LockTree locks the tree at root, which need not exist yet: it locks root
// if root is a directory, else root's nearest existing ancestor (the run
// will create root inside it).
//
// Locking an ancestor opens a race that LockTree closes: run A, finding
// root missing, locks root's parent and creates root; run B, starting
// later, finds root and would lock root itself, a different file, while A
// is still writing. So after taking its own lock, LockTree also waits for
// any holder of a lock file in a strict ancestor of the directory it
// locked (taking and dropping a shared lock on each), and if root or a
// directory between has appeared meanwhile, it moves its lock down to it.
// Only runs that began before that directory existed can hold an ancestor,
// so the wait ends; a run holding an unrelated tree's ancestor lock (its
// root missing too) may make this run wait briefly. Waits only ever go from
// a deeper lock to a shallower one, so two runs cannot deadlock.
func LockTree(ctx context.Context, root string, opts LockOptions) (*Locked, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for {
		dir, err := nearestDir(abs)
		if err != nil {
			return nil, err
		}
		l, err := Lock(ctx, dir, opts)
		if err != nil {
			return nil, err
		}
		if err := waitAncestors(ctx, dir, opts); err != nil {
			l.Unlock()
			return nil, err
		}
		if now, err := nearestDir(abs); err != nil || now == dir {
			return l, err
		}
		l.Unlock()
	}
}

// nearestDir returns path if it is a directory, else its nearest existing
// ancestor, which must be a directory.
func nearestDir(path string) (string, error) {
	for {
		fi, err := os.Stat(path)
		switch {
		case err == nil && fi.IsDir():
			return path, nil
		case err == nil:
			return "", fmt.Errorf("%s: is not a directory", path)
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(path)
		if parent == path {
			return "", err
		}
		path = parent
	}
}

// waitAncestors waits until no process holds the lock file of any strict
// ancestor of dir, skipping those this process holds and those that do not
// exist (nobody ever locked there).
func waitAncestors(ctx context.Context, dir string, opts LockOptions) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if err := waitShared(ctx, filepath.Join(d, LockFileName), opts); err != nil {
			return err
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// waitShared takes and drops a shared lock on an existing lock file.
func waitShared(ctx context.Context, path string, opts LockOptions) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		// Missing, unreadable or a symlink: not a lock file anyone of ours
		// could hold against us.
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	heldHere.Lock()
	mine := heldHere.m[keyOf(fi)]
	heldHere.Unlock()
	if mine {
		return nil
	}
	return waitFlock(ctx, f, path, unix.LOCK_SH, opts)
}
