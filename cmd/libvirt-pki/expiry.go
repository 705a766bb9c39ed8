package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// ExpiryOptions holds the parsed flags of `expiry`.
type ExpiryOptions struct {
	IO *IOStreams
	layoutFlags

	Live     []string
	Timeout  time.Duration
	WarnDays int
	Output   string
	// Certmonger adds certmonger's renewal plan (certmonger_state.go).
	Certmonger bool
}

// NewCmdExpiry parses flags and hands them to runF (runExpiry by default).
func NewCmdExpiry(ios *IOStreams, runF func(*ExpiryOptions) error) *cobra.Command {
	opts := &ExpiryOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "expiry",
		Short: "Report every certificate's expiry, CAs and CRLs included",
		Long: `List every certificate in the layout (the CA, cacert.pem bundles, each host's
server and client certificate) and every CRL, soonest expiry first, with status
ok, expiring (within --warn-days), expired, not-yet-valid or revoked.
--live HOST[:PORT] also reads the certificate a running libvirtd serves.

Exit status 1 when anything is expiring, expired, not yet valid or revoked:
run it in CI or cron. -o prometheus writes x509_cert_not_after,
x509_cert_not_before and x509_cert_expired for node_exporter's textfile collector.`,
		Example: `  libvirt-pki expiry --config-dir /etc/kolla
  libvirt-pki expiry --config-dir /etc/kolla -o prometheus > /var/lib/node_exporter/libvirt-pki.prom
  libvirt-pki expiry --live compute01.example.org --live compute02.example.org:16514`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runExpiry(opts)
		},
	}
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, withCADir)
	fl.StringArrayVar(&opts.Live, "live", nil, "also read the certificate served at `HOST[:PORT]` (port 16514 by default; repeatable)")
	durationVar(fl, &opts.Timeout, "timeout", 10*time.Second, "timeout for each --live endpoint")
	fl.IntVar(&opts.WarnDays, "warn-days", 30, "status expiring within this many `DAYS`")
	fl.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json, yaml or prometheus")
	registerCertmongerFlag(fl, &opts.Certmonger)
	return cmd
}

func runExpiry(opts *ExpiryOptions) error {
	switch opts.Output {
	case "table", "json", "yaml", "prometheus":
	default:
		return usageErrorf("--output %q: want table, json, yaml or prometheus", opts.Output)
	}
	if err := checkWarnDays(opts.WarnDays); err != nil {
		return err
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	o := audit.Options{Layout: l, Live: opts.Live, Timeout: opts.Timeout, WarnDays: opts.WarnDays}
	if o.Root, o.CADir, _, err = opts.roots(l); err != nil {
		return err
	}
	revoked, err := certs.LoadRevocations(o.CADir)
	if err != nil {
		return usageError{err}
	}
	o.Revoked = map[string]bool{}
	for _, r := range revoked {
		o.Revoked[r.Serial] = true
	}
	rows, err := audit.Collect(context.Background(), o)
	if err != nil {
		return usageError{err}
	}
	switch opts.Output {
	case "json":
		err = audit.WriteJSON(opts.IO.Out, rows)
	case "yaml":
		err = audit.WriteYAML(opts.IO.Out, rows)
	case "prometheus":
		err = audit.WritePrometheus(opts.IO.Out, rows)
	default:
		err = audit.WriteTable(opts.IO.Out, rows)
	}
	if err != nil {
		return err
	}
	renewalsFailing, err := writeRenewals(opts.Certmonger, opts.Output, opts.IO.Out)
	if err != nil {
		return err
	}
	if audit.NeedsAttention(rows) || renewalsFailing {
		return exitError{exitFailure}
	}
	return nil
}
