package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// No flag is silently ignored: a flag given where it has no effect (in
// the chosen layout, or without the flag it serves) is bad input, and
// every flag's value is checked whatever the mode. flagRules says, as
// data, when each such flag has an effect; checkFlags applies them once,
// before a command does any work, so a refused run writes nothing.

// layoutNeed is a property of a layout (a question to the layout table,
// never its name) a flag needs to have an effect.
type layoutNeed struct {
	holds func(layout.Layout) bool
	// lacks completes "the LAYOUT layout ..." for a layout without it.
	lacks string
}

var (
	needSASL    = layoutNeed{func(l layout.Layout) bool { return len(l.SASL) > 0 }, "writes no SASL files: with Kolla, the nova_libvirt container makes its own from globals.yml and passwords.yml"}
	needBundles = layoutNeed{func(l layout.Layout) bool { return l.BundleDir != "" }, "makes no host bundles"}
	needOut     = layoutNeed{func(l layout.Layout) bool { return !l.ConfigRooted }, "lives under --config-dir"}
	needSASLDir = layoutNeed{func(l layout.Layout) bool { return len(l.SASL) > 0 }, "holds no SASL files to check"}
	needConfig  = layoutNeed{func(l layout.Layout) bool { return l.ConfigRooted }, "lives under --out, and this command reads nothing else of a Kolla config root"}
)

// flagRule says when flags of a command have an effect: in a layout with
// the property Layout (when set) or, when With lists flags, with one of
// them given; never together with a flag of Without. Check validates a
// flag's value in every mode. Hint, when set, ends the refusal.
type flagRule struct {
	Cmd     string // the command's path under the root ("" for every command)
	Flags   []string
	Layout  *layoutNeed
	With    []string
	Without []string
	Check   func(value string) error
	Hint    string
}

// The live checks of verify, and the flags that only serve them.
var (
	liveFlags     = []string{"live", "live-all", "live-vnc"}
	liveLibvirtd  = []string{"live", "live-all"}
	kollaSASLHint = "Kolla takes it from globals.yml"
)

var flagRules = []flagRule{
	{Cmd: "sasl", Flags: []string{"password-file"}, Layout: &needSASL, Check: checkPasswordFile},
	{Cmd: "sasl", Flags: []string{"db-format"}, Layout: &needSASL, Check: checkDBFormat},
	{Cmd: "sasl", Flags: []string{"mech"}, Layout: &needSASL, Check: checkMech, Hint: kollaSASLHint + ": set libvirt_sasl_mech_list there"},
	{Cmd: "sasl", Flags: []string{"authname"}, Layout: &needSASL, Check: func(v string) error { return sasl.CheckAuthname(v) }, Hint: kollaSASLHint + ": set libvirt_sasl_authname there"},
	{Cmd: "sasl", Flags: []string{"realm"}, Layout: &needSASL, Check: func(v string) error { return sasl.CheckRealm(v) }},
	{Cmd: "sasl", Flags: []string{"scram-iterations"}, Layout: &needSASL, Check: checkIterations},
	{Cmd: "sasl", Flags: []string{"out"}, Layout: &needSASL},
	{Cmd: "sasl", Flags: []string{"bundle"}, Layout: &needSASL},
	{Flags: []string{"bundle"}, Layout: &needBundles},
	{Flags: []string{"out"}, Layout: &needOut},
	// Commands without hosts read nothing but the tree from --config-dir
	// (certificates, verify and sasl take Kolla's extra vars from it).
	{Cmd: "renew", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "revoke", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "expiry", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "lint", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "rotate-ca start", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "rotate-ca reissue", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "rotate-ca finish", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Cmd: "rotate-ca status", Flags: []string{"config-dir"}, Layout: &needConfig},
	{Flags: []string{"group"}, With: []string{"inventory"}, Hint: "the hosts of --group come from an inventory"},
	{Cmd: "certificates", Flags: []string{"print-dn-list"}, Without: []string{"output", "verbose"}, Hint: "it prints only libvirtd.conf's tls_allowed_dn_list line"},
	{Cmd: "passwords", Flags: []string{"config-dir"}, Without: []string{"passwords"}, Hint: "--passwords names the file"},
	{Cmd: "sasl", Flags: []string{"passwords"}, Without: []string{"password-file"}, Hint: "the password comes from one of them"},
	{Cmd: "certificates", Flags: []string{"renew-before"}, Without: []string{"force"}, Hint: "--force re-issues every certificate, whatever its dates"},
	{Cmd: "renew", Flags: []string{"renew-before"}, Without: []string{"all"}, Hint: "--all renews every certificate, whatever its dates"},
	{Cmd: "certificates", Flags: []string{"ca-days"}, Without: []string{"ca-cert", "remote-signer"}, Hint: "--ca-days is the validity of a CA libvirt-pki makes, and that CA is not used"},
	{Cmd: "verify", Flags: []string{"timeout"}, With: liveFlags, Check: checkPositiveDuration},
	{Cmd: "verify", Flags: []string{"concurrency"}, With: liveFlags, Check: checkPositiveInt},
	{Cmd: "verify", Flags: []string{"mech"}, With: liveLibvirtd, Check: checkMech},
	{Cmd: "verify", Flags: []string{"uri"}, With: liveLibvirtd},
	{Cmd: "verify", Flags: []string{"password-file"}, With: liveLibvirtd, Check: checkPasswordFile},
	{Cmd: "verify", Flags: []string{"passwords", "authname"}, Layout: &needSASLDir, With: liveLibvirtd},
	{Cmd: "verify", Flags: []string{"vnc-ca-cert", "vnc-client-cert", "vnc-client-key"}, With: []string{"live-vnc"}},
	{Cmd: "expiry", Flags: []string{"timeout"}, With: []string{"live"}, Check: checkPositiveDuration},
}

