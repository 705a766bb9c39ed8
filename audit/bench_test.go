package audit

import (
	"context"
	"fmt"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// BenchmarkCollect reads every certificate of a per-host Kolla layout of n
// hosts (ECDSA P-256, made once) and its CA directory.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			lists := make([]string, n)
			for i := range lists {
				lists[i] = fmt.Sprintf("compute%05d", i)
			}
			hosts, err := layout.ParseHosts(lists, nil, "example.org")
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			o := Options{Layout: layout.Kolla, Root: kolla.NovaLibvirtDir(dir, ""), CADir: kolla.CADir(dir), WarnDays: 30}
			testlayout.Issue(b, certs.Options{Layout: layout.Kolla, Root: o.Root, CADir: o.CADir, Hosts: hosts, Algo: pki.ECDSAP256})
			// cacert.pem in the CA directory and in nova-libvirt, then
			// two leaves per host.
			want := 2 + 2*n
			for b.Loop() {
				rows, err := Collect(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) < want {
					b.Fatalf("%d rows, want at least %d", len(rows), want)
				}
			}
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "hosts/s")
		})
	}
}
