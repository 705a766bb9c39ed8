package verify

import (
	"encoding/json"
	"fmt"
	"github.com/libvirt-pki/libvirt-pki/internal/junit"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// JSONSchema names the JSON document's shape; it changes only with a new
// version, so CI parsers can rely on it.
const JSONSchema = "libvirt-pki/verify/v1"

// Summary counts what a run found.
type Summary struct {
	Hosts    int      `json:"hosts"`
	Errors   int      `json:"errors"`
	Warnings int      `json:"warnings"`
	FailOn   Severity `json:"fail_on"`
	Failed   bool     `json:"failed"`
}

// Summarize counts findings and decides pass/fail at failOn.
func (r *Report) Summarize(failOn Severity) Summary {
	s := Summary{Errors: r.Count(Error), Warnings: r.Count(Warning), FailOn: failOn}
	for _, h := range r.Hosts {
		if h.Host != SharedHost {
			s.Hosts++
		}
	}
	for _, f := range r.Findings {
		if f.Severity.Rank() >= failOn.Rank() {
			s.Failed = true
		}
	}
	return s
}

// WriteJSON writes the report as the documented JSON document.
func (r *Report) WriteJSON(w io.Writer, failOn Severity) error {
	doc := struct {
		Schema   string       `json:"schema"`
		Hosts    []HostReport `json:"hosts"`
		Live     []liveJSON   `json:"live"`
		Findings []Finding    `json:"findings"`
		Summary  Summary      `json:"summary"`
	}{JSONSchema, r.Hosts, r.liveJSON(), r.Findings, r.Summarize(failOn)}
	if doc.Findings == nil {
		doc.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteTable writes the files each host gets, then the findings, then a
// summary line.
func (r *Report) WriteTable(w io.Writer, failOn Severity) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tFILE\tFROM\tSUBJECT\tNOT AFTER")
	for _, h := range r.Hosts {
		for _, f := range h.Files {
			na := "-"
			if f.NotAfter != nil {
				na = f.NotAfter.UTC().Format("2006-01-02")
			}
			path := f.Path
			if path == "" {
				path = "-"
			}
			subj := f.Subject
			if subj == "" {
				subj = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Host, f.tableName(), f.Source, subj, na)
		}
	}
	tw.Flush()
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tCODE\tHOST\tFILE\tMESSAGE")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Code, f.Host, orDash(f.File), f.Message)
		}
		tw.Flush()
	}
	if len(r.Live) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LIVE\tADDRESS\tRESULT\tMECH\tIDENTITY\tHOSTNAME\tLIBVIRT\tSTEPS")
		for _, l := range r.liveJSON() {
			var steps []string
			for _, st := range l.Steps {
				steps = append(steps, fmt.Sprintf("%s %.0fms", st.Name, st.Millis))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Host, l.Addr, l.Class, orDash(l.Mechanism), orDash(l.Identity), orDash(l.Hostname), orDash(l.LibVersion), strings.Join(steps, ", "))
		}
		tw.Flush()
	}
	s := r.Summarize(failOn)
	verdict := "OK"
	if s.Failed {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d hosts checked, %d errors, %d warnings (failing on %s and above)\n", verdict, s.Hosts, s.Errors, s.Warnings, failOn)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// JUnitCase is a test case another part of verify (the live check) adds.
type JUnitCase = junit.Case

// JUnitFailure is a failure in a JUnitCase.
type JUnitFailure = junit.Failure

// WriteJUnit writes JUnit XML: suite "offline" with a case per host, plus
// any extra suites (the live checks). Findings at or above failOn are
// failures, the rest go to system-out, so CI dashboards show them.
func (r *Report) WriteJUnit(w io.Writer, failOn Severity, extra map[string][]JUnitCase) error {
	suite := junit.Suite{Name: "libvirt-pki verify offline"}
	for _, h := range r.Hosts {
		c := junit.Case{ClassName: "offline", Name: h.Host}
		var out []string
		for _, f := range h.Findings {
			line := fmt.Sprintf("%s %s %s: %s", f.Severity, f.Code, orDash(f.File), f.Message)
			if f.Severity.Rank() >= failOn.Rank() {
				c.Failures = append(c.Failures, junit.Failure{Message: f.Message, Type: string(f.Code), Text: line})
			} else {
				out = append(out, line)
			}
		}
		c.SystemOut = strings.Join(out, "\n")
		suite.Add(c)
	}
	doc := junit.Suites{Suites: []junit.Suite{suite}}
	if len(r.Live) > 0 {
		doc.Suites = append(doc.Suites, r.liveJUnit())
	}
	for name, cases := range extra {
		s := junit.Suite{Name: name}
		for _, c := range cases {
			s.Add(c)
		}
		doc.Suites = append(doc.Suites, s)
	}
	return junit.Write(w, doc)
}

// liveJUnit is the live checks as a suite, one case per endpoint.
func (r *Report) liveJUnit() junit.Suite {
	ls := junit.Suite{Name: "libvirt-pki verify live"}
	for _, l := range r.liveJSON() {
		var total float64
		for _, st := range l.Steps {
			total += st.Millis
		}
		c := junit.Case{ClassName: "live", Name: l.Host + " " + l.Addr, Time: fmt.Sprintf("%.3f", total/1000)}
		if !l.OK {
			c.Failures = []junit.Failure{{Message: l.Error, Type: "live-" + l.Class, Text: l.Error}}
		}
		ls.Add(c)
	}
	return ls
}

// liveJSON is a live check as the JSON report documents it.
type liveJSON struct {
	Host               string     `json:"host"`
	Addr               string     `json:"addr"`
	ServerName         string     `json:"server_name"`
	Service            string     `json:"service"`
	OK                 bool       `json:"ok"`
	Class              string     `json:"class"`
	Error              string     `json:"error,omitempty"`
	Mechanism          string     `json:"mechanism,omitempty"`
	Identity           string     `json:"identity,omitempty"`
	Hostname           string     `json:"hostname,omitempty"`
	LibVersion         string     `json:"lib_version,omitempty"`
	TLSVersion         string     `json:"tls_version,omitempty"`
	ServerCertNotAfter *time.Time `json:"server_cert_not_after,omitempty"`
	Steps              []stepJSON `json:"steps"`
}

type stepJSON struct {
	Name   string  `json:"name"`
	Millis float64 `json:"ms"`
	Detail string  `json:"detail,omitempty"`
}

func (r *Report) liveJSON() []liveJSON {
	out := []liveJSON{}
	for _, l := range r.Live {
		j := liveJSON{Host: l.Target.Host, Addr: l.Target.Addr, ServerName: l.Target.ServerName, Service: l.Target.Service, OK: l.OK, Class: string(l.Class), Error: l.Err,
			Mechanism: l.Mechanism, Identity: l.Identity, Hostname: l.Hostname, LibVersion: l.LibVersion, TLSVersion: l.TLSVersion, Steps: []stepJSON{}}
		if !l.ServerCertNotAfter.IsZero() {
			na := l.ServerCertNotAfter
			j.ServerCertNotAfter = &na
		}
		for _, st := range l.Steps {
			j.Steps = append(j.Steps, stepJSON{st.Name, float64(st.Duration.Microseconds()) / 1000, st.Detail})
		}
		out = append(out, j)
	}
	return out
}

// tableName is the file's name in the layout (its role's, for a report
// read back from JSON).
func (f FileInfo) tableName() string {
	if f.name != "" {
		return f.name
	}
	return string(f.Role) + ".pem"
}
