package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// ParseCertsPEM returns every CERTIFICATE block in data, in order. It fails
// when there is none or one does not parse.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// ParseTreeCerts is ParseCertsPEM on data, the bytes files read at path,
// parsed once per files: the commands a report runs over one tree share
// both the read and the parse (a nil files parses every time). The
// certificates returned are shared and must not be modified.
func ParseTreeCerts(files *fsutil.Files, path string, data []byte) ([]*x509.Certificate, error) {
	type parsed struct {
		certs []*x509.Certificate
		err   error
	}
	p := fsutil.Derive(files, path, "x509", func() parsed {
		certs, err := ParseCertsPEM(data)
		return parsed{certs, err}
	})
	return p.certs, p.err
}

// ReadCertsFile is ParseCertsPEM on a file, with the path in errors. The
// read is bounded (fsutil.LimitCert) and takes only a regular file, so a
// FIFO or a device is refused at once; a symlink is followed, as callers
// read files the user pointed at.
func ReadCertsFile(path string) ([]*x509.Certificate, error) {
	data, err := fsutil.ReadFileFollow(path, fsutil.LimitCert)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return certs, nil
}

// EncodeCertsPEM encodes certificates as concatenated PEM blocks.
func EncodeCertsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// SerialHex is a certificate's serial in lowercase hex without colons or
// leading zeros: the key revocation lists and reports use.
func SerialHex(c *x509.Certificate) string { return HexSerial(c.SerialNumber) }

// HexSerial renders any serial (a CRL entry's, say) the way SerialHex does.
func HexSerial(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }

// ParseSerial reads a hex serial as people paste it (colons, any case,
// leading zeros) and returns it in SerialHex form.
func ParseSerial(s string) (string, error) {
	n, ok := new(big.Int).SetString(strings.ReplaceAll(s, ":", ""), 16)
	if !ok || n.Sign() <= 0 {
		return "", fmt.Errorf("serial %q is not a positive hexadecimal number", s)
	}
	return HexSerial(n), nil
}
