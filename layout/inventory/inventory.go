// Package inventory reads Ansible inventories (INI and YAML, with their
// group_vars/ and host_vars/ directories) and YAML vars files, so
// libvirt-pki knows the compute hosts and the names clients use for them.
// What the variables mean to Kolla is package kolla's business; which
// hosts a command works on is package hosts'.
//
// It follows ansible-core's own parsers (the ini and yaml inventory plugins
// and the host_group_vars vars plugin) closely enough that the same files
// give the same hosts, groups and variables. Jinja expressions are never
// evaluated: they are kept as strings in Entry.Vars and reported by the
// functions that would have needed their value.
//
// Variable precedence, lowest first (ansible-core's default
// VARIABLE_PRECEDENCE and hash_behaviour=replace: a later source replaces a
// whole top-level variable, dictionaries are not merged):
//
//  1. inventory vars of group "all" ([all:vars], all.vars in YAML);
//  2. inventory vars of the host's other groups (parents of its groups
//     included), ordered by depth below "all" (parents before children),
//     then ansible_group_priority (default 1), then name;
//  3. group_vars/all files;
//  4. group_vars/<group> files, groups in the order of step 2;
//  5. inventory host vars (inline INI key=value, YAML host mappings, the
//     port of "host:port" as ansible_port); a later line or file wins;
//  6. host_vars/<host> files.
//
// Steps 3, 4 and 6 go through the inventory sources in the order given to
// Load, and for each source through its directory's group_vars/ or
// host_vars/ (so for steps 3 and 4 a later source's files win over an
// earlier source's, whatever the groups). Note that, as in Ansible, host
// vars written in the inventory file beat group_vars/ files.
//
// Hostile input is refused, naming the file: only regular files are read
// (a symlink is followed, as Ansible follows it), each within
// LimitInventory; a YAML file must hold one document, as Ansible demands,
// and at most one value per 4 bytes (at least 2^20, at most 2^23), with
// its aliases expanded at most one per byte, so an alias loop or "billion
// laughs" fails at once instead of exhausting memory.
package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

// Inventory is the merged content of the sources given to Load: groups,
// hosts, their inventory variables and the group_vars/host_vars files that
// apply to them. Once loaded it is read-only and safe for concurrent use.
type Inventory struct {
	sources   []string          // paths given to Load, for messages
	files     []string          // inventory files actually parsed
	groups    map[string]*group // by name
	groupList []string          // first appearance ("all", "ungrouped" first)
	hosts     map[string]*host
	hostList  []string // first appearance
	varDirs   []string // per source, the directory holding group_vars/ and host_vars/
	// varCache holds the group_vars/host_vars files found for one entity in
	// one directory, keyed by "group_vars\x00<realdir>\x00<name>".
	varCache map[string][]varFile
	// realDirs maps each of varDirs to its real absolute path, resolved
	// once (Load), so a 100,000-host fleet costs no symlink walk a host.
	realDirs map[string]string
	// varNames lists, during Load, the names in each group_vars/ or
	// host_vars/ directory (nil: no such directory), so a host without
	// a file costs no stat.
	varNames map[string]map[string]bool
	warnings []string
	ring     *vault.Keyring // opens vaulted files and the !vault values SANNames needs

	// Indexes built by reconcile, once the group graph is final.
	hostDirect map[string][]string        // host -> groups listing it directly
	ancCache   map[string]map[string]bool // group -> its ancestors
	depthMemo  map[string]int
}

// val is one variable value with where it was set ("file:line" or "file").
type val struct {
	v    any
	from string
}

type group struct {
	name     string
	parents  []string
	children []string
	hosts    []string // direct members, first appearance
	hostSet  map[string]bool
	vars     map[string]val
	priority int
}

type host struct {
	name string
	vars map[string]val
	from string // "file:line" of its first entry
}

type varFile struct {
	path string
	vars map[string]val
}

