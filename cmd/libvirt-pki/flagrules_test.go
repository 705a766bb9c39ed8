package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/layout"
)

// commandsWith lists the commands (paths under the root) that have flag.
func commandsWith(flag string) []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && c.LocalFlags().Lookup(flag) != nil {
			out = append(out, strings.TrimPrefix(c.CommandPath(), "libvirt-pki "))
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(NewCmdRoot(&IOStreams{}))
	return out
}

// Every rule names flags the commands it is about have: a renamed flag
// cannot leave a rule that guards nothing.
func TestFlagRulesNameRealFlags(t *testing.T) {
	for _, r := range flagRules {
		for _, f := range append(append(slices.Clone(r.Flags), r.With...), r.Without...) {
			cmds := commandsWith(f)
			if r.Cmd == "" && len(cmds) == 0 || r.Cmd != "" && !slices.Contains(cmds, r.Cmd) {
				t.Errorf("rule %q %v: no command %q has --%s (it is on %v)", r.Cmd, r.Flags, r.Cmd, f, cmds)
			}
		}
	}
}

// ruleValues are valid values of the flags the rules are about, so that
// only the rule can refuse them.
func ruleValues(t *testing.T) map[string]string {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw.txt")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"password-file": pw, "db-format": "gdbm", "mech": "digest-md5", "authname": "nova", "realm": "compute01",
		"scram-iterations": "8192", "out": dir, "bundle": "true", "group": "compute", "inventory": pw,
		"print-dn-list": "true", "output": "text", "verbose": "true", "config-dir": dir, "passwords": pw,
		"renew-before": "720h", "force": "true", "all": "true", "timeout": "5s", "concurrency": "4", "uri": "qemu:///system",
		"vnc-ca-cert": pw, "vnc-client-cert": pw, "vnc-client-key": pw, "live": "compute01", "live-all": "true", "live-vnc": "compute01",
		"ca-days": "3650", "ca-cert": pw, "remote-signer": "https://signer.example.org:8888",
	}
}

// layoutsFor is, independently of the rules' predicates, the layouts in
// which a layout-bound flag has an effect.
var layoutsFor = map[*layoutNeed][]string{
	&needSASL: {"libvirt"}, &needSASLDir: {"libvirt"}, &needBundles: {"libvirt"}, &needOut: {"libvirt", "pkipath"}, &needConfig: {"kolla"},
}

// checkArgs parses args for the command at path and applies flagRules.
func checkArgs(t *testing.T, path string, args ...string) error {
	t.Helper()
	root := NewCmdRoot(&IOStreams{})
	cmd, _, err := root.Find(strings.Fields(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("%s %v: %v", path, args, err)
	}
	return checkFlags(cmd)
}

// Commands × flags × layouts: each rule's flag is refused (exit 2, saying
// what it needs) exactly where it has no effect, accepted where it has
// one, and refused beside a flag that overrides it.
func TestFlagRulesTable(t *testing.T) {
	vals := ruleValues(t)
	arg := func(f string) []string { return []string{"--" + f + "=" + vals[f]} }
	for _, r := range flagRules {
		cmds := []string{r.Cmd}
		if r.Cmd == "" {
			cmds = commandsWith(r.Flags[0])
		}
		for _, path := range cmds {
			for _, f := range r.Flags {
				if own, _ := ruleFor(path, f); r.Cmd == "" && own.Cmd != "" {
					continue // the command's own rule decides
				}
				for _, l := range layoutsOf(path) {
					args := append(layoutArgs(l), arg(f)...)
					need := r.Layout != nil && l != "" && !slices.Contains(layoutsFor[r.Layout], l)
					wantRefused := need || (r.Layout == nil && len(r.With) > 0)
					err := checkArgs(t, path, args...)
					if (err != nil) != wantRefused {
						t.Errorf("%s %v: %v; want refused %v", path, args, err, wantRefused)
					}
					if err != nil && !isUsage(err) {
						t.Errorf("%s %v: %v is not bad input (exit 2)", path, args, err)
					}
					if err != nil && need && !strings.Contains(err.Error(), "use --layout "+strings.Join(layoutsFor[r.Layout], " or ")) {
						t.Errorf("%s %v: %v does not say which layout --%s needs", path, args, err, f)
					}
					if len(r.With) > 0 {
						err := checkArgs(t, path, append(args, arg(r.With[0])...)...)
						if err != nil {
							t.Errorf("%s %v with --%s: %v", path, args, r.With[0], err)
						}
					}
					for _, w := range r.Without {
						if err := checkArgs(t, path, append(args, arg(w)...)...); err == nil || !isUsage(err) {
							t.Errorf("%s %v --%s: %v; want refused (not together)", path, args, w, err)
						}
					}
				}
			}
		}
	}
}

// layoutsOf is every layout name for a command with --layout, else "".
func layoutsOf(path string) []string {
	if !slices.Contains(commandsWith("layout"), path) {
		return []string{""}
	}
	var out []string
	for _, l := range layout.Layouts {
		out = append(out, l.Name)
	}
	return out
}

func layoutArgs(l string) []string {
	if l == "" {
		return nil
	}
	return []string{"--layout", l}
}

func isUsage(err error) bool {
	code, ok := exitCodeFor(err)
	return (ok && code == exitUsage) || isFlagError(err)
}

// The cases of the issue, through the whole CLI: exit 2, one line, and
// the config directory exactly as it was (no lock file either).
func TestFlagRefusalWritesNothing(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "kolla")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	pwYML := []byte("libvirt_sasl_password:\n")
	if err := os.WriteFile(filepath.Join(config, "passwords.yml"), pwYML, 0o640); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "EMPTY")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--password-file: /dev/zero: not a regular file", []string{"--password-file", "/dev/zero"}},
		{"--password-file: " + empty + ": want one line", []string{"--password-file", empty}},
		{"--db-format: sasldb format \"bogus\"", []string{"--db-format", "bogus"}},
		{"--mech: unsupported SASL mechanism \"plain\"", []string{"--mech", "plain"}},
		{"--mech: the kolla layout writes no SASL files", []string{"--mech", "scram-sha-256"}},
		{"--scram-iterations: 1: want 4096 to 65536", []string{"--scram-iterations", "1"}},
	} {
		wantBadInput(t, c.want, append([]string{"sasl", "--config-dir", config}, c.args...)...)
	}
	entries, _ := os.ReadDir(config)
	if len(entries) != 1 {
		t.Errorf("%s holds %d files after refusals, want passwords.yml alone", config, len(entries))
	}
	if got, _ := os.ReadFile(filepath.Join(config, "passwords.yml")); string(got) != string(pwYML) {
		t.Errorf("passwords.yml changed: %q", got)
	}
}
