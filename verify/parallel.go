package verify

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Offline checks hosts in parallel: the per-host checks are independent,
// and the files they share (the CA copy, a shared leaf, a CRL) are read
// and judged once, by whichever host needs them first (onceCache). What
// a serial run would have done in host order — report a shared file's
// findings under the first host that used it, and stop at the first
// host that met a vaulted key without its password — is replayed from
// each host's log of touches (touch) in host order (merge), so the
// report is byte-identical whatever the number of workers.

// onceCache computes each key's value once, however many goroutines ask.
type onceCache[T any] struct {
	mu sync.Mutex
	m  map[string]*onceEntry[T]
}

type onceEntry[T any] struct {
	once sync.Once
	v    T
}

func newOnceCache[T any]() *onceCache[T] { return &onceCache[T]{m: map[string]*onceEntry[T]{}} }

func (c *onceCache[T]) get(key string, compute func() T) T {
	c.mu.Lock()
	e, ok := c.m[key]
	if !ok {
		e = &onceEntry[T]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v = compute() })
	return e.v
}

// touch is one file a host's check used, in the order it used them.
type touch struct {
	file *parsedFile // a credential file, or nil
	// sharedFile: the file came from the shared directory, so its own
	// findings go once under (shared).
	sharedFile bool
	crl        *parsedCRL // a CRL, or nil
	at         int        // len(HostReport.Findings) when the CRL was judged
}

// hostResult is one host's check before the merge.
type hostResult struct {
	hr      HostReport
	touches []touch
}

// checkHosts runs checkHost over hosts on up to workers goroutines
// (GOMAXPROCS when workers < 1), results in host order.
func (c *checker) checkHosts(hosts []layout.Host, workers int) []hostResult {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(hosts))
	out := make([]hostResult, len(hosts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = c.checkHost(hosts[i])
			}
		}()
	}
	for i := range hosts {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// merge replays the hosts' touches in host order: a file's own findings
// and its fatal error (a vaulted key without its password) count at the
// first host that used it, a shared file's findings go once under
// (shared), and a CRL's findings go to the first host that used it when
// the CRL is in that host's directory, else once under (shared). It
// returns the host reports, or the first fatal error in host order.
func (c *checker) merge(results []hostResult) ([]HostReport, error) {
	seen := map[*parsedFile]bool{}
	reported := map[*parsedFile]bool{}
	crlSeen := map[*parsedCRL]bool{}
	reports := make([]HostReport, 0, len(results))
	var fatal error
	for _, r := range results {
		hr := r.hr
		inserted := 0
		for _, t := range r.touches {
			switch {
			case t.file != nil:
				if !seen[t.file] {
					seen[t.file] = true
					if t.file.fatal != nil {
						fatal = t.file.fatal
					}
				}
				if t.sharedFile && !reported[t.file] {
					reported[t.file] = true
					for _, f := range t.file.findings {
						f.Host = SharedHost
						c.shared = append(c.shared, f)
					}
				}
			case t.crl != nil && !crlSeen[t.crl]:
				crlSeen[t.crl] = true
				if !c.crlInHostDir(t.crl.path, r.hr.Host) {
					c.shared = append(c.shared, withHost(t.crl.findings, SharedHost)...)
					continue
				}
				at := t.at + inserted
				hr.Findings = slices.Insert(hr.Findings, at, withHost(t.crl.findings, hr.Host)...)
				inserted += len(t.crl.findings)
			}
		}
		reports = append(reports, hr)
		if fatal != nil {
			return nil, fatal
		}
	}
	return reports, nil
}

// crlInHostDir says whether the CRL at path is in host's own directory.
func (c *checker) crlInHostDir(path, host string) bool {
	return host != "" && host != SharedHost && strings.HasPrefix(path, filepath.Join(c.o.Root, host)+string(filepath.Separator))
}

func withHost(fs []Finding, host string) []Finding {
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Host = host
		out[i] = f
	}
	return out
}
