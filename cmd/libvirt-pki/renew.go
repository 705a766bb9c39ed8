package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// RenewOptions holds the parsed flags of `renew`.
type RenewOptions struct {
	IO *IOStreams

	layoutFlags
	RenewBefore time.Duration
	All         bool
	RotateKeys  bool
	Days        int
	DryRun      bool
	Output      string
	Verbose     bool
	remote      remoteFlags
}

// NewCmdRenew parses flags and hands them to runF (runRenew by default).
func NewCmdRenew(ios *IOStreams, runF func(*RenewOptions) error) *cobra.Command {
	opts := &RenewOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Re-issue the server and client certificates that are about to expire",
		Long: `Re-issue every server and client certificate of the layout (Kolla's shared
directory and every host directory) that expires within --renew-before, or all of
them with --all. Each keeps its own subject (CN, O), SANs and profile (server or
client, by file), and its private key unless --rotate-keys. It needs no host list:
it renews what is on disk. The current CA signs (the CA directory, or --ca-cert and
--ca-key); the CA and every cacert.pem are never touched. Every existing <host>.tar
is made again in the same unit; install it with libvirt-pki install --reload.

A second run with the same flags changes nothing.`,
		Example: `  libvirt-pki renew --config-dir /etc/kolla --dry-run
  libvirt-pki renew --config-dir /etc/kolla --renew-before 1440h
  libvirt-pki renew --layout libvirt --out ./hosts --all --rotate-keys`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runRenew(opts)
		},
	}
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, withCADir|withExternalCA|withLock)
	durationVar(fl, &opts.RenewBefore, "renew-before", 30*24*time.Hour, "renew certificates expiring within this `DURATION`")
	fl.BoolVar(&opts.All, "all", false, "renew every certificate, whatever its dates")
	fl.BoolVar(&opts.RotateKeys, "rotate-keys", false, "make new private keys (of the same algorithm) for renewed certificates")
	fl.IntVar(&opts.Days, "days", pki.DefaultLeafDays, "validity of renewed certificates, in days")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would be renewed and write nothing")
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "list certificates that are kept too")
	opts.remote.register(fl)
	return cmd
}

func runRenew(opts *RenewOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	if opts.Days <= 0 {
		return usageErrorf("--days must be positive")
	}
	if opts.RenewBefore < 0 {
		return usageErrorf("--renew-before must not be negative")
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	o := certs.RenewOptions{
		Layout: l, CACertFile: opts.CACert, CAKeyFile: opts.CAKey, RenewBefore: opts.RenewBefore,
		All: opts.All, RotateKeys: opts.RotateKeys, Days: opts.Days, DryRun: opts.DryRun,
	}
	if o.Keys, err = keysOf(opts.vault, false); err != nil {
		return err
	}
	if o.Remote, err = opts.remote.remote(); err != nil {
		return err
	}
	var unlock func()
	if o.Root, o.CADir, o.Top, unlock, err = opts.tree(opts.IO, l, !opts.DryRun); err != nil {
		return err
	}
	defer unlock()
	res, err := certs.Renew(o)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSONTo(opts.IO.Out, res)
	}
	writeRenewText(opts.IO.Out, res, opts.Verbose, "renewed", false)
	if !opts.DryRun && res.Renewed > 0 {
		writeTarballs(opts.IO.Out, res.Tarballs)
		writeDeployHint(opts.IO.Out, l, "the renewed certificates")
	}
	return nil
}

// writeRenewText prints one line per renewed certificate: where, old and
// new end dates, and whether the key was kept. embedded (inside another
// command's report) leaves out the dry-run and CA lines it printed.
func writeRenewText(w io.Writer, res *certs.RenewResult, verbose bool, verb string, embedded bool) {
	if res.DryRun {
		verb = "would be " + verb
	}
	if !embedded {
		if res.DryRun {
			fmt.Fprintln(w, "Dry run: nothing was written.")
		}
		fmt.Fprintf(w, "CA: %q, valid until %s\n", res.CASubject, res.CANotAfter.Format("2006-01-02"))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range res.Leaves {
		file := relTo(res.Root, l.File)
		if l.Action != certs.Reissue {
			if verbose {
				fmt.Fprintf(tw, "%s\t%s\t%s\tkept\tuntil %s\t\t\n", l.Host, l.Profile, file, l.OldNotAfter.Format("2006-01-02"))
			}
			continue
		}
		newNA := "?"
		if l.NewNotAfter != nil {
			newNA = l.NewNotAfter.Format("2006-01-02")
		}
		copies := ""
		if len(l.Copies) > 0 {
			copies = fmt.Sprintf(" (+%d copies)", len(l.Copies))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%s → %s\tkey %s\t%s\n", l.Host, l.Profile, file, copies, verb, l.OldNotAfter.Format("2006-01-02"), newNA, l.Key, l.Reason)
	}
	tw.Flush()
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	total := res.Renewed + res.Unchanged
	switch {
	case res.Renewed == 0 && res.RenewBefore != "":
		fmt.Fprintf(w, "Nothing to renew: all %d certificates in %s are valid for more than %s.\n", total, res.Root, humanDays(res.RenewBefore))
	case res.Renewed == 0:
		fmt.Fprintf(w, "Nothing to renew: %d certificates in %s.\n", total, res.Root)
	default:
		fmt.Fprintf(w, "Certificates: %d %s, %d kept; files in %s\n", res.Renewed, verb, res.Unchanged, res.Root)
	}
}

// writeDeployHint says how to get what changed onto the hosts and into
// the running daemons.
func writeDeployHint(w io.Writer, l layout.Layout, what string) {
	if l.ConfigRooted {
		fmt.Fprintf(w, "Next: deploy %s: kolla-ansible reconfigure -t nova (it restarts nova_libvirt; to reload libvirtd live instead, see docs/rollout.md)\n", what)
		return
	}
	if l.BundleDir != "" {
		fmt.Fprintf(w, "Next: deploy %s: on each host in turn, libvirt-pki install --reload <host>.tar (or the host's bundle directory); "+
			"from the deploy host: ansible-playbook ansible/rollout.yml (docs/rollout.md). libvirtd and VNC consoles reload live; a SPICE console keeps its certificate until the guest migrates or restarts.\n", what)
		return
	}
	fmt.Fprintf(w, "Next: copy %s to each host; clients read them at their next connection, libvirtd reloads live with virt-admin server-update-tls libvirtd.\n", what)
}

// writeTarballs names the host tarballs a command made again.
func writeTarballs(w io.Writer, tarballs []string) {
	for _, t := range tarballs {
		fmt.Fprintf(w, "tarball updated: %s\n", t)
	}
}

// humanDays prints a whole number of days as "30 days", else the
// duration as given.
func humanDays(s string) string {
	d, err := time.ParseDuration(s)
	if err == nil && d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return s
}

func relTo(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
