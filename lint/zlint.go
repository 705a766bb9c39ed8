package lint

import (
	"encoding/pem"
	"errors"
	"sort"
	"strings"

	"github.com/zmap/zlint/v3"
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

// add records obj and the findings of its lint results, by lint name.
func (r *Report) add(obj Object, rs *zlint.ResultSet) {
	r.Objects = append(r.Objects, obj)
	names := make([]string, 0, len(rs.Results))
	for name := range rs.Results {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		res := rs.Results[name]
		sev, ok := severity(res.Status)
		if !ok {
			continue
		}
		md := res.LintMetadata
		r.Findings = append(r.Findings, Finding{Object: obj, Severity: sev, Status: res.Status.String(), Lint: name,
			Source: string(md.Source), Description: md.Description, Citation: md.Citation, Details: res.Details})
	}
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
