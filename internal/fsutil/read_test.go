package fsutil

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cert.pem")
	os.WriteFile(file, []byte("0123456789"), 0o644)
	if got, err := ReadFile(file, 10); err != nil || string(got) != "0123456789" {
		t.Fatalf("ReadFile at its limit: %q, %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if got, err := ReadFile(empty, 10); err != nil || len(got) != 0 {
		t.Fatalf("ReadFile of an empty file: %q, %v", got, err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, bytes.Repeat([]byte("x"), LimitKey+1), 0o644)
	if got, err := ReadFile(big, LimitKey); err == nil || len(got) != 0 {
		t.Fatal("ReadFile read a file over its limit")
	}

	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	if got, err := ReadFileFollow(link, 10); err != nil || string(got) != "0123456789" {
		t.Fatalf("ReadFileFollow of a symlink: %q, %v", got, err)
	}

	missing := filepath.Join(dir, "missing")
	if _, err := ReadFile(missing, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v", err)
	}
	if got, err := ReadFileIfExists(missing, 10); got != nil || err != nil {
		t.Fatalf("ReadFileIfExists of a missing file: %q, %v", got, err)
	}
	if _, err := ReadFileIfExists(big, 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFileIfExists of a big file: %v", err)
	}
}

// Every bad file is refused at once with one line naming it, never read
// (a FIFO without a writer would block, /dev/zero would never end).
func TestReadFileRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	testutil.Mkfifo(t, fifo)
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("0123456789"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	fifoLink := filepath.Join(dir, "fifo-link")
	os.Symlink(fifo, fifoLink)

	for _, c := range []struct {
		path   string
		follow bool
		limit  int64
		want   string
		kind   error
	}{
		{fifo, false, LimitCert, fifo + ": not a regular file (a FIFO)", ErrNotRegular},
		{fifoLink, true, LimitCert, fifoLink + ": not a regular file (a FIFO)", ErrNotRegular},
		{"/dev/zero", false, LimitCert, "/dev/zero: not a regular file (a character device)", ErrNotRegular},
		{sock, false, LimitCert, sock + ": not a regular file (a socket)", ErrNotRegular},
		{dir, false, LimitCert, dir + ": not a regular file (a directory)", ErrNotRegular},
		{link, false, LimitCert, link + ": is a symlink", ErrSymlink},
		{file, false, 9, file + ": larger than 9 bytes", ErrTooLarge},
		// procfs reports size 0: only the bounded read can find it too big.
		{"/proc/self/maps", false, 10, "/proc/self/maps: larger than 10 bytes", ErrTooLarge},
	} {
		read := ReadFile
		if c.follow {
			read = ReadFileFollow
		}
		got, err := read(c.path, c.limit)
		var bad *BadFileError
		if err == nil || err.Error() != c.want || !errors.Is(err, c.kind) || !errors.As(err, &bad) || got != nil {
			t.Errorf("read %s: %q, %v; want error %q", c.path, got, err, c.want)
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a bad file looks missing: %v", c.path, err)
		}
	}
}

func TestCheckNoSymlinks(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "file"), nil, 0o644)
	os.Symlink(t.TempDir(), filepath.Join(root, "a", "link"))
	os.Symlink("b", filepath.Join(root, "a", "rel"))
	// root itself may be a symlink: the user named it.
	rootLink := filepath.Join(t.TempDir(), "root-link")
	os.Symlink(root, rootLink)

	for path, want := range map[string]string{
		filepath.Join(root, "a", "b", "new.pem"):       "",
		filepath.Join(root, "a", "new", "deeper", "x"): "",
		filepath.Join(root, "a", "link", "x"):          "is a symlink",
		filepath.Join(root, "a", "rel"):                "is a symlink",
		filepath.Join(root, "a", "file", "x"):          "is not a directory",
		root + "/a/b/../../../x":                       `".."`,
		root + "/a/../a/b/x":                           `".."`,
		filepath.Join(filepath.Dir(root), "elsewhere"): "is not below",
		root:                                "is not below",
		filepath.Join(root+"-sibling", "x"): "is not below",
	} {
		err := CheckNoSymlinks(root, path)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckNoSymlinks(%s): %v, want %q", path, err, want)
		}
	}
	if err := CheckNoSymlinks(rootLink, filepath.Join(rootLink, "a", "x")); err != nil {
		t.Errorf("a symlinked root: %v", err)
	}
	if err := WriteFileUnder(root, filepath.Join(root, "a", "link", "x"), []byte("x"), 0o600); err == nil {
		t.Error("WriteFileUnder wrote through a symlink")
	}
	if err := WriteFileUnder(root, filepath.Join(root, "a", "b", "x"), []byte("x"), 0o640); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "a", "b", "x")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("WriteFileUnder: %v, %v", fi, err)
	}
}
