package hosts

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout/inventory"
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
	if len(warnings) != 2 || !strings.Contains(warnings[0], "compute02") || !strings.Contains(warnings[0], "Jinja") ||
		!strings.HasPrefix(warnings[1], "compute01: no migration_hostname, so Kolla uses ansible_facts.nodename, and no jsonfile fact cache is configured") {
		t.Errorf("warnings %q", warnings)
	}
}

// Kolla's extra vars win over the inventory, for every host; the fact
// cache's nodename stands for an unset migration_hostname.
func TestExtraVarsAndNodename(t *testing.T) {
	inv := writeInventory(t, "[compute]\nc1 migration_hostname=c1.inv\nc2\nc3\n")
	facts := t.TempDir()
	if err := os.WriteFile(filepath.Join(facts, "c2"), []byte(`{"ansible_nodename": "c2.node.example", "ansible_hostname": "c2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Selection{Inventories: []string{inv}, Group: DefaultGroup, Facts: &inventory.FactCache{Dir: facts}}
	hs, warnings, err := s.Given()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(hs[0].Names(), hs[1].Names(), hs[2].Names()); got != "[c1 c1.inv] [c2 c2.node.example] [c3]" {
		t.Errorf("names %s", got)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "c3: no migration_hostname") || !strings.Contains(warnings[0], "the fact cache "+facts+" holds no nodename") {
		t.Errorf("warnings %q", warnings)
	}
	s.Extra = map[string]kolla.Var{"migration_hostname": {Value: "shared.example", From: "globals.yml:1"}}
	s.Lists = []string{"c9"}
	hs, warnings, err = s.Given()
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	if got := fmt.Sprint(hs[0].Names(), hs[1].Names(), hs[3].Names()); got != "[c1 shared.example] [c2 shared.example] [c9 shared.example]" {
		t.Errorf("names with an extra var %s", got)
	}
}

// An empty compute group, or one whose only child is empty, is bad
// input once an inventory is given: never this machine.
func TestEmptyGroup(t *testing.T) {
	for _, content := range []string{"[compute]\n[control]\nc0\n", "[compute:children]\nkvm\n[kvm]\n", "all:\n  children:\n    compute:\n      children:\n        kvm:\n"} {
		inv := writeInventory(t, content)
		if strings.HasPrefix(content, "all:") {
			os.Rename(inv, inv+".yml")
			inv += ".yml"
		}
		_, allInOne, _, err := Selection{Inventories: []string{inv}, Group: DefaultGroup}.Resolve()
		if !errs.IsInput(err) || allInOne || !strings.Contains(err.Error(), `inventory group "compute" has no hosts`) {
			t.Errorf("%q: %v (all-in-one %v)", content, err, allInOne)
		}
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
