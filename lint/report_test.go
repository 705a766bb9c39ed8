package lint

import (
	"encoding/json"
	"encoding/xml"
	"github.com/libvirt-pki/libvirt-pki/internal/junit"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// sampleReport holds one object with a warning and a notice, and one
// clean CRL.
func sampleReport() *Report {
	cert := Object{Unit: "compute01", Path: "/t/compute01/servercert.pem", File: "servercert.pem", Role: "servercert", Kind: KindCertificate, Subject: "CN=compute01"}
	crl := Object{Unit: "(shared)", Path: "/t/cacrl.pem", File: "cacrl.pem", Role: RoleCRL, Kind: KindCRL, Subject: "CN=CA"}
	return &Report{Sources: []string{"RFC5280"}, Objects: []Object{cert, crl}, Findings: []Finding{
		{Object: cert, Severity: verify.Warning, Status: "warn", Lint: "w_x", Source: "RFC5280", Description: "a warning"},
		{Object: cert, Severity: verify.Info, Status: "info", Lint: "n_y", Source: "RFC5480", Description: "a notice"},
	}}
}

// TestFailOn: warnings fail only with --fail-on warning; notices never.
func TestFailOn(t *testing.T) {
	rep := sampleReport()
	if s := rep.Summarize(verify.Error); s.Failed || s.Warnings != 1 || s.Notices != 1 || s.Certificates != 1 || s.CRLs != 1 {
		t.Errorf("fail-on error: %+v", s)
	}
	if s := rep.Summarize(verify.Warning); !s.Failed {
		t.Errorf("fail-on warning: %+v", s)
	}
	rep.Findings = rep.Findings[1:]
	if rep.Summarize(verify.Warning).Failed {
		t.Error("a notice failed the run")
	}
}

func TestWriteJSONAndJUnit(t *testing.T) {
	var js, ju strings.Builder
	rep := sampleReport()
	if err := rep.WriteJSON(&js, verify.Warning); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema   string
		Findings []map[string]any
		Summary  Summary
	}
	if err := json.Unmarshal([]byte(js.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != JSONSchema || len(doc.Findings) != 2 || doc.Findings[0]["unit"] != "compute01" || doc.Findings[0]["lint"] != "w_x" || !doc.Summary.Failed {
		t.Errorf("JSON: %s", js.String())
	}
	if err := rep.WriteJUnit(&ju, verify.Warning); err != nil {
		t.Fatal(err)
	}
	var suites junit.Suites
	if err := xml.Unmarshal([]byte(ju.String()), &suites); err != nil {
		t.Fatal(err)
	}
	s := suites.Suites[0]
	if s.Tests != 2 || s.Failures != 1 || len(s.Cases[0].Failures) != 1 || s.Cases[0].Failures[0].Type != "w_x" ||
		!strings.Contains(s.Cases[0].SystemOut, "n_y") || len(s.Cases[1].Failures) != 0 {
		t.Errorf("JUnit: %s", ju.String())
	}
}

// TestBadInput: a tree with nothing to lint, a missing root and a file
// that does not parse are bad input, named in one line.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	tree := layout.Tree{Layout: layout.PKIPath, Root: dir, CADir: layout.OutCADir(dir)}
	if err := os.Mkdir(filepath.Join(dir, "compute01"), 0o700); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "compute01", "cacrl.pem")
	for _, c := range []struct {
		name, want string
		prep       func()
		tree       layout.Tree
	}{
		{"empty", "no certificate or CRL found for the pkipath layout", func() {}, tree},
		{"missing root", "no such file or directory", func() {}, layout.Tree{Layout: layout.PKIPath, Root: filepath.Join(dir, "nowhere")}},
		{"not a CRL", bad + ": not a PEM X509 CRL (found CERTIFICATE)", func() { writeFile(t, bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }, tree},
		{"bad DER", bad + ": x509: malformed crl", func() { writeFile(t, bad, "not a CRL") }, tree},
	} {
		c.prep()
		_, err := Run(Options{Tree: c.tree})
		if !errs.IsInput(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want bad input %q", c.name, err, c.want)
		}
	}
}

// TestJSONFieldsAreDocumented keeps docs/lint-json.md in step with the
// JSON field names: CI parsers key on them.
func TestJSONFieldsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint-json.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), JSONSchema) {
		t.Errorf("docs/lint-json.md does not name the schema %s", JSONSchema)
	}
	for _, v := range []any{Object{}, Finding{}, Summary{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name != "" && !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("%s.%s (JSON %q) is not documented in docs/lint-json.md", typ.Name(), typ.Field(i).Name, name)
			}
		}
	}
	var out strings.Builder
	if err := sampleReport().WriteJSON(&out, verify.Error); err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(out.String()), &top); err != nil {
		t.Fatal(err)
	}
	for name := range top {
		if !strings.Contains(string(doc), `"`+name+`"`) {
			t.Errorf("top-level field %q is not in docs/lint-json.md", name)
		}
	}
}
