package kolla

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

func TestPaths(t *testing.T) {
	for _, c := range []struct{ custom, want string }{
		{"", "/etc/kolla/config/nova/nova-libvirt"},
		{"custom", "/etc/kolla/custom/nova/nova-libvirt"},
		{"/srv/cfg", "/srv/cfg/nova/nova-libvirt"},
	} {
		if got := NovaLibvirtDir(DefaultConfigDir, c.custom); got != c.want {
			t.Errorf("NovaLibvirtDir(%q) = %q, want %q", c.custom, got, c.want)
		}
	}
	if got := CADir(DefaultConfigDir); got != "/etc/kolla/certificates/libvirt" {
		t.Errorf("CADir = %q", got)
	}
	if got := PasswordsFile(DefaultConfigDir); got != "/etc/kolla/passwords.yml" {
		t.Errorf("PasswordsFile = %q", got)
	}
}

func TestSettingsDefaults(t *testing.T) {
	s, err := Read(t.TempDir()) // no globals.yml: Kolla's defaults
	if err != nil {
		t.Fatal(err)
	}
	if s.FromFile() || s.TLS() || !s.SASLEnabled() || !s.ManageCerts() || !s.ContainerLibvirt() ||
		s.Authname() != "nova" || !reflect.DeepEqual(s.Mechs(), []string{"DIGEST-MD5"}) {
		t.Errorf("defaults: %+v", s)
	}
	if lines := s.Report(true, true); lines != nil {
		t.Errorf("no globals.yml, yet a report: %q", lines)
	}
}

func TestSettingsReport(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, GlobalsFile), "libvirt_tls: yes\nlibvirt_tls_manage_certs: no\nenable_nova_libvirt_container: no\nlibvirt_enable_sasl: no\nlibvirt_sasl_authname: \"{{ x }}\"\n")
	s, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Mechs(), []string{"SCRAM-SHA-256"}) || s.NovaLibvirtDir() != filepath.Join(dir, "config/nova/nova-libvirt") {
		t.Errorf("mechs %q, nova-libvirt %q", s.Mechs(), s.NovaLibvirtDir())
	}
	file := filepath.Join(dir, GlobalsFile)
	lines := s.Report(true, true)
	want := []string{
		"warning: " + file + ":5: libvirt_sasl_authname is a Jinja expression",
		"Kolla settings from " + file + ": libvirt_tls=true, libvirt_enable_sasl=false, libvirt_sasl_authname=nova (default), libvirt_sasl_mech_list=SCRAM-SHA-256 (default)",
		"warning: libvirt_tls_manage_certs is false in " + file,
		"warning: enable_nova_libvirt_container is false in " + file,
		"warning: libvirt_enable_sasl is false in " + file,
	}
	if len(lines) != len(want) {
		t.Fatalf("report:\n%s", strings.Join(lines, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want it to start %q", i, lines[i], want[i])
		}
	}
	// Only what is being made is warned about.
	if lines := s.Report(false, false); len(lines) != 2 {
		t.Errorf("report for neither: %q", lines)
	}

	write(t, filepath.Join(dir, GlobalsFile), "libvirt_tls: maybe\n")
	if _, err := Read(dir); !errs.IsInput(err) {
		t.Errorf("a bad globals.yml is bad input: %v", err)
	}
}
