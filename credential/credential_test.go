package credential

import (
	"slices"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Every kind's roles are in the libvirt layout's table, keys and CA
// copies where the role table says, and every set has kinds.
func TestKindsAreRows(t *testing.T) {
	for _, k := range Kinds {
		if !layout.Libvirt.Has(k.Cert) {
			t.Errorf("%s/%s: the libvirt layout has no file for %s", k.Set, k.Name, k.Cert)
		}
		if k.IsCA() != k.Cert.IsCA() || (k.Key != "" && !k.Key.IsKey()) || k.IsCA() != (k.Key == "") {
			t.Errorf("%s/%s: roles %s, %s disagree with the kind", k.Set, k.Name, k.Cert, k.Key)
		}
		if !slices.Contains(SetNames(), k.Set) {
			t.Errorf("%s: set %q is not in Sets", k.Name, k.Set)
		}
	}
	for _, s := range Sets {
		if !slices.ContainsFunc(Kinds, func(k Kind) bool { return k.Set == s.Name && k.PerHost }) {
			t.Errorf("set %s has no leaf", s.Name)
		}
	}
}

func TestParseSets(t *testing.T) {
	got, err := ParseSets("vnc, libvirt,qemu")
	if err != nil || !slices.Equal(got, []string{"libvirt", "qemu", "vnc"}) {
		t.Fatalf("ParseSets: %v %v", got, err)
	}
	for _, bad := range []string{"", "libvirt,", "vga", "qemu,qemu"} {
		if _, err := ParseSets(bad); err == nil {
			t.Errorf("ParseSets(%q) accepted it", bad)
		}
	}
}

func TestCheckLayout(t *testing.T) {
	for _, c := range []struct {
		l    layout.Layout
		sets string
		ok   bool
	}{
		{layout.Libvirt, "libvirt,qemu,vnc,spice,novncproxy", true},
		{layout.Kolla, "libvirt,spice", true}, // Kolla's SPICE reuses the libvirt pair
		{layout.Kolla, "qemu", false},
		{layout.Kolla, "novncproxy", false},
		{layout.PKIPath, "libvirt", true},
		{layout.PKIPath, "vnc", false},
	} {
		sets, _ := ParseSets(c.sets)
		if err := CheckLayout(c.l, sets); (err == nil) != c.ok {
			t.Errorf("CheckLayout(%s, %s) = %v", c.l.Name, c.sets, err)
		}
	}
}

// Selected gives each class its kinds, and leaves out what a layout
// reuses from another kind.
func TestSelected(t *testing.T) {
	names := func(ks []Kind) string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Set+"/"+k.Name)
		}
		return strings.Join(out, " ")
	}
	all := SetNames()
	if got := names(Selected(layout.Libvirt, all, Proxy)); got != "novncproxy/ca novncproxy/novncproxy-client" {
		t.Errorf("proxy kinds: %s", got)
	}
	if got := names(Selected(layout.Kolla, []string{"libvirt", "spice"}, Compute)); got != "libvirt/ca libvirt/server libvirt/client" {
		t.Errorf("kolla with spice: %s", got)
	}
	if !Reused(layout.Kolla, []string{"spice"}) || Reused(layout.Libvirt, all) {
		t.Error("Reused is wrong")
	}
}

func TestConfigText(t *testing.T) {
	lines := ConfigFor([]string{"qemu", "novncproxy"}, Proxy)
	if len(lines) != 4 || lines[1].Text(layout.Libvirt) != "vencrypt_client_key = /etc/pki/nova-novncproxy/client-key.pem" {
		t.Fatalf("proxy lines: %+v", lines)
	}
	for _, s := range Sets {
		for _, c := range s.Config {
			if text := c.Text(layout.Libvirt); strings.Contains(text, "{") {
				t.Errorf("%s: placeholder left in %q", s.Name, text)
			}
		}
	}
}
