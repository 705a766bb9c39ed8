package install

import (
	"slices"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// The pair directories of the libvirt layout: each is swapped whole, so
// a certificate never lies beside another generation's key.
func TestPairDirs(t *testing.T) {
	got := pairDirs(layout.Libvirt)
	want := []string{"etc/pki/libvirt", "etc/pki/qemu", "etc/pki/libvirt-vnc", "etc/pki/libvirt-spice", "etc/pki/nova-novncproxy"}
	if !slices.Equal(got, want) {
		t.Errorf("pairDirs = %v, want %v", got, want)
	}
	if u := unitOf(got, "etc/pki/libvirt/private/serverkey.pem"); u != "etc/pki/libvirt" {
		t.Errorf("serverkey.pem is in unit %q", u)
	}
	if u := unitOf(got, "etc/pki/CA/cacert.pem"); u != "" {
		t.Errorf("cacert.pem is in unit %q, want a file of its own", u)
	}
}

// Entry names that leave the bundle are refused.
func TestCleanRel(t *testing.T) {
	for _, bad := range []string{"../x", "/etc/x", "a/../../x", "a/../b", "", "./../x"} {
		if _, err := cleanRel("b.tar", bad); err == nil {
			t.Errorf("cleanRel(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"etc/pki/x.pem": "etc/pki/x.pem", "./etc/x": "etc/x", "etc/pki/": "etc/pki"} {
		if got, err := cleanRel("b.tar", in); err != nil || got != want {
			t.Errorf("cleanRel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// The FQDN comes from /etc/hosts as hostname -f finds it: the first
// name of the first line listing the host name.
func TestHostsCanonical(t *testing.T) {
	hosts := []byte("127.0.0.1 localhost\n# 10.0.0.9 compute01.wrong.org compute01\n10.0.0.5 compute01.example.org compute01 # main\n10.0.0.6 compute01.other.org compute01\n")
	if got := hostsCanonical(hosts, "compute01"); got != "compute01.example.org" {
		t.Errorf("hostsCanonical = %q", got)
	}
	if got := hostsCanonical(hosts, "compute02"); got != "" {
		t.Errorf("hostsCanonical(compute02) = %q", got)
	}
}
