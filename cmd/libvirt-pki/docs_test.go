package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestGenDocs: the hidden gendocs command writes a man page for every
// visible command of the real tree, and the three completion scripts.
func TestGenDocs(t *testing.T) {
	defer func(v, d string) { version, date = v, d }(version, date)
	version, date = "v1.2.3", "2026-01-02T03:04:05Z"
	dir := t.TempDir()
	var out, errOut strings.Builder
	if code := run([]string{"gendocs", dir}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("gendocs: exit %d: %s", code, errOut.String())
	}
	var walk func(c *cobra.Command)
	pages := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		page := filepath.Join(dir, "man1", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		data, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("%s: no man page: %v", c.CommandPath(), err)
			return
		}
		pages++
		if strings.Contains(string(data), `\\<`) || strings.Contains(string(data), `\\>`) {
			t.Errorf("%s: an escaped < or > shows literally", page)
		}
		if !strings.Contains(string(data), `"libvirt-pki v1.2.3"`) || !strings.Contains(string(data), `"Jan 2026"`) || strings.Contains(string(data), "Auto generated") {
			t.Errorf("%s: header should name libvirt-pki v1.2.3 and the stamped date, without a generation date:\n%.300s", page, data)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := NewCmdRoot(&IOStreams{})
	root.InitDefaultCompletionCmd()
	walk(root)
	if pages < 10 {
		t.Errorf("only %d man pages", pages)
	}
	expiry, err := os.ReadFile(filepath.Join(dir, "man1", "libvirt-pki-expiry.1"))
	if err != nil || !strings.Contains(string(expiry), `\fB--warn-days\fP`) || !strings.Contains(string(expiry), "(default <config-dir>/certificates/libvirt, or <out>/ca)") {
		t.Errorf("libvirt-pki-expiry.1 lacks --warn-days, or the <config-dir> of --ca-dir (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "man1", "libvirt-pki-gendocs.1")); err == nil {
		t.Error("the hidden gendocs command got a man page")
	}
	for file, want := range map[string]string{
		"libvirt-pki.bash": "__start_libvirt-pki",
		"_libvirt-pki":     "#compdef libvirt-pki",
		"libvirt-pki.fish": "complete -c libvirt-pki",
	} {
		data, err := os.ReadFile(filepath.Join(dir, "completions", file))
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("completions/%s: want %q (%v)", file, want, err)
		}
	}
}
