package certs

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// A remote CA (docs/remote-signing.md): a cfssl signer holds the CA key;
// keys are made here and only CSRs go to it (pki.RemoteCA). The CA
// directory then records the signer's CA certificate (and chain) as
// cacert.pem with no cakey.pem: rotate-ca and revoke find the current CA
// there, and a run with another signer's CA is refused (changing CAs is
// rotate-ca's job). The engine's worker pool bounds the requests in
// flight: a remote run has Remote.Limit workers, the signer's client as
// many connections.

// Remote is the cfssl signer a run signs with: the CA source "remote".
type Remote struct {
	pki.RemoteOptions
}

// connect reaches the signer and checks it (pki.RemoteCA). A signer's
// failure is a *pki.RemoteError (exit 1); bad options (the URL, the key)
// are bad input.
func (r *Remote) connect() (*pki.CA, error) {
	if r.Limit <= 0 {
		r.Limit = pki.DefaultRemoteLimit
	}
	ca, err := pki.RemoteCA(context.Background(), r.RemoteOptions)
	var re *pki.RemoteError
	if err != nil && !errors.As(err, &re) {
		return nil, errs.WrapInput(err)
	}
	return ca, err
}

// workers is the size of the issuing pool: the signer's limit on a
// remote run (each worker mostly waits for the signer), def otherwise.
func (r *Remote) workers(def int) int {
	if r == nil {
		return def
	}
	if r.Limit <= 0 {
		return pki.DefaultRemoteLimit
	}
	return r.Limit
}

// planOffHostCA plans a CA whose key is not here, when the options name
// one: a remote signer, or an external CA (--csr-only, --import). It
// reports whether it did.
func (p *Plan) planOffHostCA() (bool, error) {
	o := p.Opts
	switch {
	case o.Remote != nil && (o.CSROnly || o.ImportDir != ""):
		return true, inputErr("--remote-signer signs through the signer; --csr-only and --import are for a CA without an API: give one or the other")
	case o.Remote != nil:
		return true, p.planRemoteCA()
	case o.CSROnly || o.ImportDir != "":
		return true, p.planExternalCA()
	}
	return false, nil
}

// planRemoteCA connects to the signer and takes its CA as the current
// one, after checking that the CA directory holds no other.
func (p *Plan) planRemoteCA() error {
	o := p.Opts
	if o.CACertFile != "" || o.CAKeyFile != "" {
		return inputErr("--remote-signer signs with the signer's CA, and --ca-cert/--ca-key name another: give one or the other")
	}
	if err := checkOutputDir(o.CADir); err != nil {
		return err
	}
	ca, err := o.Remote.connect()
	if err != nil {
		return err
	}
	if err := checkCurrentCA(p.Opts.caTree(), ca, "the signer's", "rotate-ca start --remote-signer (docs/remote-signing.md), or give another --ca-dir"); err != nil {
		return err
	}
	p.CA = CAPlan{Source: "remote", CertPath: filepath.Join(o.CADir, caCertName), Subject: ca.Cert.Subject.String(), NotAfter: ca.Cert.NotAfter, ca: ca}
	p.Opts.Workers = o.Remote.workers(p.Opts.Workers)
	return nil
}

