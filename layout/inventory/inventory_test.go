package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// kolla holds the project's own Kolla-shaped fixtures: inventories with Kolla
// Ansible's group structure and a globals.yml of commented-out defaults.
const kolla = "../../testdata/kolla/"

func hostNames(hs []Entry) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func mustHosts(t *testing.T, inv *Inventory, group string) []Entry {
	t.Helper()
	hs, err := inv.Hosts(group)
	if err != nil {
		t.Fatalf("Hosts(%q): %v", group, err)
	}
	return hs
}

func wantNames(t *testing.T, inv *Inventory, group string, want ...string) []Entry {
	t.Helper()
	hs := mustHosts(t, inv, group)
	if got := hostNames(hs); !reflect.DeepEqual(got, want) {
		t.Errorf("Hosts(%q) = %q, want %q", group, got, want)
	}
	return hs
}

func hostByName(t *testing.T, inv *Inventory, name string) Entry {
	t.Helper()
	for _, h := range mustHosts(t, inv, "all") {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %q", name)
	return Entry{}
}

// write creates files under dir: keys are slash-separated relative paths.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKollaMultinode(t *testing.T) {
	inv, err := Load(kolla + "multinode")
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "compute", "compute01")
	wantNames(t, inv, "control", "control01", "control02", "control03")
	wantNames(t, inv, "all", "control01", "control02", "control03", "network01", "network02",
		"compute01", "monitoring01", "storage01", "localhost")
	wantNames(t, inv, "ungrouped")
	// [baremetal:children] control network compute storage monitoring; the
	// order is first appearance in the file, not the children's order.
	wantNames(t, inv, "baremetal", "control01", "control02", "control03", "network01", "network02",
		"compute01", "monitoring01", "storage01")
	// Groups whose only child is compute.
	for _, g := range []string{"prometheus-libvirt-exporter", "collectd", "ceilometer-compute", "hacluster-remote"} {
		kids, err := inv.Children(g)
		if err != nil || !reflect.DeepEqual(kids, []string{"compute"}) {
			t.Errorf("Children(%q) = %q, %v; want [compute]", g, kids, err)
		}
		wantNames(t, inv, g, "compute01")
	}
	kids, _ := inv.Children("baremetal")
	if want := []string{"control", "network", "compute", "storage", "monitoring"}; !reflect.DeepEqual(kids, want) {
		t.Errorf("Children(baremetal) = %q, want %q", kids, want)
	}
	// openvswitch lists manila-share before [manila-share:children] declares
	// it (network): the pending child must be linked.
	wantNames(t, inv, "openvswitch", "network01", "network02", "compute01")
	// Three levels: cron > common > compute.
	wantNames(t, inv, "cron", "control01", "control02", "control03", "network01", "network02",
		"compute01", "monitoring01", "storage01")

	lh := wantNames(t, inv, "deployment", "localhost")[0]
	if lh.Vars["ansible_connection"] != "local" {
		t.Errorf("localhost vars = %v", lh.Vars)
	}
	if o := lh.Origins["ansible_connection"]; !strings.HasSuffix(o, "multinode:28") {
		t.Errorf("origin of ansible_connection = %q, want multinode:28", o)
	}
	wantNames(t, inv, "bifrost", "localhost")

	c := hostByName(t, inv, "compute01")
	if len(c.Vars) != 0 {
		t.Errorf("compute01 vars = %v, want none", c.Vars)
	}
	if !slices.Contains(c.Groups, "compute") || !slices.Contains(c.Groups, "cron") || c.Groups[0] != "all" {
		t.Errorf("compute01 groups = %q", c.Groups)
	}
	names, warns := c.SANNames()
	if !reflect.DeepEqual(names, []string{"compute01"}) || len(warns) != 0 {
		t.Errorf("SANNames = %q, %q", names, warns)
	}

	_, err = inv.Hosts("nova-libvirt")
	if err == nil || err.Error() != `inventory: no group "nova-libvirt" in `+kolla+"multinode" {
		t.Errorf("unknown group error = %v", err)
	}
}

func TestKollaAllInOne(t *testing.T) {
	inv, err := Load(kolla + "all-in-one")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"compute", "control", "all", "prometheus-libvirt-exporter", "nova-api"} {
		hs := wantNames(t, inv, g, "localhost")
		if hs[0].Vars["ansible_connection"] != "local" {
			t.Errorf("%s: localhost vars = %v", g, hs[0].Vars)
		}
	}
	names, warns := hostByName(t, inv, "localhost").SANNames()
	if !reflect.DeepEqual(names, []string{"localhost"}) || warns != nil {
		t.Errorf("SANNames = %q, %q", names, warns)
	}
}

