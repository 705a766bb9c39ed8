package main

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/sasl"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// VerifyOptions holds the parsed flags of `verify`.
type VerifyOptions struct {
	IO *IOStreams
	layoutFlags

	Hosts    hostFlags
	Sets     setsFlags
	WarnDays int
	Perms    string
	FailOn   string
	Output   string

	Live         []string
	LiveAll      bool
	LiveVNC      []string
	VNCFiles     verify.VNCFiles
	Concurrency  int
	Timeout      time.Duration
	Passwords    string
	PasswordFile string
	Authname     string
	Mech         string
	URI          string
	Certmonger   bool // --certmonger (certmonger_state.go)

	changed func(flag string) bool
	// files, when set, reads the tree (report shares it with its other
	// readers); nil reads from disk.
	files *fsutil.Files
}

// NewCmdVerify parses flags and hands them to runF (runVerify by default).
func NewCmdVerify(ios *IOStreams, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every host's libvirt credentials the way libvirt will judge them",
		Long: `Check, for every compute host, the files Kolla will actually deploy to it (its own
directory first, then the shared one): that they exist and parse, that keys match
certificates, that certificates chain to cacert.pem, carry the key usages libvirt
demands, are within their dates, cover every name clients use (NAME and EXTRAs of
--host), use strong keys and signatures, and have safe permissions.

Without --host, every host directory found is checked by its directory name.
Exit status: 0 when nothing at or above --fail-on was found, 1 when something was,
2 for usage errors or unreadable input.`,
		Example: `  libvirt-pki verify --config-dir /etc/kolla
  libvirt-pki verify --config-dir /etc/kolla --host compute01=compute01.example.org -o junit > verify.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(opts)
			}
			return runVerify(opts)
		},
	}
	opts.registerCheckFlags(cmd, 0)
	fl := cmd.Flags()
	fl.StringVar(&opts.FailOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: error or warning")
	fl.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or junit")
	return cmd
}

// registerCheckFlags registers the flags of what verify checks and how
// (layout, hosts, sets, dates, permissions, the live checks): report
// takes the same ones, so they mean the same in both.
func (opts *VerifyOptions) registerCheckFlags(cmd *cobra.Command, layoutWith int) {
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, layoutWith)
	opts.Hosts.register(cmd)
	opts.Sets.register(fl)
	fl.Lookup("sets").Usage = "credential `SETS` to check, a comma list of " + strings.Join(credential.SetNames(), ", ") + " (default: libvirt and every set the tree holds)"
	fl.IntVar(&opts.WarnDays, "warn-days", 30, "warn about certificates expiring within this many `DAYS`")
	fl.StringVar(&opts.Perms, "perms", "", "permission profile: kolla, libvirt-system or libvirt-user (default: the layout's)")
	fl.StringArrayVar(&opts.Live, "live", nil, "also log in to libvirtd at `HOST[:PORT]` (port 16514 by default) with HOST's client credentials (repeatable)")
	fl.BoolVar(&opts.LiveAll, "live-all", false, "log in to every host at each of its names, port 16514")
	fl.StringArrayVar(&opts.LiveVNC, "live-vnc", nil, "also open a VeNCrypt session to QEMU's VNC server at `HOST[:PORT]` (port 5900 by default) with the console proxy's client pair (repeatable)")
	fl.StringVar(&opts.VNCFiles.CACert, "vnc-ca-cert", "", "CA `FILE` the console proxy trusts (nova's [vnc] vencrypt_ca_certs), for --live-vnc")
	fl.StringVar(&opts.VNCFiles.ClientCert, "vnc-client-cert", "", "the console proxy's client certificate `FILE` ([vnc] vencrypt_client_cert), for --live-vnc")
	fl.StringVar(&opts.VNCFiles.ClientKey, "vnc-client-key", "", "the console proxy's client key `FILE` ([vnc] vencrypt_client_key), for --live-vnc")
	fl.IntVar(&opts.Concurrency, "concurrency", 32, "live checks in flight at once")
	durationVar(fl, &opts.Timeout, "timeout", 10*time.Second, "bound on each live check: connect, handshake and every read")
	fl.StringVar(&opts.Passwords, "passwords", "", "passwords.yml `FILE` with libvirt_sasl_password (default <config-dir>/passwords.yml)")
	fl.StringVar(&opts.PasswordFile, "password-file", "", "read the SASL password from `FILE` instead")
	fl.StringVar(&opts.Authname, "authname", "nova", "SASL user for live checks")
	fl.StringVar(&opts.Mech, "mech", "", "force a SASL mechanism (default: the server's choice, preferring SCRAM-SHA-256)")
	fl.StringVar(&opts.URI, "uri", "qemu:///system", "the libvirt URI to open once logged in")
	registerCertmongerFlag(fl, &opts.Certmonger)
}

func runVerify(opts *VerifyOptions) error {
	failOn, err := verify.ParseSeverity(opts.FailOn)
	if err != nil {
		return usageError{err}
	}
	if err := checkWarnDays(opts.WarnDays); err != nil {
		return err
	}
	switch opts.Output {
	case "table", "json", "junit":
	default:
		return usageErrorf("--output %q: want table, json or junit", opts.Output)
	}
	rep, _, err := opts.check(time.Time{})
	if err != nil {
		return err
	}
	return writeVerifyReport(opts, rep, failOn)
}

// check runs the offline check as of now (zero: the clock) and, when
// asked, the live one; it returns the report and the tree it read.
func (opts *VerifyOptions) check(now time.Time) (*verify.Report, verify.Options, error) {
	var none verify.Options
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return nil, none, usageError{err}
	}
	hosts, err := opts.Hosts.given()
	if err != nil {
		return nil, none, err
	}
	root, _, _, err := opts.roots(l)
	if err != nil {
		return nil, none, err
	}
	sets, proxies, err := opts.setsToCheck(l)
	if err != nil {
		return nil, none, err
	}
	if l.ConfigRooted && !flagChanged(opts.changed, "authname") {
		k, err := readKolla(opts.ConfigDir, opts.vault)
		if err != nil {
			return nil, none, err
		}
		opts.Authname = k.authname()
	}
	passwords := opts.Passwords
	if passwords == "" {
		passwords = filepath.Join(opts.ConfigDir, "passwords.yml")
	}
	vo := verify.Options{Layout: l, Root: root, Hosts: hosts, WarnDays: opts.WarnDays, Perms: opts.Perms, Sets: sets, ProxyHosts: proxies,
		SASL: &verify.SASLOptions{PasswordsFile: passwords, Authname: opts.Authname}, Now: now, Files: opts.files}
	if vo.Vault, err = opts.vault.keyring(); err != nil {
		return nil, none, err
	}
	rep, err := verify.Offline(vo)
	if err != nil {
		return nil, none, usageError{err}
	}
	if len(opts.Live) > 0 || opts.LiveAll || len(opts.LiveVNC) > 0 {
		if opts.Concurrency < 1 || opts.Timeout <= 0 {
			return nil, none, usageErrorf("--concurrency and --timeout must be positive")
		}
		lo := verify.LiveOptions{Endpoints: opts.Live, All: opts.LiveAll, VNCEndpoints: opts.LiveVNC, VNCFiles: opts.VNCFiles,
			Authname: opts.Authname, Mech: opts.Mech, URI: opts.URI, Timeout: opts.Timeout, Concurrency: opts.Concurrency}
		// A password is optional: a daemon without SASL needs none, and
		// one that needs it reports sasl-no-password.
		if opts.PasswordFile != "" || opts.Passwords != "" {
			if lo.Password, err = readPassword(opts.PasswordFile, opts.Passwords, opts.ConfigDir, opts.vault); err != nil {
				return nil, none, err
			}
		} else if pw, err := sasl.ReadPassword(filepath.Join(opts.ConfigDir, "passwords.yml"), sasl.SASLPasswordKey); err == nil {
			lo.Password = pw
		}
		if err := verify.LiveCheck(context.Background(), vo, lo, hosts, rep); err != nil {
			return nil, none, usageError{err}
		}
	}
	if err := addCertmongerFindings(opts.Certmonger, rep); err != nil {
		return nil, none, err
	}
	return rep, vo, nil
}

// writeVerifyReport writes the report in the format asked for; exit
// status 1 when it failed at failOn.
func writeVerifyReport(opts *VerifyOptions, rep *verify.Report, failOn verify.Severity) error {
	w := opts.IO.Out
	return writeCheck(opts.Output,
		func() error { return rep.WriteJSON(w, failOn) },
		func() error { return rep.WriteJUnit(w, failOn, nil) },
		func() error { return rep.WriteTable(w, failOn) },
		rep.Summarize(failOn).Failed)
}

// setsToCheck returns the sets asked for (nil: what the tree holds) and
// the console proxy hosts named.
func (opts *VerifyOptions) setsToCheck(l layout.Layout) ([]string, []layout.Host, error) {
	sets, err := opts.Sets.checked()
	if err != nil {
		return nil, nil, err
	}
	if err := credential.CheckLayout(l, sets); err != nil {
		return nil, nil, usageError{err}
	}
	forProxies := sets
	if sets == nil && len(opts.Sets.ProxyHosts) > 0 {
		forProxies = credential.SetNames() // what the tree holds: --proxy-host says a proxy is there
	}
	proxies, err := opts.Sets.proxies(opts.Hosts.Selection, forProxies)
	return sets, proxies, err
}

// maxWarnDays bounds --warn-days: a hundred years is beyond any
// certificate's life, and far from where days in a time.Duration
// overflow (about 106,000).
const maxWarnDays = 36500

// checkWarnDays refuses a --warn-days that is negative or absurd.
func checkWarnDays(days int) error {
	if days < 0 || days > maxWarnDays {
		return usageErrorf("--warn-days %d: want 0 to %d days", days, maxWarnDays)
	}
	return nil
}
