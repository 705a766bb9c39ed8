package live

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkCheckAllLoopback measures CheckAll against 1,000 Go TLS
// listeners on loopback that speak the libvirt handshake (confirmation
// byte, AUTH_LIST = none, CONNECT_OPEN, GET_HOSTNAME, GET_LIB_VERSION,
// CLOSE). One iteration checks all 1,000. It is a baseline for later
// performance work; nothing here asserts timings.
func BenchmarkCheckAllLoopback(b *testing.B) {
	const listeners, concurrency = 1000, 64
	p := newPKI(b)
	f := &fakeLibvirtd{cert: p.server.tls}
	jobs := make([]Job, listeners)
	for i := range jobs {
		addr := listen(b, f.serve)
		jobs[i] = Job{
			Target:      Target{Host: addr, Addr: addr, ServerName: "localhost"},
			Credentials: p.creds(""),
			Options:     Options{Timeout: 10 * time.Second, URI: "test:///default"},
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range CheckAll(context.Background(), jobs, concurrency) {
			if !r.OK {
				b.Fatalf("%s: %s %s", r.Target.Addr, r.Class, r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*listeners), "ns/check")
}

// BenchmarkCheckSCRAM is one full check with SCRAM-SHA-256 (4096 PBKDF2
// iterations) against the fake daemon.
func BenchmarkCheckSCRAM(b *testing.B) {
	p := newPKI(b)
	f := &fakeLibvirtd{cert: p.server.tls, password: "pw", finalWithComplete: true}
	addr := listen(b, f.serve)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := Check(context.Background(), Target{Addr: addr, ServerName: "localhost"}, p.creds("pw"), Options{Timeout: 10 * time.Second})
		if !r.OK {
			b.Fatalf("%s %s", r.Class, r.Err)
		}
	}
}

// BenchmarkCheckAllSilent: 1,000 loopback endpoints that accept and never
// speak, each check bounded by a 500 ms timeout, 100 at a time. The run
// takes about ceil(1000/100) x 0.5 s = 5 s, not 1000 x 0.5 s: the
// "bound/op" metric is the elapsed time over that bound (1.0 = on it).
func BenchmarkCheckAllSilent(b *testing.B) {
	const endpoints, concurrency = 1000, 100
	const timeout = 500 * time.Millisecond
	p := newPKI(b)
	jobs := make([]Job, endpoints)
	for i := range jobs {
		addr := listen(b, func(c net.Conn) {
			// Swallow the ClientHello and never answer, until the
			// checker gives up and closes.
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c)
		})
		jobs[i] = Job{Target: Target{Host: addr, Addr: addr, ServerName: "localhost"}, Credentials: p.creds("pw"), Options: Options{Timeout: timeout}}
	}
	bound := time.Duration((endpoints+concurrency-1)/concurrency) * timeout
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, r := range CheckAll(context.Background(), jobs, concurrency) {
			if r.Class != ClassTimeout {
				b.Fatalf("%s: %s, want timeout", r.Target.Addr, r.Class)
			}
		}
		b.ReportMetric(float64(time.Since(start))/float64(bound), "bound/op")
		b.ReportMetric(float64(time.Since(start))/float64(endpoints*timeout), "serial/op")
	}
}
