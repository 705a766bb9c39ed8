package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/certmonger"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// DefaultHelperConfig is where enroll writes, and the helper reads, the
// signer's settings on a host.
const DefaultHelperConfig = "/etc/libvirt-pki/certmonger.conf"

// CertmongerHelperOptions are certmonger-helper's settings: the signer's
// (--remote-*), from the command line certmonger stores or a config file.
type CertmongerHelperOptions struct {
	Remote remoteFlags
	Config string
	getenv func(string) string
}

// NewCmdCertmongerHelper is certmonger's external CA helper.
func NewCmdCertmongerHelper(ios *IOStreams, hook func(*CertmongerHelperOptions) error) *cobra.Command {
	opts := &CertmongerHelperOptions{getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "certmonger-helper",
		Short: "certmonger's CA helper for a cfssl signer: signs the CSRs certmonger makes on this host (docs/certmonger.md)",
		Long: `certmonger-helper is run by certmonger (getcert add-ca -e '...'), never by hand: it
reads the operation from CERTMONGER_OPERATION (SUBMIT when unset, POLL, IDENTIFY,
FETCH-ROOTS, GET-SUPPORTED-TEMPLATES, GET-DEFAULT-TEMPLATE) and the request from
CERTMONGER_CSR and CERTMONGER_CA_PROFILE, signs it through the cfssl signer and checks
the certificate as remote signing does. Exit 0 issued, 2 refused, 3 signer unreachable
(certmonger retries), 4 settings missing, 6 unsupported operation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hook != nil {
				return hook(opts)
			}
			return runCertmongerHelper(cmd.Context(), opts, ios)
		},
	}
	opts.Remote.register(cmd.Flags())
	cmd.Flags().StringVar(&opts.Config, "config", "", "read the --remote-* settings not given on the command line from `FILE` (lines \"remote-signer = URL\"; default "+DefaultHelperConfig+" when it exists)")
	return cmd
}

func runCertmongerHelper(ctx context.Context, opts *CertmongerHelperOptions, ios *IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	h := certmonger.Helper{Version: version}
	if h.ConfigErr = opts.load(); h.ConfigErr == nil {
		remote, err := opts.Remote.remote()
		switch {
		case err != nil:
			h.ConfigErr = err
		case remote == nil:
			h.ConfigErr = fmt.Errorf("no signer: give --remote-signer URL and --remote-auth-key-file FILE, or put them in %s", opts.configName())
		default:
			h.Dial = func(ctx context.Context) (*pki.CA, error) { return pki.DialRemoteCA(ctx, remote.RemoteOptions) }
		}
	}
	if code := h.Run(ctx, opts.getenv, ios.Out); code != 0 {
		return exitError{code}
	}
	return nil
}

// configName is the config file read: --config, or the default.
func (o *CertmongerHelperOptions) configName() string {
	if o.Config != "" {
		return o.Config
	}
	return DefaultHelperConfig
}

// load sets the --remote-* flags not given on the command line from the
// config file. A missing default file is no error: the command line may
// hold everything.
func (o *CertmongerHelperOptions) load() error {
	name := o.configName()
	data, err := fsutil.ReadFileFollow(name, 64<<10)
	if err != nil {
		if o.Config == "" && os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("--config: %v", err)
	}
	fl := pflag.NewFlagSet("config", pflag.ContinueOnError)
	var file remoteFlags
	file.register(fl)
	given := o.Remote.given()
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || fl.Lookup(key) == nil {
			return fmt.Errorf("%s:%d: want \"NAME = VALUE\" with NAME one of remote-signer, remote-auth-key-file, remote-label, remote-ca-cert, remote-issuer, remote-profile-prefix", name, n)
		}
		if given[key] {
			continue // the command line wins
		}
		if err := fl.Set(key, value); err != nil {
			return fmt.Errorf("%s:%d: %v", name, n, err)
		}
	}
	o.Remote.merge(file, given)
	return sc.Err()
}

// given says which settings the command line set.
func (f *remoteFlags) given() map[string]bool {
	return map[string]bool{
		"remote-signer": f.URL != "", "remote-auth-key-file": f.AuthKeyFile != "", "remote-label": f.Label != "",
		"remote-ca-cert": f.TLSCAFile != "", "remote-issuer": len(f.IssuerFiles) > 0, "remote-profile-prefix": f.ProfilePrefix != "",
	}
}

// merge takes from file the settings the command line did not set.
func (f *remoteFlags) merge(file remoteFlags, given map[string]bool) {
	pick := func(dst *string, src, key string) {
		if !given[key] {
			*dst = src
		}
	}
	pick(&f.URL, file.URL, "remote-signer")
	pick(&f.AuthKeyFile, file.AuthKeyFile, "remote-auth-key-file")
	pick(&f.Label, file.Label, "remote-label")
	pick(&f.TLSCAFile, file.TLSCAFile, "remote-ca-cert")
	pick(&f.ProfilePrefix, file.ProfilePrefix, "remote-profile-prefix")
	if !given["remote-issuer"] {
		f.IssuerFiles = file.IssuerFiles
	}
}
