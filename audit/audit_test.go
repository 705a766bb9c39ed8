package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// layoutWithKnownDates makes a Kolla layout, then replaces h1's server
// certificate with an expired one and h2's with one expiring in 10 days.
func layoutWithKnownDates(t *testing.T) (Options, *pki.CA) {
	t.Helper()
	dir := t.TempDir()
	root, caDir := kolla.NovaLibvirtDir(dir, ""), kolla.CADir(dir)
	hosts, _ := layout.ParseHosts(nil, []string{"h1,h2,h3"}, "")
	ca := testlayout.Issue(t, certs.Options{Layout: layout.Kolla, Root: root, CADir: caDir, Hosts: hosts})
	reissue := func(host string, notBefore time.Time, days int) {
		key, _ := pki.GenerateKey(pki.ECDSAP256)
		_, certPEM, err := ca.Issue(pki.LeafRequest{Profile: pki.ServerProfile, CommonName: host, Key: key, Days: days, NotBefore: notBefore, SANs: pki.SANs{DNS: []string{host}}})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, host, "servercert.pem"), certPEM, 0o644)
	}
	// The CA began moments ago; back-dating below it is capped, so an
	// expired leaf needs a CA that began earlier: use a 1-day leaf issued
	// "now" and audit 3 days in the future instead.
	reissue("h1", time.Time{}, 1)
	reissue("h2", time.Time{}, 13)
	return Options{Layout: layout.Kolla, Root: root, CADir: caDir, WarnDays: 30, Now: time.Now().Add(3 * 24 * time.Hour)}, ca
}

func TestCollectStatusesAndOrder(t *testing.T) {
	o, _ := layoutWithKnownDates(t)
	rows, err := Collect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// 3 hosts x 2 leaves + the CA dir's cacert.pem + the shared cacert.pem.
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8: %+v", len(rows), rows)
	}
	want := []struct {
		host, file string
		status     Status
	}{{"h1", "servercert.pem", Expired}, {"h2", "servercert.pem", Expiring}}
	for i, w := range want {
		if rows[i].Host != w.host || rows[i].File != w.file || rows[i].Status != w.status {
			t.Fatalf("row %d = %s %s %s, want %s %s %s", i, rows[i].Host, rows[i].File, rows[i].Status, w.host, w.file, w.status)
		}
	}
	for _, r := range rows[2:] {
		if r.Status != OK {
			t.Errorf("%s %s: %s, want ok", r.Host, r.File, r.Status)
		}
	}
	if rows[len(rows)-1].Kind != "ca" {
		t.Errorf("the CA expires last and should sort last: %+v", rows[len(rows)-1])
	}
	if !NeedsAttention(rows) {
		t.Fatal("NeedsAttention false with an expired certificate")
	}
	var table bytes.Buffer
	WriteTable(&table, rows)
	if !regexp.MustCompile(`(?m)^h1 +servercert.pem +server +h1 +h1 .* -2d +libvirt-pki CA +expired$`).MatchString(table.String()) {
		t.Fatalf("table:\n%s", table.String())
	}
}

// TestPrometheusParsesBack feeds our exposition to Prometheus's own text
// parser and checks every certificate is there with the right values.
func TestPrometheusParsesBack(t *testing.T) {
	o, _ := layoutWithKnownDates(t)
	rows, _ := Collect(context.Background(), o)
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, rows); err != nil {
		t.Fatal(err)
	}
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("Prometheus cannot parse our output: %v\n%s", err, buf.String())
	}
	for _, name := range []string{"x509_cert_not_after", "x509_cert_not_before", "x509_cert_expired"} {
		fam := families[name]
		if fam == nil || len(fam.Metric) != len(rows) {
			t.Fatalf("%s: want %d series", name, len(rows))
		}
	}
	seen := map[string]bool{}
	for _, m := range families["x509_cert_expired"].Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		key := labels["host"] + "/" + labels["filename"] + "/" + labels["serial_number"]
		seen[key] = true
		wantExpired := labels["host"] == "h1" && labels["filename"] == "servercert.pem"
		if got := m.GetGauge().GetValue(); (got == 1) != wantExpired {
			t.Errorf("%s: x509_cert_expired = %v", key, got)
		}
		for _, l := range []string{"subject_CN", "issuer_CN", "filepath"} {
			if labels[l] == "" {
				t.Errorf("%s: label %s empty", key, l)
			}
		}
	}
	for _, r := range rows {
		if !seen[r.Host+"/"+r.File+"/"+r.Serial] {
			t.Errorf("certificate %s %s (serial %s) missing from the metrics", r.Host, r.File, r.Serial)
		}
	}
}

func TestJSONAndYAMLCarryEveryRow(t *testing.T) {
	o, _ := layoutWithKnownDates(t)
	rows, _ := Collect(context.Background(), o)
	var y bytes.Buffer
	if err := WriteYAML(&y, rows); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Certificates []Row `yaml:"certificates"`
	}
	if err := yaml.Unmarshal(y.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Certificates) != len(rows) || doc.Certificates[0].Status != Expired {
		t.Fatalf("yaml round trip: %+v", doc.Certificates)
	}
}

func TestLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{72 * time.Hour: "3d", 5 * time.Hour: "5h", -72 * time.Hour: "-3d", 10 * time.Minute: "10m"} {
		if got := Left(d); got != want {
			t.Errorf("Left(%v) = %q, want %q", d, got, want)
		}
	}
}