func TestKollaBothSources(t *testing.T) {
	inv, err := Load(kolla+"multinode", kolla+"all-in-one")
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "compute", "compute01", "localhost")
	if got := inv.Files(); len(got) != 2 {
		t.Errorf("Files = %q", got)
	}
	_, err = inv.Hosts("compute-nodes")
	want := `inventory: no group "compute-nodes" in ` + kolla + "multinode, " + kolla + "all-in-one"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestKollaGlobals(t *testing.T) {
	// The fixture globals.yml is almost all comments, among them every
	// libvirt key commented out; reading it as YAML must find only what is
	// really set.
	data, err := os.ReadFile(kolla + "globals.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAMLDoc("globals.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := varsFromMapping("globals.yml", doc, "globals")
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 1 || vars["workaround_ansible_issue_8743"].v != true {
		t.Errorf("globals.yml sets %v, want only workaround_ansible_issue_8743: true", vars)
	}
}

func TestINISyntax(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"hosts": `# leading comment
; another comment style
lonely.example.com
[compute]
compute[01:03]
node-[a:c]   ansible_user=kolla
web[1:10:4]
rack[1:2]-n[08:09]
[:1]x
bmc.example.com:2222 ansible_host=10.0.0.9   # port stripped from the name
[2001:db8::7]:22
2001:db8::8
spaced  msg="hello world"  single='it''s'  esc=a\ b  quoted="'03#pa33'"  cut=ab#c  dropped=1
typed   port=22 flag=True none=None pad=01 ver=3.10 list="[1, 'a']" dict="{'k': 2}" hex=0x10 raw=10.0.0.1 jinja="{{ x }}"

[Control]
compute01 role=both
[compute:vars]
v1 = "quoted # not a comment"
v2 = 8080 # a comment after a literal
v3 = text # stays as written
[all:vars]
ansible_user=root
`})
	inv, err := Load(filepath.Join(dir, "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "compute",
		"compute01", "compute02", "compute03", "node-a", "node-b", "node-c", "web1", "web5", "web9",
		"rack1-n08", "rack1-n09", "rack2-n08", "rack2-n09", "0x", "1x",
		"bmc.example.com", "2001:db8::7", "2001:db8::8", "spaced", "typed")
	wantNames(t, inv, "ungrouped", "lonely.example.com")
	wantNames(t, inv, "Control", "compute01")

	node := hostByName(t, inv, "node-b")
	if node.Vars["ansible_user"] != "kolla" {
		t.Errorf("host var beats [all:vars]: %v", node.Vars)
	}
	if o := node.Origins["ansible_user"]; o != filepath.Join(dir, "hosts")+":6" {
		t.Errorf("origin = %q", o)
	}
	bmc := hostByName(t, inv, "bmc.example.com")
	if bmc.Vars["ansible_port"] != 2222 || bmc.Vars["ansible_host"] != "10.0.0.9" {
		t.Errorf("bmc vars = %v", bmc.Vars)
	}
	if v6 := hostByName(t, inv, "2001:db8::7"); v6.Vars["ansible_port"] != 22 {
		t.Errorf("v6 vars = %v", v6.Vars)
	}
	if v6 := hostByName(t, inv, "2001:db8::8"); v6.Vars["ansible_port"] != nil {
		t.Errorf("bare v6 must have no port: %v", v6.Vars)
	}
	sp := hostByName(t, inv, "spaced")
	wantVars := map[string]any{"msg": "hello world", "single": "its", "esc": "a b", "cut": "ab", "quoted": "03#pa33"}
	for k, v := range wantVars {
		if sp.Vars[k] != v {
			t.Errorf("spaced %s = %#v, want %#v", k, sp.Vars[k], v)
		}
	}
	if _, ok := sp.Vars["dropped"]; ok {
		t.Error("an unquoted # must end the host line")
	}
	ty := hostByName(t, inv, "typed")
	for k, v := range map[string]any{"port": 22, "flag": true, "none": nil, "pad": "01", "ver": 3.1, "hex": "0x10",
		"raw": "10.0.0.1", "jinja": "{{ x }}"} {
		if got, ok := ty.Vars[k]; !ok || got != v {
			t.Errorf("typed %s = %#v, want %#v", k, got, v)
		}
	}
	if !reflect.DeepEqual(ty.Vars["list"], []any{1, "a"}) || !reflect.DeepEqual(ty.Vars["dict"], map[string]any{"k": 2}) {
		t.Errorf("list %#v dict %#v", ty.Vars["list"], ty.Vars["dict"])
	}
	for k, v := range map[string]any{"v1": "quoted # not a comment", "v2": 8080, "v3": "text # stays as written", "ansible_user": "root"} {
		if ty.Vars[k] != v {
			t.Errorf("group var %s = %#v, want %#v", k, ty.Vars[k], v)
		}
	}
	// compute01 is in compute and Control: both groups' vars, one host.
	c := hostByName(t, inv, "compute01")
	if c.Vars["role"] != "both" || c.Vars["v2"] != 8080 {
		t.Errorf("compute01 vars = %v", c.Vars)
	}
	if n := len(mustHosts(t, inv, "all")); n != 21 {
		t.Errorf("all has %d hosts, want 21", n)
	}
}

