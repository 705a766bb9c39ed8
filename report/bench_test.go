package report

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// BenchmarkReport writes the page of a per-host Kolla tree of n hosts
// (ECDSA P-256, made once by the certificates engine) as `libvirt-pki
// report` does: verify's offline check, then Collect (audit, lint unless
// nolint, the rotation state) and WriteHTML, all reading the tree through
// one fsutil.Files, as the command does. It reports the page's size.
// The 10,000-host case: go test -run XXX -bench 'Report/hosts=10000' ./report
func BenchmarkReport(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, withLint := range []bool{false, true} {
			b.Run(fmt.Sprintf("hosts=%d/lint=%v", n, withLint), func(b *testing.B) { benchReport(b, n, withLint) })
		}
	}
}

// kollaTree issues a per-host Kolla tree of n hosts (compute00000, ...)
// with the certificates engine, and returns its root, CA directory and
// hosts.
func kollaTree(tb testing.TB, n int) (root, caDir string, hosts []layout.Host) {
	specs := make([]string, n)
	for i := range specs {
		specs[i] = fmt.Sprintf("compute%05d", i)
	}
	hosts, err := layout.ParseHosts(specs, nil, "example.org")
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	root, caDir = kolla.NovaLibvirtDir(dir, ""), kolla.CADir(dir)
	testlayout.Issue(tb, certs.Options{Layout: layout.Kolla, Root: root, CADir: caDir, Hosts: hosts, Algo: pki.ECDSAP256})
	return root, caDir, hosts
}

func benchReport(b *testing.B, n int, withLint bool) {
	root, caDir, hosts := kollaTree(b, n)
	now := time.Now()
	var size int64
	for b.Loop() {
		files := fsutil.NewFiles()
		check := func() (*verify.Report, error) {
			return verify.Offline(verify.Options{Layout: layout.Kolla, Root: root, Hosts: hosts, WarnDays: 30, Now: now, Files: files})
		}
		m, err := Collect(context.Background(), Options{Tree: layout.Tree{Layout: layout.Kolla, Root: root, CADir: caDir, Files: files},
			Verify: check, Now: now, WarnDays: 30, Lint: withLint})
		if err != nil {
			b.Fatal(err)
		}
		cw := &countWriter{}
		if err := m.WriteHTML(cw); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB/page")
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "hosts/s")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
