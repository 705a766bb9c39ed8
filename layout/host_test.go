package layout

import (
	"slices"
	"strings"
	"testing"
)

// Hostile names are refused wherever hosts come in (--host, --hosts, an
// inventory, a directory name): wildcards, control characters, shell and
// path characters, and IPv4 addresses written wrong, which would
// otherwise pass as DNS names with all-digit labels.
func TestValidateNameHostile(t *testing.T) {
	for _, bad := range []string{
		"*", "*.example.org", "compute01*", "?", "a\x00b", "a\nb", "a\x1b[2Jb", "a;b", "$(x)", "a\u202eb",
		"10.0.0.256", "010.0.0.1", "1.2.3", "1.2.3.4.5", "host.123", "192.0.2.1.",
	} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted it", bad)
		}
		if _, err := ParseHosts([]string{"ok=" + bad}, nil, ""); err == nil {
			t.Errorf("--host ok=%q accepted", bad)
		}
		if _, err := ParseHosts(nil, []string{"ok," + bad}, ""); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("--hosts ok,%q: %v; want one line", bad, err)
		}
	}
	for _, good := range []string{"123", "1a.example", "example.1a", "compute-01.example.org", "192.0.2.1", "2001:db8::1"} {
		if err := ValidateName(good); err != nil {
			t.Errorf("ValidateName(%q): %v", good, err)
		}
	}
	if err := ValidateName("10.0.0.256"); err == nil || !strings.Contains(err.Error(), `last label "256" is all digits`) {
		t.Errorf("10.0.0.256: %v", err)
	}
}

// An inventory name that is no DNS name only for its underscores
// (compute_06, which Ansible and Kolla's per-host directories accept) is
// a host's identity, never one of its certificate names; anything else a
// DNS name may not hold is still refused.
func TestValidateHostName(t *testing.T) {
	for _, good := range []string{"compute_06", "rack_1.compute_06", "compute01", "192.0.2.1"} {
		if err := ValidateHostName(good); err != nil {
			t.Errorf("ValidateHostName(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a/b", "a b", "-a_b", "a_b*", "10.0.0.256", "../x", "a_\x00b"} {
		if err := ValidateHostName(bad); err == nil {
			t.Errorf("ValidateHostName(%q) accepted it", bad)
		}
	}
	h, err := ParseHostSpec("compute_06=compute-06.example.org,192.0.2.6")
	if err != nil || h.Name != "compute_06" || !slices.Equal(h.Names(), []string{"compute-06.example.org", "192.0.2.6"}) {
		t.Fatalf("ParseHostSpec: %+v %v", h, err)
	}
	if h.AddDomain("example.org"); !slices.Equal(h.Names(), []string{"compute-06.example.org", "192.0.2.6"}) {
		t.Errorf("--domain gave compute_06 a name: %v", h.Names())
	}
	if h, _ := ParseHostSpec("compute_06"); h.Usable() {
		t.Errorf("compute_06 alone has a certificate name: %v", h.Names())
	}
}
