package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/install"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// InstallOptions holds the parsed flags of `install`.
type InstallOptions struct {
	IO *IOStreams

	Bundle string
	Root   string
	Hosts  []string
	DryRun bool
	Reload bool
	Force  bool
	Output string
	reloadFlags
}

// NewCmdInstall parses flags and hands them to runF (runInstall by default).
func NewCmdInstall(ios *IOStreams, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "install BUNDLE",
		Short: "Install a host bundle on this host (and reload the daemons live with --reload)",
		Long: `Install a host bundle (a directory or <host>.tar made by certificates --layout
libvirt --bundle) under --root, on the compute host it was made for.

Before anything is written the bundle is checked the way its consumers will
judge it: chains, key match, usages and modes (verify's offline checks), this
host's names (host name and FQDN, or --host), the manifest's modes and owners,
and CA continuity: each CA file must still trust the certificates installed
now, so a host mid-rotation never cuts off its neighbours (--force overrides
that one check). Links, devices, set-id files, entries not in MANIFEST.tsv,
oversized or truncated archives and symlinked targets are refused. Refusals
exit 2 with nothing written.

Each pair's directory (/etc/pki/libvirt, /etc/pki/qemu, ...) is replaced as
one, CA files first, so a kill at any instant leaves the old set or the new.
Files the bundle does not hold are left alone. --reload then runs reload.`,
		Example: `  libvirt-pki install /tmp/compute01.tar --dry-run
  libvirt-pki install /tmp/compute01.tar --reload
  libvirt-pki install out/compute01 --root /mnt/sysimage --host compute01.example.org`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Bundle = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runInstall(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Root, "root", "/", "install below this `DIR`")
	fl.StringArrayVar(&opts.Hosts, "host", nil, "this host's `NAME` as peers use it (repeatable; default: the host name and FQDN)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "list what would change and write nothing")
	fl.BoolVar(&opts.Reload, "reload", false, "then reload libvirtd and the VNC servers of running guests live, and prove it (see reload)")
	fl.BoolVar(&opts.Force, "force", false, "install even if the new CA file no longer trusts the certificates installed now (and reload despite TLS path overrides)")
	outputFlag(cmd, &opts.Output, textFormats)
	opts.reloadFlags.register(fl)
	return cmd
}

// thisHost is the host named by --host (every name given), or this
// host's name and FQDN.
func thisHost(names []string) (layout.Host, error) {
	if len(names) == 0 {
		h, err := install.ThisHost()
		if err != nil {
			return h, usageError{err}
		}
		return h, nil
	}
	h, err := layout.ParseHostSpec(names[0])
	if err != nil {
		return h, usageError{fmt.Errorf("--host: %v", err)}
	}
	for _, n := range names[1:] {
		extra, err := layout.ParseHostSpec(n)
		if err != nil {
			return h, usageError{fmt.Errorf("--host: %v", err)}
		}
		for _, s := range extra.Names() {
			h.Add(s)
		}
	}
	return h, nil
}

func runInstall(opts *InstallOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	host, err := thisHost(opts.Hosts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	o := install.Options{Root: opts.Root, Host: host, Force: opts.Force}
	if opts.Reload {
		// What the daemons serve now must stay trusted too.
		if o.Served, err = servedNow(ctx, opts.reloadFlags, opts.Root); err != nil {
			return err
		}
	}
	rep, err := install.Install(ctx, opts.Bundle, layout.Libvirt, o, opts.DryRun)
	if err != nil {
		return err
	}
	if !opts.Reload || opts.DryRun {
		return writeInstall(opts, rep, nil)
	}
	rr, err := runReloadFor(ctx, opts.reloadFlags, opts.Root, opts.Force)
	if err != nil {
		return err
	}
	if werr := writeInstall(opts, rep, rr); werr != nil {
		return werr
	}
	return reloadVerdict(rr)
}

// writeInstall writes the install report (and the reload's, if any).
func writeInstall(opts *InstallOptions, rep *install.Report, rr *reloadReport) error {
	if opts.Output == "json" {
		return writeJSONTo(opts.IO.Out, struct {
			*install.Report
			Reload *reloadReport `json:"reload,omitempty"`
		}{rep, rr})
	}
	rep.WriteText(opts.IO.Out)
	if rr != nil {
		rr.writeText(opts.IO.Out)
	}
	return nil
}
