package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// installSets are the sets the install tests issue: libvirt's, QEMU's
// migration pairs and the VNC server.
const installSets = "libvirt,qemu,vnc"

// makeBundle issues a host bundle of host (names: extra SAN names) under
// out and returns <out>/<host>.tar.
func makeBundle(t *testing.T, out, host string, extra ...string) string {
	t.Helper()
	spec := host
	if len(extra) > 0 {
		spec += "=" + strings.Join(extra, ",")
	}
	runCLI(t, "certificates", "--layout", "libvirt", "--out", out, "--sets", installSets, "--host", spec, "--bundle")
	return filepath.Join(out, host+".tar")
}

// snapshot records every path under dir with its type, mode, owner and
// contents' digest (a symlink: its target), to prove nothing changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		out[p] = desc
		return nil
	})
	return out
}

// sameSnapshot fails the test when dir differs from before.
func sameSnapshot(t *testing.T, what, dir string, before map[string]string) {
	t.Helper()
	after := snapshot(t, dir)
	for p, d := range before {
		if after[p] != d {
			t.Errorf("%s: %s changed: %q -> %q", what, p, d, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared", what, p)
		}
	}
}

// tarEntry is one entry of a bundle tar, as the tests rewrite them.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func readTarEntries(t *testing.T, path string) []tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tarEntry
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, tarEntry{*hdr, data})
	}
}

func writeTarEntries(t *testing.T, path string, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write(e.data)
		}
	}
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// entryIndex finds an entry by name.
func entryIndex(t *testing.T, entries []tarEntry, name string) int {
	t.Helper()
	for i, e := range entries {
		if e.hdr.Name == name {
			return i
		}
	}
	t.Fatalf("no %s in the bundle", name)
	return -1
}

