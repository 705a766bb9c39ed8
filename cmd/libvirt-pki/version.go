package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped at build time (packaging/build.sh):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=0123abcd -X main.date=2026-01-02T03:04:05Z"
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo describes this build: the stamped version, commit and date,
// or, when nothing was stamped (go install, go run), what the Go build info
// knows.
func versionInfo() string {
	v, c, d := version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	s := v
	if c != "" {
		s += " commit " + c
	}
	if d != "" {
		s += " built " + d
	}
	return fmt.Sprintf("%s %s/%s %s", s, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// addVersionFlag gives the root command --version, printing the same line
// as the version command.
func addVersionFlag(root *cobra.Command) {
	root.Version = versionInfo()
	root.SetVersionTemplate("libvirt-pki {{.Version}}\n")
}

// NewCmdVersion prints the version, commit and build date.
func NewCmdVersion(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(ios.Out, "libvirt-pki %s\n", versionInfo())
			return nil
		},
	}
}
