package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// FactCache is Ansible's jsonfile fact cache: one JSON file of facts per
// host, named by the inventory hostname after a prefix, in Dir. Kolla's
// migration_hostname defaults to ansible_facts.nodename, which Ansible
// gathers from the host and keeps there as "ansible_nodename".
type FactCache struct {
	Dir     string        // fact_caching_connection
	Prefix  string        // fact_caching_prefix ("" by default for jsonfile)
	Timeout time.Duration // fact_caching_timeout; 0 means facts never expire
	From    string        // where the setting was found: an ansible.cfg or the environment
}

// Ansible's settings, with the environment variables that override
// ansible.cfg's [defaults] keys.
var factSettings = []struct{ env, key string }{
	{"ANSIBLE_CACHE_PLUGIN", "fact_caching"},
	{"ANSIBLE_CACHE_PLUGIN_CONNECTION", "fact_caching_connection"},
	{"ANSIBLE_CACHE_PLUGIN_PREFIX", "fact_caching_prefix"},
	{"ANSIBLE_CACHE_PLUGIN_TIMEOUT", "fact_caching_timeout"},
}

// FindFactCache finds the jsonfile fact cache Ansible would use, from the
// ANSIBLE_CACHE_PLUGIN* variables and the ansible.cfg Ansible reads (the
// first of $ANSIBLE_CONFIG (a directory means its ansible.cfg),
// ./ansible.cfg unless the working directory is world-writable,
// ~/.ansible.cfg and /etc/ansible/ansible.cfg that exists); each variable
// wins over its ansible.cfg key, as in Ansible. A relative directory from
// ansible.cfg is relative to that file's directory. It returns nil when
// no jsonfile cache is configured (Ansible's default cache keeps facts in
// memory only). getenv nil means os.Getenv.
func FindFactCache(getenv func(string) string) (*FactCache, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, ini, err := readAnsibleCfg(getenv)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	from := map[string]string{}
	for _, s := range factSettings {
		if v := getenv(s.env); v != "" {
			vals[s.key], from[s.key] = v, "$"+s.env
		} else if v, ok := ini[s.key]; ok {
			vals[s.key], from[s.key] = v, cfg
		}
	}
	if vals["fact_caching"] != "jsonfile" && vals["fact_caching"] != "ansible.builtin.jsonfile" {
		return nil, nil
	}
	fc := &FactCache{Prefix: vals["fact_caching_prefix"], Timeout: 86400 * time.Second, From: from["fact_caching"]}
	dir := expandHome(vals["fact_caching_connection"], getenv)
	if dir == "" {
		return nil, fmt.Errorf("%s: fact_caching = jsonfile needs fact_caching_connection (the cache directory)", fc.From)
	}
	if !filepath.IsAbs(dir) && from["fact_caching_connection"] == cfg {
		dir = filepath.Join(filepath.Dir(cfg), dir)
	}
	fc.Dir = dir
	if t := vals["fact_caching_timeout"]; t != "" {
		n, err := strconv.ParseFloat(t, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: fact_caching_timeout %q is not a number of seconds", from["fact_caching_timeout"], t)
		}
		fc.Timeout = time.Duration(n * float64(time.Second))
	}
	return fc, nil
}

// Nodename returns the ansible_nodename fact cached for host, or "" when
// the cache holds none for it or its facts have expired (Ansible ignores
// expired facts too). A cache file that is no JSON object is an error
// naming it.
func (fc *FactCache) Nodename(host string, now time.Time) (string, error) {
	if strings.ContainsAny(host, "/\x00") || host == "." || host == ".." {
		return "", nil
	}
	p := filepath.Join(fc.Dir, fc.Prefix+host)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("fact cache: %w", err)
	}
	if fc.Timeout > 0 && now.Sub(fi.ModTime()) > fc.Timeout {
		return "", nil
	}
	data, err := fsutil.ReadFileFollow(p, fsutil.LimitConfig)
	if err != nil {
		return "", fmt.Errorf("fact cache: %w", err)
	}
	var facts map[string]any
	if err := json.Unmarshal(data, &facts); err != nil {
		return "", fmt.Errorf("%s: not a JSON object of facts (%v)", p, err)
	}
	name, _ := facts["ansible_nodename"].(string)
	return name, nil
}

// readAnsibleCfg finds the ansible.cfg Ansible reads and returns its path
// and the keys of its [defaults] section ("" and none when there is no
// file).
func readAnsibleCfg(getenv func(string) string) (string, map[string]string, error) {
	var candidates []string
	if env := getenv("ANSIBLE_CONFIG"); env != "" {
		env = expandHome(env, getenv)
		if fi, err := os.Stat(env); err == nil && fi.IsDir() {
			env = filepath.Join(env, "ansible.cfg")
		}
		candidates = append(candidates, env)
	}
	if wd, err := os.Getwd(); err == nil {
		// Ansible skips a world-writable working directory's ansible.cfg.
		if fi, err := os.Stat(wd); err == nil && fi.Mode().Perm()&0o002 == 0 {
			candidates = append(candidates, filepath.Join(wd, "ansible.cfg"))
		}
	}
	candidates = append(candidates, expandHome("~/.ansible.cfg", getenv), "/etc/ansible/ansible.cfg")
	for _, c := range candidates {
		data, err := fsutil.ReadFileFollow(c, fsutil.LimitConfig)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("ansible.cfg: %w", err)
		}
		return c, iniSection(data, "defaults"), nil
	}
	return "", nil, nil
}

// iniSection returns the keys of one section of an INI file as Python's
// configparser reads ansible.cfg: "key = value" or "key: value", keys
// lowercased, lines starting with '#' or ';' and inline " ;" comments
// dropped, indented lines continuing the previous value.
func iniSection(data []byte, section string) map[string]string {
	out := map[string]string{}
	in := false
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), fsutil.LimitConfig)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if i := strings.Index(line, " ;"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			last = ""
		case !in:
		case (raw[0] == ' ' || raw[0] == '\t') && last != "":
			out[last] = strings.TrimSpace(out[last] + "\n" + line)
		default:
			i := strings.IndexAny(line, "=:")
			if i < 0 {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(line[:i]))
			out[last] = strings.TrimSpace(line[i+1:])
		}
	}
	return out
}

// expandHome expands a leading ~ as Python's expanduser does.
func expandHome(p string, getenv func(string) string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, p[1:])
}
