package inventory

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The jsonfile cache is found as Ansible finds it: the environment over
// ansible.cfg, $ANSIBLE_CONFIG first, a relative directory relative to
// the file; its files are PREFIX+host with "ansible_nodename".
func TestFactCache(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ansible.cfg")
	write(t, dir, map[string]string{
		"ansible.cfg":       "[defaults]\n# a comment\nfact_caching = jsonfile\nfact_caching_connection: facts ; inline\nfact_caching_prefix = pre_\n[other]\nfact_caching = memory\n",
		"facts/pre_c1":      `{"ansible_nodename": "c1.node.example", "ansible_hostname": "c1"}`,
		"facts/pre_bad":     `not json`,
		"facts/pre_old":     `{"ansible_nodename": "old.example"}`,
		"facts/c2":          `{"ansible_nodename": "unprefixed"}`,
		"env-facts/c2":      `{"ansible_nodename": "c2.env.example"}`,
		"plain/ansible.cfg": "[defaults]\nfact_caching = memory\n",
	})
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "facts/pre_old"), old, old); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ANSIBLE_CONFIG": dir, "HOME": dir}
	getenv := func(k string) string { return env[k] }
	fc, err := FindFactCache(getenv)
	if err != nil || fc == nil || fc.Dir != filepath.Join(dir, "facts") || fc.Prefix != "pre_" || fc.From != cfg {
		t.Fatalf("FindFactCache = %+v, %v", fc, err)
	}
	for host, want := range map[string]string{"c1": "c1.node.example", "c2": "", "old": "", "../x": ""} {
		if got, err := fc.Nodename(host, time.Now()); err != nil || got != want {
			t.Errorf("Nodename(%s) = %q, %v; want %q", host, got, err, want)
		}
	}
	if _, err := fc.Nodename("bad", time.Now()); err == nil {
		t.Error("a cache file of no JSON: no error")
	}
	env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = filepath.Join(dir, "env-facts")
	env["ANSIBLE_CACHE_PLUGIN_PREFIX"] = ""
	env["ANSIBLE_CONFIG"] = filepath.Join(dir, "plain")
	if fc, err := FindFactCache(getenv); err != nil || fc != nil {
		t.Errorf("memory cache: %+v %v", fc, err)
	}
	env["ANSIBLE_CACHE_PLUGIN"] = "jsonfile"
	fc, err = FindFactCache(getenv)
	if err != nil || fc == nil {
		t.Fatal(fc, err)
	}
	if got, _ := fc.Nodename("c2", time.Now()); got != "c2.env.example" {
		t.Errorf("env cache: %q", got)
	}
	delete(env, "ANSIBLE_CACHE_PLUGIN_CONNECTION")
	if _, err := FindFactCache(getenv); err == nil {
		t.Error("jsonfile without a directory: no error")
	}
}
