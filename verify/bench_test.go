package verify

import (
	"fmt"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// BenchmarkOffline checks a per-host Kolla layout of n hosts (ECDSA P-256,
// made once by the certificates engine) with the host list given, as
// `libvirt-pki verify --hosts ...` does.
func BenchmarkOffline(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			specs := make([]string, n)
			for i := range specs {
				specs[i] = fmt.Sprintf("compute%05d=10.%d.%d.%d", i, byte(i>>16), byte(i>>8), byte(i))
			}
			hosts, err := layout.ParseHosts(specs, nil, "example.org")
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			root := kolla.NovaLibvirtDir(dir, "")
			testlayout.Issue(b, certs.Options{Layout: layout.Kolla, Root: root, CADir: kolla.CADir(dir), Hosts: hosts, Algo: pki.ECDSAP256})
			for b.Loop() {
				rep, err := Offline(Options{Layout: layout.Kolla, Root: root, Hosts: hosts, WarnDays: 30})
				if err != nil {
					b.Fatal(err)
				}
				if w := rep.Worst(); w == Error {
					b.Fatalf("findings: %v", rep.Findings)
				}
			}
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "hosts/s")
		})
	}
}
