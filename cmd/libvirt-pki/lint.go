package main

import (
	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/lint"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// LintOptions holds the parsed flags of `lint`.
type LintOptions struct {
	IO *IOStreams
	layoutFlags

	IncludeCABF bool
	FailOn      string
	Output      string
}

// lintFormats are lint's output formats, the default first.
var lintFormats = []string{"table", "json", "junit"}

// NewCmdLint parses flags and hands them to runF (runLint by default).
func NewCmdLint(ios *IOStreams, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Run zlint's RFC lints over every certificate and CRL of a layout",
		Long: `Lint, as an auditor would, every certificate (each one of a bundle) and every CRL
of a layout, made by libvirt-pki or by anything else (openssl, kolla-ansible
certificates): the CA directory, then the shared and every host directory, with
the CRL beside each cacert.pem. The lints are zlint's RFC ones (RFC 5280, RFC 8813,
RFC 5480, ...); --include-cabf adds the web-PKI ones (CA/Browser Forum, Mozilla,
Apple, Chrome, ETSI, community), which do not apply to a private PKI.

Exit status: 0 when nothing at or above --fail-on was found, 1 when something was,
2 for usage errors, a tree holding no certificate, or a file that does not parse.`,
		Example: `  libvirt-pki lint --config-dir /etc/kolla
  libvirt-pki lint --layout libvirt --out ./pki -o junit > lint.xml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runLint(opts)
		},
	}
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, withCADir)
	fl.BoolVar(&opts.IncludeCABF, "include-cabf", false, "also run the CA/Browser Forum, Mozilla, Apple, Chrome, ETSI and community lints")
	fl.StringVar(&opts.FailOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: error or warning")
	outputFlag(cmd, &opts.Output, lintFormats)
	return cmd
}

func runLint(opts *LintOptions) error {
	failOn, err := verify.ParseSeverity(opts.FailOn)
	if err != nil || failOn == verify.Info {
		return usageErrorf("--fail-on %q: want error or warning", opts.FailOn)
	}
	if err := checkOutput(opts.Output, lintFormats); err != nil {
		return err
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	root, caDir, _, err := opts.roots(l)
	if err != nil {
		return err
	}
	rep, err := lint.Run(lint.Options{Tree: layout.Tree{Layout: l, Root: root, CADir: caDir}, IncludeCABF: opts.IncludeCABF})
	if err != nil {
		return err
	}
	w := opts.IO.Out
	return writeCheck(opts.Output,
		func() error { return rep.WriteJSON(w, failOn) },
		func() error { return rep.WriteJUnit(w, failOn) },
		func() error { return rep.WriteTable(w, failOn) },
		rep.Summarize(failOn).Failed)
}
