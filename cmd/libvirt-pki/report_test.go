package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// hostileCN is a subject that would run a script, break out of an
// attribute and ring a bell if the page did not escape it.
const hostileCN = "<script>document.title='pwned-cn'</script>\"'\a&amp;"

// hostileSAN would load an image (and run its handler) if not escaped.
const hostileSAN = `"><img src=x onerror="document.title='pwned-san'">`

// reportTree makes a libvirt-layout tree under a directory whose name is
// itself hostile, with four hosts and one of each problem: compute01's
// server certificate expired, the CA expiring within 20 days,
// compute02's server key not its certificate's, compute04 revoked, and
// compute03's client certificate (signed by the tree's CA) with a
// hostile subject and SANs. It returns the --out directory.
func reportTree(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), `pki<script>document.title='pwned-path'</script>"`)
	run := func(args ...string) {
		t.Helper()
		if code, _, stderr := runArgs(args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	run("certificates", "--layout", "libvirt", "--out", out, "--ca-days", "20", "--hosts", "compute01,compute02,compute03,compute04")
	run("revoke", "--layout", "libvirt", "--out", out, "--host", "compute04")
	libvirt := func(host, rel string) string { return filepath.Join(out, host, "etc", "pki", "libvirt", rel) }
	caDir := filepath.Join(out, "ca")
	resign(t, caDir, libvirt("compute01", "servercert.pem"), func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-400*24*time.Hour), time.Now().Add(-35*24*time.Hour)
	})
	key, err := os.ReadFile(libvirt("compute03", "private/serverkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(libvirt("compute02", "private/serverkey.pem"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	resign(t, caDir, libvirt("compute03", "clientcert.pem"), makeHostile)
	return out
}

// makeHostile gives a certificate the hostile subject and SANs.
func makeHostile(c *x509.Certificate) {
	c.Subject = pkix.Name{CommonName: hostileCN, Organization: []string{"</td></tr><tr><td>injected"}}
	c.DNSNames = []string{hostileSAN, "compute03"}
	c.IPAddresses = []net.IP{net.ParseIP("10.0.0.3")}
}

// resign replaces the certificate at path by one the CA in caDir
// (cacert.pem, cakey.pem) signs for the same key, changed by edit.
func resign(t *testing.T, caDir, path string, edit func(*x509.Certificate)) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(caDir, "cacert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cas, err := pki.ParseCertsPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(caDir, "cakey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := pki.ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := pki.ParseCertsPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *old[0]
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.ExtraExtensions, tmpl.Extensions, tmpl.RawSubject = nil, nil, nil
	edit(&tmpl)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, cas[0], old[0].PublicKey, caKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// verifyJSON is the part of verify -o json the report is checked against.
type verifyJSON struct {
	Hosts []struct {
		Host string `json:"host"`
	} `json:"hosts"`
	Findings []struct {
		Severity, Code, Host, File, Message string
	} `json:"findings"`
	Summary struct {
		Hosts, Errors, Warnings int
	} `json:"summary"`
}

func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, stdout, stderr := runArgs(args...)
	if code != exitOK && code != exitFailure {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// summaryFigure reads one figure of the page's summary.
func summaryFigure(t *testing.T, dom, key string) string {
	t.Helper()
	m := regexp.MustCompile(`data-k="` + regexp.QuoteMeta(key) + `"[^>]*><dt>[^<]*</dt><dd>([^<]*)</dd>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("summary figure %s not in the page", key)
	}
	return m[1]
}

// The report of a tree with every problem, written twice with one --now,
// is the same bytes; without --now it is still written (exit 0).
func TestReportDeterministic(t *testing.T) {
	out := reportTree(t)
	// Files audit and lint both skip (at once), and one only lint reads.
	bad := filepath.Join(out, "compute05", "etc", "pki", "libvirt", "servercert.pem")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(out, "ca", "cacrl.pem")} {
		if err := os.WriteFile(p, []byte("-----BEGIN X509 CRL-----\ngarbage\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var pages [2]string
	for i := range pages {
		code, stdout, stderr := runArgs("report", "--layout", "libvirt", "--out", out, "--now", "2026-12-31T12:00:00Z")
		if code != exitOK || stderr != "" {
			t.Fatalf("report: exit %d: %s", code, stderr)
		}
		pages[i] = stdout
	}
	if pages[0] != pages[1] {
		t.Error("two reports of one tree with one --now differ")
	}
	if !strings.Contains(pages[0], "as of <b>2026-12-31 12:00:00 UTC</b>") {
		t.Error("the page does not say it is as of --now")
	}
	if !strings.Contains(pages[0], `data-code="unreadable-file" data-src="report" data-host="(ca)"`) {
		t.Error("the CA directory's garbage CRL, read by lint alone, is not a finding")
	}
	file := filepath.Join(t.TempDir(), "r.html")
	if code, stdout, stderr := runArgs("report", "--layout", "libvirt", "--out", out, "--now", "2026-12-31T12:00:00Z", "-o", file); code != exitOK || stdout != "" {
		t.Fatalf("report -o: exit %d, stdout %d bytes: %s", code, len(stdout), stderr)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != pages[0] {
		t.Errorf("report -o FILE wrote other bytes than standard output (%v)", err)
	}
}

// Bad input writes nothing: a symlinked --output, a bad --now, a missing
// tree.
func TestReportBadInput(t *testing.T) {
	out := reportTree(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.html")
	link := filepath.Join(dir, "link.html")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	wantBadInput(t, "symlink", "report", "--layout", "libvirt", "--out", out, "-o", link)
	if _, err := os.Lstat(target); err == nil {
		t.Error("report wrote through a symlinked --output")
	}
	wantBadInput(t, "--now", "report", "--layout", "libvirt", "--out", out, "--now", "tomorrow")
	wantBadInput(t, "does not exist", "report", "--layout", "libvirt", "--out", out, "-o", filepath.Join(dir, "no", "r.html"))
	wantBadInput(t, "no-such", "report", "--layout", "libvirt", "--out", filepath.Join(dir, "no-such"))
}

// During a CA rotation the page names the state and the next step, and
// shows each CA with its role (current and next after start, current and
// previous after reissue), each with its band on the chart.
func TestReportRotation(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pki")
	tree := []string{"--layout", "libvirt", "--out", out}
	runExit(t, exitOK, append([]string{"certificates", "--hosts", "compute01"}, tree...)...)
	for _, step := range []struct{ step, state, next, roles string }{
		{"start", "started", "then rotate-ca reissue", "current next"},
		{"reissue", "reissued", "then rotate-ca finish", "current previous"},
	} {
		runExit(t, exitOK, append([]string{"rotate-ca", step.step}, tree...)...)
		page := runExit(t, exitOK, append([]string{"report", "--no-lint"}, tree...)...)
		if !strings.Contains(page, "<code>"+step.state+"</code>") || !strings.Contains(page, step.next) {
			t.Errorf("after rotate-ca %s: the page does not say the state %s and the next step", step.step, step.state)
		}
		var roles []string
		for _, m := range regexp.MustCompile(`<tr class="ca" data-role="(\w+)"`).FindAllStringSubmatch(page, -1) {
			roles = append(roles, m[1])
		}
		if got := strings.Join(roles, " "); got != step.roles {
			t.Errorf("after rotate-ca %s: CA roles %q; want %q", step.step, got, step.roles)
		}
		if n := strings.Count(page, `<g class="band `); n != 2 {
			t.Errorf("after rotate-ca %s: %d CA bands on the chart; want 2", step.step, n)
		}
	}
}
