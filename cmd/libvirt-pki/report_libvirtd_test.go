package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/libvirttest"
)

// report --live against a real libvirtd: the page's listener row says the
// daemon serves the certificate in the files, and after a renewal the
// daemon did not load, that it serves another (stale), with verify's
// live-stale-certificate finding and its fix.
func TestReportLiveLibvirtd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pki")
	hosts := []string{"--host", "compute01=localhost,127.0.0.1"}
	runExit(t, exitOK, append([]string{"certificates", "--layout", "libvirt", "--out", out}, hosts...)...)
	pki := filepath.Join(out, "compute01", "etc", "pki")
	d := libvirttest.Start(t, libvirttest.Config{CACert: filepath.Join(pki, "CA", "cacert.pem"),
		ServerCert: filepath.Join(pki, "libvirt", "servercert.pem"), ServerKey: filepath.Join(pki, "libvirt", "private", "serverkey.pem")})
	args := append([]string{"report", "--layout", "libvirt", "--out", out, "--live", d.Addr(), "--uri", "test:///default"}, hosts...)
	row := regexp.MustCompile(`<tr class="live" data-host="compute01">(.*?)</tr>`)
	page := runExit(t, exitOK, args...)
	m := row.FindStringSubmatch(page)
	if m == nil || !strings.Contains(m[1], "<td>ok</td>") || !strings.Contains(m[1], "the certificate in the files") {
		t.Fatalf("report --live: listener row %q; want ok, serving the files' certificate", m)
	}

	runExit(t, exitOK, append([]string{"certificates", "--layout", "libvirt", "--out", out, "--force"}, hosts...)...)
	page = runExit(t, exitOK, args...)
	if m = row.FindStringSubmatch(page); m == nil || !strings.Contains(m[1], "differs from the files") {
		t.Errorf("report --live after a renewal libvirtd did not load: listener row %q; want it stale", m)
	}
	if !strings.Contains(page, `data-code="live-stale-certificate"`) || !strings.Contains(page, "reload them live on that host: libvirt-pki reload") {
		t.Errorf("report --live after a renewal: no live-stale-certificate finding with its fix")
	}
	if os.Getenv("REPORT_LIVE_HTML") != "" {
		os.WriteFile(os.Getenv("REPORT_LIVE_HTML"), []byte(page), 0o644) //nolint:errcheck // a debugging aid
	}
}
