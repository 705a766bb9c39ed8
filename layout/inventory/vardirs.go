package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func (inv *Inventory) cacheKey(sub, dir, name string) string {
	real, ok := inv.realDirs[dir]
	if !ok {
		real = realDir(dir)
	}
	return sub + "\x00" + real + "\x00" + name
}

// realDir is dir with its symlinks resolved, made absolute.
func realDir(dir string) string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	return real
}

// loadVarFiles reads group_vars/ and host_vars/ of every source for every
// group and host, so a broken file fails Load rather than a later Hosts.
func (inv *Inventory) loadVarFiles() error {
	for _, dir := range inv.varDirs {
		inv.realDirs[dir] = realDir(dir)
	}
	defer clear(inv.varNames) // only Load may fill it: Hosts runs concurrently
	for _, dir := range inv.varDirs {
		for _, g := range inv.groupList {
			if err := inv.loadEntityVars("group_vars", dir, g); err != nil {
				return err
			}
		}
		for _, h := range inv.hostList {
			if err := inv.loadEntityVars("host_vars", dir, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// listVarDir returns the names in the directory base, listed once per
// Load, or nil when base is no directory.
func (inv *Inventory) listVarDir(base string) map[string]bool {
	if names, ok := inv.varNames[base]; ok {
		return names
	}
	var names map[string]bool
	if fi, err := os.Stat(base); err == nil && fi.IsDir() {
		names = map[string]bool{}
		entries, _ := os.ReadDir(base)
		for _, e := range entries {
			names[e.Name()] = true
		}
	}
	inv.varNames[base] = names
	return names
}

// varExts is the order Ansible's find_vars_files tries names in; the first
// that exists is the only one used.
var varExts = []string{"", ".yml", ".yaml", ".json"}

func (inv *Inventory) loadEntityVars(sub, dir, name string) error {
	key := inv.cacheKey(sub, dir, name)
	if _, done := inv.varCache[key]; done {
		return nil
	}
	inv.varCache[key] = nil
	// Ansible skips names that look like absolute paths (chroot hosts); also
	// refuse anything that would leave the directory.
	if strings.HasPrefix(name, "/") || strings.Contains(name, "/") || name == ".." || name == "." {
		return nil
	}
	base := filepath.Join(dir, sub)
	names := inv.listVarDir(base)
	if names == nil {
		return nil
	}
	var found []string
	var used string
	for _, ext := range varExts {
		if !names[name+ext] {
			continue
		}
		p := filepath.Join(base, name+ext)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if used != "" {
			inv.warnings = append(inv.warnings, fmt.Sprintf("%s ignored: %s is used instead (Ansible reads only the first of %s, .yml, .yaml, .json)", p, used, name))
			continue
		}
		used = p
		if fi.IsDir() {
			files, err := dirVarFiles(p, 0)
			if err != nil {
				return err
			}
			found = files
		} else {
			found = []string{p}
		}
	}
	var out []varFile
	for _, f := range found {
		data, err := readConfig(f, inv.ring)
		if err != nil {
			return err
		}
		doc, err := parseYAMLDoc(f, data)
		if err != nil {
			return err
		}
		vars, err := varsFromMapping(f, doc, sub+" file")
		if err != nil {
			return err
		}
		out = append(out, varFile{f, vars})
	}
	inv.varCache[key] = out
	return nil
}

// dirVarFiles lists a vars directory as Ansible's _get_dir_vars_files:
// sorted, recursive into extension-less subdirectories, files with no
// extension or .yml/.yaml/.json, hidden names and backups (~) skipped.
func dirVarFiles(dir string, depth int) ([]string, error) {
	if depth > 32 {
		return nil, fmt.Errorf("%s: directories nested too deep (a symlink loop?)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inventory: %v", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		full := filepath.Join(dir, name)
		fi, err := os.Stat(full)
		if err != nil {
			return nil, fmt.Errorf("inventory: %v", err)
		}
		ext := filepath.Ext(name)
		switch {
		case fi.IsDir() && ext == "":
			sub, err := dirVarFiles(full, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case fi.Mode().IsRegular() && (ext == "" || ext == ".yml" || ext == ".yaml" || ext == ".json"):
			out = append(out, full)
		}
	}
	return out, nil
}
