package sasl

import (
	"path/filepath"
	"slices"
	"testing"
)

// The user is written in every realm the host may compute (its name, its
// migration name, its FQDN), each once; a re-run changes nothing, and a
// realm no longer listed is removed.
func TestRealmsPerHost(t *testing.T) {
	root := t.TempDir()
	o := deployOptions(root, "compute01")
	o.Mechs = []string{"scram-sha-256"}
	o.Realms = map[string][]string{"compute01": {"compute01.example.org", "Compute01", "mig01"}}
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"compute01", "compute01.example.org", "mig01"}; !slices.Equal(p.Hosts[0].Realms, want) {
		t.Errorf("realms %q, want %q", p.Hosts[0].Realms, want)
	}
	if _, err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	for _, realm := range p.Hosts[0].Realms {
		if got := hostPassword(t, filepath.Join(root, "compute01"), realm); got != "secret" {
			t.Errorf("realm %s: password %q", realm, got)
		}
	}
	if again, err := NewPlan(o); err != nil || again.Changed() != 0 {
		t.Fatalf("re-run: %v, %d changed", err, again.Changed())
	}
	o.Realms["compute01"] = []string{"compute01.example.org"}
	p, err = NewPlan(o)
	if err != nil || p.Hosts[0].Files[0].Reason != "removing nova@mig01" {
		t.Fatalf("dropping a realm: %v, %+v", err, p.Hosts[0].Files)
	}
}
