package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/certmonger"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// verify --certmonger and expiry --certmonger: what certmonger says of
// the requests enroll made on this host.

func registerCertmongerFlag(fl *pflag.FlagSet, on *bool) {
	fl.BoolVar(on, "certmonger", false, "also read this host's certmonger (requests made by enroll): a request stuck, refused or unable to reach the signer is a finding, and expiry shows when each certificate is renewed")
}

// enrolled lists enroll's requests, or says certmonger cannot be read.
func enrolled() ([]certmonger.Tracked, error) {
	all, err := certmonger.ClientFromEnv().List()
	if err != nil {
		return nil, errs.WrapInput(fmt.Errorf("--certmonger: %v", err))
	}
	return certmonger.Ours(all), nil
}

// addCertmongerFindings adds an error finding for each request
// certmonger cannot complete.
func addCertmongerFindings(on bool, rep *verify.Report) error {
	if !on {
		return nil
	}
	tracked, err := enrolled()
	if err != nil {
		return err
	}
	host := thisHostName()
	for _, t := range tracked {
		if p := t.Problem(); p != "" {
			rep.Findings = append(rep.Findings, verify.Finding{Severity: verify.Error, Code: verify.CodeCertmonger, Host: host, File: t.CertFile, Message: p})
		}
	}
	return nil
}

// writeRenewals writes, after expiry's table, when certmonger renews
// each enrolled certificate; failing says a request needs attention.
func writeRenewals(on bool, format string, w io.Writer) (failing bool, err error) {
	if !on {
		return false, nil
	}
	if format != "table" {
		return false, usageErrorf("--certmonger: the renewal plan is shown with -o table only")
	}
	tracked, err := enrolled()
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\ncertmonger renews (%d requests, %d days before expiry by default):\n", len(tracked), certmonger.RenewBefore/(24*time.Hour))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tCERTIFICATE\tSTATUS\tEXPIRES\tRENEWS")
	for _, t := range tracked {
		renews := "never (auto-renew off)"
		switch {
		case t.Expires.IsZero():
			renews = "when issued"
		case !t.RenewAt().IsZero():
			renews = day(t.RenewAt())
		}
		status := t.Status
		if t.Problem() != "" {
			failing = true
			status += ": " + t.CAError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.CertFile, status, day(t.Expires), renews)
	}
	return failing, tw.Flush()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// thisHostName is the short name findings about this host carry.
func thisHostName() string {
	hn, _ := os.Hostname()
	short, _, _ := strings.Cut(strings.ToLower(hn), ".")
	return short
}
