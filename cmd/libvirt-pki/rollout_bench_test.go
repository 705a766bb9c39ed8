package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchHosts is the size of the simulated fleet.
const benchHosts = 100

// benchRun runs libvirt-pki in-process and fails b on a non-zero exit.
func benchRun(b *testing.B, args ...string) {
	b.Helper()
	var errOut strings.Builder
	if code := run(args, strings.NewReader(""), io.Discard, &errOut); code != 0 {
		b.Fatalf("libvirt-pki %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
}

// benchFleet makes host bundles (sets libvirt, qemu, vnc) and their
// tarballs for n hosts under out, and returns the host names.
func benchFleet(b *testing.B, out string, n int, bundle bool) []string {
	b.Helper()
	args := []string{"certificates", "--layout", "libvirt", "--out", out, "--sets", "libvirt,qemu,vnc"}
	if bundle {
		args = append(args, "--bundle")
	}
	var names []string
	for i := range n {
		name := fmt.Sprintf("compute%03d", i)
		names = append(names, name)
		args = append(args, "--host", fmt.Sprintf("%s=192.0.2.%d", name, i%250+1))
	}
	benchRun(b, args...)
	return names
}

// BenchmarkRollout100 is the host side of a 100-host rollout, one host
// after the other as ansible/rollout.yml runs it: install <host>.tar
// (every check, then the atomic install) under each host's own root.
// "first" installs into empty roots; "renewed" installs renewed
// tarballs over the previous files (the renew case). The daemons'
// reload is not included (no daemon per root here; see the install
// benchmarks for one host with libvirtd).
func BenchmarkRollout100(b *testing.B) {
	out := filepath.Join(b.TempDir(), "out")
	names := benchFleet(b, out, benchHosts, true)
	install := func(roots string) {
		for _, n := range names {
			benchRun(b, "install", filepath.Join(out, n+".tar"), "--root", filepath.Join(roots, n), "--host", n)
		}
	}
	b.Run("first", func(b *testing.B) {
		for range b.N {
			install(b.TempDir())
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*benchHosts), "ms/host")
	})
	b.Run("renewed", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			roots := b.TempDir()
			install(roots)
			benchRun(b, "renew", "--layout", "libvirt", "--out", out, "--all")
			b.StartTimer()
			install(roots)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*benchHosts), "ms/host")
	})
}

// BenchmarkRenewTarballs100 renews every certificate of 100 host bundles
// with and without their <host>.tar beside them: the difference is what
// making every tarball again in the same journalled unit costs.
func BenchmarkRenewTarballs100(b *testing.B) {
	for _, bundle := range []bool{false, true} {
		name := map[bool]string{false: "directories", true: "with-tarballs"}[bundle]
		b.Run(name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out")
			benchFleet(b, out, benchHosts, bundle)
			for range b.N {
				benchRun(b, "renew", "--layout", "libvirt", "--out", out, "--all")
			}
			tars, _ := filepath.Glob(filepath.Join(out, "*.tar"))
			if bundle && len(tars) != benchHosts || !bundle && len(tars) != 0 {
				b.Fatalf("%d tarballs", len(tars))
			}
			if _, err := os.Stat(out); err != nil {
				b.Fatal(err)
			}
		})
	}
}
