package kolla

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/testutil"
)

// A globals.yml that is a device, a FIFO, an alias bomb or two documents
// is refused at once with one line naming it.
func TestReadGlobalsHostile(t *testing.T) {
	fifoDir := t.TempDir()
	fifo := filepath.Join(fifoDir, GlobalsFile)
	testutil.Mkfifo(t, fifo)
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.yml")
	write(t, bomb, "libvirt_tls: yes\n"+testutil.AliasBomb(""))
	two := filepath.Join(dir, "two.yml")
	write(t, two, "libvirt_tls: yes\n---\nlibvirt_tls: no\n")
	for _, c := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (a character device)"},
		{fifoDir, fifo + ": not a regular file (a FIFO)"},
		{bomb, bomb + ":"},
		{two, two + ":2: a second YAML document"},
	} {
		var err error
		testutil.NoHang(t, func() { _, _, err = ReadGlobals(c.path) }, fifo)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadGlobals(%s): %v; want one line with %q", c.path, err, c.want)
		}
	}
}

// FuzzParseGlobals checks that no globals.yml makes the reader panic, and
// that its errors name the file on one line. The seeds are hostile.
func FuzzParseGlobals(f *testing.F) {
	for _, s := range []string{
		"libvirt_tls: yes\nlibvirt_sasl_mech_list: [SCRAM-SHA-256, DIGEST-MD5]\n",
		"libvirt_tls: \"{{ x }}\"\nlibvirt_enable_sasl:\nlibvirt_sasl_authname: [a]\n",
		testutil.AliasBomb(""),
		"libvirt_sasl_mech_list: &m [*m]\n",
		"libvirt_tls: yes\n---\nlibvirt_tls: no\n",
		"libvirt_sasl_authname: \"" + strings.Repeat("n", 1<<16) + "\"\n",
		"libvirt_sasl_authname: \"nova\\x00\\x1b[31m\"\nnode_custom_config: \"\\u202e/etc\"\n",
		"libvirt_tls: 1.0e400\nenable_nova_libvirt_container: !!binary aGk=\n",
		"$ANSIBLE_VAULT;1.1;AES256\n3132\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		_, _, err := parseGlobals("globals.yml", data)
		if err != nil && (!strings.HasPrefix(err.Error(), "globals.yml") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("error does not name the file on one line: %q", err)
		}
	})
}
