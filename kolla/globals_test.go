package kolla

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtures holds the project's Kolla-shaped fixtures: a globals.yml of
// commented-out defaults, as Kolla ships it.
const fixtures = "../testdata/kolla/"

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadGlobalsShipped(t *testing.T) {
	// Every libvirt key is commented out in the shipped file: nothing is set.
	for _, path := range []string{fixtures, fixtures + "globals.yml"} {
		g, warns, err := ReadGlobals(path)
		if err != nil {
			t.Fatal(err)
		}
		if g.LibvirtTLS != nil || g.LibvirtEnableSASL != nil || g.EnableNovaLibvirtContainer != nil ||
			g.LibvirtTLSManageCerts != nil || g.LibvirtSASLAuthname != "" || g.LibvirtSASLMechList != nil ||
			g.NodeCustomConfig != "" || len(g.Set) != 0 {
			t.Errorf("ReadGlobals(%s) = %+v, want nothing set", path, g)
		}
		if len(warns) != 0 {
			t.Errorf("warnings: %q", warns)
		}
		if g.File != filepath.Join(fixtures, "globals.yml") {
			t.Errorf("File = %q", g.File)
		}
	}
}

func deref(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestReadGlobals(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "globals.yml"), `---
kolla_base_distro: "rocky"
libvirt_tls: "yes"
libvirt_enable_sasl: no
enable_nova_libvirt_container: True
libvirt_tls_manage_certs: 'off'
libvirt_sasl_authname: "nova"
libvirt_sasl_mech_list: ["SCRAM-SHA-256"]
node_custom_config: "{{ node_config }}/config"
`)
	g, warns, err := ReadGlobals(dir)
	if err != nil {
		t.Fatal(err)
	}
	if deref(g.LibvirtTLS) != true || deref(g.LibvirtEnableSASL) != false || deref(g.EnableNovaLibvirtContainer) != true ||
		deref(g.LibvirtTLSManageCerts) != false {
		t.Errorf("booleans: %v %v %v %v", deref(g.LibvirtTLS), deref(g.LibvirtEnableSASL), deref(g.EnableNovaLibvirtContainer), deref(g.LibvirtTLSManageCerts))
	}
	if g.LibvirtSASLAuthname != "nova" || !reflect.DeepEqual(g.LibvirtSASLMechList, []string{"SCRAM-SHA-256"}) {
		t.Errorf("authname %q mechs %q", g.LibvirtSASLAuthname, g.LibvirtSASLMechList)
	}
	// Kolla's own default form is kept as written, for Settings to resolve.
	if g.NodeCustomConfig != "{{ node_config }}/config" || !g.Set["node_custom_config"] || g.From["node_custom_config"] != filepath.Join(dir, "globals.yml")+":9" {
		t.Errorf("node_custom_config = %q from %q", g.NodeCustomConfig, g.From["node_custom_config"])
	}
	wantSet := map[string]bool{"libvirt_tls": true, "libvirt_enable_sasl": true, "enable_nova_libvirt_container": true,
		"libvirt_tls_manage_certs": true, "libvirt_sasl_authname": true, "libvirt_sasl_mech_list": true, "node_custom_config": true}
	if !reflect.DeepEqual(g.Set, wantSet) {
		t.Errorf("Set = %v", g.Set)
	}
	if len(warns) != 0 {
		t.Errorf("warnings = %q", warns)
	}

	// A string mech list, and unusual boolean spellings.
	file := filepath.Join(dir, "other.yml")
	write(t, file, "libvirt_tls: ON\nlibvirt_enable_sasl: \"False\"\nlibvirt_sasl_mech_list: SCRAM-SHA-256, DIGEST-MD5\nlibvirt_sasl_authname:\nlibvirt_tls_manage_certs: 1.0\nenable_nova_libvirt_container: 0\n")
	g, warns, err = ReadGlobals(file)
	if err != nil {
		t.Fatal(err)
	}
	if !*g.LibvirtTLS || *g.LibvirtEnableSASL || !*g.LibvirtTLSManageCerts || *g.EnableNovaLibvirtContainer ||
		!reflect.DeepEqual(g.LibvirtSASLMechList, []string{"SCRAM-SHA-256", "DIGEST-MD5"}) {
		t.Errorf("got %+v", g)
	}
	if g.Set["libvirt_sasl_authname"] || len(warns) != 1 || !strings.Contains(warns[0], "other.yml:4: libvirt_sasl_authname is empty") {
		t.Errorf("empty authname: set=%v warnings=%q", g.Set, warns)
	}

	// A missing file is no error.
	g, warns, err = ReadGlobals(filepath.Join(dir, "nowhere"))
	if err != nil || g.LibvirtTLS != nil || g.Set != nil || warns != nil {
		t.Errorf("missing: %+v %q %v", g, warns, err)
	}
}

func TestReadGlobalsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	// Errors name the file and line.
	for _, c := range []struct{ content, want string }{
		{"a: 1\nlibvirt_tls: maybe\n", `bad.yml:2: libvirt_tls: "maybe" is not a boolean`},
		{"libvirt_tls: 2\n", `bad.yml:1: libvirt_tls: "2" is not a boolean`},
		{"libvirt_enable_sasl: [yes]\n", `bad.yml:1: libvirt_enable_sasl: want a boolean`},
		{"libvirt_sasl_mech_list: {a: b}\n", `bad.yml:1: libvirt_sasl_mech_list: want a list`},
		{"libvirt_sasl_mech_list: [[a]]\n", `bad.yml:1: libvirt_sasl_mech_list: want a list of names, got a list in it`},
		{"libvirt_sasl_authname: {a: b}\n", `bad.yml:1: libvirt_sasl_authname: must be a string, got a mapping`},
		{"- libvirt_tls\n", `bad.yml:1: globals.yml must be a mapping`},
		{"libvirt_tls: yes\n  bad: [\n", `bad.yml:2:`},
		{"$ANSIBLE_VAULT;1.1;AES256\n6162\n", `bad.yml: not a valid ansible-vault text`},
		{"node_custom_config: \"{{ kolla_dir }}/config\"\n", `bad.yml:1: node_custom_config "{{ kolla_dir }}/config" is a Jinja expression, which libvirt-pki does not evaluate, and it decides where Kolla looks`},
		{"node_config: \"{{ CONFIG_DIR }}\"\n", `bad.yml:1: node_config "{{ CONFIG_DIR }}" is a Jinja expression`},
	} {
		write(t, bad, c.content)
		_, _, err := ReadGlobals(bad)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.content, err, c.want)
		}
	}
}
