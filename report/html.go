package report

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"time"

	"github.com/libvirt-pki/libvirt-pki/verify"
)

var (
	//go:embed page.html.tmpl
	pageTemplate string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

// FindingsOpen is the most findings shown unfolded.
const FindingsOpen = 500

// csp lets the page run its own style and script, by hash, and load
// nothing at all: a hostile name that escaped into markup could neither
// run nor fetch, and a browser reports any attempt.
var csp = "default-src 'none'; style-src " + hashOf(pageCSS) + "; script-src " + hashOf(pageJS) +
	"; img-src 'none'; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"date":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"add":   func(a, b int) int { return a + b },
	"sub":   func(a, b int) int { return a - b },
	"sevRank": func(s string) int {
		return 2 - verify.Severity(s).Rank()
	},
	"caClass": func(c CA) string {
		return statusOf(c.Status, c.DaysLeft, c.Status != "")
	},
	"credClass": func(c Credential) string {
		return statusOf(c.Status, c.DaysLeft, c.Dated)
	},
}).Parse(pageTemplate))

// statusOf is the colour class of a table's status cell, as the chart's.
func statusOf(status string, days int, dated bool) string {
	switch {
	case !dated:
		return ""
	case status == "revoked":
		return "rv"
	case status == "not-yet-valid":
		return "ny"
	case status == "expired":
		return "ex"
	case status == "expiring":
		return "wa"
	case days < 90:
		return "so"
	}
	return "ok"
}

// WriteHTML writes the page: one self-contained HTML document (its style,
// script and chart inline, nothing to fetch).
func (m *Model) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	err := page.Execute(bw, struct {
		M            *Model
		CSP          string
		CSS          template.CSS
		JS           template.JS
		GroupSize    int
		FindingsOpen bool
	}{m, csp, template.CSS(pageCSS), template.JS(pageJS), GroupSize, len(m.Findings) <= FindingsOpen})
	if err != nil {
		return err
	}
	return bw.Flush()
}
