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

// ErrLocked matches (errors.Is) every error saying another process holds
// a lock.
var ErrLocked = errors.New("locked by another process")

// LockOptions says how Lock waits for a lock another process holds.
type LockOptions struct {
	// NoWait fails at once with a *LockHeldError instead of waiting.
	NoWait bool
	// Waiting, if set, is called once, when the lock turns out to be
	// held, with "waiting for the lock on <dir>, held by pid N (...)".
	Waiting func(msg string)
	// Poll is how often a waiting Lock retries; 100 ms if zero.
	Poll time.Duration
}

// Holder describes the process holding a lock, as /proc/locks and
// /proc/PID/cmdline name it. PID is 0 when they do not say (the holder
// just let go, or lives in another pid namespace).
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
	Path   string // the locked directory
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

// Path is the locked directory.
func (l *Locked) Path() string { return l.path }

// Unlock releases the lock.
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

// fileKey identifies a file by device and inode.
type fileKey struct{ dev, ino uint64 }

// heldHere records the directories this process holds locked. flock(2)
// locks taken through two opens conflict even within one process, so
// locking a directory twice would wait for ourselves forever.
var heldHere = struct {
	sync.Mutex
	m map[fileKey]bool
}{m: map[fileKey]bool{}}

// Lock takes an exclusive lock on dir, an existing directory: flock(2) on
// the directory's own descriptor, so locking creates and changes nothing
// on disk (a run refused for bad input leaves the file system exactly as
// it was, and a tree's parent never gets a lock file). If another process
// holds it, Lock retries every opts.Poll until it gets the lock or ctx
// ends, telling opts.Waiting once; with opts.NoWait it fails at once with
// a *LockHeldError naming the holder's pid, which /proc/locks gives.
//
// The kernel releases the lock when the holder's last descriptor closes,
// which includes the holder dying in any way (even SIGKILL). So a dead
// holder never leaves a stale lock; the next run just takes it. A
// directory replaced whole (Batch.WriteFileIn) would take its lock with it,
// which is why a Batch never swaps its Root.
func Lock(ctx context.Context, dir string, opts LockOptions) (*Locked, error) {
	for {
		l, err := openLockDir(dir)
		if err != nil {
			return nil, err
		}
		if err := waitFlock(ctx, l.f, dir, unix.LOCK_EX, opts); err != nil {
			l.f.Close()
			return nil, err
		}
		// The directory may have been replaced while we waited (renamed
		// away, or removed and made again): then our lock guards nothing,
		// so start again.
		if fi, err := os.Stat(dir); err != nil || keyOf(fi) != l.key {
			l.f.Close()
			continue
		}
		heldHere.Lock()
		heldHere.m[l.key] = true
		heldHere.Unlock()
		return l, nil
	}
}

// openLockDir opens a directory to lock, refusing one this process
// already holds.
func openLockDir(dir string) (*Locked, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("%s: is not a directory", dir)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
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
		return nil, fmt.Errorf("%s: already locked by this process", dir)
	}
	return &Locked{f: f, path: dir, key: key}, nil
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
		held := &LockHeldError{path, lockHolder(f)}
		if opts.NoWait {
			return held
		}
		if !told && opts.Waiting != nil {
			opts.Waiting(fmt.Sprintf("waiting for the lock on %s, held by %s", path, held.Holder))
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

// lockHolder finds the process holding a flock on f's file in
// /proc/locks (its lines read "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INO 0
// EOF", the device in hex) and its command line.
func lockHolder(f *os.File) Holder {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Holder{}
	}
	data, err := ReadFile("/proc/locks", 16<<20)
	if err != nil {
		return Holder{}
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		return Holder{PID: pid, Command: commandLine(pid)}
	}
	return Holder{}
}

// commandLine is process pid's command line on one line (the project
// never puts secrets in argv), "" when it cannot be read.
func commandLine(pid int) string {
	data, err := ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid), 64<<10)
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	for i, a := range args {
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

// LockTree locks the tree at root, which need not exist yet: it locks root
// if root is a directory, else root's nearest existing ancestor (the run
// will create root inside it). Either way nothing is written there: the
// lock is on the directory itself (see Lock).
//
// Locking an ancestor opens a race that LockTree closes: run A, finding
// root missing, locks root's parent and creates root; run B, starting
// later, finds root and would lock root itself, a different directory,
// while A is still writing. So after taking its own lock, LockTree also
// waits for any holder of a lock on a strict ancestor of the directory it
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

// waitAncestors waits until no process holds a lock on any strict
// ancestor of dir, skipping those this process holds.
func waitAncestors(ctx context.Context, dir string, opts LockOptions) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if err := waitShared(ctx, d, opts); err != nil {
			return err
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// waitShared takes and drops a shared lock on a directory.
func waitShared(ctx context.Context, dir string, opts LockOptions) error {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		// Unreadable: not a directory anyone of ours could lock against us.
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	heldHere.Lock()
	mine := heldHere.m[keyOf(fi)]
	heldHere.Unlock()
	if mine {
		return nil
	}
	return waitFlock(ctx, f, dir, unix.LOCK_SH, opts)
}
