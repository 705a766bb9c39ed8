package fsutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	holder := startChild(t, "lock", []string{"FSUTIL_DIR=" + dir}, "locked")
	path := dir

	_, err := Lock(context.Background(), dir, LockOptions{NoWait: true})
	var held *LockHeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrLocked) || held.Holder.PID != holder.pid() {
		t.Fatalf("NoWait Lock: %v, want a LockHeldError naming pid %d", err, holder.pid())
	}
	if want := path + ": locked by pid " + strconv.Itoa(holder.pid()); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q does not start with %q", err, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = Lock(ctx, dir, LockOptions{Poll: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock past its deadline: %v", err)
	}

	// Wait, and kill the holder with SIGKILL once we are told we wait: the
	// kernel drops a dead process's flock, so the wait must end in the lock.
	var told []string
	l, err := Lock(context.Background(), dir, LockOptions{
		Poll: 10 * time.Millisecond,
		Waiting: func(msg string) {
			told = append(told, msg)
			holder.kill()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	want := "waiting for the lock on " + path + ", held by pid " + strconv.Itoa(holder.pid())
	if len(told) != 1 || !strings.HasPrefix(told[0], want) || !strings.Contains(told[0], "("+filepath.Base(os.Args[0])) {
		t.Fatalf("Waiting told %q, want once %q and the holder's command line", told, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("locking wrote into the directory: %v", entries)
	}
}

func TestLockSameProcessAndUnlock(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(context.Background(), dir, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != dir {
		t.Fatalf("Path %q", l.Path())
	}
	// A second lock from this process would wait for itself forever.
	if _, err := Lock(context.Background(), dir, LockOptions{}); err == nil || !strings.Contains(err.Error(), "already locked by this process") {
		t.Fatalf("second Lock in one process: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(context.Background(), dir, LockOptions{NoWait: true})
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	l2.Unlock()
}

// Locking writes nothing: not in the directory, not in its parent, and
// the directory's modification time stays.
func TestLockWritesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tree")
	os.Mkdir(dir, 0o755)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(dir, old, old)
	os.Chtimes(parent, old, old)
	for _, root := range []string{dir, filepath.Join(dir, "missing", "x")} {
		l, err := LockTree(context.Background(), root, LockOptions{NoWait: true})
		if err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	for _, d := range []string{parent, dir} {
		fi, _ := os.Stat(d)
		entries, _ := os.ReadDir(d)
		if !fi.ModTime().Equal(old) || (d == dir && len(entries) != 0) || (d == parent && len(entries) != 1) {
			t.Fatalf("%s changed: mtime %v, entries %v", d, fi.ModTime(), entries)
		}
	}
}

func TestLockTreeMissingRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "a", "b")
	l, err := LockTree(context.Background(), root, LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != parent {
		t.Fatalf("locked %s, want the nearest existing ancestor %s", l.Path(), parent)
	}
	// Creating root under our own ancestor lock, then locking the tree
	// again, must not wait for ourselves.
	os.MkdirAll(root, 0o755)
	l2, err := LockTree(context.Background(), root, LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Path() != root {
		t.Fatalf("locked %s, want root's lock", l2.Path())
	}
	l2.Unlock()
	l.Unlock()

	os.WriteFile(filepath.Join(parent, "file"), nil, 0o600)
	if _, err := LockTree(context.Background(), filepath.Join(parent, "file", "x"), LockOptions{}); err == nil {
		t.Fatal("LockTree accepted a root below a regular file")
	}
}

// A run that locked root's parent because root was missing, and created
// root since, is still writing into root: a later run finding root must
// wait for it, not just take root's own (free) lock.
func TestLockTreeWaitsForAncestorHolder(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "kolla")
	holder := startChild(t, "lock", []string{"FSUTIL_DIR=" + root, "FSUTIL_TREE=1"}, "locked")
	os.Mkdir(root, 0o755) // as the holder's run would

	_, err := LockTree(context.Background(), root, LockOptions{NoWait: true})
	var held *LockHeldError
	if !errors.As(err, &held) || held.Path != parent || held.Holder.PID != holder.pid() {
		t.Fatalf("LockTree beside an ancestor holder: %v", err)
	}
	l, err := LockTree(context.Background(), root, LockOptions{
		Poll:    10 * time.Millisecond,
		Waiting: func(string) { holder.kill() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if l.Path() != root {
		t.Fatalf("locked %s, want root's lock", l.Path())
	}
}

// A run waiting on the ancestor's lock while root gets created moves its
// lock down to root once it gets the ancestor's.
func TestLockTreeMovesDown(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "kolla")
	holder := startChild(t, "lock", []string{"FSUTIL_DIR=" + root, "FSUTIL_TREE=1"}, "locked")
	l, err := LockTree(context.Background(), root, LockOptions{
		Poll: 10 * time.Millisecond,
		Waiting: func(string) {
			os.Mkdir(root, 0o755)
			holder.kill()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if l.Path() != root {
		t.Fatalf("locked %s, want root's lock", l.Path())
	}
}

// BenchmarkLockTree is one run's locking: the tree's directory, then a
// shared lock on each ancestor.
func BenchmarkLockTree(b *testing.B) {
	root := b.TempDir()
	for i := 0; i < b.N; i++ {
		l, err := LockTree(context.Background(), root, LockOptions{NoWait: true})
		if err != nil {
			b.Fatal(err)
		}
		l.Unlock()
	}
}
