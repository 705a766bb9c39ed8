package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"
)

// WriteTable prints one row per certificate, soonest expiry first.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tFILE\tKIND\tSUBJECT\tSANS\tNOT AFTER\tLEFT\tISSUER\tSTATUS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Host, r.File, r.Kind, dash(r.Subject), shorten(r.SANs),
			r.NotAfter.UTC().Format("2006-01-02 15:04"), Left(time.Duration(r.LeftSeconds)*time.Second), dash(r.Issuer), r.Status)
	}
	return tw.Flush()
}

// Left renders a residual time compactly: "412d", "5h", "-3d".
func Left(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%s%dd", sign, int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%s%dh", sign, int(d.Hours()))
	default:
		return fmt.Sprintf("%s%dm", sign, int(d.Minutes()))
	}
}

func shorten(sans []string) string {
	switch len(sans) {
	case 0:
		return "-"
	case 1, 2:
		return strings.Join(sans, ",")
	}
	return fmt.Sprintf("%s,%s,+%d", sans[0], sans[1], len(sans)-2)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes {"certificates": [...]}.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if rows == nil {
		rows = []Row{}
	}
	return enc.Encode(map[string][]Row{"certificates": rows})
}

// WriteYAML writes the same document as WriteJSON, in YAML.
func WriteYAML(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(map[string][]Row{"certificates": rows}); err != nil {
		return err
	}
	return enc.Close()
}

// WritePrometheus writes the text exposition format with the metric names
// and labels of x509-certificate-exporter, so existing alerts work:
// x509_cert_not_after, x509_cert_not_before (Unix seconds) and
// x509_cert_expired (0 or 1), plus libvirt_pki_crl_next_update for CRLs.
func WritePrometheus(w io.Writer, rows []Row) error {
	type metric struct{ name, help string }
	certMetrics := []metric{
		{"x509_cert_not_after", "The date after which the certificate expires, in seconds since the Unix epoch."},
		{"x509_cert_not_before", "The date before which the certificate is not yet valid, in seconds since the Unix epoch."},
		{"x509_cert_expired", "1 if the certificate has expired, else 0."},
	}
	var b strings.Builder
	for _, m := range certMetrics {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", m.name, m.help, m.name)
		for _, r := range rows {
			if r.Kind == "crl" {
				continue
			}
			var v int64
			switch m.name {
			case "x509_cert_not_after":
				v = r.NotAfter.Unix()
			case "x509_cert_not_before":
				v = r.NotBefore.Unix()
			default:
				if r.Status == Expired {
					v = 1
				}
			}
			fmt.Fprintf(&b, "%s{%s} %d\n", m.name, labels(r), v)
		}
	}
	b.WriteString("# HELP libvirt_pki_crl_next_update The CRL's next update, in seconds since the Unix epoch; libvirtd rejects clients after it.\n# TYPE libvirt_pki_crl_next_update gauge\n")
	for _, r := range rows {
		if r.Kind == "crl" {
			fmt.Fprintf(&b, "libvirt_pki_crl_next_update{%s} %d\n", labels(r), r.NotAfter.Unix())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func labels(r Row) string {
	pairs := [][2]string{
		{"host", r.Host}, {"filename", r.File}, {"filepath", r.Path}, {"kind", r.Kind},
		{"subject_CN", r.Subject}, {"issuer_CN", r.Issuer}, {"serial_number", r.Serial},
	}
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		parts = append(parts, p[0]+`="`+escapeLabel(p[1])+`"`)
	}
	return strings.Join(parts, ",")
}

// escapeLabel escapes a label value as the exposition format demands.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
