package lint

import (
	"encoding/pem"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/zmap/zcrypto/x509"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/libvirt-pki/libvirt-pki/verify"
)

// rfcSourcePrefix marks zlint's RFC sources (RFC5280, RFC8813, RFC3279,
// ...): asking the registry for them, rather than naming them, keeps a
// source a newer zlint adds.
const rfcSourcePrefix = "RFC"

// registry is zlint's global registry, filtered to the RFC sources unless
// includeCABF.
func registry(includeCABF bool) (zl.Registry, error) {
	global := zl.GlobalRegistry()
	if includeCABF {
		return global, nil
	}
	var rfc zl.SourceList
	for _, s := range global.Sources() {
		if strings.HasPrefix(string(s), rfcSourcePrefix) {
			rfc = append(rfc, s)
		}
	}
	return global.Filter(zl.FilterOptions{IncludeSources: rfc})
}

func sourceNames(reg zl.Registry) []string {
	var out []string
	for _, s := range reg.Sources() {
		out = append(out, string(s))
	}
	sort.Strings(out)
	return out
}

// severity maps zlint's result to ours; ok is false for results that are
// no finding (pass, not applicable, not yet effective).
func severity(s zl.LintStatus) (sev verify.Severity, ok bool) {
	switch s {
	case zl.Fatal, zl.Error:
		return verify.Error, true
	case zl.Warn:
		return verify.Warning, true
	case zl.Notice:
		return verify.Info, true
	}
	return "", false
}

// linter runs a registry's lints, as zlint.LintCertificateEx and
// LintRevocationListEx do (each lint's Execute, with the registry's
// configuration), but in lint-name order from lists sorted once: zlint's
// own entry points sort every lint name and fill a map of every result
// for each certificate: a third of lint's time on a large tree.
type linter struct {
	certLints []*zl.CertificateLint
	crlLints  []*zl.RevocationListLint
	config    zl.Configuration
}

func newLinter(reg zl.Registry) *linter {
	l := &linter{config: reg.GetConfiguration()}
	l.certLints = slices.SortedFunc(slices.Values(reg.CertificateLints().Lints()),
		func(a, b *zl.CertificateLint) int { return strings.Compare(a.Name, b.Name) })
	l.crlLints = slices.SortedFunc(slices.Values(reg.RevocationListLints().Lints()),
		func(a, b *zl.RevocationListLint) int { return strings.Compare(a.Name, b.Name) })
	return l
}

// cert records c as obj, and its findings in lint-name order.
func (l *linter) cert(r *Report, obj Object, c *x509.Certificate) {
	r.Objects = append(r.Objects, obj)
	for _, lt := range l.certLints {
		r.addResult(obj, lt.LintMetadata, lt.Execute(c, l.config))
	}
}

// crl records crl as obj, and its findings in lint-name order.
func (l *linter) crl(r *Report, obj Object, crl *x509.RevocationList) {
	r.Objects = append(r.Objects, obj)
	for _, lt := range l.crlLints {
		r.addResult(obj, lt.LintMetadata, lt.Execute(crl, l.config))
	}
}

// addResult records a lint's result when it is a finding.
func (r *Report) addResult(obj Object, md zl.LintMetadata, res *zl.LintResult) {
	sev, ok := severity(res.Status)
	if !ok {
		return
	}
	r.Findings = append(r.Findings, Finding{Object: obj, Severity: sev, Status: res.Status.String(), Lint: md.Name,
		Source: string(md.Source), Description: md.Description, Citation: md.Citation, Details: res.Details})
}

// certDERs returns the certificates of a PEM file (other blocks, such as
// a key kept in the same file, are skipped), or the file itself when it
// holds no PEM at all (DER).
func certDERs(data []byte) ([][]byte, error) {
	var ders [][]byte
	rest, sawPEM := data, false
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawPEM = true
		if block.Type == "CERTIFICATE" {
			ders = append(ders, block.Bytes)
		}
	}
	if !sawPEM && len(data) > 0 {
		return [][]byte{data}, nil
	}
	if len(ders) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return ders, nil
}

// crlDER returns the CRL of a PEM ("X509 CRL") or DER file.
func crlDER(data []byte) ([]byte, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return data, nil
	}
	if block.Type != "X509 CRL" {
		return nil, errors.New("not a PEM X509 CRL (found " + block.Type + ")")
	}
	return block.Bytes, nil
}