func TestINIChildren(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"inv": `[openstack:children]
compute
control     # declared below
[compute:children]
gpu
[gpu]
gpu01
[control]
ctl01
[compute]
cmp01
gpu01
[all]
extra
`})
	inv, err := Load(filepath.Join(dir, "inv"))
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "openstack", "gpu01", "ctl01", "cmp01")
	wantNames(t, inv, "compute", "gpu01", "cmp01")
	wantNames(t, inv, "ungrouped", "extra")
	wantNames(t, inv, "all", "gpu01", "ctl01", "cmp01", "extra")
	if kids, _ := inv.Children("all"); !reflect.DeepEqual(kids, []string{"ungrouped", "openstack"}) {
		t.Errorf("Children(all) = %q", kids)
	}
	if g := hostByName(t, inv, "gpu01").Groups; !reflect.DeepEqual(g, []string{"all", "openstack", "compute", "gpu"}) {
		t.Errorf("gpu01 groups = %q", g)
	}
}

func TestYAMLInventory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"hosts.yml": `all:
  vars:
    ansible_user: root
  hosts:
    deploy:
      ansible_connection: local
  children:
    control:
      hosts:
        "ctl[1:2]":
    compute:
      vars:
        enabled: yes
        quoted: "yes"
      hosts:
        "cmp[08:10]":
          migration_hostname: cmp.migration.example.com
        "bmc:2200":
      children:
        gpu:
          hosts: gpu01
    kolla:
      children:
        compute:
        control:
`,
		// No extension: read as YAML because it holds a mapping.
		"more": "compute:\n  hosts:\n    late01:\n      ansible_host: 192.0.2.50\n",
	})
	inv, err := Load(filepath.Join(dir, "hosts.yml"), filepath.Join(dir, "more"))
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, inv, "compute", "cmp08", "cmp09", "cmp10", "bmc", "gpu01", "late01")
	wantNames(t, inv, "kolla", "ctl1", "ctl2", "cmp08", "cmp09", "cmp10", "bmc", "gpu01", "late01")
	wantNames(t, inv, "ungrouped", "deploy")
	c := hostByName(t, inv, "cmp09")
	if c.Vars["enabled"] != true || c.Vars["quoted"] != "yes" || c.Vars["ansible_user"] != "root" {
		t.Errorf("vars = %v", c.Vars)
	}
	if o := c.Origins["migration_hostname"]; o != filepath.Join(dir, "hosts.yml")+":17" {
		t.Errorf("origin = %q", o)
	}
	if hostByName(t, inv, "bmc").Vars["ansible_port"] != 2200 {
		t.Error("port of bmc:2200 not kept")
	}
	names, warns := c.SANNames()
	if !reflect.DeepEqual(names, []string{"cmp09", "cmp.migration.example.com"}) || warns != nil {
		t.Errorf("SANNames = %q %q", names, warns)
	}
	names, _ = hostByName(t, inv, "late01").SANNames()
	if !reflect.DeepEqual(names, []string{"late01", "192.0.2.50"}) {
		t.Errorf("SANNames = %q", names)
	}
}

