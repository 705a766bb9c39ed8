// Package zlinttest runs zlint's RFC lints on a certificate for tests:
// the measurement of docs/key-usage.md and pki's policy tests ask it the
// same question. It imports nothing of the module, so any package's tests
// may use it.
package zlinttest

import (
	"sort"
	"strings"
	"sync"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

var (
	rfcOnce sync.Once
	rfcReg  zl.Registry
	rfcErr  error
)

// rfcRegistry is zlint's RFC lints: every source whose name starts with
// RFC (as lint/zlint.go asks, so that a source a newer zlint adds counts).
func rfcRegistry() (zl.Registry, error) {
	rfcOnce.Do(func() {
		var rfc zl.SourceList
		for _, s := range zl.GlobalRegistry().Sources() {
			if strings.HasPrefix(string(s), "RFC") {
				rfc = append(rfc, s)
			}
		}
		rfcReg, rfcErr = zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeSources: rfc})
	})
	return rfcReg, rfcErr
}

// RFCFindings are the names of zlint's RFC lints that report an error, a
// warning or a fatal result on the DER certificate der, sorted; nil when
// none does.
func RFCFindings(t testing.TB, der []byte) []string {
	t.Helper()
	reg, err := rfcRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, r := range zlint.LintCertificateEx(c, reg).Results {
		if r.Status == zl.Error || r.Status == zl.Warn || r.Status == zl.Fatal {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