// checkCurrentCA is the one rule for a run that signs with a CA it was
// given (from names it: "the signer's", "--ca-cert's"): that CA must be
// the tree's current one. The current CA is the CA directory's
// (libvirt-pki's own, or a remote signer's recorded there) or, when the
// directory holds none, the one the tree's CA files already carry.
// Signing with another would replace the cacert.pem that the other
// hosts' certificates chain to, so each host would refuse its peers:
// changing CAs is rotate-ca's job (rotate names its form for this CA).
func checkCurrentCA(tree layout.Tree, ca *pki.CA, from, rotate string) error {
	certPath := filepath.Join(tree.CADir, caCertName)
	data, err := readIfExists(certPath, fsutil.LimitCert)
	if err != nil {
		return err
	}
	if data != nil {
		what := "records the remote CA"
		if exists(filepath.Join(tree.CADir, caKeyName)) {
			what = "holds libvirt-pki's own CA"
		}
		have, err := pki.ParseCertsPEM(data)
		if err != nil {
			return inputErr("%s: %v", certPath, err)
		}
		if have[0].Equal(ca.Cert) {
			return nil
		}
		return refuseOtherCA(certPath, have[0], what, ca, from, rotate)
	}
	files, err := tree.CAFiles()
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new tree
	}
	if err != nil {
		return readErr(err)
	}
	for _, f := range files {
		if data, err = readIfExists(f, fsutil.LimitCert); err != nil {
			return err
		}
		if data == nil || containsCert(data, ca.Cert) {
			continue
		}
		have, err := pki.ParseCertsPEM(data)
		if err != nil {
			return inputErr("%s: %v", f, err)
		}
		return refuseOtherCA(f, have[0], "holds the CA", ca, from, rotate)
	}
	return nil
}

// refuseOtherCA is the refusal: path holds the CA have (what says how),
// not ca.
func refuseOtherCA(path string, have *x509.Certificate, what string, ca *pki.CA, from, rotate string) error {
	haveName, caName := strconv.Quote(have.Subject.CommonName), strconv.Quote(ca.Cert.Subject.CommonName)
	if haveName == caName {
		haveName += " (" + fingerprint(have) + ")"
		caName += " (" + fingerprint(ca.Cert) + ")"
	}
	return inputErr("%s %s %s, not %s %s: the hosts it issued would stop trusting those signed by the other; change CAs with %s",
		path, what, haveName, from, caName, rotate)
}

// fingerprint tells two CAs of one name apart: the start of the SHA-256
// fingerprint, as openssl x509 -fingerprint -sha256 prints it.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("SHA256 %02X:%02X:%02X:%02X...", sum[0], sum[1], sum[2], sum[3])
}

// stageRecord stages the remote signer's CA certificate (and chain) as
// the CA directory's cacert.pem, without a key, unless it is there, or
// the directory holds the same CA with its key.
func (c *CAPlan) stageRecord(batch *stage, caDir string) error {
	if c.Source != "remote" || sameFile(c.CertPath, c.ca.CertPEM) || exists(filepath.Join(caDir, caKeyName)) {
		return nil
	}
	if err := fsutil.MkdirAll(caDir, 0o700); err != nil {
		return err
	}
	return batch.WriteFile(c.CertPath, c.ca.CertPEM, 0o644)
}

// isRemoteCADir reports whether dir holds a remote CA's record: a
// cacert.pem without cakey.pem.
func isRemoteCADir(dir string) bool {
	return exists(filepath.Join(dir, caCertName)) && !exists(filepath.Join(dir, caKeyName))
}

// refuseRemoteRevoke refuses revoke when the CA key is on a signer:
// cfssl's signing API signs no CRLs.
func refuseRemoteRevoke(o RevokeOptions) error {
	if o.Remote == nil && (o.CACertFile != "" || !isRemoteCADir(o.CADir)) {
		return nil
	}
	return inputErr("revoke: the CA key is on the remote signer, and cfssl's signing API (multirootca, cfssl serve) signs no CRLs: revoke the certificate at the signer's CA and deploy the CRL it publishes as cacrl.pem beside every cacert.pem")
}

// loadCADirCA loads the CA of a CA directory (or of its next/ or
// previous/): with its key, or, with cacert.pem alone, a remote signer's
// CA, which signs only through the signer (rotation's signingCA).
func (keys Keys) loadCADirCA(dir string) (*pki.CA, error) {
	certPath, keyPath := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	if exists(keyPath) || !exists(certPath) {
		return keys.loadCAFiles(certPath, keyPath, false)
	}
	data, err := fsutil.ReadFile(certPath, fsutil.LimitCert)
	if err != nil {
		return nil, readErr(err)
	}
	ca, err := pki.LoadCACert(data)
	if err != nil {
		return nil, inputErr("%s: %v", certPath, err)
	}
	return ca, nil
}

