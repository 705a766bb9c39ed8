package packaging

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

const (
	rulesFile     = "prometheus/libvirt-pki.rules.yml"
	rulesTestFile = "prometheus/libvirt-pki.rules.test.yml"
	day           = 24 * time.Hour
)

// runTool runs a peer program and fails the test, with its output, unless
// it exits 0 and prints nothing on stderr (systemd-analyze reports unknown
// keys as warnings with exit status 0).
func runTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(peer.Require(t, name)[0], args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestAlertRulesCheckAndUnitTests(t *testing.T) {
	runTool(t, ".", "promtool", "check", "rules", rulesFile)
	runTool(t, "prometheus", "promtool", "test", "rules", filepath.Base(rulesTestFile))
}

// realMetrics makes a Kolla layout with the real certificates engine, in
// three runs: h1 with 1-day certificates, h2 with 13-day and h3 with 8-day
// ones, then a CRL valid for a day; and returns what `expiry -o prometheus`
// prints for it (audit.Collect, then audit.WritePrometheus).
func realMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	dir := t.TempDir()
	root, caDir := kolla.NovaLibvirtDir(dir, ""), kolla.CADir(dir)
	for _, run := range []struct {
		host string
		days int
	}{{"h1", 1}, {"h2", 13}, {"h3", 8}} {
		hosts, err := layout.ParseHosts(nil, []string{run.host}, "example.org")
		if err != nil {
			t.Fatal(err)
		}
		testlayout.Issue(t, certs.Options{Layout: layout.Kolla, Root: root, CADir: caDir, Hosts: hosts, Days: run.days, Org: "Example"})
	}
	if _, err := certs.Revoke(certs.RevokeOptions{Layout: layout.Kolla, Root: root, CADir: caDir, CRLDays: 1}); err != nil {
		t.Fatal(err)
	}
	rows, err := audit.Collect(context.Background(), audit.Options{Layout: layout.Kolla, Root: root, CADir: caDir, WarnDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := audit.WritePrometheus(&out, rows); err != nil {
		t.Fatal(err)
	}
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(&out)
	if err != nil {
		t.Fatalf("audit.WritePrometheus wrote what Prometheus cannot parse: %v\n%s", err, out.String())
	}
	return families
}

// labelNames returns a metric's label names, sorted.
func labelNames(m *dto.Metric) []string {
	var names []string
	for _, l := range m.GetLabel() {
		names = append(names, l.GetName())
	}
	sort.Strings(names)
	return names
}

// TestRulesTestSeriesAreRealMetrics keeps the hand-written rules tests
// honest: every libvirt-pki series there has a metric name the real output
// has, with exactly its label names.
func TestRulesTestSeriesAreRealMetrics(t *testing.T) {
	real := realMetrics(t)
	data, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests []struct {
			InputSeries []struct{ Series string } `yaml:"input_series"`
		}
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	checked := map[string]bool{}
	for _, tc := range doc.Tests {
		for _, s := range tc.InputSeries {
			var p expfmt.TextParser
			fams, err := p.TextToMetricFamilies(strings.NewReader(s.Series + " 1\n"))
			if err != nil {
				t.Fatalf("%s: series %s: %v", rulesTestFile, s.Series, err)
			}
			for name, fam := range fams {
				if name == "node_textfile_mtime_seconds" { // node_exporter's own
					continue
				}
				want, ok := real[name]
				if !ok {
					t.Errorf("%s: metric %s: libvirt-pki writes no such metric", rulesTestFile, name)
					continue
				}
				got, wantNames := labelNames(fam.Metric[0]), labelNames(want.Metric[0])
				if strings.Join(got, ",") != strings.Join(wantNames, ",") {
					t.Errorf("%s: %s labels %v, libvirt-pki writes %v", rulesTestFile, name, got, wantNames)
				}
				checked[name] = true
			}
		}
	}
	for name := range real {
		if !checked[name] {
			t.Errorf("%s: no series of %s, which libvirt-pki writes", rulesTestFile, name)
		}
	}
}

// expectedAlert says which rule should fire for a series of metric name
// with left seconds to go, mirroring the thresholds the rules document.
func expectedAlert(name string, left float64) (alert, severity string) {
	d := time.Duration(left) * time.Second
	switch {
	case name == "libvirt_pki_crl_next_update":
		if d <= 0 {
			return "LibvirtCRLPastNextUpdate", "critical"
		}
	case name != "x509_cert_not_after":
	case d <= 0:
		return "LibvirtCertificateExpired", "critical"
	case d < 7*day:
		return "LibvirtCertificateExpiringIn7Days", "critical"
	case d < 30*day:
		return "LibvirtCertificateExpiringIn30Days", "warning"
	}
	return "", ""
}

// selector renders a series as PromQL: name{label="value",...}, leaving
// out empty labels as Prometheus does.
func selector(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if labels[k] != "" {
			parts = append(parts, k+"="+strconv.Quote(labels[k]))
		}
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

type series struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type sample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// TestAlertsOnRealMetrics feeds the real metrics of a layout to the rules,
// three days after it was made, and checks the firing alerts one by one:
// h1's certificates expired, h3's expire within 7 days, h2's within 30, the
// CRL is past its next update, and the CA raises nothing.
func TestAlertsOnRealMetrics(t *testing.T) {
	families := realMetrics(t)
	const evalSeconds = 60
	// Promtool's time 0 stands for three days from now.
	ref := float64(time.Now().Add(3 * day).Unix())
	var input []series
	var want []sample
	fired := map[string]bool{}
	for name, fam := range families {
		for _, m := range fam.Metric {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetGauge().GetValue()
			if name != "x509_cert_expired" {
				v -= ref
			}
			input = append(input, series{selector(name, labels), strconv.FormatFloat(v, 'f', -1, 64) + "x2"})
			alert, severity := expectedAlert(name, v-evalSeconds)
			if alert == "" {
				continue
			}
			fired[alert] = true
			labels["alertname"], labels["alertstate"], labels["severity"] = alert, "firing", severity
			want = append(want, sample{selector("ALERTS", labels), 1})
		}
	}
	for _, a := range []string{"LibvirtCertificateExpired", "LibvirtCertificateExpiringIn7Days", "LibvirtCertificateExpiringIn30Days", "LibvirtCRLPastNextUpdate"} {
		if !fired[a] {
			t.Fatalf("the layout should raise %s; it does not: it no longer tests that rule", a)
		}
	}
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	type exprTest struct {
		Expr       string   `yaml:"expr"`
		EvalTime   string   `yaml:"eval_time"`
		ExpSamples []sample `yaml:"exp_samples"`
	}
	doc := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":         "1m",
			"input_series":     input,
			"promql_expr_test": []exprTest{{Expr: `ALERTS{alertstate="firing"}`, EvalTime: strconv.Itoa(evalSeconds) + "s", ExpSamples: want}},
		}},
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "real.test.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, dir, "promtool", "test", "rules", "real.test.yml")
}

// TestSystemdUnits runs systemd-analyze verify on the units, with their
// Exec paths moved to stand-ins in a temporary directory (the package
// installs the real ones; CI verifies those after installing the .deb).
func TestSystemdUnits(t *testing.T) {
	units, err := filepath.Glob("systemd/*")
	if err != nil || len(units) != 4 {
		t.Fatalf("want 4 units in systemd/, got %v (%v)", units, err)
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "bin")
	for _, p := range []string{"libvirt-pki", "expiry-textfile"} {
		if err := os.MkdirAll(stub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stub, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	moved := strings.NewReplacer("/usr/libexec/libvirt-pki/expiry-textfile", stub+"/expiry-textfile", "/usr/bin/libvirt-pki ", stub+"/libvirt-pki ")
	args := []string{"verify", "--man=no"}
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(dst, []byte(moved.Replace(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, dst)
	}
	runTool(t, dir, "systemd-analyze", args...)
}

// fakeExpiry is a stand-in for libvirt-pki: it prints a metrics line with
// its arguments and exits with $FAKE_RC, as expiry exits 0 (all fine),
// 1 (something needs attention) or 2 (bad input).
const fakeExpiry = `#!/bin/sh
echo "# args: $*"
echo 'x509_cert_expired{host="h1"} 0'
exit "$FAKE_RC"
`

// TestExpiryTextfile checks the wrapper's contract: metrics are published
// by rename when expiry ran (exit 0 or 1), the old file is kept when it
// failed, and no temporary file is left behind either way.
func TestExpiryTextfile(t *testing.T) {
	dir := t.TempDir()
	textfiles := filepath.Join(dir, "textfile")
	bin := filepath.Join(dir, "libvirt-pki")
	if err := os.WriteFile(bin, []byte(fakeExpiry), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper, err := filepath.Abs("expiry-textfile")
	if err != nil {
		t.Fatal(err)
	}
	run := func(rc string) (int, string) {
		cmd := exec.Command(wrapper, "--config-dir", "/etc/kolla")
		cmd.Env = append(os.Environ(), "FAKE_RC="+rc, "LIBVIRT_PKI_BIN="+bin, "LIBVIRT_PKI_TEXTFILE_DIR="+textfiles)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := run("0"); code != 2 || !strings.Contains(out, textfiles+" does not exist") {
		t.Fatalf("missing directory: exit %d, %q; want 2 and the directory named", code, out)
	}
	if err := os.Mkdir(textfiles, 0o755); err != nil {
		t.Fatal(err)
	}
	prom := filepath.Join(textfiles, "libvirt-pki.prom")
	for _, rc := range []string{"0", "1", "2"} {
		if err := os.WriteFile(prom, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := run(rc)
		got, err := os.ReadFile(prom)
		if err != nil {
			t.Fatal(err)
		}
		published := strings.HasPrefix(string(got), "# args: expiry -o prometheus --config-dir /etc/kolla\n")
		switch {
		case rc != "2" && (code != 0 || !published):
			t.Errorf("expiry exit %s: wrapper exit %d, file %q, output %q; want 0 and the new metrics", rc, code, got, out)
		case rc == "2" && (code != 2 || string(got) != "old\n"):
			t.Errorf("expiry exit 2: wrapper exit %d, file %q; want 2 and the old file kept", code, got)
		}
		if fi, err := os.Stat(prom); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o644 {
			t.Errorf("expiry exit %s: %s mode %v, want 0644 for node_exporter", rc, prom, fi.Mode())
		}
		if left, _ := filepath.Glob(filepath.Join(textfiles, ".*")); len(left) > 0 {
			t.Errorf("expiry exit %s: temporary files left: %v", rc, left)
		}
	}
}
