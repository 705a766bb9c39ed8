package main

import (
	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// SignerConfigOptions holds the parsed flags of `signer-config`.
type SignerConfigOptions struct {
	IO *IOStreams

	AuthKeyRef    string
	ProfilePrefix string
}

// NewCmdSignerConfig parses flags and hands them to runF (runSignerConfig
// by default).
func NewCmdSignerConfig(ios *IOStreams, runF func(*SignerConfigOptions) error) *cobra.Command {
	opts := &SignerConfigOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "signer-config",
		Short: "Print the cfssl configuration a remote signer needs for libvirt-pki",
		Long: `Print the cfssl signing configuration (JSON) that a cfssl signer (multirootca's
roots.conf config =, or cfssl serve -config) needs to sign for libvirt-pki: one
profile per certificate profile and key family, named as --remote-signer asks for
them, with libvirt-pki's usages, each bound to the auth key --auth-key-ref names.
The default profile signs nothing. The configuration holds a reference to the
auth key, never the key. The multirootca label is roots.conf's section name, not
part of this file. docs/remote-signing.md has the whole set-up.`,
		Example: `  openssl rand -hex 32 > /etc/cfssl/auth-key.hex   # the deploy host gets the same file
  libvirt-pki signer-config --auth-key-ref file:/etc/cfssl/auth-key.hex > /etc/cfssl/cfssl-signer.json
  libvirt-pki signer-config --auth-key-ref env:LIBVIRT_PKI_AUTH_KEY --profile-prefix libvirt-`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runSignerConfig(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.AuthKeyRef, "auth-key-ref", "file:auth-key.hex", "where the signer reads the hex HMAC auth key: `file:PATH` (relative to its working directory) or env:VAR; never the key itself")
	fl.StringVar(&opts.ProfilePrefix, "profile-prefix", "", "`PREFIX` of our profile names on a signer shared with others (give the same --remote-profile-prefix)")
	return cmd
}

func runSignerConfig(opts *SignerConfigOptions) error {
	if err := pki.CheckAuthKeyRef(opts.AuthKeyRef); err != nil {
		return usageErrorf("--auth-key-ref: %v", err)
	}
	if err := pki.CheckProfilePrefix(opts.ProfilePrefix); err != nil {
		return usageErrorf("--profile-prefix: %v", err)
	}
	cfg, err := pki.SignerConfig(opts.ProfilePrefix, opts.AuthKeyRef)
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(cfg)
	return err
}
