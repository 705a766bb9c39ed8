package main

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// PasswordsOptions holds the parsed flags of `passwords`.
type PasswordsOptions struct {
	IO        *IOStreams
	ConfigDir string
	Passwords string
	Rotate    bool
	NoWait    bool

	vault *vaultFlags
}

// NewCmdPasswords parses flags and hands them to runF (runPasswords by default).
func NewCmdPasswords(ios *IOStreams, runF func(*PasswordsOptions) error) *cobra.Command {
	opts := &PasswordsOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "passwords",
		Short: "Make sure libvirt_sasl_password in passwords.yml has a value",
		Long: `Fill libvirt_sasl_password in Kolla's passwords.yml with 40 characters from
[A-Za-z0-9] (as kolla-genpwd does) when it is empty. An existing value is kept
unless --rotate. Only that one line changes: every other key, comment and blank
line stays byte for byte, and the file keeps its mode (a new file is 0640).

An ansible-vault encrypted passwords.yml (as Kayobe keeps it) is opened with
--vault-password-file or --vault-id and written back encrypted, with the same
vault id: the plaintext never touches the disk.

The file is replaced atomically under a lock on its directory (another run
of libvirt-pki there is waited for, or with --no-wait refused); temporary
files a killed run left are removed first.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runPasswords(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ConfigDir, "config-dir", kolla.DefaultConfigDir, "Kolla config root; passwords.yml is read from it")
	fl.StringVar(&opts.Passwords, "passwords", "", "the passwords.yml `FILE` (default <config-dir>/passwords.yml)")
	fl.BoolVar(&opts.Rotate, "rotate", false, "replace an existing password")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "fail at once, naming its pid, if another libvirt-pki run holds the lock")
	opts.vault = vaultFlagsOf(fl)
	return cmd
}

func (o *PasswordsOptions) path() string {
	return cmp.Or(o.Passwords, kolla.PasswordsFile(o.ConfigDir))
}

func runPasswords(opts *PasswordsOptions) error {
	path := opts.path()
	if path == "" || opts.ConfigDir == "" {
		return errs.Inputf("--config-dir and --passwords must not be empty")
	}
	dir := filepath.Dir(path)
	// Checked before locking: the lock is on dir itself, which must be a
	// directory that is there.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return errs.Inputf("%s: is a symlink; refusing to write through it (pass --passwords with the file it points to)", path)
	} else if err == nil && !fi.Mode().IsRegular() {
		return errs.Inputf("%s: not a regular file", path)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return errs.Inputf("%s: %s is not an existing directory", path, dir)
	}
	l, err := lockTree(opts.IO, dir, opts.NoWait, true, sweepDir{dir, 0})
	if err != nil {
		return err
	}
	defer l.Unlock()
	ring, err := opts.vault.keyring()
	if err != nil {
		return err
	}
	res, err := sasl.EnsurePassword(path, sasl.SASLPasswordKey, opts.Rotate, ring)
	if err != nil {
		return err
	}
	kept := ""
	if res.Encrypted {
		kept = " (written back ansible-vault encrypted)"
	}
	switch {
	case res.Created:
		fmt.Fprintf(opts.IO.Out, "%s: created with a new %s (mode 0640)\n", path, sasl.SASLPasswordKey)
	case res.Generated && opts.Rotate:
		fmt.Fprintf(opts.IO.Out, "%s: %s rotated%s; run libvirt-pki sasl, then kolla-ansible reconfigure -t nova\n", path, sasl.SASLPasswordKey, kept)
	case res.Generated:
		fmt.Fprintf(opts.IO.Out, "%s: %s generated%s\n", path, sasl.SASLPasswordKey, kept)
	default:
		fmt.Fprintf(opts.IO.Out, "%s: %s already set; unchanged\n", path, sasl.SASLPasswordKey)
	}
	return nil
}

// SASLOptions holds the parsed flags of `sasl`.
type SASLOptions struct {
	IO           *IOStreams
	ConfigDir    string
	Passwords    string
	PasswordFile string
	Hosts        hostFlags
	LayoutName   string
	Out          string
	Bundle       bool
	Authname     string
	Realm        string
	Mech         string
	DBFormat     string
	Iterations   int
	DryRun       bool
	NoWait       bool
	Output       string

	changed func(flag string) bool
}

// NewCmdSASL parses flags and hands them to runF (runSASL by default).
func NewCmdSASL(ios *IOStreams, runF func(*SASLOptions) error) *cobra.Command {
	opts := &SASLOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "sasl",
		Short: "Make SASL logins work: Kolla's password, or the host bundle's sasldb, libvirt.conf and auth.conf",
		Long: `In Kolla's container mode (the default), Kolla templates /etc/sasl2/libvirt.conf
and the auth.conf files itself and creates the SASL user inside nova_libvirt with
saslpasswd2 from libvirt_sasl_password: sasl writes no files there. It makes sure
libvirt_sasl_password is set in passwords.yml, checks the mechanism list against
libvirt_tls (Kolla: SCRAM-SHA-256 with TLS, DIGEST-MD5 without) and says what
Kolla will do.

For libvirtd on the hosts (enable_nova_libvirt_container: false, or plain libvirt
hosts), --layout libvirt --out DIR writes into each host bundle <out>/<host>/, as
the files lie under /:
  etc/libvirt/passwd.db   a Cyrus sasldb holding --authname in every realm the host
                          may compute (its inventory name, --host names such as
                          migration_hostname, the FQDN from --domain or the fact
                          cache); Berkeley DB (Debian, Ubuntu) or GDBM (RHEL, Rocky)
  etc/sasl2/libvirt.conf  mech_list and sasldb_path
  root/.config/libvirt/auth.conf, var/lib/nova/.config/libvirt/auth.conf
                          the client credentials of root (virsh) and nova-compute
with their modes and owners in etc/libvirt-pki/MANIFEST.tsv and, with --bundle (or
when <host>.tar exists), in <out>/<host>.tar.

The password comes from libvirt_sasl_password in passwords.yml (run
"libvirt-pki passwords" first) or --password-file; never from the command line.
A vaulted passwords.yml, globals.yml or inventory file is opened with
--vault-password-file or --vault-id.

libvirtd's realm is its own host name, lowercased, or its canonical FQDN when
/etc/hosts lists that first ("virsh hostname" shows it); a sasldb without the
user in that realm makes every login fail, so the user is written in each.

A host bundle's files are written as one unit under a lock on --out. Each
host's passwd.db and both auth.conf files are swapped in at one instant, so
even right after a kill a host never has a passwd.db and an auth.conf that
disagree, or one of them missing; the next run completes the hosts a killed
run had not reached yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(opts)
			}
			return runSASL(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ConfigDir, "config-dir", kolla.DefaultConfigDir, "Kolla config root")
	fl.StringVar(&opts.Passwords, "passwords", "", "passwords.yml `FILE` (default <config-dir>/passwords.yml)")
	fl.StringVar(&opts.PasswordFile, "password-file", "", "read the password from `FILE` instead of passwords.yml")
	opts.Hosts.register(cmd)
	fl.StringVar(&opts.LayoutName, "layout", "kolla", "kolla (Kolla's container makes the files) or libvirt (host bundles under --out)")
	fl.StringVar(&opts.Out, "out", "", "the `DIR` of a --layout libvirt tree")
	fl.BoolVar(&opts.Bundle, "bundle", false, "--layout libvirt: also write <out>/<host>.tar")
	fl.StringVar(&opts.Authname, "authname", "nova", "the SASL user nova logs in as (default: libvirt_sasl_authname in globals.yml, else nova)")
	fl.StringVar(&opts.Realm, "realm", "", "the one SASL realm of every host (default: every name of each host, lowercased)")
	fl.StringVar(&opts.Mech, "mech", "scram-sha-256", "mechanism: scram-sha-256 or digest-md5 (default: globals.yml's libvirt_sasl_mech_list, else Kolla's choice: SCRAM-SHA-256 with TLS)")
	fl.StringVar(&opts.DBFormat, "db-format", "bdb", "sasldb format: bdb (Debian, Ubuntu) or gdbm (RHEL, Rocky, Fedora)")
	fl.IntVar(&opts.Iterations, "scram-iterations", sasl.DefaultSCRAMIterations, "PBKDF2 iterations of the SCRAM secret (4096 to 65536)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would change and write nothing")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "fail at once, naming its pid, if another libvirt-pki run holds the lock")
	outputFlag(cmd, &opts.Output, textFormats)
	return cmd
}

