package certs

import (
	"encoding/json"
	"errors"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// RevokedCert records one revocation. The list lives in the CA directory
// (revoked.json) so every CRL is re-signed from the whole history.
type RevokedCert struct {
	Serial    string    `json:"serial"` // lowercase hex
	Host      string    `json:"host,omitempty"`
	Profile   string    `json:"profile,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	NotAfter  time.Time `json:"not_after,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
}

const (
	revokedFile = "revoked.json"
	// crlNumberFile holds the cRLNumber of the last CRL the CA
	// directory's CA signed ({"crl_number": N}); each re-sign takes the
	// next.
	crlNumberFile = "crlnumber.json"
	// CRLFile is where libvirt looks for a CRL beside cacert.pem.
	CRLFile = layout.CRLFile
)

// LoadRevocations reads the revocation list of a CA directory (none when
// the file does not exist).
// A file that does not parse, or is not a regular file, is bad input.
func LoadRevocations(caDir string) ([]RevokedCert, error) {
	path := filepath.Join(caDir, revokedFile)
	data, err := readIfExists(path, fsutil.LimitConfig)
	if err != nil || data == nil {
		return nil, err
	}
	var list []RevokedCert
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, inputErr("%s: %v", path, err)
	}
	return list, nil
}

// RevokeOptions says what to revoke.
type RevokeOptions struct {
	Layout                layout.Layout
	Root                  string
	CADir                 string
	Top                   string // as Options.Top
	CACertFile, CAKeyFile string // an external CA, as in Options
	Hosts                 []string
	Serials               []string // hex, colons allowed
	CRLDays               int
	Now                   time.Time
	DryRun                bool
	Keys                  Keys // reads the CA key (clear or vaulted)
	// Remote is set when the CA key is on a remote signer: refused.
	Remote *Remote
}

// RevokeResult says what was revoked and where the CRL went.
type RevokeResult struct {
	Revoked  []RevokedCert `json:"revoked"`
	Already  []string      `json:"already_revoked"`
	CRLFiles []string      `json:"crl_files"`
	// CRLNumber is the new CRL's cRLNumber, in decimal.
	CRLNumber  string    `json:"crl_number"`
	NextUpdate time.Time `json:"next_update"`
	// Tarballs are the <host>.tar files made again with the CRL.
	Tarballs []string `json:"tarballs,omitempty"`
}

