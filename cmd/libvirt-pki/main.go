// Command libvirt-pki makes and checks the TLS certificates and SASL
// credentials that secure libvirt for OpenStack Nova (Kolla Ansible and
// plain libvirt hosts).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes: 0 success, 1 a failure or (for checks) a finding, 2 bad
// input or usage.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// IOStreams are the streams a command reads and writes; tests inject them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// usageError marks bad input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError carries an exit code without a message (a check that found
// problems has already reported them).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(args []string, in io.Reader, out, errOut io.Writer) int {
	ios := &IOStreams{In: in, Out: out, ErrOut: errOut}
	root := NewCmdRoot(ios)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(errOut, "libvirt-pki: "+err.Error())
	if code, ok := exitCodeFor(err); ok {
		return code
	}
	var ue usageError
	if errors.As(err, &ue) || isFlagError(err) {
		return exitUsage
	}
	return exitFailure
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(ios *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "libvirt-pki",
		Short: "Make and check libvirt TLS certificates and SASL credentials for OpenStack",
		Long: `libvirt-pki makes the credentials that secure libvirtd for Nova: a CA, per-host or
shared server and client certificates laid out where Kolla Ansible looks for them
(or in libvirt's /etc/pki layout), and checks them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(NewCmdVersion(ios), NewCmdCertificates(ios, nil), NewCmdVerify(ios, nil), NewCmdExpiry(ios, nil), NewCmdRevoke(ios, nil), NewCmdPasswords(ios, nil), NewCmdSASL(ios, nil), NewCmdSASLDB(ios), NewCmdRenew(ios, nil), NewCmdRotateCA(ios, nil), NewCmdGenDocs())
	root.AddCommand(NewCmdLint(ios, nil))
	root.AddCommand(NewCmdInstall(ios, nil), NewCmdReload(ios, nil))
	addVersionFlag(root)
	return root
}

func isFlagError(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}
