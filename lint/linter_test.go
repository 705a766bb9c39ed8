package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdx509 "crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sort"
	"testing"
	"time"

	"github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
)

// The linter gives, certificate by certificate and CRL by CRL, exactly
// the findings zlint's own entry points give (LintCertificateEx,
// LintRevocationListEx: every result that is a finding, in lint-name
// order), for the RFC lints and for every source.
func TestLinterIsZlint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &stdx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: stdx509.KeyUsageCertSign | stdx509.KeyUsageCRLSign}
	caDER, err := stdx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := stdx509.ParseCertificate(caDER)
	leaves := []*stdx509.Certificate{
		// a leaf as we issue it
		{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "compute01"}, DNSNames: []string{"compute01"},
			ExtKeyUsage: []stdx509.ExtKeyUsage{stdx509.ExtKeyUsageServerAuth}, NotBefore: now, NotAfter: now.AddDate(1, 0, 0)},
		// one with findings: no subject, no SAN, keyEncipherment on an EC key, a negative-looking serial
		{SerialNumber: big.NewInt(0), KeyUsage: stdx509.KeyUsageKeyEncipherment | stdx509.KeyUsageDigitalSignature,
			NotBefore: now, NotAfter: now.AddDate(30, 0, 0)},
		// a name that is not a host name, an IP, an e-mail address
		{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "compute_06", Organization: []string{"x"}},
			DNSNames: []string{"compute_06", "-bad-.example"}, EmailAddresses: []string{"root@"},
			NotBefore: now, NotAfter: now.AddDate(1, 0, 0)},
	}
	var certs []*x509.Certificate
	for _, c := range append([][]byte{caDER}, issueAll(t, leaves, ca, key)...) {
		zc, err := x509.ParseCertificate(c)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, zc)
	}
	crlDER, err := stdx509.CreateRevocationList(rand.Reader, &stdx509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: now, NextUpdate: now.AddDate(0, 0, 7),
		RevokedCertificateEntries: []stdx509.RevocationListEntry{{SerialNumber: big.NewInt(2), RevocationTime: now}}}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	for _, cabf := range []bool{false, true} {
		reg, err := registry(cabf)
		if err != nil {
			t.Fatal(err)
		}
		l := newLinter(reg)
		total := 0
		for i, c := range certs {
			var got Report
			l.cert(&got, Object{Index: i}, c)
			want := zlintFindings(zlint.LintCertificateEx(c, reg))
			total += len(want)
			compareFindings(t, cabf, i, got.Findings, want)
		}
		var got Report
		l.crl(&got, Object{}, crl)
		compareFindings(t, cabf, -1, got.Findings, zlintFindings(zlint.LintRevocationListEx(crl, reg)))
		if total == 0 {
			t.Errorf("cabf=%v: no certificate had a finding; the comparison proves nothing", cabf)
		}
	}
}

func issueAll(t *testing.T, tmpls []*stdx509.Certificate, ca *stdx509.Certificate, key *ecdsa.PrivateKey) [][]byte {
	var out [][]byte
	for _, tmpl := range tmpls {
		der, err := stdx509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, der)
	}
	return out
}

// zlintFindings is what the linter should record from rs.
func zlintFindings(rs *zlint.ResultSet) []Finding {
	var names []string
	for name := range rs.Results {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Finding
	for _, name := range names {
		res := rs.Results[name]
		if sev, ok := severity(res.Status); ok {
			md := res.LintMetadata
			out = append(out, Finding{Severity: sev, Status: res.Status.String(), Lint: name, Source: string(md.Source),
				Description: md.Description, Citation: md.Citation, Details: res.Details})
		}
	}
	return out
}

func compareFindings(t *testing.T, cabf bool, index int, got, want []Finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("cabf=%v object %d: %d findings, zlint %d", cabf, index, len(got), len(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		g.Object = Object{}
		if g != w {
			t.Errorf("cabf=%v object %d finding %d:\n got %+v\nwant %+v", cabf, index, i, g, w)
		}
	}
}