// Revoke adds the named hosts' certificates (or serials) to the CA's
// revocation list and writes a fresh CRL, signed by the CA, to the CA
// directory and beside every cacert.pem of the layout. With no hosts and
// no serials it only re-signs the CRL (to push its next update out).
func Revoke(o RevokeOptions) (*RevokeResult, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.CRLDays <= 0 {
		return nil, inputErr("--crl-days must be positive")
	}
	if err := refuseRemoteRevoke(o); err != nil {
		return nil, err
	}
	p := &Plan{Opts: Options{Layout: o.Layout, Root: o.Root, CADir: o.CADir, CACertFile: o.CACertFile, CAKeyFile: o.CAKeyFile, Keys: o.Keys}}
	if err := p.planCA(); err != nil {
		return nil, err
	}
	if p.CA.created {
		return nil, inputErr("no CA in %s: nothing was ever issued there", o.CADir)
	}
	if err := checkTrees(o.Top, o.Root, o.CADir); err != nil {
		return nil, err
	}
	ca := p.CA.ca
	list, err := LoadRevocations(o.CADir)
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{}
	if list, err = res.add(o, ca, list); err != nil {
		return nil, err
	}
	revs := make([]pki.Revocation, 0, len(list))
	for _, r := range list {
		n, _ := new(big.Int).SetString(r.Serial, 16)
		revs = append(revs, pki.Revocation{Serial: n, RevokedAt: r.RevokedAt})
	}
	number, err := nextCRLNumber(o.CADir)
	if err != nil {
		return nil, err
	}
	validity := time.Duration(o.CRLDays) * 24 * time.Hour
	crlPEM, err := ca.CRL(revs, number, validity)
	if err != nil {
		return nil, err
	}
	res.CRLNumber = number.String()
	res.NextUpdate = o.Now.Add(validity)
	if res.CRLFiles, err = crlPaths(o); err != nil {
		return nil, err
	}
	if o.DryRun {
		return res, nil
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	numberJSON, err := json.Marshal(crlNumberRecord{number})
	if err != nil {
		return nil, err
	}
	res.Tarballs, err = writeRevocation(o, append(data, '\n'), append(numberJSON, '\n'), crlPEM, res.CRLFiles)
	return res, err
}

// writeRevocation stages the revocation list, the CRL number, every CRL
// and the host tarballs holding one, and puts them in place together
// (the CA directory's first, see Roots); it returns the tarballs made
// again.
func writeRevocation(o RevokeOptions, list, number, crlPEM []byte, crlFiles []string) (tarballs []string, err error) {
	batch := newStage(o.Layout, o.Top, o.Root, o.CADir, false)
	defer func() { err = batch.finish(err) }()
	return withTarballs(batch, o.Layout, o.Root, func() error {
		return stageRevocation(batch, o, list, number, crlPEM, crlFiles)
	})
}

// stageRevocation stages the files of writeRevocation but the tarballs.
func stageRevocation(batch *stage, o RevokeOptions, list, number, crlPEM []byte, crlFiles []string) error {
	// With an external CA (--ca-cert) nothing made the CA directory yet.
	if err := fsutil.MkdirAll(o.CADir, 0o700); err != nil {
		return err
	}
	if err := batch.WriteFile(filepath.Join(o.CADir, revokedFile), list, 0o600); err != nil {
		return err
	}
	if err := batch.WriteFile(filepath.Join(o.CADir, crlNumberFile), number, 0o600); err != nil {
		return err
	}
	for _, path := range crlFiles {
		if err := fsutil.MkdirAll(filepath.Dir(path), o.Layout.DirMode); err != nil {
			return err
		}
		if err := batch.WriteFile(path, crlPEM, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// add puts the hosts' certificates and the serials of o on list, noting
// each in res as revoked or already revoked.
func (res *RevokeResult) add(o RevokeOptions, ca *pki.CA, list []RevokedCert) ([]RevokedCert, error) {
	put := func(rc RevokedCert) {
		if slices.ContainsFunc(list, func(r RevokedCert) bool { return r.Serial == rc.Serial }) {
			res.Already = append(res.Already, rc.Serial)
			return
		}
		list = append(list, rc)
		res.Revoked = append(res.Revoked, rc)
	}
	tree := layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
	for _, host := range o.Hosts {
		found, err := hostCerts(tree, host, ca)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, inputErr("host %q has no certificates of its own under %s (a host using the shared pair cannot be revoked alone: revoking it would cut off every host)", host, o.Root)
		}
		for _, rc := range found {
			rc.RevokedAt = o.Now.UTC()
			put(rc)
		}
	}
	for _, s := range o.Serials {
		hexSerial, err := pki.ParseSerial(s)
		if err != nil {
			return nil, errs.WrapInput(err)
		}
		put(RevokedCert{Serial: hexSerial, RevokedAt: o.Now.UTC()})
	}
	return list, nil
}

// hostCerts reads the leaves in host's own directory; each must come from
// ca, since only its issuer can revoke a certificate.
func hostCerts(tree layout.Tree, host string, ca *pki.CA) ([]RevokedCert, error) {
	var out []RevokedCert
	for _, kind := range credential.Leaves(tree.Layout) {
		path := tree.In(tree.HostUnit(host), kind.Cert)
		certs, err := readCerts(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c := certs[0]
		if ca.Signed(c) != nil {
			return nil, inputErr("%s was not issued by this CA; it cannot be revoked here", path)
		}
		out = append(out, RevokedCert{Serial: pki.SerialHex(c), Host: host, Profile: kind.Name, Subject: c.Subject.CommonName, NotAfter: c.NotAfter})
	}
	return out, nil
}

// crlPaths: the CA directory, and beside each cacert.pem of the layout
// (libvirtd's default crl_file is /etc/pki/CA/cacrl.pem; pkipath clients
// read cacrl.pem from the pkipath directory).
func crlPaths(o RevokeOptions) ([]string, error) {
	tree := layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
	if _, err := os.Stat(o.Root); isNotExist(err) {
		return []string{filepath.Join(o.CADir, CRLFile)}, nil
	}
	if _, err := caFilesOf(tree); err != nil {
		return nil, err
	}
	crls, err := tree.CRLFiles()
	if err != nil {
		return nil, treeErr(err)
	}
	return append([]string{filepath.Join(o.CADir, CRLFile)}, crls...), nil
}

// crlNumberRecord is crlnumber.json.
type crlNumberRecord struct {
	Number *big.Int `json:"crl_number"`
}

// nextCRLNumber is one more than the last CRL number the CA directory
// issued: the larger of crlnumber.json's and that of the CRL in the directory
// (a CRL signed before crlnumber.json existed has none: then 1). RFC 5280
// §5.2.3 wants the numbers to grow with every CRL.
func nextCRLNumber(caDir string) (*big.Int, error) {
	last := new(big.Int)
	path := filepath.Join(caDir, crlNumberFile)
	data, err := readIfExists(path, fsutil.LimitConfig)
	if err != nil {
		return nil, err
	}
	if data != nil {
		var rec crlNumberRecord
		if err := json.Unmarshal(data, &rec); err != nil || rec.Number == nil || rec.Number.Sign() < 0 {
			return nil, inputErr(`%s: want {"crl_number": N} with N a non-negative integer`, path)
		}
		last = rec.Number
	}
	crlPath := filepath.Join(caDir, CRLFile)
	if data, err = readIfExists(crlPath, fsutil.LimitCRL); err != nil {
		return nil, err
	}
	if data != nil {
		if crl, err := pki.ParseCRLPEM(data); err == nil && crl.Number != nil && crl.Number.Cmp(last) > 0 {
			last.Set(crl.Number)
		}
	}
	return last.Add(last, big.NewInt(1)), nil
}
