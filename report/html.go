package report

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/parallel"
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
	"rows":  hostRows,
	"sub":   func(a, b int) int { return a - b },
	"sevRank": func(s string) int {
		return 2 - verify.Severity(s).Rank()
	},
	"caClass": func(c CA) string {
		return statusOf(c.Status, c.DaysLeft, c.Status != "")
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
	groups, err := renderGroups(m.Groups)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	err = page.Execute(bw, struct {
		M            *Model
		CSP          string
		CSS          template.CSS
		JS           template.JS
		GroupSize    int
		FindingsOpen bool
		GroupsHTML   []template.HTML
	}{m, csp, template.CSS(pageCSS), template.JS(pageJS), GroupSize, len(m.Findings) <= FindingsOpen, groups})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// renderGroups renders each group's table with the page's "group"
// template on every core: the tables are most of a large page, and each
// stands alone. html/template escapes them as it escapes the page (a
// group starts and ends in the page's HTML text context).
func renderGroups(groups []Group) ([]template.HTML, error) {
	out := make([]template.HTML, len(groups))
	errs := make([]error, len(groups))
	parallel.Each(len(groups), 0, func(i int) {
		var b strings.Builder
		errs[i] = page.ExecuteTemplate(&b, "group", groups[i])
		out[i] = template.HTML(b.String())
	})
	return out, errors.Join(errs...)
}
