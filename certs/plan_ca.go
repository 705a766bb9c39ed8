package certs

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

func (p *Plan) planCA() error {
	if offHost, err := p.planOffHostCA(); offHost || err != nil {
		return err
	}
	o := p.Opts
	if (o.CACertFile == "") != (o.CAKeyFile == "") {
		return inputErr("--ca-cert and --ca-key go together")
	}
	if o.CACertFile != "" {
		ca, err := o.Keys.loadCAFiles(o.CACertFile, o.CAKeyFile, true)
		if err != nil {
			return err
		}
		if err := checkCurrentCA(p.Opts.caTree(), ca, "--ca-cert's", rotateHint); err != nil {
			return err
		}
		p.CA = CAPlan{Source: "external", CertPath: o.CACertFile, ca: ca}
	} else {
		certPath := filepath.Join(o.CADir, "cacert.pem")
		keyPath := filepath.Join(o.CADir, "cakey.pem")
		_, certErr := os.Lstat(certPath)
		_, keyErr := os.Lstat(keyPath)
		switch {
		case certErr == nil && keyErr == nil:
			ca, err := o.Keys.loadCAFiles(certPath, keyPath, false)
			if err != nil {
				return err
			}
			p.CA = CAPlan{Source: "existing", CertPath: certPath, KeyPath: keyPath, ca: ca}
		case certErr == nil:
			return inputErr("%s is missing but %s exists: a remote signer's CA (give --remote-signer, docs/remote-signing.md), or a lost key: restore it, or move the directory away to start a new CA", keyPath, certPath)
		case keyErr == nil:
			return inputErr("%s is missing but its partner exists in %s: restore it, or move the directory away to start a new CA", certPath, o.CADir)
		default:
			if err := checkOutputDir(o.CADir); err != nil {
				return err
			}
			ca, err := pki.NewCA(pki.CAOptions{CommonName: caCommonName(o.Org), Org: o.Org, Algo: o.Algo, Days: o.CADays})
			if err != nil {
				return err
			}
			p.CA = CAPlan{Source: "new", CertPath: certPath, KeyPath: keyPath, ca: ca, created: true}
		}
	}
	p.CA.Subject = p.CA.ca.Cert.Subject.String()
	p.CA.NotAfter = p.CA.ca.Cert.NotAfter
	return nil
}

// checkDates refuses to sign with an existing or external CA outside its
// validity (a CA made by this run is valid).
func (c *CAPlan) checkDates(now time.Time) error {
	if c.created {
		return nil
	}
	return checkCADates(c.ca, c.CertPath, now)
}

// caCommonName names a new CA: --org's value itself, since Debian 12's
// virt-pki-validate reads the CA's CN as the organization and compares it
// with the leaves' O (--org's value too); without --org, a name of its
// own, which the leaves then take as their O (leafOrg).
func caCommonName(org string) string {
	if org != "" {
		return org
	}
	return "libvirt-pki CA"
}

// planCAFiles decides about every cacert.pem the layout holds. A cacert.pem
// that already contains our CA certificate is kept as is (it may be a
// rotation bundle). One that does not, while the CA is brand new, means
// an earlier CA's key went missing: refuse rather than orphan every host.
func (p *Plan) planCAFiles() error {
	o := p.Opts
	var paths []string
	add := func(u layout.Unit, class credential.HostClass) {
		for _, k := range credential.Selected(o.Layout, o.Sets, class) {
			if path := p.tree.Target(u, k.Cert); k.IsCA() && !slices.Contains(paths, path) {
				paths = append(paths, path)
			}
		}
	}
	for _, h := range o.Hosts {
		add(p.tree.WriteUnit(h.Name, o.Shared), credential.Compute)
	}
	for _, h := range o.ProxyHosts {
		add(p.tree.HostUnit(h.Name), credential.Proxy)
	}
	for _, path := range paths {
		data, err := readIfExists(path, fsutil.LimitCert)
		if err != nil {
			return err
		}
		fp := FilePlan{Path: path}
		switch {
		case data == nil:
			fp.Action, fp.Reason = Create, "new"
		case containsCert(data, p.CA.ca.Cert):
			fp.Action = Unchanged
		case p.CA.created:
			return inputErr("%s holds a CA that is not in %s (was the CA directory lost?): restore it, pass --ca-cert/--ca-key, or remove %s to start a new PKI", path, o.CADir, path)
		default:
			fp.Action, fp.Reason = Update, "does not hold the current CA"
		}
		p.CAFiles = append(p.CAFiles, fp)
	}
	return nil
}

func containsCert(bundle []byte, c *x509.Certificate) bool {
	certs, err := pki.ParseCertsPEM(bundle)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(certs, func(x *x509.Certificate) bool { return x.Equal(c) })
}

// warnCAExpiry says, once, that leaves end with the CA.
func (p *Plan) warnCAExpiry() {
	w := fmt.Sprintf("the CA %q expires on %s, within --renew-before, and leaves end with it: re-issuing them cannot help; rotate the CA (libvirt-pki rotate-ca start) or sign with a longer-lived one",
		p.CA.ca.Cert.Subject.CommonName, p.CA.ca.Cert.NotAfter.UTC().Format("2006-01-02"))
	if !slices.Contains(p.Warnings, w) {
		p.Warnings = append(p.Warnings, w)
	}
}