// Entry is one host of the inventory, with its merged variables. It is
// what Ansible knows of the host; layout.Host is the host libvirt-pki
// makes credentials for (package hosts turns one into the other).
type Entry struct {
	// Name is the inventory hostname, as written (Ansible allows names
	// that are no host name; package hosts refuses them).
	Name string
	// From is where the host is first listed, as "file:line", so that a
	// name found wrong can be pointed at.
	From string
	// Vars holds the merged variables (see the package comment for the
	// precedence). Values are string, bool, int, float64, nil, []any or
	// map[string]any; Jinja expressions are left as strings.
	Vars map[string]any
	// Origins tells, for each variable in Vars, where its winning value was
	// set, as "file:line".
	Origins map[string]string
	// Groups lists every group the host is in (parents included) in the
	// order their variables were merged: "all" first.
	Groups []string
}

func newInventory(sources []string, ring *vault.Keyring) *Inventory {
	if ring == nil {
		ring = &vault.Keyring{}
	}
	inv := &Inventory{
		ring:     ring,
		sources:  sources,
		groups:   map[string]*group{},
		hosts:    map[string]*host{},
		varCache: map[string][]varFile{},
		realDirs: map[string]string{},
		varNames: map[string]map[string]bool{},
	}
	// Ansible always has these two groups, even in an empty inventory.
	inv.ensureGroup("all")
	inv.ensureGroup("ungrouped")
	return inv
}

// Load reads one or more inventory sources, like ansible's repeated -i: INI
// or YAML files, or directories (every inventory file in them, recursively,
// skipping what Ansible skips: hidden names, group_vars, host_vars,
// vars_plugins and backup/doc extensions such as .bak, .orig, .md, .txt,
// .cfg, .retry, ~). Files named *.yml, *.yaml or *.json are read as YAML,
// files without an extension as YAML if they hold a mapping and as INI
// otherwise, anything else as INI. Then, for each source, group_vars/ and
// host_vars/ in its directory (the source itself when it is a directory)
// are read for every group and host: <name>, <name>.yml, <name>.yaml or
// <name>.json, the first that exists (as Ansible does), a directory being
// read recursively in name order.
//
// Executable inventory scripts are not run; such a file is parsed as INI
// and usually fails with an error saying so. Errors name the file, and the
// line when there is one.
//
// A vault-encrypted file (inventory or vars) is refused: LoadVault reads
// them.
func Load(paths ...string) (*Inventory, error) { return LoadVault(nil, paths...) }

// LoadVault is Load with the vault passwords of ring: every
// ansible-vault encrypted inventory or vars file is decrypted with them,
// and inline !vault values are kept encrypted (as Vaulted) until
// something needs them, as Ansible decrypts them only when a variable is
// used: Hosts decrypts migration_hostname and ansible_host. A vaulted
// file or value that no password opens is an error naming the file (and
// the line); nil ring holds no password.
func LoadVault(ring *vault.Keyring, paths ...string) (*Inventory, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("inventory: no inventory source given")
	}
	inv := newInventory(slices.Clone(paths), ring)
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("inventory: %v", err)
		}
		if fi.IsDir() {
			inv.varDirs = append(inv.varDirs, p)
			if err := inv.loadDir(p, 0); err != nil {
				return nil, err
			}
		} else {
			inv.varDirs = append(inv.varDirs, filepath.Dir(p))
			if err := inv.loadFile(p); err != nil {
				return nil, err
			}
		}
	}
	inv.reconcile()
	if err := inv.loadVarFiles(); err != nil {
		return nil, err
	}
	return inv, nil
}

// ignoredExts are Ansible's default INVENTORY_IGNORE_EXTS.
var ignoredExts = []string{".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"}

