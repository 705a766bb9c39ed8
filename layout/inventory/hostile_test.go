package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// A device, a FIFO or an oversized file where an inventory or vars file is
// expected is refused at once, naming it; none is read.
func TestLoadRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"inv": "[compute]\nc1\n"})
	fifoVars := filepath.Join(dir, "host_vars", "c1")
	if err := os.MkdirAll(filepath.Dir(fifoVars), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Mkfifo(t, fifoVars)
	fifoInv := filepath.Join(t.TempDir(), "hosts")
	testutil.Mkfifo(t, fifoInv)
	zeroDir := t.TempDir()
	testutil.LinkDevZero(t, filepath.Join(zeroDir, "hosts.yml"))
	huge := filepath.Join(t.TempDir(), "huge.yml")
	hugeSize := vault.EncryptedSize(LimitInventory) + 1 // too large even as a vault text
	testutil.Sparse(t, huge, hugeSize)
	for _, c := range []struct{ source, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (a character device)"},
		{fifoInv, fifoInv + ": not a regular file (a FIFO)"},
		{filepath.Join(dir, "inv"), fifoVars + ": not a regular file (a FIFO)"},
		{zeroDir, filepath.Join(zeroDir, "hosts.yml") + ": not a regular file (a character device)"},
		{huge, fmt.Sprintf("%s: larger than %d bytes", huge, hugeSize-1)},
	} {
		var err error
		testutil.NoHang(t, func() { _, err = Load(c.source) }, fifoVars, fifoInv)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%s): %v; want one line with %q", c.source, err, c.want)
		}
	}
}

// Aliases that would expand beyond maxAliasNodes, or into themselves, are
// refused with the file named, wherever YAML is read: an inventory, a
// group_vars file, a vars file such as globals.yml.
func TestAliasBombRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"bomb/hosts.yml":            "all:\n  hosts:\n    c1:\n  vars:\n" + testutil.AliasBomb("    "),
		"gv/inv":                    "[compute]\nc1\n",
		"gv/group_vars/compute.yml": testutil.AliasBomb(""),
		"loop/hosts.yml":            "all:\n  children:\n    g: &g\n      children:\n        h: *g\n",
	})
	for _, c := range []struct{ source, want string }{
		{"bomb/hosts.yml", "bomb/hosts.yml:"},
		{"gv/inv", "gv/group_vars/compute.yml:"},
		{"loop/hosts.yml", "loop/hosts.yml:5: alias *g is inside its own anchor"},
	} {
		_, err := Load(filepath.Join(dir, c.source))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "alias") {
			t.Errorf("Load(%s): %v; want an alias error naming %q", c.source, err, c.want)
		}
	}
	_, err := ParseVarsFile("globals.yml", []byte(testutil.AliasBomb("")), "globals.yml", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "globals.yml:") || !strings.Contains(err.Error(), "alias bomb") {
		t.Errorf("ParseVarsFile(bomb): %v", err)
	}
	// Aliases and merge keys within the bound still work.
	vars, err := ParseVarsFile("v.yml", []byte("base: &b {x: 1, y: [1, 2]}\nc: {<<: *b, y: 3}\nd: *b\n"), "vars", nil)
	if err != nil || vars["c"].Value.(map[string]any)["x"] != 1 || vars["d"].Value.(map[string]any)["y"].([]any)[1] != 2 {
		t.Errorf("aliases within the bound: %v, %v", vars, err)
	}
}

// A file of more than one YAML document is refused, as Ansible refuses
// it, at the line where the second document starts.
func TestMultiDocumentRefused(t *testing.T) {
	for content, want := range map[string]string{
		"a: 1\n---\nb: 2\n":  "v.yml:2: a second YAML document",
		"---\na: 1\n---\n":   "v.yml:3: a second YAML document",
		"a: 1\n...\n---\n{}": "v.yml:3: a second YAML document",
	} {
		if _, err := ParseVarsFile("v.yml", []byte(content), "vars", nil); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v; want %q", content, err, want)
		}
	}
	if vars, err := ParseVarsFile("v.yml", []byte("---\na: 1\n...\n"), "vars", nil); err != nil || vars["a"].Value != 1 {
		t.Errorf("one document with markers: %v, %v", vars, err)
	}
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"inv":                   "[compute]\nc1\n",
		"host_vars/c1/main.yml": "x: 1\n---\nx: 2\n",
		"two.yml":               "all:\n  hosts:\n    c1:\n---\nall:\n  hosts:\n    c2:\n",
	})
	for source, want := range map[string]string{
		"inv":     filepath.Join(dir, "host_vars/c1/main.yml") + ":2: a second YAML document",
		"two.yml": filepath.Join(dir, "two.yml") + ":4: a second YAML document",
	} {
		if _, err := Load(filepath.Join(dir, source)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Load(%s): %v; want %q", source, err, want)
		}
	}
}