// loadResumingNext loads the next CA of an interrupted reissue: a remote
// one is next/cacert.pem alone; a local one's files are in next/ until
// reissue removes them, or else in the CA directory.
func (keys Keys) loadResumingNext(caDir string) (*pki.CA, error) {
	next := filepath.Join(caDir, nextDir)
	if isRemoteCADir(next) {
		return keys.loadCADirCA(next)
	}
	pick := func(name string) string {
		if p := filepath.Join(next, name); exists(p) {
			return p
		}
		return filepath.Join(caDir, name)
	}
	return keys.loadCAFiles(pick(caCertName), pick(caKeyName), false)
}

// nextFromSigner is rotate-ca start's next CA with --remote-signer: the
// signer's CA, whose key stays there. It must not be the current CA; on
// a run that restores bundles it must be the next CA already chosen.
func (r *rotation) nextFromSigner() (*pki.CA, error) {
	ca, err := r.o.Remote.connect()
	if err != nil {
		return nil, err
	}
	switch {
	case r.next != nil && !r.next.Cert.Equal(ca.Cert):
		return nil, inputErr("rotate-ca start: the rotation is started with the next CA %q, and the signer's is %q: give the signer of %s", r.next.Cert.Subject.CommonName, ca.Cert.Subject.CommonName, filepath.Join(r.o.CADir, nextDir))
	case r.cur.Cert.Equal(ca.Cert):
		return nil, inputErr("rotate-ca start: the signer's CA %q is the current CA: the next CA needs another signer or --remote-label", ca.Cert.Subject.CommonName)
	}
	return ca, nil
}

// signingCA returns the CA that signs a rotation's leaves: ca itself when
// its key is here, or else the remote signer whose CA it is.
func (o *RotateOptions) signingCA(ca *pki.CA) (*pki.CA, error) {
	switch {
	case ca.Key != nil && o.Remote != nil:
		return nil, inputErr("rotate-ca: the new CA %q is libvirt-pki's own, with its key in %s: --remote-signer names another; leave it out", ca.Cert.Subject.CommonName, o.CADir)
	case ca.Key != nil:
		return ca, nil
	case o.Remote == nil:
		return nil, inputErr("rotate-ca: the new CA %q is a remote signer's (no key in %s): give --remote-signer and its auth key to sign with it", ca.Cert.Subject.CommonName, o.CADir)
	}
	signer, err := o.Remote.connect()
	if err != nil {
		return nil, err
	}
	if !signer.Cert.Equal(ca.Cert) {
		return nil, inputErr("rotate-ca: the signer's CA is %q, not the new CA %q: give the new CA's signer", signer.Cert.Subject.CommonName, ca.Cert.Subject.CommonName)
	}
	return signer, nil
}

// dropLocalKey removes the CA directory's cakey.pem once a remote CA is
// current there (a copy is in previous/): it is the previous CA's key.
func dropLocalKey(caDir string) error {
	if err := os.Remove(filepath.Join(caDir, caKeyName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the previous CA's key from %s: %w", caDir, err)
	}
	return fsutil.SyncDir(caDir)
}

// caTree is the tree o names, for checks made before MakePlan sets
// Plan.tree (renew and revoke plan their CA without it).
func (o Options) caTree() layout.Tree {
	return layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
}

// rotateHint is how to change to a CA given with --ca-cert, for
// checkCurrentCA: rotate-ca moves to a CA it makes or a signer's.
const rotateHint = "rotate-ca (start makes a new CA, start --remote-signer takes a signer's; README: Rotating the CA without downtime), or make that CA's own tree (another --config-dir or --out)"
