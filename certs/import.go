package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// An external CA without an API (FreeIPA, AD CS, an offline root) signs
// the CSRs --csr-only wrote (csr.go) out of band. --import DIR installs
// what it signed: the run plans as certificates does, with the external
// CA (--ca-cert alone) as the CA, and "signs" each leaf by taking the
// certificate in DIR whose public key is the leaf's key
// (pki.ExternalCA), checked as a remote signer's answer is: our key, CN
// and O, exactly our SANs, our usages, and a chain to the CA. The CA's
// certificate goes into every cacert.pem. One journalled batch: any
// missing or bad certificate writes nothing.

// planExternalCA takes --ca-cert alone as the CA of --csr-only and
// --import.
func (p *Plan) planExternalCA() error {
	o := p.Opts
	switch {
	case o.CSROnly && o.ImportDir != "":
		return inputErr("--csr-only writes the requests and --import installs what the CA signed: one at a time")
	case o.CACertFile == "":
		return inputErr("--csr-only and --import need --ca-cert FILE: the external CA's certificate (its issuers up to the root appended)")
	case o.CAKeyFile != "":
		return inputErr("--csr-only and --import are for a CA whose key is elsewhere: leave out --ca-key")
	}
	data, err := fsutil.ReadFileFollow(o.CACertFile, fsutil.LimitCert)
	if err != nil {
		return readErr(err)
	}
	var ca *pki.CA
	if o.ImportDir != "" {
		signed, serr := readSigned(o.ImportDir)
		if serr != nil {
			return serr
		}
		ca, err = pki.ExternalCA(data, signed.find)
	} else {
		ca, err = pki.LoadCACert(data)
	}
	if err != nil {
		return inputErr("%s: %v", o.CACertFile, err)
	}
	if err := checkCurrentCA(p.Opts.caTree(), ca, "--ca-cert's", rotateHint); err != nil {
		return err
	}
	p.CA = CAPlan{Source: "external", CertPath: o.CACertFile, Subject: ca.Cert.Subject.String(), NotAfter: ca.Cert.NotAfter, ca: ca}
	return nil
}

// signedCerts are the leaf certificates of an import directory, by the
// DER of their public key.
type signedCerts struct {
	dir   string
	byKey map[string][]signedCert
}

type signedCert struct {
	path string
	cert *x509.Certificate
}

// readSigned reads every regular file of dir (not below it) that holds
// certificates, PEM or DER; files without any (CSRs, notes) are left
// alone, CA certificates are skipped.
func readSigned(dir string) (*signedCerts, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, readErr(fmt.Errorf("--import: %w", err))
	}
	s := &signedCerts{dir: dir, byKey: map[string][]signedCert{}}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := fsutil.ReadFileFollow(path, fsutil.LimitCert)
		if err != nil {
			return nil, readErr(err)
		}
		certs, err := certsOfFile(data)
		if err != nil {
			return nil, inputErr("%s: %v", path, err)
		}
		for _, c := range certs {
			if !c.IsCA {
				k := string(c.RawSubjectPublicKeyInfo)
				s.byKey[k] = append(s.byKey[k], signedCert{path, c})
			}
		}
	}
	return s, nil
}

// certsOfFile parses the certificates of a PEM file, or a DER one (AD CS's
// .cer); none for a file that is neither.
func certsOfFile(data []byte) ([]*x509.Certificate, error) {
	if bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
		return pki.ParseCertsPEM(data)
	}
	if len(data) > 0 && data[0] == 0x30 { // a DER SEQUENCE
		if c, err := x509.ParseCertificate(data); err == nil {
			return []*x509.Certificate{c}, nil
		}
	}
	return nil, nil
}

// find returns the one certificate of the directory for pub, as PEM.
func (s *signedCerts) find(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	found := s.byKey[string(der)]
	if len(found) == 0 {
		return nil, fmt.Errorf("no certificate in %s is for its key: have the CA sign the CSR that --csr-only wrote, and put the certificate there", s.dir)
	}
	for _, f := range found[1:] {
		if !f.cert.Equal(found[0].cert) {
			return nil, fmt.Errorf("%s and %s are both for its key: leave one in %s", found[0].path, f.path, s.dir)
		}
	}
	return pki.EncodeCertsPEM(found[0].cert), nil
}
