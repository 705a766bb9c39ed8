package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A full disk while staging or while writing the journal must leave the
// old files as they were, no temporary files, and say ENOSPC. The child
// runs in its own mount namespace (unshare -m) on a 64 KiB tmpfs.
func TestENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: mounting a tiny tmpfs needs root (CI runs as root)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("unshare (util-linux) is not installed")
		}
		t.Skip("SKIP: unshare (util-linux) is not installed")
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=enospc", "FSUTIL_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func childENOSPC(dir string) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	defer unix.Unmount(dir, 0)
	host := filepath.Join(dir, "host0")
	os.Mkdir(host, 0o755)
	old := map[string][]byte{
		filepath.Join(host, "cert.pem"): []byte("old cert"),
		filepath.Join(host, "key.pem"):  []byte("old key"),
	}
	for p, data := range old {
		if err := WriteFileAtomic(p, data, 0o600); err != nil {
			return err
		}
	}
	unchanged := func(step string) error {
		for p, data := range old {
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
				return fmt.Errorf("%s: %s holds %q, %v", step, p, got, err)
			}
		}
		if left := tempsUnder(dir); len(left) > 0 {
			return fmt.Errorf("%s: left behind %v", step, left)
		}
		return nil
	}
	if err := enospcStaging(dir, host); err != nil {
		return err
	}
	if err := unchanged("ENOSPC while staging"); err != nil {
		return err
	}
	if err := enospcJournal(dir, host); err != nil {
		return err
	}
	return unchanged("ENOSPC while writing the journal")
}

// enospcStaging stages files bigger than the tmpfs.
func enospcStaging(dir, host string) error {
	b := NewBatch(dir)
	defer b.Abort()
	big := bytes.Repeat([]byte("x"), 40<<10)
	var err error
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err = b.WriteFile(filepath.Join(host, f), big, 0o600); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("staging 80 KiB on a 64 KiB tmpfs: %v, want ENOSPC", err)
	}
	return nil
}

// enospcJournal stages small files, fills the tmpfs, then commits: the
// journal cannot be written, so nothing may be renamed.
func enospcJournal(dir, host string) error {
	b := NewBatch(dir)
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err := b.WriteFile(filepath.Join(host, f), []byte("new"), 0o600); err != nil {
			return err
		}
	}
	filler := filepath.Join(dir, "filler")
	defer os.Remove(filler)
	f, err := os.Create(filler)
	if err != nil {
		return err
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("filling the tmpfs: %v", err)
	}
	err = b.Commit()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), JournalFileName) {
		return fmt.Errorf("Commit on a full disk: %v, want ENOSPC writing the journal", err)
	}
	return nil
}

// tempsUnder lists the temporary files and journals under dir.
func tempsUnder(dir string) []string {
	var out []string
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if _, ok := isTempName(fi.Name()); ok || fi.Name() == JournalFileName || isStage(fi.Name()) {
			out = append(out, path)
		}
		return nil
	})
	return out
}
