package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// RevokeOptions holds the parsed flags of `revoke`.
type RevokeOptions struct {
	IO *IOStreams

	layoutFlags
	Hosts, Serials []string
	CRLDays        int
	DryRun         bool
	Output         string
	remoteURL      string
}

// NewCmdRevoke parses flags and hands them to runF (runRevoke by default).
func NewCmdRevoke(ios *IOStreams, runF func(*RevokeOptions) error) *cobra.Command {
	opts := &RevokeOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a host's certificates and write the CA's CRL (cacrl.pem)",
		Long: `Revoke a host's server and client certificates (or certificates by serial), then
write a CRL signed by the CA: to the CA directory and beside every cacert.pem of
the layout, named cacrl.pem, for libvirtd's crl_file (its default is
/etc/pki/CA/cacrl.pem). Without --host or --serial it re-signs the CRL, pushing
its next update out: do that before --crl-days run out, as libvirtd refuses
clients once its CRL has expired (expiry reports the CRL's next update). Every
existing <host>.tar gets the CRLs too; libvirt-pki install --reload loads them.

The next certificates run re-issues a revoked host that is still listed.`,
		Example: `  libvirt-pki revoke --config-dir /etc/kolla --host compute07
  libvirt-pki revoke --config-dir /etc/kolla --crl-days 90   # re-sign only`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runRevoke(opts)
		},
	}
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, withCADir|withExternalCA|withLock)
	fl.StringArrayVar(&opts.Hosts, "host", nil, "revoke this host's server and client certificates (repeatable)")
	fl.StringArrayVar(&opts.Serials, "serial", nil, "revoke the certificate with this hex `SERIAL` (repeatable)")
	fl.IntVar(&opts.CRLDays, "crl-days", 90, "the CRL's validity (next update), in days")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "say what would be revoked and write nothing")
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	fl.StringVar(&opts.remoteURL, "remote-signer", "", "not supported: a cfssl signer signs no CRLs (revoke at the signer's CA)")
	return cmd
}

func runRevoke(opts *RevokeOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	for _, h := range opts.Hosts {
		if err := layout.ValidateHostName(h); err != nil {
			return usageErrorf("host %q: %v", h, err)
		}
	}
	o := certs.RevokeOptions{Layout: l, Hosts: opts.Hosts, Serials: opts.Serials, CRLDays: opts.CRLDays, DryRun: opts.DryRun, CACertFile: opts.CACert, CAKeyFile: opts.CAKey}
	if o.Keys, err = keysOf(opts.vault, false); err != nil {
		return err
	}
	if opts.remoteURL != "" {
		o.Remote = &certs.Remote{}
	}
	var unlock func()
	if o.Root, o.CADir, o.Top, unlock, err = opts.tree(opts.IO, l, !opts.DryRun); err != nil {
		return err
	}
	defer unlock()
	res, err := certs.Revoke(o)
	if err != nil {
		return err
	}
	w := opts.IO.Out
	if opts.Output == "json" {
		return writeJSONTo(w, res)
	}
	if opts.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	for _, r := range res.Revoked {
		if r.Host != "" {
			fmt.Fprintf(w, "revoked %s %s certificate (CN=%s, serial %s)\n", r.Host, r.Profile, r.Subject, r.Serial)
		} else {
			fmt.Fprintf(w, "revoked serial %s\n", r.Serial)
		}
	}
	for _, s := range res.Already {
		fmt.Fprintf(w, "already revoked: serial %s\n", s)
	}
	for _, p := range res.CRLFiles {
		fmt.Fprintf(w, "CRL: %s\n", p)
	}
	writeTarballs(w, res.Tarballs)
	fmt.Fprintf(w, "The CRL's next update is %s: re-sign before then with libvirt-pki revoke --crl-days N.\n", res.NextUpdate.UTC().Format("2006-01-02"))
	if l.ConfigRooted && !opts.DryRun {
		fmt.Fprintln(w, `Next: set crl_file = "/etc/pki/CA/cacrl.pem" in nova-libvirt's libvirtd.conf override, deploy cacrl.pem there, and run kolla-ansible reconfigure -t nova.`)
	}
	if l.BundleDir != "" && !opts.DryRun {
		writeDeployHint(w, l, "the CRL")
	}
	return nil
}
