package certs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// benchHosts returns n hosts computeNNNNN with a domain name and an IPv4
// address each: SANs like a real Kolla inventory's.
func benchHosts(b *testing.B, n int) []layout.Host {
	b.Helper()
	specs := make([]string, n)
	for i := range specs {
		specs[i] = fmt.Sprintf("compute%05d=10.%d.%d.%d", i, byte(i>>16), byte(i>>8), byte(i))
	}
	hosts, err := layout.ParseHosts(specs, nil, "example.org")
	if err != nil {
		b.Fatal(err)
	}
	return hosts
}

func benchOptions(dir string, hosts []layout.Host) Options {
	return Options{
		Layout: layout.Kolla,
		Root:   kolla.NovaLibvirtDir(dir, ""),
		CADir:  kolla.CADir(dir),
		Hosts:  hosts,
		Algo:   pki.ECDSAP256,
	}
}

func runCertificates(b *testing.B, o Options) *Plan {
	b.Helper()
	plan, err := MakePlan(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := plan.Apply(nil); err != nil {
		b.Fatal(err)
	}
	return plan
}

// BenchmarkCertificates is a whole first run (new CA, a server and a client
// pair per host, Kolla layout, ECDSA P-256) into a fresh directory.
func BenchmarkCertificates(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			hosts := benchHosts(b, n)
			base := b.TempDir()
			var busy time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(base, fmt.Sprint(i))
				i++
				b.StartTimer()
				start := time.Now()
				runCertificates(b, benchOptions(dir, hosts))
				busy += time.Since(start)
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*i)/busy.Seconds(), "hosts/s")
		})
	}
}

// BenchmarkCertificatesUnchanged re-runs over an existing layout in which
// nothing needs re-issuing: reading and checking every file.
func BenchmarkCertificatesUnchanged(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			o := benchOptions(b.TempDir(), benchHosts(b, n))
			runCertificates(b, o)
			start := time.Now()
			i := 0
			for b.Loop() {
				plan := runCertificates(b, o)
				if got := plan.Summary()[Unchanged]; got != 2*n {
					b.Fatalf("%d unchanged leaves, want %d", got, 2*n)
				}
				i++
			}
			b.ReportMetric(float64(n*i)/time.Since(start).Seconds(), "hosts/s")
		})
	}
}

// BenchmarkBundleSets measures what the sets cost: a first run of 1,000
// hosts in the libvirt layout with --sets libvirt,qemu,vnc (five leaves,
// three CA copies, three configuration files and a manifest per host)
// against libvirt alone (two leaves, one CA copy, the same extras but
// for qemu.conf), in one run, and reports the ratio; issue 13 wants it
// at most 2.5.
func BenchmarkBundleSets(b *testing.B) {
	hosts := benchHosts(b, 1000)
	base := b.TempDir()
	var libvirtOnly, sets time.Duration
	i := 0
	for b.Loop() {
		for _, run := range []struct {
			sets []string
			took *time.Duration
		}{{[]string{"libvirt"}, &libvirtOnly}, {[]string{"libvirt", "qemu", "vnc"}, &sets}} {
			b.StopTimer()
			dir := filepath.Join(base, fmt.Sprint(i))
			i++
			o := Options{Layout: layout.Libvirt, Root: dir, CADir: layout.OutCADir(dir), Hosts: hosts, Algo: pki.ECDSAP256, Sets: run.sets}
			b.StartTimer()
			start := time.Now()
			runCertificates(b, o)
			*run.took += time.Since(start)
			b.StopTimer()
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(libvirtOnly.Seconds()/float64(i/2), "s/libvirt-run")
	b.ReportMetric(sets.Seconds()/float64(i/2), "s/sets-run")
	b.ReportMetric(float64(sets)/float64(libvirtOnly), "ratio")
}