func ignoredInDir(name string) bool {
	if strings.HasPrefix(name, ".") || name == "group_vars" || name == "host_vars" || name == "vars_plugins" {
		return true
	}
	for _, ext := range ignoredExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func (inv *Inventory) loadDir(dir string, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%s: directories nested too deep (a symlink loop?)", dir)
	}
	entries, err := os.ReadDir(dir) // sorted by name, as Ansible sorts
	if err != nil {
		return fmt.Errorf("inventory: %v", err)
	}
	for _, e := range entries {
		if ignoredInDir(e.Name()) {
			continue
		}
		full := filepath.Join(dir, e.Name())
		fi, err := os.Stat(full) // follow symlinks
		if err != nil {
			return fmt.Errorf("inventory: %v", err)
		}
		if fi.IsDir() {
			err = inv.loadDir(full, depth+1)
		} else {
			err = inv.loadFile(full)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (inv *Inventory) loadFile(path string) error {
	data, err := readConfig(path, inv.ring)
	if err != nil {
		return err
	}
	inv.files = append(inv.files, path)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yml", ".yaml", ".json":
		doc, yerr := parseYAMLDoc(path, data)
		if yerr == nil && (doc == nil || doc.Kind == mappingKind) {
			return inv.parseYAMLInventory(path, doc)
		}
		// Ansible falls back to its INI parser when the YAML one refuses a
		// file; keep the YAML complaint if INI does not work either.
		if err := inv.tryINI(path, data); err != nil {
			if yerr != nil {
				return yerr
			}
			return fmt.Errorf("%s:%d: a YAML inventory must be a mapping of groups", path, doc.Line)
		}
		return nil
	case ".toml":
		return fmt.Errorf("%s: TOML inventories are not supported; use INI or YAML", path)
	case "":
		if doc, err := parseYAMLDoc(path, data); err == nil && doc != nil && doc.Kind == mappingKind {
			return inv.parseYAMLInventory(path, doc)
		}
	}
	return inv.tryINI(path, data)
}

// tryINI parses an INI file, adding a hint when the file is executable:
// Ansible would have run it as a dynamic inventory script.
func (inv *Inventory) tryINI(path string, data []byte) error {
	err := inv.parseINI(path, data)
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode()&0o111 != 0 && strings.HasPrefix(string(data), "#!") {
			return fmt.Errorf("%v (the file is executable: dynamic inventory scripts are not run; give its output as a YAML or JSON file)", err)
		}
	}
	return err
}

// LimitInventory bounds an inventory or vars file. Unlike Kolla's other
// files (fsutil.LimitConfig) these grow with the fleet: a 100,000-host
// inventory with a dozen variables a host runs to some 50 MiB (about 1.3
// KiB a host fits). What is built from a file is bounded in proportion
// to it (yamlLimits; INI lines are views into the file), so this bound
// only keeps a wrong path (a disk image) from being read; a vaulted file
// may be vault.EncryptedSize of it, about 4 times as large.
const LimitInventory = 128 << 20

// readConfig reads an inventory or vars file: a symlink is followed, as
// Ansible follows it, but the file must be a regular file within
// LimitInventory (its vault text within vault.EncryptedSize of that),
// so a device, a FIFO or a huge file is refused at once. A vault text is
// decrypted with ring, as Ansible's loader decrypts a file that starts
// with the vault header.
func readConfig(path string, ring *vault.Keyring) ([]byte, error) {
	data, err := fsutil.ReadFileFollow(path, vault.EncryptedSize(LimitInventory))
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if vault.IsEncrypted(data) {
		o, err := ring.Open(path, data)
		if err != nil {
			return nil, err
		}
		data = o.Plaintext
	}
	if len(data) > LimitInventory {
		return nil, fmt.Errorf("inventory: %w", &fsutil.BadFileError{Path: path, Reason: fmt.Sprintf("larger than %d bytes", LimitInventory), Kind: fsutil.ErrTooLarge})
	}
	return data, nil
}

func (inv *Inventory) ensureGroup(name string) *group {
	g, ok := inv.groups[name]
	if !ok {
		g = &group{name: name, vars: map[string]val{}, hostSet: map[string]bool{}, priority: 1}
		inv.groups[name] = g
		inv.groupList = append(inv.groupList, name)
	}
	return g
}

// addHost puts host name in a group; where is "file:line" of the entry.
func (inv *Inventory) addHost(name, groupName, where string) *host {
	h, ok := inv.hosts[name]
	if !ok {
		h = &host{name: name, vars: map[string]val{}, from: where}
		inv.hosts[name] = h
		inv.hostList = append(inv.hostList, name)
	}
	g := inv.ensureGroup(groupName)
	if !g.hostSet[name] {
		g.hostSet[name] = true
		g.hosts = append(g.hosts, name)
	}
	return h
}

// setGroupVar sets an inventory group variable; ansible_group_priority
// also sets the group's priority, as Ansible's Group.set_variable does.
func (inv *Inventory) setGroupVar(g *group, k string, v any, where string) error {
	if k == "ansible_group_priority" {
		p, err := toInt(v)
		if err != nil {
			return fmt.Errorf("%s: ansible_group_priority of group %q: %v", where, g.name, err)
		}
		g.priority = p
	}
	g.vars[k] = val{v, where}
	return nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		return int(x), nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// ancestors returns every group above g (not g itself).
func (inv *Inventory) ancestors(name string) map[string]bool {
	seen := map[string]bool{}
	stack := slices.Clone(inv.groups[name].parents)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		stack = append(stack, inv.groups[p].parents...)
	}
	return seen
}

// addChild makes child a child group of parent, refusing loops: Ansible
// refuses them too, and a loop would make "children expanded recursively"
// endless. where is "file:line" of the entry that asked for it.
func (inv *Inventory) addChild(parent, child, where string) error {
	if parent == child {
		return fmt.Errorf("%s: group %q lists itself as a child", where, parent)
	}
	p, c := inv.ensureGroup(parent), inv.ensureGroup(child)
	if slices.Contains(p.children, child) {
		return nil
	}
	if child == "all" || inv.ancestors(parent)[child] {
		return fmt.Errorf("%s: making %q a child of %q creates a cycle (%s)", where, child, parent, inv.cyclePath(parent, child))
	}
	p.children = append(p.children, child)
	c.parents = append(c.parents, parent)
	return nil
}

// cyclePath describes the loop child > ... > parent > child for messages.
func (inv *Inventory) cyclePath(parent, child string) string {
	// Find a path from child down to parent through children links.
	var path []string
	var walk func(g string, seen map[string]bool) bool
	walk = func(g string, seen map[string]bool) bool {
		path = append(path, g)
		if g == parent {
			return true
		}
		seen[g] = true
		for _, c := range inv.groups[g].children {
			if !seen[c] && walk(c, seen) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if child == "all" || !walk(child, map[string]bool{}) {
		return child + " is above " + parent
	}
	return strings.Join(append(path, child), " > ")
}

// reconcile applies Ansible's inventory rules once everything is parsed:
// every group without a parent is a child of "all", and a host in no group
// but "all" is in "ungrouped" (and only such hosts are).
func (inv *Inventory) reconcile() {
	for _, name := range inv.groupList {
		g := inv.groups[name]
		if name != "all" && len(g.parents) == 0 {
			inv.groups["all"].children = append(inv.groups["all"].children, name)
			g.parents = append(g.parents, "all")
		}
	}
	inGroup := map[string]bool{}
	for _, name := range inv.groupList {
		if name == "all" || name == "ungrouped" {
			continue
		}
		for _, h := range inv.groups[name].hosts {
			inGroup[h] = true
		}
	}
	ug := inv.groups["ungrouped"]
	ug.hosts, ug.hostSet = nil, map[string]bool{}
	for _, h := range inv.hostList {
		if !inGroup[h] {
			ug.hosts = append(ug.hosts, h)
			ug.hostSet[h] = true
		}
	}
	// The graph is final: index it for Hosts.
	inv.hostDirect = map[string][]string{}
	inv.ancCache = map[string]map[string]bool{}
	inv.depthMemo = map[string]int{}
	for _, name := range inv.groupList {
		for _, h := range inv.groups[name].hosts {
			inv.hostDirect[h] = append(inv.hostDirect[h], name)
		}
		inv.ancCache[name] = inv.ancestors(name)
	}
	// Depths too, so Hosts only reads and may run concurrently.
	for _, name := range inv.groupList {
		inv.depth(name, inv.depthMemo)
	}
}

// depth is the longest path from "all" down to the group, as Ansible's
// Group.depth.
func (inv *Inventory) depth(name string, memo map[string]int) int {
	if name == "all" {
		return 0
	}
	if d, ok := memo[name]; ok {
		return d
	}
	memo[name] = 0 // loops are refused by addChild; this only guards recursion
	d := 0
	for _, p := range inv.groups[name].parents {
		d = max(d, inv.depth(p, memo)+1)
	}
	memo[name] = d
	return d
}

// hostGroups returns the groups holding h directly or through children,
// without "all", sorted as Ansible merges their variables.
func (inv *Inventory) hostGroups(h string) []string {
	set := map[string]bool{}
	var out []string
	add := func(g string) {
		if !set[g] && g != "all" {
			set[g] = true
			out = append(out, g)
		}
	}
	for _, name := range inv.hostDirect[h] {
		add(name)
		for a := range inv.ancCache[name] {
			add(a)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		ga, gb := inv.groups[a], inv.groups[b]
		if d := inv.depth(a, inv.depthMemo) - inv.depth(b, inv.depthMemo); d != 0 {
			return d
		}
		if d := ga.priority - gb.priority; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// Groups returns every group name, in order of first appearance ("all" and
// "ungrouped" first).
func (inv *Inventory) Groups() []string { return slices.Clone(inv.groupList) }

// Children returns the direct child groups of the named group, in the order the
// inventory lists them.
func (inv *Inventory) Children(name string) ([]string, error) {
	g, ok := inv.groups[name]
	if !ok {
		return nil, inv.noGroup(name)
	}
	return slices.Clone(g.children), nil
}

// Files returns the inventory files parsed, in the order read.
func (inv *Inventory) Files() []string { return slices.Clone(inv.files) }

// Warnings returns what Load skipped without failing (for example a
// vault-encrypted var file, or a var file hidden by another of the same
// name, as Ansible hides it).
func (inv *Inventory) Warnings() []string { return slices.Clone(inv.warnings) }

func (inv *Inventory) noGroup(name string) error {
	return fmt.Errorf("inventory: no group %q in %s", name, strings.Join(inv.sources, ", "))
}

// Hosts returns the hosts in the named group, child groups expanded recursively, in
// order of their first appearance in the inventory sources and each once,
// with their merged variables (see the package comment for the
// precedence). An unknown group is an error naming it and the sources.
// The inline !vault values of the variables SANNames reads are decrypted
// (an error names the file and line when no password opens one); other
// !vault values stay Vaulted.
func (inv *Inventory) Hosts(name string) ([]Entry, error) {
	g, ok := inv.groups[name]
	if !ok {
		return nil, inv.noGroup(name)
	}
	members := map[string]bool{}
	seen := map[string]bool{}
	var walk func(*group)
	walk = func(g *group) {
		if seen[g.name] {
			return
		}
		seen[g.name] = true
		for _, h := range g.hosts {
			members[h] = true
		}
		for _, c := range g.children {
			walk(inv.groups[c])
		}
	}
	walk(g)
	var out []Entry
	for _, name := range inv.hostList {
		if !members[name] {
			continue
		}
		e := inv.merge(name)
		if err := e.reveal(inv.ring, sanVars); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// reveal decrypts the inline !vault values of keys in h.Vars, which are
// needed; Ansible too decrypts a value only once it is used.
func (h *Entry) reveal(ring *vault.Keyring, keys []string) error {
	for _, k := range keys {
		v, err := Reveal(ring, h.Origins[k], h.Vars[k])
		if err != nil {
			return fmt.Errorf("host %s: %s: %w", h.Name, k, err)
		}
		if v != nil {
			h.Vars[k] = v
		}
	}
	return nil
}

// merge computes one host's variables; see the package comment.
func (inv *Inventory) merge(name string) Entry {
	h := Entry{Name: name, From: inv.hosts[name].from, Vars: map[string]any{}, Origins: map[string]string{}}
	put := func(vars map[string]val) {
		for k, v := range vars {
			h.Vars[k] = v.v
			h.Origins[k] = v.from
		}
	}
	groups := inv.hostGroups(name)
	h.Groups = append([]string{"all"}, groups...)
	put(inv.groups["all"].vars)
	for _, g := range groups {
		put(inv.groups[g].vars)
	}
	for _, dir := range inv.varDirs {
		for _, f := range inv.varCache[inv.cacheKey("group_vars", dir, "all")] {
			put(f.vars)
		}
	}
	for _, dir := range inv.varDirs {
		for _, g := range groups {
			for _, f := range inv.varCache[inv.cacheKey("group_vars", dir, g)] {
				put(f.vars)
			}
		}
	}
	put(inv.hosts[name].vars)
	for _, dir := range inv.varDirs {
		for _, f := range inv.varCache[inv.cacheKey("host_vars", dir, name)] {
			put(f.vars)
		}
	}
	return h
}