func runSASL(opts *SASLOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	if opts.ConfigDir == "" {
		return errs.Inputf("--config-dir must not be empty")
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	k, err := readKolla(opts.ConfigDir, opts.Hosts.vault)
	if err != nil {
		return err
	}
	if len(l.SASL) == 0 {
		return runSASLKolla(opts, l, k)
	}
	if opts.Out == "" {
		return usageErrorf("--layout %s needs --out DIR", l.Name)
	}
	o, err := opts.saslOptions(l, k)
	if err != nil {
		return err
	}
	lk, err := lockTree(opts.IO, o.Root, opts.NoWait, !opts.DryRun, sweepDir{o.Root, 7})
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if o.Password, err = readPassword(opts.PasswordFile, opts.Passwords, opts.ConfigDir, opts.Hosts.vault); err != nil {
		return err
	}
	plan, err := sasl.NewPlan(o)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		if _, err := plan.Apply(); err != nil {
			return err
		}
		if _, err := certs.UpdateBundleSASL(l, o.Root, o.Hosts, opts.Bundle); err != nil {
			return err
		}
	}
	if opts.Output == "json" {
		return writeJSONTo(opts.IO.Out, map[string]any{"dry_run": opts.DryRun, "authname": plan.Authname, "mechanisms": plan.Mechs, "db_format": plan.Format, "hosts": plan.Hosts})
	}
	printSASLPlan(opts.IO.Out, plan, o.Root, opts.DryRun)
	return nil
}

