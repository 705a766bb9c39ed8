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
