package hosts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

func writeInventory(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGivenMergesInventoryAndFlags(t *testing.T) {
	inv := writeInventory(t, `[compute]
compute01 ansible_host=10.0.0.11
compute02 migration_hostname="{{ inventory_hostname }}.mgmt"
[control]
control01
`)
	s := Selection{
		Inventories: []string{inv}, Group: DefaultGroup,
		Specs: []string{"COMPUTE01=c1.example"}, Lists: []string{"compute03"}, Domain: "example.org",
	}
	hs, warnings, err := s.Given()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	var order []string
	for _, h := range hs {
		order = append(order, h.Name)
		got[h.Name] = h.Names()
	}
	if !reflect.DeepEqual(order, []string{"compute01", "compute02", "compute03"}) {
		t.Errorf("hosts %q", order)
	}
	want := map[string][]string{
		"compute01": {"c1.example", "compute01", "compute01.example.org", "10.0.0.11"},
		"compute02": {"compute02", "compute02.example.org"},
		"compute03": {"compute03", "compute03.example.org"},
	}
	for name, names := range want {
		if g := got[name]; !sameSet(g, names) {
			t.Errorf("%s names %q, want %q", name, g, names)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "compute02") || !strings.Contains(warnings[0], "Jinja") {
		t.Errorf("warnings %q", warnings)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, s := range a {
		seen[strings.ToLower(s)] = true
	}
	for _, s := range b {
		if !seen[strings.ToLower(s)] {
			return false
		}
	}
	return true
}

func TestResolveAllInOne(t *testing.T) {
	hs, allInOne, _, err := Selection{Domain: "example.org"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !allInOne || len(hs) != 1 || !strings.Contains(strings.Join(hs[0].Names(), " "), "127.0.0.1") {
		t.Errorf("all-in-one: %v %+v", allInOne, hs)
	}
	hs, allInOne, _, err = Selection{Lists: []string{"a,b"}}.Resolve()
	if err != nil || allInOne || len(hs) != 2 {
		t.Errorf("named hosts: %v %+v %v", allInOne, hs, err)
	}
}

func TestBadInput(t *testing.T) {
	inv := writeInventory(t, "[compute]\ncompute01\nbad_name\n")
	for _, s := range []Selection{
		{Lists: []string{"a/b"}},
		{Specs: []string{"a"}, Lists: []string{"A"}},
		{Lists: []string{"a"}, Domain: "bad_domain"},
		{Domain: "bad_domain"},
		{Inventories: []string{filepath.Join(t.TempDir(), "none")}, Group: DefaultGroup},
		{Inventories: []string{inv}, Group: "nova-compute"},
		{Inventories: []string{inv}, Group: DefaultGroup},
	} {
		if _, _, _, err := s.Resolve(); !errs.IsInput(err) {
			t.Errorf("%+v: error %v, want bad input", s, err)
		}
	}
}
