package main

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/chromiumtest"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Screenshot size of the report tests.
const shotWidth, shotHeight = 1280, 1800

// loadReport writes the report of out to a file and loads it in
// Chromium: nothing fetched, nothing logged, only our script ran (the
// Content-Security-Policy lets it by hash), a screenshot at a fixed size.
func loadReport(t *testing.T, out string, fifo string) chromiumtest.Page {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.html")
	code, _, stderr := noHangRun(t, fifo, "report", "--layout", "libvirt", "--out", out, "-o", file)
	if code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	p := chromiumtest.Load(t, file, shotWidth, shotHeight)
	if len(p.Console) > 0 || len(p.Requests) > 0 {
		t.Errorf("the page logged %q and asked for %q; want nothing", p.Console, p.Requests)
	}
	if !strings.HasPrefix(p.Title, "libvirt-pki report as of") || !strings.Contains(p.DOM, `data-script="ran"`) {
		t.Errorf("title %q, own script ran: %v; want the report's title, set by no hostile name", p.Title, strings.Contains(p.DOM, `data-script="ran"`))
	}
	if n := strings.Count(p.DOM, "<script"); n != 1 || strings.Contains(p.DOM, "<img") {
		t.Errorf("the DOM holds %d script elements (want 1, the page's own) or an img element", n)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(p.Screenshot))
	if err != nil || cfg.Width != shotWidth || cfg.Height != shotHeight {
		t.Errorf("screenshot: %v, %dx%d; want a %dx%d PNG", err, cfg.Width, cfg.Height, shotWidth, shotHeight)
	}
	return p
}