// hostileBundles rewrite a good bundle's entries into a hostile one;
// each names the words the refusal must hold.
var hostileBundles = []struct {
	name, want string
	mutate     func(t *testing.T, es []tarEntry) []tarEntry
}{
	{"dotdot", "leaves the bundle", func(t *testing.T, es []tarEntry) []tarEntry {
		return append(es, tarEntry{tar.Header{Name: "../../evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")})
	}},
	{"absolute", "leaves the bundle", func(t *testing.T, es []tarEntry) []tarEntry {
		return append(es, tarEntry{tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")})
	}},
	{"symlink", "is a link", func(t *testing.T, es []tarEntry) []tarEntry {
		i := entryIndex(t, es, "etc/pki/libvirt/servercert.pem")
		es[i].hdr.Typeflag, es[i].hdr.Linkname, es[i].data = tar.TypeSymlink, "/etc/shadow", nil
		return es
	}},
	{"hardlink", "is a link", func(t *testing.T, es []tarEntry) []tarEntry {
		i := entryIndex(t, es, "etc/pki/libvirt/servercert.pem")
		es[i].hdr.Typeflag, es[i].hdr.Linkname, es[i].data = tar.TypeLink, "etc/pki/CA/cacert.pem", nil
		return es
	}},
	{"device", "not a regular file", func(t *testing.T, es []tarEntry) []tarEntry {
		i := entryIndex(t, es, "etc/pki/libvirt/clientcert.pem")
		es[i].hdr.Typeflag, es[i].hdr.Devmajor, es[i].hdr.Devminor, es[i].data = tar.TypeChar, 1, 5, nil
		return es
	}},
	{"setuid", "set-id", func(t *testing.T, es []tarEntry) []tarEntry {
		es[entryIndex(t, es, "etc/pki/libvirt/servercert.pem")].hdr.Mode = 0o4755
		return es
	}},
	{"not-in-manifest", "not listed in", func(t *testing.T, es []tarEntry) []tarEntry {
		return append(es, tarEntry{tar.Header{Name: "etc/cron.d/evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("* * * * * root sh\n")})
	}},
	{"key-mismatch", "key-mismatch", func(t *testing.T, es []tarEntry) []tarEntry {
		s, c := entryIndex(t, es, "etc/pki/libvirt/private/serverkey.pem"), entryIndex(t, es, "etc/pki/libvirt/private/clientkey.pem")
		es[s].data, es[c].data = es[c].data, es[s].data
		return es
	}},
	{"manifest-mode", "mode 0644 but", func(t *testing.T, es []tarEntry) []tarEntry {
		es[entryIndex(t, es, "etc/pki/libvirt/private/serverkey.pem")].hdr.Mode = 0o644
		return es
	}},
}

// TestInstallRefusesHostileBundles: every hostile bundle is refused with
// exit 2 and one line, and nothing changes under the root (an earlier
// install there) or in the temporary directory.
func TestInstallRefusesHostileBundles(t *testing.T) {
	dir := t.TempDir()
	good := makeBundle(t, filepath.Join(dir, "out"), "compute01", "127.0.0.1")
	root := filepath.Join(dir, "root")
	runCLI(t, "install", good, "--root", root, "--host", "compute01")
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	t.Setenv("TMPDIR", tmp)
	for _, h := range hostileBundles {
		t.Run(h.name, func(t *testing.T) {
			bad := filepath.Join(dir, h.name, "compute01.tar")
			os.MkdirAll(filepath.Dir(bad), 0o755)
			writeTarEntries(t, bad, h.mutate(t, readTarEntries(t, good)))
			before := snapshot(t, root)
			wantBadInput(t, h.want, "install", bad, "--root", root, "--host", "compute01")
			sameSnapshot(t, h.name, root, before)
			sameSnapshot(t, h.name+" (TMPDIR)", tmp, map[string]string{tmp: snapshot(t, tmp)[tmp]})
		})
	}
}

// TestInstallRefusesBadArchives: a 1 GB sparse entry, an entry whose
// header claims 1 GB, a truncated tar and a target that is a symlink
// are refused, nothing written.
func TestInstallRefusesBadArchives(t *testing.T) {
	dir := t.TempDir()
	good := makeBundle(t, filepath.Join(dir, "out"), "compute01", "127.0.0.1")
	data, _ := os.ReadFile(good)
	root := filepath.Join(dir, "root")
	os.MkdirAll(root, 0o755)
	cases := map[string]struct {
		make func(path string)
		want string
	}{
		"sparse": {func(p string) { sparseTar(t, p, 1<<30) }, "not a host bundle tar"},
		"claims-1GB": {func(p string) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "etc/libvirt/passwd.db", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1 << 30})
			os.WriteFile(p, append(buf.Bytes(), make([]byte, 4096)...), 0o600)
		}, "refused unread"},
		"truncated": {func(p string) { os.WriteFile(p, data[:len(data)/2+100], 0o600) }, "truncated"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(dir, name, "compute01.tar")
			os.MkdirAll(filepath.Dir(bad), 0o755)
			c.make(bad)
			before := snapshot(t, root)
			wantBadInput(t, c.want, "install", bad, "--root", root, "--host", "compute01")
			sameSnapshot(t, name, root, before)
		})
	}
	t.Run("symlinked-target", func(t *testing.T) {
		elsewhere := filepath.Join(dir, "elsewhere")
		os.MkdirAll(elsewhere, 0o755)
		os.MkdirAll(filepath.Join(root, "etc", "pki"), 0o755)
		if err := os.Symlink(elsewhere, filepath.Join(root, "etc", "pki", "libvirt")); err != nil {
			t.Fatal(err)
		}
		before, beforeElse := snapshot(t, root), snapshot(t, elsewhere)
		wantBadInput(t, "symlink", "install", good, "--root", root, "--host", "compute01")
		sameSnapshot(t, "root", root, before)
		sameSnapshot(t, "elsewhere", elsewhere, beforeElse)
	})
}

// sparseTar writes a tar whose one entry is size bytes of holes.
func sparseTar(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "etc/pki/CA/cacert.pem", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	tw.Flush()
	end, _ := f.Seek(0, io.SeekCurrent)
	if err := f.Truncate(end + size + 1024); err != nil {
		t.Fatal(err)
	}
}

// TestInstallChecksLikeConsumers: a bundle for another host and a CA
// with no overlap with what is installed are refused (exit 2, nothing
// written); --force installs the latter; a dry run writes nothing; a
// second install changes nothing; files the bundle does not hold stay.
func TestInstallChecksLikeConsumers(t *testing.T) {
	dir := t.TempDir()
	good := makeBundle(t, filepath.Join(dir, "out"), "compute01", "127.0.0.1")
	other := makeBundle(t, filepath.Join(dir, "other"), "compute01", "127.0.0.1")
	root := filepath.Join(dir, "root")

	out := runCLI(t, "install", good, "--root", root, "--host", "compute01", "--dry-run")
	if !strings.Contains(out, "would create "+filepath.Join(root, "etc/pki/libvirt/servercert.pem")) {
		t.Errorf("dry run says:\n%s", out)
	}
	if _, err := os.Stat(root); err == nil {
		t.Fatal("a dry run wrote under the root")
	}
	wantBadInput(t, "san-missing", "install", good, "--root", root, "--host", "compute02")
	runCLI(t, "install", good, "--root", root, "--host", "compute01")
	unmanaged := filepath.Join(root, "etc/pki/libvirt/README")
	os.WriteFile(unmanaged, []byte("mine\n"), 0o644)
	if out := runCLI(t, "install", good, "--root", root, "--host", "compute01"); !strings.Contains(out, "nothing to change") {
		t.Errorf("second install says:\n%s", out)
	}
	// The same bundle packed by GNU tar (a ./ entry, directories) is the same bundle.
	gnu := filepath.Join(dir, "gnu", "compute01.tar")
	os.MkdirAll(filepath.Dir(gnu), 0o755)
	if out, err := exec.Command("tar", "-cpf", gnu, "-C", filepath.Join(dir, "out", "compute01"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if out := runCLI(t, "install", gnu, "--root", root, "--host", "compute01"); !strings.Contains(out, "nothing to change") {
		t.Errorf("install of the GNU tar says:\n%s", out)
	}
	before := snapshot(t, root)
	wantBadInput(t, "ca-continuity", "install", other, "--root", root, "--host", "compute01")
	sameSnapshot(t, "no-overlap CA", root, before)
	runCLI(t, "install", other, "--root", root, "--host", "compute01", "--force")
	want, _ := os.ReadFile(filepath.Join(dir, "other/compute01/etc/pki/libvirt/servercert.pem"))
	if got, _ := os.ReadFile(filepath.Join(root, "etc/pki/libvirt/servercert.pem")); !bytes.Equal(got, want) {
		t.Error("--force did not install the other CA's bundle")
	}
	if got, _ := os.ReadFile(unmanaged); string(got) != "mine\n" {
		t.Errorf("a file the bundle does not hold changed: %q", got)
	}
}
