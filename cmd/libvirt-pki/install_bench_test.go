package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
)

// mustRunB runs the CLI in-process and stops the benchmark on failure.
func mustRunB(b *testing.B, args ...string) {
	b.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errOut); code != 0 {
		b.Fatalf("libvirt-pki %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
}

// twoBundles issues compute01's bundle (libvirt, qemu, vnc) and a
// renewal of it, as two tars of the same CA, under dir.
func twoBundles(b *testing.B, dir string) (first, second string) {
	b.Helper()
	out := filepath.Join(dir, "out")
	args := []string{"certificates", "--layout", "libvirt", "--out", out, "--sets", installSets, "--host", "compute01=127.0.0.1", "--bundle"}
	mustRunB(b, args...)
	first = filepath.Join(dir, "first.tar")
	os.Rename(filepath.Join(out, "compute01.tar"), first)
	mustRunB(b, "renew", "--layout", "libvirt", "--out", out, "--all", "--rotate-keys")
	mustRunB(b, args...)
	return first, filepath.Join(out, "compute01.tar")
}

// BenchmarkInstall installs one host's bundle, alternating a bundle and
// its renewal so every iteration replaces every pair (read, check,
// stage, swap, fsync).
func BenchmarkInstall(b *testing.B) {
	dir := b.TempDir()
	first, second := twoBundles(b, dir)
	root := filepath.Join(dir, "root")
	mustRunB(b, "install", first, "--root", root, "--host", "compute01")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bundle := []string{second, first}[i%2]
		mustRunB(b, "install", bundle, "--root", root, "--host", "compute01")
	}
}

// BenchmarkInstallReloadLibvirtd is BenchmarkInstall with --reload
// against a root libvirtd reading the root's /etc/pki: install, then
// virt-admin server-update-tls, then the live checks before and after.
func BenchmarkInstallReloadLibvirtd(b *testing.B) {
	dir := b.TempDir()
	first, second := twoBundles(b, dir)
	root := filepath.Join(dir, "root")
	hostFlags := []string{"--root", root, "--host", "compute01", "--host", "127.0.0.1"}
	mustRunB(b, append([]string{"install", first}, hostFlags...)...)
	d := libvirttest.Start(b, libvirttest.Config{PKIDir: filepath.Join(root, "etc/pki")})
	reload := []string{"--reload", "--admin-socket", d.AdminSocket(), "--qemu-uri", "", "--libvirtd-addr", d.Addr(), "--server-name", "127.0.0.1"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bundle := []string{second, first}[i%2]
		mustRunB(b, append(append([]string{"install", bundle}, hostFlags...), reload...)...)
	}
}

// BenchmarkReloadLibvirtd is reload alone on a root libvirtd already
// serving the installed files: virt-admin server-update-tls and the
// live checks before and after (every listener unchanged).
func BenchmarkReloadLibvirtd(b *testing.B) {
	dir := b.TempDir()
	first, _ := twoBundles(b, dir)
	root := filepath.Join(dir, "root")
	mustRunB(b, "install", first, "--root", root, "--host", "compute01", "--host", "127.0.0.1")
	d := libvirttest.Start(b, libvirttest.Config{PKIDir: filepath.Join(root, "etc/pki")})
	args := []string{"reload", "--root", root, "--admin-socket", d.AdminSocket(), "--qemu-uri", "", "--libvirtd-addr", d.Addr(), "--server-name", "127.0.0.1"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustRunB(b, args...)
	}
}