// checkAgainstVerify asserts the DOM holds a row for every host verify
// checked and, for verify's source, exactly the findings of verify -o json,
// each with its fix.
func checkAgainstVerify(t *testing.T, dom string, v verifyJSON) {
	t.Helper()
	rowHosts := map[string]bool{}
	for _, m := range regexp.MustCompile(`<tr class="cred[^"]*" data-host="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		rowHosts[html.UnescapeString(m[1])] = true
	}
	for _, h := range v.Hosts {
		if !rowHosts[h.Host] {
			t.Errorf("host %s: no row in the page", h.Host)
		}
	}
	var got, want []string
	for _, m := range regexp.MustCompile(`<tr class="finding" data-sev="([^"]*)" data-code="([^"]*)" data-src="verify" data-host="([^"]*)">(.*?)</tr>`).FindAllStringSubmatch(dom, -1) {
		got = append(got, m[1]+" "+m[2]+" "+html.UnescapeString(m[3]))
		if fix := regexp.MustCompile(`<td class="fix">(.*?)</td>`).FindStringSubmatch(m[4]); fix == nil || fix[1] == "" {
			t.Errorf("finding %s %s on %s: no fix in the page", m[1], m[2], m[3])
		}
	}
	for _, f := range v.Findings {
		want = append(want, f.Severity+" "+f.Code+" "+f.Host)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("verify's findings in the page:\n%s\nverify -o json:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The report of a tree with an expired leaf, an expiring CA, a key
// mismatch, a revoked host and a hostile certificate, loaded in Chromium:
// its summary figures, chart marks and findings match expiry, lint and
// verify's JSON, and the hostile names are text.
func TestReportInChromium(t *testing.T) {
	out := reportTree(t)
	var v verifyJSON
	runJSON(t, &v, "verify", "--layout", "libvirt", "--out", out, "-o", "json")
	var exp struct {
		Certificates []struct{ Kind, Status string }
	}
	runJSON(t, &exp, "expiry", "--layout", "libvirt", "--out", out, "-o", "json")
	rows := exp.Certificates
	var l struct {
		Summary struct{ Errors, Warnings int }
	}
	runJSON(t, &l, "lint", "--layout", "libvirt", "--out", out, "-o", "json")
	p := loadReport(t, out, "")
	dom := p.DOM
	checkAgainstVerify(t, dom, v)

	status := map[string]int{}
	certs, crls := 0, 0
	for _, r := range rows {
		status[r.Status]++
		if r.Kind == "crl" {
			crls++
		} else {
			certs++
		}
	}
	for key, want := range map[string]int{"hosts": v.Summary.Hosts, "errors": v.Summary.Errors + l.Summary.Errors,
		"warnings": v.Summary.Warnings + l.Summary.Warnings, "certificates": certs, "crls": crls, "cas": 1,
		"expired": status["expired"], "expiring": status["expiring"], "revoked": status["revoked"]} {
		if got := summaryFigure(t, dom, key); got != strconv.Itoa(want) {
			t.Errorf("summary %s = %s; want %d (from the JSON reports)", key, got, want)
		}
	}
	if status["expired"] == 0 || status["expiring"] == 0 || status["revoked"] == 0 {
		t.Fatalf("the tree lacks a problem: expiry statuses %v", status)
	}
	checkChart(t, dom, len(rows), map[string]int{"ex": status["expired"], "rv": status["revoked"], "wa": status["expiring"]})
	for _, want := range []string{
		`data-code="expired" data-src="verify" data-host="compute01"`, `data-code="key-mismatch" data-src="verify" data-host="compute02"`,
		`data-code="revoked" data-src="verify" data-host="compute04"`, `data-code="expiring" data-src="verify"`,
		`<g class="band b-expiring">`,
		"&lt;script&gt;document.title='pwned-cn'&lt;/script&gt;",
		"&lt;img src=x onerror=", "pki&lt;script&gt;document.title=",
	} {
		if !strings.Contains(dom, want) && !strings.Contains(dom, strings.ReplaceAll(want, "&#39;", "'")) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if os.Getenv("REPORT_SCREENSHOT") != "" {
		os.WriteFile(os.Getenv("REPORT_SCREENSHOT"), p.Screenshot, 0o644) //nolint:errcheck // a debugging aid
	}
}

// checkChart asserts the SVG has one mark per expiry row, and as many of
// each colour as the rows of that status.
func checkChart(t *testing.T, dom string, rows int, byClass map[string]int) {
	t.Helper()
	marks := map[string]int{}
	total := 0
	for _, g := range regexp.MustCompile(`<g class="marks s-(\w+)">(.*?)</g>`).FindAllStringSubmatch(dom, -1) {
		n := strings.Count(g[2], "<rect ")
		marks[g[1]] += n
		total += n
	}
	if total != rows {
		t.Errorf("the chart has %d marks; expiry lists %d certificates and CRLs", total, rows)
	}
	for class, want := range byClass {
		if marks[class] != want {
			t.Errorf("the chart has %d marks of class %s; want %d", marks[class], class, want)
		}
	}
}

// Unreadable, truncated and garbage files are findings, and the page is
// still written and loads cleanly.
func TestReportUnreadableFilesInChromium(t *testing.T) {
	out := reportTree(t)
	put := func(host, rel string, data []byte) string {
		p := filepath.Join(out, host, "etc", "pki", "libvirt", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if data != nil {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	good, err := os.ReadFile(filepath.Join(out, "compute01", "etc", "pki", "libvirt", "clientcert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	put("compute05", "servercert.pem", []byte("\x00\x01garbage\xff not a certificate"))
	put("compute06", "clientcert.pem", good[:len(good)/2])
	fifo := put("compute07", "servercert.pem", nil)
	testutil.Mkfifo(t, fifo)
	var v verifyJSON
	testutil.NoHang(t, func() { runJSON(t, &v, "verify", "--layout", "libvirt", "--out", out, "-o", "json") }, fifo)
	p := loadReport(t, out, fifo)
	checkAgainstVerify(t, p.DOM, v)
	for _, host := range []string{"compute05", "compute06", "compute07"} {
		if !strings.Contains(p.DOM, fmt.Sprintf(`data-code="unreadable-file" data-src="verify" data-host="%s"`, host)) {
			t.Errorf("%s's bad file is not a finding in the page", host)
		}
	}
}

// A certificate signed by an imported CA (certificates --ca-cert) whose
// subject and SANs hold markup, quotes and a control character is shown
// as text, chains (no untrusted-chain finding), and runs nothing.
func TestReportHostileImportedCAInChromium(t *testing.T) {
	caDir := t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "Imported <b>CA</b>", Days: 365})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"cacert.pem": ca.CertPEM, "cakey.pem": ca.Key.PEM} {
		if err := os.WriteFile(filepath.Join(caDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "pki")
	runExit(t, exitOK, "certificates", "--layout", "libvirt", "--out", out, "--hosts", "compute03",
		"--ca-cert", filepath.Join(caDir, "cacert.pem"), "--ca-key", filepath.Join(caDir, "cakey.pem"))
	resign(t, caDir, filepath.Join(out, "compute03", "etc", "pki", "libvirt", "clientcert.pem"), makeHostile)
	p := loadReport(t, out, "")
	for _, want := range []string{"&lt;script&gt;document.title='pwned-cn'&lt;/script&gt;", "&lt;img src=x onerror=", "Imported &lt;b&gt;CA&lt;/b&gt;", `'\x07&amp;amp;`} {
		if !strings.Contains(p.DOM, want) {
			t.Errorf("the page lacks the escaped text %q", want)
		}
	}
	if strings.Contains(p.DOM, `data-code="untrusted-chain"`) {
		t.Error("the hostile certificate does not chain to the imported CA")
	}
}

// Printed, the page is black and white: the severity badges white with
// black text, the expired and revoked marks and the expiring CA's band
// black (print stylesheet).
func TestReportPrintsInBlackAndWhite(t *testing.T) {
	out := reportTree(t)
	file := filepath.Join(t.TempDir(), "report.html")
	runExit(t, exitOK, "report", "--layout", "libvirt", "--out", out, "-o", file)
	style := func(sel, prop string) string {
		return "getComputedStyle(document.querySelector(" + strconv.Quote(sel) + "))." + prop
	}
	evals := []string{style(".sev-error", "backgroundColor"), style(".sev-error", "color"), style(".s-ex rect", "fill"),
		style(".s-rv rect", "fill"), style(".band.b-expiring rect", "fill"), style("header", "backgroundColor")}
	want := []string{"rgb(255, 255, 255)", "rgb(0, 0, 0)", "rgb(0, 0, 0)", "rgb(0, 0, 0)", "rgb(0, 0, 0)", "rgb(255, 255, 255)"}
	p := chromiumtest.LoadWith(t, file, shotWidth, shotHeight, chromiumtest.Options{Media: "print", Evals: evals})
	if !slices.Equal(p.Evals, want) {
		t.Errorf("printed styles %q; want %q", p.Evals, want)
	}
	// On screen, clicking "Days left" twice sorts the hosts' table up,
	// then down (the page's script).
	sortDays := "(document.querySelector('#hosts th.n').click(), document.querySelector('#hosts tbody tr').cells[8].textContent)"
	screen := chromiumtest.LoadWith(t, file, shotWidth, shotHeight, chromiumtest.Options{Evals: append(evals, sortDays, sortDays)})
	if slices.Equal(screen.Evals[:len(want)], want) {
		t.Errorf("on screen the page is black and white too (%q): the check cannot fail", screen.Evals)
	}
	up, err1 := strconv.Atoi(screen.Evals[len(want)])
	down, err2 := strconv.Atoi(screen.Evals[len(want)+1])
	if err1 != nil || err2 != nil || up >= down || up > -30 {
		t.Errorf("sorting by days left: first row %q, then %q; want the expired leaf (about -35), then the CA's", screen.Evals[len(want)], screen.Evals[len(want)+1])
	}
}
