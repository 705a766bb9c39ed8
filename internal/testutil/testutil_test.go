package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The hostile files are what their names say, each in place of a file.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo, zero, sparse := filepath.Join(dir, "fifo"), filepath.Join(dir, "zero"), filepath.Join(dir, "sparse")
	for _, p := range []string{fifo, zero, sparse} {
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Mkfifo(t, fifo)
	LinkDevZero(t, zero)
	Sparse(t, sparse, 1<<30)
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("Mkfifo: %v %v", fi, err)
	}
	if target, err := os.Readlink(zero); err != nil || target != "/dev/zero" {
		t.Errorf("LinkDevZero: %q %v", target, err)
	}
	if fi, err := os.Lstat(sparse); err != nil || !fi.Mode().IsRegular() || fi.Size() != 1<<30 {
		t.Errorf("Sparse: %v %v", fi, err)
	}
	// NoHang returns when fn does not block.
	ran := false
	NoHang(t, func() { ran = true }, fifo)
	if !ran {
		t.Error("NoHang did not run fn")
	}
}

// AliasBomb is valid YAML whose aliases nest nine deep, under the indent.
func TestAliasBomb(t *testing.T) {
	var doc struct {
		A map[string]yaml.Node `yaml:"a"`
	}
	if err := yaml.Unmarshal([]byte("a:\n"+AliasBomb("  ")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.A) != 10 || strings.Count(AliasBomb(""), "*l8") != 10 {
		t.Errorf("%d keys:\n%s", len(doc.A), AliasBomb(""))
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() {
		for range 100 {
			b.Write([]byte("x"))
		}
		close(done)
	}()
	_ = b.String()
	<-done
	if b.String() != strings.Repeat("x", 100) {
		t.Errorf("%q", b.String())
	}
}
