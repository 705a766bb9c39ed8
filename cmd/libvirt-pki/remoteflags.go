package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// remoteFlags name a cfssl signer that keeps the CA key
// (docs/remote-signing.md). The auth key comes from a file, never argv.
type remoteFlags struct {
	URL, AuthKeyFile, Label, TLSCAFile, ProfilePrefix string
	IssuerFiles                                       []string
}

func (f *remoteFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.URL, "remote-signer", "", "sign through this cfssl signer (multirootca, cfssl serve) `URL`, https://host:port: the CA key stays there (docs/remote-signing.md)")
	fl.StringVar(&f.AuthKeyFile, "remote-auth-key-file", "", "`FILE` holding the hex HMAC key of the signer's auth_keys entry")
	fl.StringVar(&f.Label, "remote-label", "", "the multirootca `LABEL` (root) to sign with (default: the signer's default)")
	fl.StringVar(&f.TLSCAFile, "remote-ca-cert", "", "trust the CA certificates in `FILE` for the signer's TLS certificate (default: the system's)")
	fl.StringArrayVar(&f.IssuerFiles, "remote-issuer", nil, "`FILE` with the issuers of the signer's CA up to the root, when it is an intermediate (repeatable)")
	fl.StringVar(&f.ProfilePrefix, "remote-profile-prefix", "", "`PREFIX` of our profile names on a signer shared with others")
}

// remote returns the signer the flags name, nil without --remote-signer.
// Its files are read here, bounded; bad ones are usage errors.
func (f *remoteFlags) remote() (*certs.Remote, error) {
	if f.URL == "" {
		if f.AuthKeyFile != "" || f.Label != "" || f.TLSCAFile != "" || len(f.IssuerFiles) > 0 || f.ProfilePrefix != "" {
			return nil, usageErrorf("the --remote-* flags need --remote-signer URL")
		}
		return nil, nil
	}
	if f.AuthKeyFile == "" {
		return nil, usageErrorf("--remote-signer needs --remote-auth-key-file FILE (the hex key of the signer's auth_keys entry)")
	}
	key, err := fsutil.ReadFileFollow(f.AuthKeyFile, 4096)
	if err != nil {
		return nil, usageErrorf("--remote-auth-key-file: %v", err)
	}
	r := &certs.Remote{RemoteOptions: pki.RemoteOptions{URL: f.URL, AuthKey: strings.TrimSpace(string(key)), Label: f.Label, ProfilePrefix: f.ProfilePrefix}}
	if f.TLSCAFile != "" {
		roots, err := pki.ReadCertsFile(f.TLSCAFile)
		if err != nil {
			return nil, usageErrorf("--remote-ca-cert: %v", err)
		}
		r.TLSRoots = x509.NewCertPool()
		for _, c := range roots {
			r.TLSRoots.AddCert(c)
		}
	}
	for _, name := range f.IssuerFiles {
		issuers, err := pki.ReadCertsFile(name)
		if err != nil {
			return nil, usageErrorf("--remote-issuer: %v", err)
		}
		r.Issuers = append(r.Issuers, issuers...)
	}
	return r, nil
}

// externalCAFlags are certificates' flags for a CA without an API.
type externalCAFlags struct {
	CSROnly   bool
	ImportDir string
}

func (f *externalCAFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.CSROnly, "csr-only", false, "for an external CA without an API (with --ca-cert, its certificate): write each key, a CSR beside its certificate's place and csr-manifest.json, and sign nothing")
	fl.StringVar(&f.ImportDir, "import", "", "install the certificates the external CA (--ca-cert) signed for --csr-only's CSRs, found in `DIR` by public key, after checking each")
}

// writeCSRText reports a --csr-only run and the next step.
func writeCSRText(w io.Writer, res *certs.CSRResult) {
	for _, r := range res.Details.Requests {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Host, r.Kind, r.CSR)
	}
	fmt.Fprintf(w, "CSRs: %d written, %d kept; manifest %s (%d requests)\n", res.Written, res.Kept, res.Manifest, len(res.Details.Requests))
	if len(res.Details.Requests) > 0 {
		fmt.Fprintln(w, "Next: have the CA sign each CSR with the SANs and usages of the manifest, put the certificates in one directory, then run certificates again with the same flags and --import DIR instead of --csr-only.")
	}
}
