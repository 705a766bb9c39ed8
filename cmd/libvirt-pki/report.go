package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/report"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// ReportOptions holds the parsed flags of `report`: verify's check flags
// (the same tree, hosts, sets and live checks), and where the page goes.
type ReportOptions struct {
	Check  VerifyOptions
	Output string
	Now    string
	NoLint bool
}

// NewCmdReport parses flags and hands them to runF (runReport by default).
func NewCmdReport(ios *IOStreams, runF func(*ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{Check: VerifyOptions{IO: ios}}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write one self-contained HTML audit page for the whole tree",
		Long: `Write one HTML page an auditor can read: a summary (hosts, certificates, CAs, the
worst finding, the next expiry, the CA rotation's state), an expiry timeline of
every certificate and CRL, each host's credentials (kind, subject, SANs, issuer,
dates, key, usage verdict, file mode), the findings of verify and lint with the
fix for each, the CA chains and, with --live, what each listener serves.

The page is self-contained (no script, style, font or image is fetched) and
deterministic: the same tree and --now give the same bytes, so CI can diff two
reports. Files that cannot be read appear as findings; the page is still written.
Exit status 0 when the page was written, 2 for usage errors or an unusable tree.`,
		Example: `  libvirt-pki report --config-dir /etc/kolla -o pki-report.html
  libvirt-pki report --layout libvirt --out ./pki --now 2027-01-01 > report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Check.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(opts)
			}
			return runReport(opts)
		},
	}
	opts.Check.registerCheckFlags(cmd, withCADir)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "", "write the page to `FILE`, atomically (default: standard output)")
	fl.StringVar(&opts.Now, "now", "", "report as of `TIME`: RFC 3339 (2027-01-01T00:00:00Z) or a date (default: now)")
	fl.BoolVar(&opts.NoLint, "no-lint", false, "leave out zlint's lints (they add about half again the CPU on a large tree)")
	return cmd
}

func runReport(opts *ReportOptions) error {
	now, err := parseNow(opts.Now)
	if err != nil {
		return err
	}
	if err := checkWarnDays(opts.Check.WarnDays); err != nil {
		return err
	}
	if err := checkReportOutput(opts.Output); err != nil {
		return err
	}
	l, err := layout.ByName(opts.Check.LayoutName)
	if err != nil {
		return usageError{err}
	}
	root, caDir, _, err := opts.Check.roots(l)
	if err != nil {
		return err
	}
	// One read of each file serves verify, audit, lint and the page.
	files := fsutil.NewFiles()
	opts.Check.files = files
	check := func() (*verify.Report, error) {
		rep, _, err := opts.Check.check(now)
		return rep, err
	}
	m, err := report.Collect(context.Background(), report.Options{Tree: layout.Tree{Layout: l, Root: root, CADir: caDir, Files: files},
		Verify: check, Now: now, WarnDays: opts.Check.WarnDays, Lint: !opts.NoLint})
	if errors.As(err, new(usageError)) {
		return err
	} else if err != nil {
		return usageError{err}
	}
	var page bytes.Buffer
	if err := m.WriteHTML(&page); err != nil {
		return err
	}
	if opts.Output == "" {
		_, err := opts.Check.IO.Out.Write(page.Bytes())
		return err
	}
	if err := fsutil.WriteFileAtomic(opts.Output, page.Bytes(), 0o644); err != nil {
		return errs.Inputf("%v", err)
	}
	return nil
}

// parseNow reads --now: RFC 3339, or a date meaning its midnight UTC.
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--now %q: want RFC 3339 (2027-01-01T00:00:00Z) or a date (2027-01-01)", s)
}

// checkReportOutput refuses, before anything is read, an --output that
// is a symlink, a directory, or in a directory that does not exist.
func checkReportOutput(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return usageErrorf("--output %s: is a symlink; report does not write through one (remove it or name another file)", path)
	case err == nil && !fi.Mode().IsRegular():
		return usageErrorf("--output %s: not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return usageErrorf("--output %s: %v", path, err)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || !di.IsDir() {
		return usageErrorf("--output %s: its directory does not exist", path)
	}
	return nil
}
