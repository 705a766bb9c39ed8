package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Every file the engine reads goes through fsutil's bounded readers: only
// regular files, never more than the limit of their kind, never blocking
// on a FIFO. A file the user named on the command line (--ca-cert,
// --ca-key) may be a symlink; files in the trees may not.

// readErr sorts a read failure: a file that is missing or is not what it
// should be (a symlink, a FIFO, a device, too large, a path through a
// file) is bad input the user fixes; anything else (EACCES, EIO, ...) is
// a failure of the system, exit 1.
func readErr(err error) error {
	var bad *fsutil.BadFileError
	if errors.As(err, &bad) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return errs.WrapInput(err)
	}
	return err
}

// readIfExists reads a tree's file of at most limit bytes; nil when it is
// missing.
func readIfExists(path string, limit int64) ([]byte, error) {
	data, err := fsutil.ReadFileIfExists(path, limit)
	if err != nil {
		return nil, readErr(err)
	}
	return data, nil
}

// readCerts reads and parses a tree's certificate file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := fsutil.ReadFile(path, fsutil.LimitCert)
	if err != nil {
		return nil, readErr(err)
	}
	c, err := pki.ParseCertsPEM(data)
	if err != nil {
		return nil, inputErr("%s: %v", path, err)
	}
	return c, nil
}

// sameFile reports whether path is a regular file holding exactly want.
func sameFile(path string, want []byte) bool {
	b, err := fsutil.ReadFile(path, int64(len(want)))
	return err == nil && bytes.Equal(b, want)
}

// loadCAFiles loads a CA from its certificate and key files, the key
// through keys (clear, or an ansible-vault file). named says the user
// gave the paths (--ca-cert, --ca-key): symlinks are then followed. Each
// error names the file that is wrong: the key file for a key that is
// missing, encrypted without a way to open it, unreadable or not the
// certificate's.
func (keys Keys) loadCAFiles(certPath, keyPath string, named bool) (*pki.CA, error) {
	read := fsutil.ReadFile
	if named {
		read = fsutil.ReadFileFollow
	}
	certPEM, err := read(certPath, fsutil.LimitCert)
	if err != nil {
		return nil, readErr(err)
	}
	keyData, err := read(keyPath, keyLimit)
	if err != nil {
		return nil, readErr(err)
	}
	chain, err := pki.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, inputErr("%s: CA certificate: %v", certPath, err)
	}
	if encryptedKey(keyData) {
		return nil, inputErr("%s: the key is encrypted; libvirt-pki needs it unencrypted or ansible-vault encrypted", keyPath)
	}
	key, err := keys.parse(keyPath, keyData)
	if err != nil {
		if errs.IsInput(err) || vault.IsEncrypted(keyData) {
			return nil, errs.WrapInput(err)
		}
		return nil, inputErr("%s: CA key: %v", keyPath, errors.Unwrap(err))
	}
	ca, err := pki.LoadCA(certPEM, key.PEM)
	if err == nil {
		ca.Key = key
		return ca, nil
	}
	if chain[0].IsCA && !pki.KeyMatches(key.Signer, chain[0]) {
		return nil, inputErr("%s: the CA key does not match the CA certificate %s", keyPath, certPath)
	}
	return nil, inputErr("%s: %v", certPath, err)
}

// encryptedKey reports whether data is a PEM private key under a
// passphrase (PKCS#8 "ENCRYPTED PRIVATE KEY" or OpenSSL's legacy
// Proc-Type header).
func encryptedKey(data []byte) bool {
	block, _ := pem.Decode(data)
	return block != nil && (block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"))
}

// checkCADates refuses to sign with a CA (or a certificate of its chain)
// that has expired or is not valid yet: its leaves would be rejected by
// every peer.
func checkCADates(ca *pki.CA, path string, now time.Time) error {
	for _, c := range ca.Bundle() {
		var what string
		switch {
		case now.After(c.NotAfter):
			what = "expired on " + c.NotAfter.UTC().Format(time.RFC3339)
		case now.Before(c.NotBefore):
			what = "is not valid until " + c.NotBefore.UTC().Format(time.RFC3339)
		default:
			continue
		}
		return inputErr("%s: the CA %q %s (valid from %s to %s) and cannot sign; make a new CA with libvirt-pki rotate-ca start (or give a valid --ca-cert)",
			path, c.Subject.CommonName, what, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
