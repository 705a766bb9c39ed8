package lint

import (
	"encoding/json"
	"fmt"
	"github.com/libvirt-pki/libvirt-pki/internal/junit"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/libvirt-pki/libvirt-pki/verify"
)

// JSONSchema names the JSON document's shape (docs/lint-json.md); it
// changes only with a new version, so CI parsers can rely on it.
const JSONSchema = "libvirt-pki/lint/v1"

// Summary counts what a run linted and found.
type Summary struct {
	Certificates int             `json:"certificates"`
	CRLs         int             `json:"crls"`
	Errors       int             `json:"errors"`
	Warnings     int             `json:"warnings"`
	Notices      int             `json:"notices"`
	FailOn       verify.Severity `json:"fail_on"`
	Failed       bool            `json:"failed"`
}

// Summarize counts objects and findings and decides pass/fail at failOn.
func (r *Report) Summarize(failOn verify.Severity) Summary {
	s := Summary{FailOn: failOn}
	for _, o := range r.Objects {
		if o.Kind == KindCRL {
			s.CRLs++
		} else {
			s.Certificates++
		}
	}
	for _, f := range r.Findings {
		switch f.Severity {
		case verify.Error:
			s.Errors++
		case verify.Warning:
			s.Warnings++
		default:
			s.Notices++
		}
		if f.Severity.Rank() >= failOn.Rank() {
			s.Failed = true
		}
	}
	return s
}

// WriteJSON writes the report as the documented JSON document.
func (r *Report) WriteJSON(w io.Writer, failOn verify.Severity) error {
	doc := struct {
		Schema    string    `json:"schema"`
		Sources   []string  `json:"sources"`
		CertLints int       `json:"certificate_lints"`
		CRLLints  int       `json:"crl_lints"`
		Objects   []Object  `json:"objects"`
		Findings  []Finding `json:"findings"`
		Summary   Summary   `json:"summary"`
	}{JSONSchema, r.Sources, r.CertLints, r.CRLLints, r.Objects, r.Findings, r.Summarize(failOn)}
	if doc.Findings == nil {
		doc.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteTable writes the objects linted, then the findings, then a summary
// line.
func (r *Report) WriteTable(w io.Writer, failOn verify.Severity) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tFILE\t#\tKIND\tSUBJECT\tFINDINGS")
	for _, o := range r.Objects {
		n := 0
		for _, f := range r.Findings {
			if f.Object == o {
				n++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\n", o.Unit, o.File, o.Index, o.Kind, orDash(o.Subject), n)
	}
	tw.Flush()
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tLINT\tSOURCE\tUNIT\tFILE\t#\tDESCRIPTION")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.Severity, f.Lint, f.Source, f.Unit, f.File, f.Index, f.Description)
		}
		tw.Flush()
		if slices.ContainsFunc(r.Findings, oldPolicy) {
			fmt.Fprintf(w, "\nThe warnings from error lints (e_...) are old key-usage-policy certificates: %s.\n", oldPolicyNote)
		}
	}
	s := r.Summarize(failOn)
	verdict := "OK"
	if s.Failed {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d certificates and %d CRLs linted against %s: %d errors, %d warnings, %d notices (failing on %s and above)\n",
		verdict, s.Certificates, s.CRLs, strings.Join(r.Sources, ", "), s.Errors, s.Warnings, s.Notices, failOn)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJUnit writes JUnit XML: suite "libvirt-pki lint" with a case per
// object, named by unit, file and index.
func (r *Report) WriteJUnit(w io.Writer, failOn verify.Severity) error {
	suite := junit.Suite{Name: "libvirt-pki lint"}
	for _, o := range r.Objects {
		c := junit.Case{ClassName: "lint." + string(o.Kind), Name: fmt.Sprintf("%s %s #%d", o.Unit, o.File, o.Index)}
		var out []string
		for _, f := range r.Findings {
			if f.Object != o {
				continue
			}
			line := fmt.Sprintf("%s %s (%s): %s", f.Severity, f.Lint, f.Source, f.Description)
			if f.Severity.Rank() >= failOn.Rank() {
				c.Failures = append(c.Failures, junit.Failure{Message: f.Description, Type: f.Lint, Text: line})
			} else {
				out = append(out, line)
			}
		}
		c.SystemOut = strings.Join(out, "\n")
		suite.Add(c)
	}
	return junit.Write(w, junit.Suites{Suites: []junit.Suite{suite}})
}

// oldPolicy says whether f is a finding gradePolicy made a warning.
func oldPolicy(f Finding) bool {
	return f.Severity == verify.Warning && strings.HasPrefix(f.Lint, "e_") && strings.HasSuffix(f.Details, oldPolicyNote)
}
