package verify

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/parallel"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Offline checks hosts in parallel: the per-host checks are independent,
// and the files they share (the CA copy, a shared leaf, a CRL) are read
// and judged once, by whichever host needs them first (memo.Map). What
// a serial run would have done in host order — report a shared file's
// findings under the first host that used it, and stop at the first
// host that met a vaulted key without its password — is replayed from
// each host's log of touches (touch) in host order (merge), so the
// report is byte-identical whatever the number of workers.

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
	out := make([]hostResult, len(hosts))
	parallel.Each(len(hosts), workers, func(i int) { out[i] = c.checkHost(hosts[i]) })
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