// checkFlags applies flagRules to the flags given to cmd: each value is
// checked, then each flag must have an effect in the layout chosen
// (--layout, for a command that has it) and with the other flags given.
func checkFlags(cmd *cobra.Command) error {
	fl := cmd.Flags()
	var l *layout.Layout
	if f := fl.Lookup("layout"); f != nil {
		found, err := layout.ByName(f.Value.String())
		if err != nil {
			return usageError{err}
		}
		l = &found
	}
	path := strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
	for _, f := range changedFlags(fl) {
		r, ok := ruleFor(path, f.Name)
		if !ok {
			continue
		}
		if err := r.check(fl, f, l); err != nil {
			return err
		}
	}
	return nil
}

// changedFlags lists the flags given, in the order of their names.
func changedFlags(fl *pflag.FlagSet) []*pflag.Flag {
	var out []*pflag.Flag
	fl.Visit(func(f *pflag.Flag) { out = append(out, f) })
	return out
}

// ruleFor finds the rule of a command's flag: the command's own first,
// then one for every command.
func ruleFor(cmd, flag string) (flagRule, bool) {
	for _, scope := range []string{cmd, ""} {
		for _, r := range flagRules {
			if r.Cmd == scope && slices.Contains(r.Flags, flag) {
				return r, true
			}
		}
	}
	return flagRule{}, false
}

// check applies r to flag f, given in fl, with layout l (nil: the
// command has no --layout).
func (r flagRule) check(fl *pflag.FlagSet, f *pflag.Flag, l *layout.Layout) error {
	if r.Check != nil {
		if err := r.Check(f.Value.String()); err != nil {
			return usageErrorf("--%s: %v", f.Name, err)
		}
	}
	for _, other := range r.Without {
		if fl.Changed(other) {
			return usageErrorf("--%s and --%s: not together (%s)", f.Name, other, r.Hint)
		}
	}
	layoutOK := r.Layout == nil || l == nil || r.Layout.holds(*l)
	withOK := len(r.With) == 0 || anyChanged(fl, r.With)
	if r.Layout != nil && len(r.With) > 0 { // either gives the flag an effect
		layoutOK, withOK = layoutOK || withOK, layoutOK || withOK
	}
	switch {
	case !layoutOK && len(r.With) > 0:
		return usageErrorf("--%s has no effect: the %s layout %s, and no %s is given (use --layout %s, or %s)",
			f.Name, l.Name, r.Layout.lacks, flagList(r.With, "or"), layoutsWith(*r.Layout), flagList(r.With, "or"))
	case !layoutOK:
		return usageErrorf("--%s: the %s layout %s (use --layout %s)%s", f.Name, l.Name, r.Layout.lacks, layoutsWith(*r.Layout), hint(r.Hint))
	case !withOK:
		return usageErrorf("--%s has no effect without %s%s", f.Name, flagList(r.With, "or"), hint(r.Hint))
	}
	return nil
}

func hint(h string) string {
	if h == "" {
		return ""
	}
	return "; " + h
}

func anyChanged(fl *pflag.FlagSet, names []string) bool {
	for _, n := range names {
		if fl.Changed(n) {
			return true
		}
	}
	return false
}

// flagList writes "--a, --b or --c".
func flagList(names []string, conj string) string {
	var dashed []string
	for _, n := range names {
		dashed = append(dashed, "--"+n)
	}
	if len(dashed) < 2 {
		return strings.Join(dashed, "")
	}
	return strings.Join(dashed[:len(dashed)-1], ", ") + " " + conj + " " + dashed[len(dashed)-1]
}

// layoutsWith names the layouts of the table that have need's property.
func layoutsWith(need layoutNeed) string {
	var names []string
	for _, l := range layout.Layouts {
		if need.holds(l) {
			names = append(names, l.Name)
		}
	}
	return strings.Join(names, " or ")
}

// The value checks, each as the command itself would refuse the value.

func checkPasswordFile(v string) error {
	_, err := sasl.LoadPassword(v, "", nil)
	return err
}

func checkDBFormat(v string) error {
	_, err := sasl.ParseDBFormat(v)
	return err
}

func checkMech(v string) error {
	_, err := sasl.ParseMech(v)
	return err
}

func checkIterations(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < sasl.MinSCRAMIterations || n > sasl.MaxSCRAMIterations {
		return fmt.Errorf("%s: want %d to %d", v, sasl.MinSCRAMIterations, sasl.MaxSCRAMIterations)
	}
	return nil
}

func checkPositiveInt(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n < 1 {
		return fmt.Errorf("%s: must be positive", v)
	}
	return nil
}

func checkPositiveDuration(v string) error {
	if d, err := parseDuration(v); err != nil || d <= 0 {
		return fmt.Errorf("%s: must be positive", v)
	}
	return nil
}
