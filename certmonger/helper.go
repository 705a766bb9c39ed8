// Package certmonger connects libvirt-pki to certmonger, the renewal
// daemon RHEL and Debian ship, for hosts whose keys never leave them:
// the external CA helper protocol certmonger runs our helper with
// (Helper), the getcert requests that enroll a host's credentials
// (Plan, Client), and certmonger's view of them for verify and expiry
// (Client.List). docs/certmonger.md has the model.
package certmonger

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Exit statuses of an external helper (certmonger doc/helpers.txt).
const (
	ExitIssued       = 0 // the certificate is on stdout
	ExitRejected     = 2 // the CA refused: the message is on stdout
	ExitUnreachable  = 3 // no answer: certmonger tries again later
	ExitUnconfigured = 4 // the helper lacks settings
	ExitUnsupported  = 6 // an operation the helper does not do
)

// The operations Helper answers; SUBMIT when CERTMONGER_OPERATION is
// unset.
const (
	OpSubmit          = "SUBMIT"
	OpPoll            = "POLL"
	OpIdentify        = "IDENTIFY"
	OpFetchRoots      = "FETCH-ROOTS"
	OpSupportedTmpl   = "GET-SUPPORTED-TEMPLATES"
	OpDefaultTemplate = "GET-DEFAULT-TEMPLATE"
)

// Helper is certmonger's external CA helper for a cfssl signer.
type Helper struct {
	// Dial reaches the signer (pki.DialRemoteCA); nil with ConfigErr set
	// when the settings are missing or unreadable.
	Dial func(ctx context.Context) (*pki.CA, error)
	// ConfigErr says which setting is missing: every operation that
	// needs the signer exits ExitUnconfigured with it.
	ConfigErr error
	// Version is what IDENTIFY prints after "libvirt-pki certmonger-helper".
	Version string
	// Days is how long certificates run (0: pki.DefaultLeafDays).
	Days int
}

// Run answers one operation: getenv is the environment certmonger set,
// out is stdout (certmonger reads the certificate or the message from
// it). It returns the exit status.
func (h Helper) Run(ctx context.Context, getenv func(string) string, out io.Writer) int {
	op := getenv("CERTMONGER_OPERATION")
	switch op {
	case "", OpSubmit, OpPoll:
		// We never ask certmonger to wait, so a POLL is a SUBMIT again.
		return h.submit(ctx, getenv, out)
	case OpIdentify:
		fmt.Fprintf(out, "libvirt-pki certmonger-helper %s (cfssl signer)\n", h.Version)
		return ExitIssued
	case OpFetchRoots:
		return h.fetchRoots(ctx, out)
	case OpSupportedTmpl:
		for _, p := range pki.Profiles {
			fmt.Fprintln(out, p.Name)
		}
		return ExitIssued
	case OpDefaultTemplate:
		// No default: the CSR's extended key usage picks the profile.
		return ExitIssued
	}
	fmt.Fprintf(out, "libvirt-pki certmonger-helper: operation %q is not supported\n", op)
	return ExitUnsupported
}

// submit signs CERTMONGER_CSR with the profile CERTMONGER_CA_PROFILE
// names, or the one the CSR's extended key usage asks for.
func (h Helper) submit(ctx context.Context, getenv func(string) string, out io.Writer) int {
	csrPEM := []byte(getenv("CERTMONGER_CSR"))
	cr, err := pki.ParseCSR(csrPEM)
	if err != nil {
		return reject(out, fmt.Errorf("CERTMONGER_CSR: %v", err))
	}
	profile, err := pickProfile(getenv("CERTMONGER_CA_PROFILE"), cr)
	if err != nil {
		return reject(out, err)
	}
	ca, code := h.dial(ctx, out)
	if ca == nil {
		return code
	}
	_, certPEM, err := ca.SignCSR(csrPEM, profile, h.Days)
	if err != nil {
		return failure(out, err)
	}
	out.Write(certPEM)
	return ExitIssued
}

// pickProfile is the profile named (certmonger's -T), or the CSR's.
func pickProfile(name string, cr *x509.CertificateRequest) (pki.Profile, error) {
	if name == "" {
		return pki.ProfileOfCSR(cr)
	}
	if p, ok := pki.ProfileByName(name); ok {
		return p, nil
	}
	var names []string
	for _, p := range pki.Profiles {
		names = append(names, p.Name)
	}
	return pki.Profile{}, fmt.Errorf("unknown profile %q (want %s)", name, strings.Join(names, " or "))
}

// dial reaches the signer; on failure it has printed why and returns
// the exit status.
func (h Helper) dial(ctx context.Context, out io.Writer) (*pki.CA, int) {
	if h.ConfigErr != nil || h.Dial == nil {
		err := h.ConfigErr
		if err == nil {
			err = errors.New("no signer is configured")
		}
		fmt.Fprintf(out, "libvirt-pki certmonger-helper: %v\n", err)
		return nil, ExitUnconfigured
	}
	ca, err := h.Dial(ctx)
	var re *pki.RemoteError
	switch {
	case err != nil && !errors.As(err, &re):
		// A malformed URL or auth key: newRemoteSigner's own checks.
		fmt.Fprintf(out, "libvirt-pki certmonger-helper: %v\n", err)
		return nil, ExitUnconfigured
	case err != nil:
		return nil, failure(out, err)
	}
	return ca, 0
}

// fetchRoots prints the signer's CA in certmonger's FETCH-ROOTS format:
// a nickname line and the root's PEM; then, after the (empty) section of
// other roots, each certificate of the chain below the root with its
// nickname. The info endpoint is reached over verified TLS, so the
// answer is authenticated as the protocol asks.
func (h Helper) fetchRoots(ctx context.Context, out io.Writer) int {
	ca, code := h.dial(ctx, out)
	if ca == nil {
		return code
	}
	chain := append([]*x509.Certificate{ca.Cert}, ca.Chain...)
	root := chain[len(chain)-1]
	fmt.Fprintf(out, "%s\n%s", nickname(root), pki.EncodeCertsPEM(root))
	if below := chain[:len(chain)-1]; len(below) > 0 {
		fmt.Fprint(out, "\n\n")
		for i, c := range below {
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "%s\n%s", nickname(c), pki.EncodeCertsPEM(c))
		}
	}
	return ExitIssued
}

func nickname(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return "CA " + pki.SerialHex(c)
}

// reject prints a refusal of the request itself and returns
// ExitRejected.
func reject(out io.Writer, err error) int {
	fmt.Fprintf(out, "libvirt-pki certmonger-helper: %v\n", err)
	return ExitRejected
}

// ExitStatus is the helper exit status for an error of the signer:
// unreachable (no answer, or only 5xx) is ExitUnreachable, so certmonger
// retries; a signer we cannot trust, that refuses our key or is no cfssl
// signer is ExitUnconfigured (the helper's settings are wrong); a refusal
// of the request and a certificate that fails our checks are
// ExitRejected.
func ExitStatus(err error) int {
	var re *pki.RemoteError
	if !errors.As(err, &re) {
		return ExitRejected
	}
	switch re.Class {
	case pki.RemoteUnreachable:
		return ExitUnreachable
	case pki.RemoteTLS, pki.RemoteAuthRefused, pki.RemoteProtocol:
		return ExitUnconfigured
	}
	return ExitRejected
}

// failure prints err on one line and returns its exit status.
func failure(out io.Writer, err error) int {
	fmt.Fprintf(out, "libvirt-pki certmonger-helper: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	return ExitStatus(err)
}
