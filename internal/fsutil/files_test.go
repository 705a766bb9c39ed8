package fsutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// Files answers as the package functions do, for every kind of name: the
// same bytes, the same error text, the same file info.
func TestFilesAnswersAsThePackageFunctions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cert.pem")
	os.WriteFile(file, []byte("0123456789"), 0o640)
	os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("x"), 11), 0o644)
	os.Symlink(file, filepath.Join(dir, "link"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling"))
	testutil.Mkfifo(t, filepath.Join(dir, "fifo"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	names := []string{"cert.pem", "big", "link", "dangling", "fifo", "sub", "missing", "cert.pem/under-a-file"}
	errText := func(err error) string { return fmt.Sprint(err) }
	for _, files := range []*Files{nil, NewFiles()} {
		for _, name := range names {
			p := filepath.Join(dir, name)
			for range 2 { // the second ask comes from memory
				got, gotErr := files.ReadFile(p, 10)
				want, wantErr := ReadFile(p, 10)
				if !bytes.Equal(got, want) || errText(gotErr) != errText(wantErr) {
					t.Errorf("ReadFile(%s): %q, %v; want %q, %v", name, got, gotErr, want, wantErr)
				}
				got, gotErr = files.ReadFileFollow(p, 10)
				want, wantErr = ReadFileFollow(p, 10)
				if !bytes.Equal(got, want) || errText(gotErr) != errText(wantErr) {
					t.Errorf("ReadFileFollow(%s): %q, %v; want %q, %v", name, got, gotErr, want, wantErr)
				}
				gotFI, gotErr := files.Lstat(p)
				wantFI, wantErr := os.Lstat(p)
				if errText(gotErr) != errText(wantErr) || (wantErr == nil && (gotFI.Mode() != wantFI.Mode() || gotFI.Size() != wantFI.Size())) {
					t.Errorf("Lstat(%s): %v, %v; want %v, %v", name, gotFI, gotErr, wantFI, wantErr)
				}
				gotFI, gotErr = files.Stat(p)
				wantFI, wantErr = os.Stat(p)
				if errText(gotErr) != errText(wantErr) || (wantErr == nil && (gotFI.Mode() != wantFI.Mode() || gotFI.Size() != wantFI.Size())) {
					t.Errorf("Stat(%s): %v, %v; want %v, %v", name, gotFI, gotErr, wantFI, wantErr)
				}
			}
		}
	}
}

// A Files is a snapshot: what it read first is what every later ask gets,
// while nil Files reads the disk each time.
func TestFilesReadsOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cert.pem")
	os.WriteFile(file, []byte("first"), 0o644)
	files := NewFiles()
	if got, _ := files.ReadFile(file, 100); string(got) != "first" {
		t.Fatalf("first read: %q", got)
	}
	os.WriteFile(file, []byte("second"), 0o600)
	if got, _ := files.ReadFile(file, 100); string(got) != "first" {
		t.Errorf("second read through Files: %q, want the first read's bytes", got)
	}
	if fi, _ := files.Lstat(file); fi.Mode().Perm() != 0o644 {
		t.Errorf("Lstat after the read: %v, want the mode the read saw", fi.Mode())
	}
	if got, _ := (*Files)(nil).ReadFile(file, 100); string(got) != "second" {
		t.Errorf("nil Files: %q, want the disk's bytes", got)
	}
}

// Many goroutines asking for one file or one derived value at once cause
// one read and one computation, and all get its result.
func TestFilesConcurrentAsksShareOneRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cert.pem")
	os.WriteFile(file, []byte("shared"), 0o644)
	files := NewFiles()
	var computed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := files.ReadFile(file, 100)
			n := Derive(files, file, "len", func() int { computed.Add(1); return len(data) })
			if err != nil || string(data) != "shared" || n != 6 {
				t.Errorf("got %q, %v, %d", data, err, n)
			}
		}()
	}
	wg.Wait()
	if c := computed.Load(); c != 1 {
		t.Errorf("Derive computed %d times, want once", c)
	}
	if n := Derive[int](nil, file, "len", func() int { return 7 }); n != 7 {
		t.Errorf("Derive with nil Files: %d", n)
	}
}