// TestVarFiles builds a Kolla-like deployment: inventory, group_vars and
// host_vars as files and directories, with names for the certificates.
func TestVarFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"multinode": `[control]
control01
[compute]
compute[01:05]
compute06 ansible_host="{{ lookup('env', 'C6') }}"
[nova:children]
compute
`,
		"group_vars/all.yml":             "domain: example.com\n",
		"group_vars/compute/10-net.yml":  "network_interface: eth1\n",
		"group_vars/compute/20-mig":      "# no extension is fine\nmigration_network: 10.1.0.0/24\n",
		"group_vars/compute/sub/x.yaml":  "deep: true\n",
		"group_vars/compute/notes.txt":   "ignored: [\n",
		"group_vars/compute/.hidden.yml": "ignored: [\n",
		"host_vars/compute01.yml":        "migration_hostname: compute01.migration.example.com\n",
		"host_vars/compute02":            "ansible_host: 192.0.2.12\n",
		"host_vars/compute03.yaml":       "ansible_host: 2001:DB8::13\nmigration_hostname: compute03\n",
		"host_vars/compute04/a.yml":      "ansible_host: 192.0.2.14\n",
		"host_vars/compute04/b.yml":      "migration_hostname: \"{{ inventory_hostname }}.mig\"\n",
		"host_vars/compute05.yml":        "ansible_host: not_a_host!\nmigration_hostname: 42\n",
		"host_vars/control01.yml":        "---\n",
	})
	inv, err := Load(filepath.Join(dir, "multinode"))
	if err != nil {
		t.Fatal(err)
	}
	hs := wantNames(t, inv, "nova", "compute01", "compute02", "compute03", "compute04", "compute05", "compute06")
	for _, h := range hs {
		if h.Vars["domain"] != "example.com" || h.Vars["network_interface"] != "eth1" ||
			h.Vars["migration_network"] != "10.1.0.0/24" || h.Vars["deep"] != true || h.Vars["ignored"] != nil {
			t.Errorf("%s: vars = %v", h.Name, h.Vars)
		}
	}
	if o := hs[0].Origins["network_interface"]; o != filepath.Join(dir, "group_vars/compute/10-net.yml")+":1" {
		t.Errorf("origin = %q", o)
	}
	type want struct {
		names []string
		warns []string // substrings, one per warning
	}
	wants := map[string]want{
		"compute01": {names: []string{"compute01", "compute01.migration.example.com"}},
		"compute02": {names: []string{"compute02", "192.0.2.12"}},
		"compute03": {names: []string{"compute03", "2001:db8::13"}}, // migration_hostname repeats the name
		"compute04": {names: []string{"compute04", "192.0.2.14"},
			warns: []string{`host compute04: migration_hostname "{{ inventory_hostname }}.mig" (set in ` + filepath.Join(dir, "host_vars/compute04/b.yml") + `:1) is a Jinja expression`}},
		"compute05": {names: []string{"compute05"},
			warns: []string{"host compute05: migration_hostname (set in " + filepath.Join(dir, "host_vars/compute05.yml") + ":2) is int 42",
				`ansible_host (set in ` + filepath.Join(dir, "host_vars/compute05.yml") + `:1) "not_a_host!" is not a host name`}},
		"compute06": {names: []string{"compute06"},
			warns: []string{"host compute06: ansible_host \"{{ lookup('env', 'C6') }}\" (set in " + filepath.Join(dir, "multinode") + ":5) is a Jinja expression"}},
	}
	for _, h := range hs {
		names, warns := h.SANNames()
		w := wants[h.Name]
		if !reflect.DeepEqual(names, w.names) {
			t.Errorf("%s: SANNames = %q, want %q", h.Name, names, w.names)
		}
		if len(warns) != len(w.warns) {
			t.Errorf("%s: warnings = %q, want %d", h.Name, warns, len(w.warns))
			continue
		}
		for i := range warns {
			if !strings.Contains(warns[i], w.warns[i]) {
				t.Errorf("%s: warning %q, want it to contain %q", h.Name, warns[i], w.warns[i])
			}
		}
	}
}