// saslOptions turns the flags and Kolla's settings into sasl.Options for
// host bundles of layout l (without the password), printing the settings
// in force. Each host's realms are its names that are not addresses.
func (opts *SASLOptions) saslOptions(l layout.Layout, k kollaSettings) (sasl.Options, error) {
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return sasl.Options{}, err
	}
	o := sasl.Options{
		Layout: l, Root: out, Realm: opts.Realm, Authname: opts.kollaAuthname(k), Realms: map[string][]string{},
		Mechs: opts.mechs(k), Format: opts.DBFormat, Iterations: opts.Iterations,
	}
	if err := o.Check(); err != nil {
		return o, err
	}
	hs, _, err := opts.Hosts.resolve()
	if err != nil {
		return o, err
	}
	for _, h := range hs {
		o.Hosts = append(o.Hosts, h.Name)
		for _, n := range h.Names() {
			if net.ParseIP(n) == nil {
				o.Realms[h.Name] = append(o.Realms[h.Name], n)
			}
		}
	}
	notes := notesTo(opts.IO, opts.Output)
	opts.Hosts.printWarnings(notes)
	k.report(notes, false, true)
	return o, nil
}

// mechs is --mech, or globals.yml's mechanism list (Kolla's default).
func (opts *SASLOptions) mechs(k kollaSettings) []string {
	if k.FromFile() && !flagChanged(opts.changed, "mech") {
		return k.Mechs()
	}
	return []string{opts.Mech}
}

// kollaAuthname is --authname, or globals.yml's libvirt_sasl_authname.
func (opts *SASLOptions) kollaAuthname(k kollaSettings) string {
	if k.FromFile() && !flagChanged(opts.changed, "authname") {
		return k.Authname()
	}
	return opts.Authname
}

// runSASLKolla is sasl in Kolla's container mode: it makes sure of
// libvirt_sasl_password, checks the mechanisms against libvirt_tls and
// says what Kolla does with them. It writes no SASL file: Kolla makes
// its own in nova_libvirt.
func runSASLKolla(opts *SASLOptions, l layout.Layout, k kollaSettings) error {
	if !k.ContainerLibvirt() {
		return usageErrorf("enable_nova_libvirt_container is false in globals.yml: libvirtd runs on the hosts, so their SASL files go into host bundles: use --layout libvirt --out DIR")
	}
	if flagChanged(opts.changed, "out") || opts.Bundle {
		return usageErrorf("--out and --bundle are for --layout libvirt; the %s layout writes no SASL files", l.Name)
	}
	path := cmp.Or(opts.Passwords, kolla.PasswordsFile(opts.ConfigDir))
	lk, err := lockTree(opts.IO, filepath.Dir(path), opts.NoWait, !opts.DryRun, sweepDir{filepath.Dir(path), 0})
	if err != nil {
		return err
	}
	defer lk.Unlock()
	ring, err := opts.Hosts.vault.keyring()
	if err != nil {
		return err
	}
	state := "is set"
	if opts.DryRun {
		if _, err := sasl.LoadPassword("", path, ring); err != nil {
			return err
		}
	} else {
		res, err := sasl.EnsurePassword(path, sasl.SASLPasswordKey, false, ring)
		if err != nil {
			return err
		}
		if res.Created || res.Generated {
			state = "was empty and is now set"
		}
	}
	mechs := k.Mechs() // what Kolla templates, whatever --mech says
	for _, w := range kollaMechWarnings(opts, k) {
		fmt.Fprintln(opts.IO.ErrOut, "warning: "+w)
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s %s. Kolla runs libvirtd in the nova_libvirt container: it templates /etc/sasl2/libvirt.conf "+
		"(mech_list: %s, sasldb_path: %s) and the auth.conf of nova_compute and nova_libvirt, and after each restart creates the SASL user %s "+
		"inside nova_libvirt with saslpasswd2 from %s. No SASL file is written here; apply with kolla-ansible reconfigure -t nova.\n",
		path, sasl.SASLPasswordKey, state, strings.Join(mechs, " "), sasl.KollaSASLDBPath, opts.kollaAuthname(k), sasl.SASLPasswordKey)
	return nil
}

