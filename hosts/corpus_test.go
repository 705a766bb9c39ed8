package hosts

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/peer"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// corpusDir holds the inventories compared with ansible-inventory (see its
// README.md).
const corpusDir = "../testdata/inventories"

// TestCorpusAgainstAnsibleInventory loads every inventory of the corpus
// as libvirt-pki does (Kolla's extra vars over it, vaulted files opened)
// and compares the hosts of group compute and their names with what
// ansible-inventory --list gives for the same sources and extra vars: or,
// where the case expects it, checks that libvirt-pki refuses, naming the
// file, where Ansible refuses, warns or finds no compute host.
func TestCorpusAgainstAnsibleInventory(t *testing.T) {
	bin := peer.Require(t, "ansible-inventory")[0]
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		cases++
		dir := filepath.Join(corpusDir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			c := loadCase(t, dir)
			want, ansibleRefused := c.ansible(t, bin)
			got, err := c.ours(t)
			if c.expectErr != nil {
				if err == nil || !c.expectErr.MatchString(err.Error()) {
					t.Fatalf("libvirt-pki: %v; want a refusal matching %q", err, c.expectErr)
				}
				if !ansibleRefused && len(want) > 0 {
					t.Errorf("libvirt-pki refuses (%v), yet ansible-inventory finds compute hosts %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("libvirt-pki: %v", err)
			}
			if ansibleRefused {
				t.Fatalf("ansible-inventory refuses or warns, libvirt-pki reads %q", got)
			}
			// The same hosts, each with the same names in the same
			// order; the order of hosts is the inventory's for
			// libvirt-pki, the group's then its children's for Ansible.
			slices.Sort(got)
			slices.Sort(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("hosts and names differ:\nlibvirt-pki:       %q\nansible-inventory: %q", got, want)
			}
		})
	}
	if cases < 15 {
		t.Errorf("%d cases, want at least 15", cases)
	}
}

// corpusCase is one directory of the corpus.
type corpusCase struct {
	dir       string
	sources   []string // the -i sources, relative to dir
	config    string   // the Kolla config root ("" when none)
	vaultPass string   // the vault password file ("" when none)
	expectErr *regexp.Regexp
}

func loadCase(t *testing.T, dir string) corpusCase {
	c := corpusCase{dir: dir, sources: []string{"inventory"}}
	if data, err := os.ReadFile(filepath.Join(dir, "sources")); err == nil {
		c.sources = strings.Fields(string(data))
	}
	if fi, err := os.Stat(filepath.Join(dir, "config")); err == nil && fi.IsDir() {
		c.config = filepath.Join(dir, "config")
	}
	if _, err := os.Stat(filepath.Join(dir, "vault-pass")); err == nil {
		c.vaultPass = filepath.Join(dir, "vault-pass")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "expect-error")); err == nil {
		c.expectErr = regexp.MustCompile(strings.TrimSpace(string(data)))
	}
	return c
}

// keyring holds the case's vault password, if any.
func (c corpusCase) keyring(t *testing.T) *vault.Keyring {
	k := &vault.Keyring{}
	if c.vaultPass != "" {
		pw, err := os.ReadFile(c.vaultPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Add("", bytes.TrimSpace(pw)); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// ours lists "host: names" for each compute host, as libvirt-pki finds them.
func (c corpusCase) ours(t *testing.T) ([]string, error) {
	s := Selection{Group: DefaultGroup, Vault: c.keyring(t)}
	for _, src := range c.sources {
		s.Inventories = append(s.Inventories, filepath.Join(c.dir, src))
	}
	if c.config != "" {
		k, err := kolla.ReadVault(c.config, s.Vault)
		if err != nil {
			return nil, err
		}
		if s.Extra, err = k.ExtraVars(ExtraKeys...); err != nil {
			return nil, err
		}
	}
	hs, _, err := s.Given()
	var out []string
	for _, h := range hs {
		out = append(out, h.Name+": "+strings.Join(h.Names(), " "))
	}
	return out, err
}

// ansibleList is the part of ansible-inventory --list the test reads.
type ansibleList struct {
	Meta struct {
		HostVars map[string]map[string]any `json:"hostvars"`
	} `json:"_meta"`
	Groups map[string]struct {
		Hosts    []string `json:"hosts"`
		Children []string `json:"children"`
	} `json:"-"`
}

// ansible lists "host: names" for each compute host as ansible-inventory
// finds them; refused is true when it fails or warns.
func (c corpusCase) ansible(t *testing.T, bin string) (names []string, refused bool) {
	args := []string{"--list"}
	for _, src := range c.sources {
		args = append(args, "-i", src)
	}
	if c.config != "" {
		files, err := kolla.ExtraVarFiles(c.config)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				rel, _ := filepath.Rel(c.dir, f)
				args = append(args, "-e", "@"+rel)
			}
		}
	}
	if c.vaultPass != "" {
		args = append(args, "--vault-password-file", "vault-pass")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = c.dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home, "ANSIBLE_CONFIG="+filepath.Join(home, "none.cfg"), "ANSIBLE_NOCOLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Logf("ansible-inventory: %v: %s", err, stderr.String())
		return nil, true
	}
	if strings.Contains(stderr.String(), "[WARNING]") {
		t.Logf("ansible-inventory warns: %s", stderr.String())
		refused = true
	}
	return c.ansibleNames(t, stdout.Bytes()), refused
}

// ansibleNames reads ansible-inventory's output: the compute group's hosts
// (child groups expanded) in order, each with its names.
func (c corpusCase) ansibleNames(t *testing.T, out []byte) []string {
	var list ansibleList
	var groups map[string]json.RawMessage
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &groups); err != nil {
		t.Fatal(err)
	}
	type group struct{ Hosts, Children []string }
	var hosts []string
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		var g group
		if raw, ok := groups[name]; !ok || json.Unmarshal(raw, &g) != nil || seen["group "+name] {
			return
		}
		seen["group "+name] = true
		for _, h := range g.Hosts {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
		for _, ch := range g.Children {
			walk(ch)
		}
	}
	walk(DefaultGroup)
	var out2 []string
	for _, name := range hosts {
		h := layout.Host{Name: name}
		if layout.ValidateName(name) == nil { // compute_06 is no certificate name
			h.Add(name)
		}
		for _, k := range ExtraKeys {
			if v := c.plain(t, list.Meta.HostVars[name][k]); v != "" && !strings.Contains(v, "{{") {
				h.Add(v)
			}
		}
		out2 = append(out2, name+": "+strings.Join(h.Names(), " "))
	}
	return out2
}

// plain returns a variable's text; ansible-inventory prints a !vault value
// still encrypted, as {"__ansible_vault": TEXT}.
func (c corpusCase) plain(t *testing.T, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		text, _ := x["__ansible_vault"].(string)
		o, err := c.keyring(t).Open("ansible-inventory output", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return string(o.Plaintext)
	}
	return ""
}