// TestPrecedence checks each step of the documented order against the one
// below it.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"inv": `[top:children]
mid
[mid:children]
leaf
[leaf]
h1 hostinv=inventory-host
h2
[alpha]
h1
[zeta]
h1
[prio]
h1
[all:vars]
a=all-inv
b=all-inv
[top:vars]
b=top-inv
c=top-inv
[mid:vars]
c=mid-inv
d=mid-inv
[leaf:vars]
d=leaf-inv
gvfile=leaf-inv
hostinv=leaf-inv
[alpha:vars]
same=alpha
pr=alpha
[zeta:vars]
same=zeta
pr=zeta
[prio:vars]
ansible_group_priority=0
pr=prio
`,
		"group_vars/all.yml":  "a: all-file\ne: all-file\nf: all-file\n",
		"group_vars/top.yml":  "f: top-file\ng: top-file\n",
		"group_vars/leaf.yml": "g: leaf-file\ngvfile: leaf-file\nhostinv: leaf-file\nhv: leaf-file\n",
		"host_vars/h1.yml":    "hv: host-file\n",
		// Both a directory and a .yml for mid: Ansible reads only the
		// directory (the name without extension comes first).
		"group_vars/mid/x.yml": "m: dir\n",
		"group_vars/mid.yml":   "m: yml\n",
	})
	inv, err := Load(filepath.Join(dir, "inv"))
	if err != nil {
		t.Fatal(err)
	}
	h1 := hostByName(t, inv, "h1")
	for k, want := range map[string]string{
		"a":       "all-file",       // group_vars/all beats [all:vars]
		"b":       "top-inv",        // a group beats all
		"c":       "mid-inv",        // a child beats its parent
		"d":       "leaf-inv",       // ...at every depth
		"e":       "all-file",       // group_vars/all applies
		"f":       "top-file",       // group_vars/<group> beats group_vars/all
		"g":       "leaf-file",      // child group file beats parent group file
		"gvfile":  "leaf-file",      // group_vars file beats inventory group vars
		"hostinv": "inventory-host", // inventory host vars beat group_vars files (Ansible)
		"hv":      "host-file",      // host_vars beats everything
		"same":    "zeta",           // same depth: later name wins
		"pr":      "zeta",           // prio has priority 0 < 1: merged first, loses
		"m":       "dir",
	} {
		if got := h1.Vars[k]; got != want {
			t.Errorf("h1 %s = %v (from %s), want %s", k, got, h1.Origins[k], want)
		}
	}
	if w := inv.Warnings(); len(w) != 1 || !strings.Contains(w[0], "mid.yml ignored") {
		t.Errorf("warnings = %q", w)
	}
	if want := []string{"all", "prio", "alpha", "top", "zeta", "mid", "leaf"}; !reflect.DeepEqual(h1.Groups, want) {
		t.Errorf("merge order = %q, want %q", h1.Groups, want)
	}
	// h2 is not in alpha/zeta/prio and has no host_vars.
	h2 := hostByName(t, inv, "h2")
	if h2.Vars["hv"] != "leaf-file" || h2.Vars["same"] != nil || h2.Vars["hostinv"] != "leaf-file" {
		t.Errorf("h2 vars = %v", h2.Vars)
	}

	// Two sources: the second source's group_vars win, even for a parent
	// group over the first source's child group.
	dir2 := t.TempDir()
	write(t, dir2, map[string]string{
		"inv2":               "[leaf]\nh1 second=1\n",
		"group_vars/top.yml": "g: second-top\n",
		"host_vars/h1":       "hv: second-host\n",
	})
	inv, err = Load(filepath.Join(dir, "inv"), filepath.Join(dir2, "inv2"))
	if err != nil {
		t.Fatal(err)
	}
	h1 = hostByName(t, inv, "h1")
	if h1.Vars["g"] != "second-top" || h1.Vars["hv"] != "second-host" || h1.Vars["second"] != 1 || h1.Vars["hostinv"] != "inventory-host" {
		t.Errorf("two sources: %v", h1.Vars)
	}
}

func TestDirectorySource(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"01-hosts":             "[compute]\ncmp1\n",
		"02-more.yml":          "all:\n  children:\n    compute:\n      hosts:\n        cmp2:\n",
		"03-extra.ini":         "[compute]\ncmp3\n",
		"sub/04-nested":        "[compute]\ncmp4\n",
		"README.md":            "# not an inventory [\n",
		"hosts.bak":            "[compute]\nold\n",
		".hidden":              "[compute]\nhidden\n",
		"group_vars/compute":   "from_dir_vars: yes\n",
		"host_vars/cmp3.yml":   "ansible_host: 198.51.100.3\n",
		"sub/group_vars/x.yml": "not: [read\n",
	})
	inv, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	hs := wantNames(t, inv, "compute", "cmp1", "cmp2", "cmp3", "cmp4")
	for _, h := range hs {
		if h.Vars["from_dir_vars"] != true {
			t.Errorf("%s: vars %v", h.Name, h.Vars)
		}
	}
	if names, _ := hs[2].SANNames(); !reflect.DeepEqual(names, []string{"cmp3", "198.51.100.3"}) {
		t.Errorf("SANNames = %q", names)
	}
	if got := len(inv.Files()); got != 4 {
		t.Errorf("files read: %q", inv.Files())
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string // with F for the path of the first file ("inv" unless set)
	}{
		{"bad range", map[string]string{"inv": "[compute]\ncompute01\ncompute[05:01]\n"},
			`F:3: bad host range "compute[05:01]": start after end`},
		{"mixed range", map[string]string{"inv": "[compute]\nnode[a:1]\n"},
			`F:2: bad host range "node[a:1]": begin and end must both be numbers or both single letters`},
		{"unequal width", map[string]string{"inv": "c[01:100]\n"}, `F:1: bad host range "c[01:100]"`},
		{"range no end", map[string]string{"inv": "c[1:]\n"}, `F:1: bad host range "c[1:]": no end value`},
		{"range unclosed", map[string]string{"inv": "c[1:3\n"}, `F:1: bad host range "c[1:3": '[' without ']'`},
		{"range step", map[string]string{"inv": "c[1:3:0]\n"}, `F:1: bad host range "c[1:3:0]": step "0"`},
		{"range too big", map[string]string{"inv": "c[0:9999999]\n"}, `F:1: bad host range "c[0:9999999]": expands to more than`},
		{"self child", map[string]string{"inv": "[a]\nh\n[a:children]\na\n"},
			`F:4: group "a" lists itself as a child`},
		{"cycle", map[string]string{"inv": "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n"},
			`F:6: making "a" a child of "c" creates a cycle (a > b > c > a)`},
		{"cycle pending", map[string]string{"inv": "[a]\nh\n[b:children]\na\n[a:children]\nb\n"},
			`F:6: making "b" a child of "a" creates a cycle (b > a > b)`},
		{"undefined child", map[string]string{"inv": "[a:children]\nmissing\n"},
			`F:2: [a:children] lists group "missing", which no [missing] or [missing:children] section declares`},
		{"vars undefined", map[string]string{"inv": "[a]\nh\n[b:vars]\nx=1\n"},
			`F:3: section [b:vars] names a group that no [b] or [b:children] section declares`},
		{"vars no equals", map[string]string{"inv": "[a]\nh\n[a:vars]\njustaword\n"},
			`F:4: expected key=value in [a:vars], got "justaword"`},
		{"host var no equals", map[string]string{"inv": "[a]\nh1 ansible_host\n"},
			`F:2: expected key=value after host "h1", got "ansible_host"`},
		{"unclosed quote", map[string]string{"inv": "\n[a]\nh1 x=\"abc\n"},
			`F:3: cannot parse host line "h1 x=\"abc": no closing quotation`},
		{"bad section", map[string]string{"inv": "[bad group]\nh\n"}, `F:1: bad section header "[bad group]"`},
		{"unknown section type", map[string]string{"inv": "[a:hostz]\nh\n"}, `F:1: section [a:hostz] has unknown type "hostz"`},
		{"bad child name", map[string]string{"inv": "[a:children]\nb c\n"}, `F:2: expected a group name in [a:children], got "b c"`},
		{"trailing colon", map[string]string{"inv.ini": "h1:\n"}, `F:1: bad host "h1:"`},
		{"bad port", map[string]string{"inv": "h1:99999\n"}, `F:1: bad host "h1:99999": bad port "99999"`},
		{"group_vars list", map[string]string{"inv": "[compute]\nc1\n", "group_vars/compute.yml": "# vars\n- a\n- b\n"},
			`group_vars/compute.yml:2: group_vars file must be a mapping of variables, got a list`},
		{"host_vars scalar", map[string]string{"inv": "[compute]\nc1\n", "host_vars/c1": "just text\n"},
			`host_vars/c1:1: host_vars file must be a mapping of variables, got the scalar "just text"`},
		{"var file syntax", map[string]string{"inv": "[compute]\nc1\n", "group_vars/all/x.yml": "a: 1\nb: [\n"},
			`group_vars/all/x.yml:2: did not find expected node content`},
		{"yaml hosts list", map[string]string{"inv.yml": "all:\n  children:\n    compute:\n      hosts:\n        - c1\n"},
			`inv.yml:5: hosts of group "compute" must be a mapping, got a list`},
		{"yaml group vars list", map[string]string{"inv.yml": "all:\n  children:\n    compute:\n      vars:\n        - a\n"},
			`inv.yml:5: vars of group "compute" must be a mapping of variables, got a list`},
		{"yaml host vars", map[string]string{"inv.yml": "all:\n  hosts:\n    h1: [a]\n"},
			`inv.yml:3: vars of host "h1" must be a mapping of variables, got a list`},
		{"yaml group scalar", map[string]string{"inv.yml": "all:\n  children:\n    compute: yes\n"},
			`inv.yml:3: group "compute" must be a mapping`},
		{"yaml cycle", map[string]string{"inv.yml": "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n"},
			`inv.yml:7: making "a" a child of "b" creates a cycle (a > b > a)`},
		{"yaml bad range", map[string]string{"inv.yml": "all:\n  hosts:\n    \"c[9:1]\":\n"},
			`inv.yml:3: bad host range "c[9:1]": start after end`},
		{"yaml syntax", map[string]string{"inv.yml": "all:\n  hosts: [\n"}, `inv.yml:2: did not find expected node content`},
		{"plugin config", map[string]string{"inv.yml": "plugin: constructed\n"}, `inv.yml:1: this is the configuration of an inventory plugin`},
		{"toml", map[string]string{"inv.toml": "[all]\n"}, `inv.toml: TOML inventories are not supported`},
		{"vault", map[string]string{"inv": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"}, `inv: not a valid ansible-vault text`},
		{"yaml-looking ini", map[string]string{"inv": "---\n"}, `F:1: bad host "---"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, c.files)
			first := "inv"
			for name := range c.files {
				if strings.HasPrefix(name, "inv") {
					first = name
				}
			}
			path := filepath.Join(dir, first)
			_, err := Load(path)
			want := strings.ReplaceAll(c.want, "F:", path+":")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %v\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing source: %v", err)
	}
	if _, err := Load(); err == nil {
		t.Error("no source: no error")
	}
	// An unreadable var file: a dangling symlink inside group_vars/compute/
	// (this works as root too, where file modes do not stop reading).
	write(t, dir, map[string]string{"inv": "[compute]\nc1\n", "group_vars/compute/a.yml": "x: 1\n"})
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "group_vars/compute/b.yml")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(dir, "inv"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "group_vars/compute/b.yml")) {
		t.Errorf("unreadable var file: %v", err)
	}
	// A vault-encrypted var file without a vault password: refused, as
	// Ansible refuses it, naming the file.
	os.Remove(filepath.Join(dir, "group_vars/compute/b.yml"))
	write(t, dir, map[string]string{"host_vars/c1.yml": vaultText(t, "x: 1\n", "pw", "")})
	if _, err := Load(filepath.Join(dir, "inv")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "host_vars/c1.yml")+": is ansible-vault encrypted") {
		t.Errorf("vaulted var file: %v", err)
	}
	os.Remove(filepath.Join(dir, "host_vars/c1.yml"))
	// An executable script gets a hint.
	script := filepath.Join(dir, "dyn.py")
	if err := os.WriteFile(script, []byte("#!/usr/bin/env python3\nimport json\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(script); err == nil || !strings.Contains(err.Error(), script+":2:") || !strings.Contains(err.Error(), "dynamic inventory scripts are not run") {
		t.Errorf("script: %v", err)
	}
}