// kollaMechWarnings checks the mechanisms against libvirt_tls as Kolla
// chooses them: SCRAM-SHA-256 has no security layer, and libvirtd refuses
// a SASL login without one on a connection TLS does not protect.
func kollaMechWarnings(opts *SASLOptions, k kollaSettings) []string {
	var out []string
	if flagChanged(opts.changed, "mech") && !slices.EqualFunc([]string{opts.Mech}, k.Mechs(), strings.EqualFold) {
		out = append(out, fmt.Sprintf("--mech %s: Kolla templates mech_list from libvirt_sasl_mech_list (%s); set it in globals.yml instead", opts.Mech, strings.Join(k.Mechs(), " ")))
	}
	scramOnly := !slices.ContainsFunc(k.Mechs(), func(m string) bool { return strings.EqualFold(m, sasl.MechDigestMD5) })
	switch {
	case !k.TLS() && scramOnly:
		out = append(out, "libvirt_sasl_mech_list has no DIGEST-MD5 while libvirt_tls is false: SCRAM-SHA-256 gives no security layer, and libvirtd refuses such a login on plain TCP (Kolla's default without TLS is DIGEST-MD5)")
	case k.TLS() && !scramOnly:
		out = append(out, "libvirt_sasl_mech_list holds DIGEST-MD5 with libvirt_tls: Kolla's default with TLS is SCRAM-SHA-256 (DIGEST-MD5 is obsolete, RFC 6331)")
	}
	return out
}

// printSASLPlan writes one line per file (its path in the host bundle),
// then a summary.
func printSASLPlan(w io.Writer, plan *sasl.Plan, root string, dryRun bool) {
	if dryRun {
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range plan.Hosts {
		for _, f := range h.Files {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Host, relTo(filepath.Join(root, h.Host), f.Path), f.Action, f.Reason)
		}
	}
	tw.Flush()
	for _, h := range plan.Hosts {
		fmt.Fprintf(w, "%s: realms %s\n", h.Host, strings.Join(h.Realms, ", "))
	}
	fmt.Fprintf(w, "SASL user %s, %s, %s sasldb. %d files changed.\n", plan.Authname, strings.Join(plan.Mechs, " "), plan.Format, plan.Changed())
}

// NewCmdSASLDB groups the sasldb inspection commands.
func NewCmdSASLDB(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{Use: "sasldb", Short: "Inspect Cyrus sasldb files (Berkeley DB or GDBM)"}
	var output string
	list := &cobra.Command{
		Use:   "list FILE",
		Short: "List each user, realm and property of a sasldb (never the secrets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(output, textFormats); err != nil {
				return err
			}
			format, records, err := sasl.ReadDB(args[0])
			if err != nil {
				return errs.WrapInput(err)
			}
			if output == "json" {
				if records == nil {
					records = []sasl.Record{}
				}
				return writeJSONTo(ios.Out, map[string]any{"file": args[0], "format": format, "records": records})
			}
			// The same lines as sasldblistusers2.
			for _, r := range records {
				fmt.Fprintf(ios.Out, "%s@%s: %s\n", r.AuthID, r.Realm, r.Property)
			}
			return nil
		},
	}
	outputFlag(list, &output, textFormats)
	cmd.AddCommand(list)
	return cmd
}
