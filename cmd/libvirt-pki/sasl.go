package main

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/kolla"
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
	// Checked before locking, so the lock file never lands in /dev or in
	// a directory that is not there.
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
		Short: "Write each host's sasldb (passwd.db), sasl.conf and client auth.conf",
		Long: `For every host, write into <config-dir>/config/nova/nova-libvirt/<host>/:
  passwd.db  a Cyrus sasldb holding --authname in the host's realm, with userPassword
             (both mechanisms use it) and, for SCRAM-SHA-256, an authPassword secret;
             Berkeley DB (Debian, Ubuntu) or GDBM (RHEL, Rocky, Fedora), written natively
  sasl.conf  /etc/sasl2/libvirt.conf: mech_list and sasldb_path /etc/libvirt/passwd.db
  auth.conf  libvirt's client credentials file for nova-compute (0600)

The password comes from libvirt_sasl_password in passwords.yml (run
"libvirt-pki passwords" first) or --password-file; never from the command line.
A vaulted passwords.yml, globals.yml or inventory file is opened with
--vault-password-file or --vault-id.

The realm must equal the realm libvirtd computes for itself: its own host name,
lowercased (the canonical FQDN when the short name resolves to one; "virsh
hostname" on the host shows it). A different realm in passwd.db makes every
login fail. By default each host's realm is its name, lowercased.

All hosts' files are written as one unit under a lock on the config directory:
a run killed at any moment leaves every host's files all old or all new once
the next run has started (it completes the interrupted write first), and never
a passwd.db and an auth.conf that disagree. Another run of libvirt-pki on the
same directory is waited for, or with --no-wait refused.`,
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
	fl.StringVar(&opts.Authname, "authname", "nova", "the SASL user nova logs in as (default: libvirt_sasl_authname in globals.yml, else nova)")
	fl.StringVar(&opts.Realm, "realm", "", "SASL realm for every host (default: each host's name, lowercased)")
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
	o, err := opts.saslOptions()
	if err != nil {
		return err
	}
	// Kolla's nova-libvirt directory normally lies in the config dir; an
	// absolute node_custom_config can put it elsewhere, and then it is
	// the tree locked and journalled in.
	o.TreeRoot = o.Root
	if below(opts.ConfigDir, o.Root) {
		o.TreeRoot = opts.ConfigDir
	}
	dirs := []sweepDir{{o.TreeRoot, 0}, {o.Root, 1}}
	l, err := lockTree(opts.IO, o.TreeRoot, opts.NoWait, !opts.DryRun, dirs...)
	if err != nil {
		return err
	}
	defer l.Unlock()
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
	}
	if opts.Output == "json" {
		return writeJSONTo(opts.IO.Out, map[string]any{"dry_run": opts.DryRun, "authname": plan.Authname, "mechanisms": plan.Mechs, "db_format": plan.Format, "hosts": plan.Hosts})
	}
	printSASLPlan(opts.IO.Out, plan, opts.DryRun)
	return nil
}

// saslOptions turns the flags and Kolla's settings into sasl.Options
// (without the password), printing the settings in force.
func (opts *SASLOptions) saslOptions() (sasl.Options, error) {
	k, err := readKolla(opts.ConfigDir, opts.Hosts.vault)
	if err != nil {
		return sasl.Options{}, err
	}
	mechs := []string{opts.Mech}
	if k.FromFile() && !flagChanged(opts.changed, "mech") {
		mechs = k.Mechs()
	}
	if k.FromFile() && !flagChanged(opts.changed, "authname") {
		opts.Authname = k.Authname()
	}
	o := sasl.Options{
		Root: k.NovaLibvirtDir(), Realm: opts.Realm, Authname: opts.Authname,
		Mechs: mechs, Format: opts.DBFormat, Iterations: opts.Iterations,
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
	}
	notes := notesTo(opts.IO, opts.Output)
	opts.Hosts.printWarnings(notes)
	k.report(notes, false, true)
	return o, nil
}

// printSASLPlan writes one line per file, then a summary.
func printSASLPlan(w io.Writer, plan *sasl.Plan, dryRun bool) {
	if dryRun {
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range plan.Hosts {
		for _, f := range h.Files {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Host, filepath.Base(f.Path), f.Action, f.Reason)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "SASL user %s, %s, %s sasldb; realm per host as listed above. %d files changed.\n", plan.Authname, strings.Join(plan.Mechs, " "), plan.Format, plan.Changed())
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