func TestSANNamesDedup(t *testing.T) {
	h := Entry{Name: "Compute01", Vars: map[string]any{
		"migration_hostname": "compute01", "ansible_host": "::ffff:192.0.2.1",
	}, Origins: map[string]string{}}
	names, warns := h.SANNames()
	if !reflect.DeepEqual(names, []string{"Compute01", "192.0.2.1"}) || warns != nil {
		t.Errorf("SANNames = %q %q", names, warns)
	}
	h = Entry{Name: "bad_name", Vars: map[string]any{"ansible_host": "fe80::1%eth0", "migration_hostname": "{% if x %}a{% endif %}"},
		Origins: map[string]string{"ansible_host": "inv:3", "migration_hostname": "inv:4"}}
	names, warns = h.SANNames()
	// An inventory name that is no DNS name is left out silently: the
	// caller (hosts.Selection) says so once for all such hosts.
	if len(names) != 0 || len(warns) != 2 ||
		!strings.Contains(warns[0], "inv:4") || !strings.Contains(warns[1], "IPv6 zone") {
		t.Errorf("SANNames = %q %q", names, warns)
	}
}

func TestShlexAndValues(t *testing.T) {
	for in, want := range map[string][]string{
		`a b  c`:                {"a", "b", "c"},
		`k="x y" z='p q'`:       {"k=x y", "z=p q"},
		`k="a\"b\$c"`:           {`k=a"b\$c`},
		`k=a\ b`:                {"k=a b"},
		`a#comment`:             {"a"},
		`a "#kept" # dropped`:   {"a", "#kept"},
		`empty=""`:              {"empty="},
		`''`:                    {""},
		`k='{{ "x" }}'`:         {`k={{ "x" }}`},
		"tab\tsep":              {"tab", "sep"},
		`mixed="a"'b'c`:         {"mixed=abc"},
		`unicode=é`:             {"unicode=é"},
		`x='a\nb'`:              {`x=a\nb`},
		`# only a comment`:      nil,
		`trailing   `:           {"trailing"},
		`  leading`:             {"leading"},
		`a=1 b=2 # c=3 d=4`:     {"a=1", "b=2"},
		`p="it's" q='say "hi"'`: {"p=it's", `q=say "hi"`},
	} {
		got, err := shlexSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`"open`, `'open`, `end\`} {
		if _, err := shlexSplit(in); err == nil {
			t.Errorf("shlexSplit(%q): no error", in)
		}
	}
	for in, want := range map[string]any{
		"22": 22, "-5": -5, "0": 0, "00": 0, "010": "010", "1_000": "1_000", "0x1F": "0x1F", "0o17": "0o17", "0b11": "0b11",
		"1.5": 1.5, "1e3": 1000.0, ".5": 0.5, "True": true, "False": false, "None": nil, "true": "true", "yes": "yes",
		"'q'": "q", `"d"`: "d", `u'u'`: `u'u'`, `r'\d'`: `r'\d'`, `'a\tb'`: "a\tb", "'x' # c": "x", "text # c": "text # c",
		"10.0.0.1": "10.0.0.1", "1.2.3": "1.2.3", "inf": "inf", "nan": "nan", "1j": "1j", "{{ x }}": "{{ x }}",
		"": "", "-": "-", "[1, 'a']": []any{1, "a"}, "(1,)": "(1,)", "(1)": "(1)", "[1, 2,]": []any{1, 2}, "{'a': [1]}": map[string]any{"a": []any{1}},
		"{1, 2}": "{1, 2}", "{'a': 1, }": map[string]any{"a": 1}, "{1: None}": map[string]any{"1": nil}, "{[1]: 2}": "{[1]: 2}", "{}": map[string]any{}, "[1, 2": "[1, 2", "'unterminated": "'unterminated",
		"99999999999999999999": "99999999999999999999",
	} {
		if got := parseValue(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseValue(%q) = %#v, want %#v", in, got, want)
		}
	}
}

func TestExpandHostPattern(t *testing.T) {
	for in, want := range map[string][]string{
		"compute[01:03]":     {"compute01", "compute02", "compute03"},
		"c[8:11]":            {"c8", "c9", "c10", "c11"},
		"c[08:11]":           {"c08", "c09", "c10", "c11"},
		"node-[a:c]":         {"node-a", "node-b", "node-c"},
		"n[x:B]":             {"nx", "ny", "nz", "nA", "nB"},
		"w[1:10:3].lab":      {"w1.lab", "w4.lab", "w7.lab", "w10.lab"},
		"r[1:2]n[a:b]":       {"r1na", "r1nb", "r2na", "r2nb"},
		"[1:2].example.com":  {"1.example.com", "2.example.com"},
		"h[:1]":              {"h0", "h1"},
		"plain":              {"plain"},
		"192.0.2.1":          {"192.0.2.1"},
		"host.example.com:5": {"host.example.com"},
	} {
		got, _, err := expandHostPattern(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("expandHostPattern(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseINI checks that no input makes the INI parser (and the host
// queries after it) panic.
func FuzzParseINI(f *testing.F) {
	for _, s := range []string{
		"[compute]\ncompute[01:03] ansible_host=10.0.0.1\n[a:children]\ncompute\n[a:vars]\nx=1\n",
		"h:22 k='v w' # c\n[g]\n[g:children]\ng\n",
		"[a:children]\nb\n[b:children]\na\n",
		"x[a:z:2]y[1:3]\n[all:vars]\nv=[1, {'a': (2,)}]\n",
		"[2001:db8::1]:22\n\"unterminated\n",
		// Hostile: a range of 10^8 hosts, control characters, names that
		// are no host names, a long value.
		"[compute]\nc[0:99999999]\n",
		"h\x1b[2J ansible_host=\x00\x7f\n[g:vars]\nk=\x01\r\n",
		"*\n[g]\n*.example ansible_host=*\n",
		"[all:vars]\nv=" + strings.Repeat("x", 3000) + "\n",
	} {
		f.Add([]byte(s))
	}
	data, err := os.ReadFile(kolla + "multinode")
	if err == nil {
		f.Add(data)
	}
	// Keep each case small: a pattern may still expand to many hosts.
	old := maxHostsPerPattern
	maxHostsPerPattern = 50
	defer func() { maxHostsPerPattern = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		inv := newInventory([]string{"fuzz"}, nil)
		if err := inv.parseINI("fuzz", data); err != nil {
			return
		}
		inv.reconcile()
		groups := inv.Groups()
		if len(groups) > 20 {
			groups = append(groups[:20], "all")
		}
		for _, g := range groups {
			hs, err := inv.Hosts(g)
			if err != nil {
				t.Fatalf("Hosts(%q) of a listed group: %v", g, err)
			}
			for _, h := range hs {
				h.SANNames()
			}
		}
	})
}