// A file of more YAML values than maxYAMLNodes is refused before they are
// converted, naming the file.
func TestYAMLValueBound(t *testing.T) {
	old := maxYAMLNodes
	maxYAMLNodes = 1000
	defer func() { maxYAMLNodes = old }()
	many := "a: [" + strings.Repeat("x,", 1000) + "x]\n"
	if _, err := ParseVarsFile("v.yml", []byte(many), "vars", nil); err == nil || !strings.HasPrefix(err.Error(), "v.yml: more than 1000 YAML values") {
		t.Errorf("1001 values: %v", err)
	}
	few := "a: [" + strings.Repeat("x,", 900) + "x]\n"
	if _, err := ParseVarsFile("v.yml", []byte(few), "vars", nil); err != nil {
		t.Errorf("904 values: %v", err)
	}
	// Aliases count as the values they stand for.
	aliased := "a: &a [" + strings.Repeat("x,", 99) + "x]\nb: [" + strings.Repeat("*a,", 9) + "*a]\n"
	if _, err := ParseVarsFile("v.yml", []byte(aliased), "vars", nil); err == nil || !strings.Contains(err.Error(), "aliases expand the file to more than 1000 values") {
		t.Errorf("aliases to 1100 values: %v", err)
	}
}

// hostileYAML seeds the YAML fuzz targets: alias bombs and loops, several
// documents, deep nesting, huge values, control characters, odd tags.
func hostileYAML() []string {
	return []string{
		testutil.AliasBomb(""),
		"all:\n  vars:\n" + testutil.AliasBomb("    "),
		"all:\n  children:\n    g: &g\n      children:\n        h: *g\n",
		"a: &a [*a]\n",
		"a: &a {<<: *a}\n",
		"a: 1\n---\nb: 2\n",
		"all:\n  hosts:\n    c[01:99999999]:\n",
		strings.Repeat("[", 200) + strings.Repeat("]", 200),
		"a: " + strings.Repeat("{a: ", 150) + "1" + strings.Repeat("}", 150) + "\n",
		"a: \"" + strings.Repeat("x", 1<<16) + "\"\n",
		"a: \"\\x00\\x1b[31m\\u202e\"\nb: \x01\n",
		"all:\n  hosts:\n    \"c\\x1b[2J\":\n    \"*\":\n",
		"a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\nb: !!binary aGk=\nc: !!timestamp 2001-12-14\n",
		"<<: [*x]\n",
		"all:\n  hosts: c1\n  vars: {ansible_group_priority: x}\n",
	}
}

// FuzzParseYAMLInventory checks that no input makes the YAML inventory
// parser (and the host queries after it) panic or run away.
func FuzzParseYAMLInventory(f *testing.F) {
	for _, s := range hostileYAML() {
		f.Add([]byte(s))
	}
	old := maxHostsPerPattern
	maxHostsPerPattern = 50
	defer func() { maxHostsPerPattern = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fsutil.LimitConfig {
			return
		}
		inv := newInventory([]string{"fuzz.yml"}, nil)
		doc, err := parseYAMLDoc("fuzz.yml", data)
		if err != nil || doc == nil || doc.Kind != mappingKind {
			return
		}
		if err := inv.parseYAMLInventory("fuzz.yml", doc); err != nil {
			return
		}
		inv.reconcile()
		hs, err := inv.Hosts("all")
		if err != nil {
			t.Fatalf("Hosts(all): %v", err)
		}
		for _, h := range hs {
			h.SANNames()
		}
	})
}

// FuzzParseVarsFile checks that no input makes the vars file reader (used
// for globals.yml, group_vars and host_vars) panic, and that its errors
// name the file on one line.
func FuzzParseVarsFile(f *testing.F) {
	for _, s := range hostileYAML() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fsutil.LimitConfig {
			return
		}
		_, err := ParseVarsFile("fuzz.yml", data, "vars", nil)
		if err != nil && (!strings.HasPrefix(err.Error(), "fuzz.yml") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("error does not name the file on one line: %q", err)
		}
	})
}

// Each host says where it is first listed, so that a name that is no host
// name (Ansible allows "*", package hosts refuses it) can be pointed at.
func TestEntryFrom(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"inv":       "[compute]\nc1\n\n*\n[other]\nc1\n",
		"hosts.yml": "all:\n  children:\n    compute:\n      hosts:\n        c2:\n        \"a b\":\n",
	})
	inv, err := Load(filepath.Join(dir, "inv"), filepath.Join(dir, "hosts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"c1": filepath.Join(dir, "inv") + ":2", "*": filepath.Join(dir, "inv") + ":4",
		"c2": filepath.Join(dir, "hosts.yml") + ":5", "a b": filepath.Join(dir, "hosts.yml") + ":6",
	}
	for _, h := range mustHosts(t, inv, "compute") {
		if h.From != want[h.Name] {
			t.Errorf("host %q: From = %q, want %q", h.Name, h.From, want[h.Name])
		}
	}
}
