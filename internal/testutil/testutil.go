// Package testutil holds small helpers that tests of several packages
// share: hostile files (FIFOs, /dev/zero, sparse files, YAML alias bombs),
// a guard that turns a read blocked on a FIFO into a test failure, and a
// buffer safe to read while a process writes it. It is for tests only and
// imports nothing of the module, so any package's tests may use it.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NoHang runs fn, which must not block on any of the FIFOs given. Should
// it still run after a minute, a writer opens and closes each FIFO so
// that fn ends (reading nothing) and the test fails instead of hanging.
func NoHang(t testing.TB, fn func(), fifos ...string) {
	t.Helper()
	fired := make(chan struct{})
	guard := time.AfterFunc(time.Minute, func() {
		close(fired)
		// Each open waits for a reader: one FIFO's must not hold up another's.
		for _, fifo := range fifos {
			go func() {
				if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					f.Close()
				}
			}()
		}
	})
	fn()
	if !guard.Stop() {
		<-fired
		if len(fifos) == 1 {
			t.Fatalf("blocked reading the FIFO %s", fifos[0])
		}
		t.Fatalf("blocked reading one of the FIFOs %q", fifos)
	}
}

// Mkfifo puts a FIFO at path, in place of any file there.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// LinkDevZero puts a symlink to /dev/zero (a device that never ends) at
// path, in place of any file there.
func LinkDevZero(t testing.TB, path string) {
	t.Helper()
	os.Remove(path)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
}

// Sparse puts a sparse file of size bytes at path, in place of any file
// there: over a read limit without taking the disk space.
func Sparse(t testing.TB, path string, size int64) {
	t.Helper()
	os.Remove(path)
	err := os.WriteFile(path, nil, 0o644)
	if err == nil {
		err = os.Truncate(path, size)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// AliasBomb is a YAML "billion laughs": nine levels of ten aliases each
// expand to 10^9 values from a few hundred bytes. Each line starts with
// indent, to put the bomb under a key.
func AliasBomb(indent string) string {
	var b strings.Builder
	b.WriteString(indent + "l0: &l0 [" + strings.Repeat(`"lol",`, 9) + "\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "%sl%d: &l%d [%s*l%d]\n", indent, i, i, strings.Repeat(fmt.Sprintf("*l%d,", i-1), 9), i-1)
	}
	return b.String()
}

// SyncBuffer is a bytes.Buffer safe for a writer (a process's output)
// and a reader (the test) at once. The zero value is empty and ready.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
