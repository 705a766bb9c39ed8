// Package audit lists every certificate a layout holds, CAs included, with
// its dates and status, for auditors, CI and monitoring: a table, JSON,
// YAML, or Prometheus text exposition for node_exporter's textfile
// collector with the metric names x509-certificate-exporter made common.
package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Status of a certificate at the time of the audit.
type Status string

// Statuses.
const (
	OK          Status = "ok"
	Expiring    Status = "expiring"
	Expired     Status = "expired"
	NotYetValid Status = "not-yet-valid"
	Revoked     Status = "revoked"
)

// Row is one certificate (or one CRL).
type Row struct {
	Host      string    `json:"host" yaml:"host"`
	File      string    `json:"file" yaml:"file"`
	Path      string    `json:"path" yaml:"path"`
	Kind      string    `json:"kind" yaml:"kind"` // "ca", "server", "client", "crl", "live"
	Subject   string    `json:"subject_cn" yaml:"subject_cn"`
	SANs      []string  `json:"sans,omitempty" yaml:"sans,omitempty"`
	Issuer    string    `json:"issuer_cn" yaml:"issuer_cn"`
	Serial    string    `json:"serial,omitempty" yaml:"serial,omitempty"`
	NotBefore time.Time `json:"not_before" yaml:"not_before"`
	NotAfter  time.Time `json:"not_after" yaml:"not_after"`
	// Left is NotAfter minus the audit time, in whole seconds.
	LeftSeconds int64  `json:"left_seconds" yaml:"left_seconds"`
	Status      Status `json:"status" yaml:"status"`
}

// Options says what to audit.
type Options struct {
	Layout layout.Layout
	Root   string // nova-libvirt, or the --out directory
	CADir  string // where the CA is kept ("" to skip)
	// Live lists HOST[:PORT] endpoints whose served certificate is read
	// over TLS (port 16514 by default).
	Live     []string
	Timeout  time.Duration
	WarnDays int
	Now      time.Time
	// Revoked holds revoked serials (hex); their rows get status revoked.
	Revoked map[string]bool
	// Unreadable, when set, is given each file that cannot be read or
	// parsed, which is then skipped (an HTML report lists it and goes
	// on); unset, such a file is an error.
	Unreadable func(path string, err error)
	// Files reads the tree's files (nil: from disk each time); report
	// shares one with verify and lint so each file is read once.
	Files *fsutil.Files
}

// skip hands a file's error to Unreadable and says whether to go on.
func (o Options) skip(path string, err error) bool {
	if o.Unreadable == nil {
		return false
	}
	o.Unreadable(path, err)
	return true
}

// Collect reads every certificate file under the layout (and the CA
// directory, and the live endpoints) and returns rows, soonest expiry first.
func Collect(ctx context.Context, o Options) ([]Row, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var rows []Row
	add := func(host, path, kind string, c *x509.Certificate) {
		rows = append(rows, o.row(host, path, kind, c))
	}
	if o.CADir != "" {
		p := filepath.Join(o.CADir, "cacert.pem")
		if certs, err := readCerts(o.Files, p); err == nil {
			for _, c := range certs {
				add("(ca)", p, "ca", c)
			}
		} else if !errors.Is(err, fs.ErrNotExist) && !o.skip(p, err) {
			return nil, err
		}
	}
	if o.Root != "" {
		if err := o.walk(add, &rows); err != nil {
			return nil, err
		}
	}
	for _, ep := range o.Live {
		certs, err := FetchServed(ctx, ep, o.Timeout)
		if err != nil {
			return nil, fmt.Errorf("live %s: %w", ep, err)
		}
		for i, c := range certs {
			kind := "live"
			if i > 0 {
				kind = "ca"
			}
			add(ep, "(served)", kind, c)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].NotAfter.Equal(rows[j].NotAfter) {
			return rows[i].NotAfter.Before(rows[j].NotAfter)
		}
		if rows[i].Host != rows[j].Host {
			return rows[i].Host < rows[j].Host
		}
		return rows[i].File < rows[j].File
	})
	return rows, nil
}

// readCerts reads a certificate file of the tree as every command reads
// one: a regular file within fsutil.LimitCert, never through a symlink,
// never blocking on a FIFO. Errors name the file; a missing one matches
// fs.ErrNotExist.
func readCerts(files *fsutil.Files, path string) ([]*x509.Certificate, error) {
	data, err := files.ReadFile(path, fsutil.LimitCert)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseTreeCerts(files, path, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return certs, nil
}

// walk visits the certificate files of the layout: the shared directory
// and every host directory, with the CRL beside each unit's CA file.
func (o Options) walk(add func(host, path, kind string, c *x509.Certificate), rows *[]Row) error {
	fi, err := os.Stat(o.Root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", o.Root)
	}
	tree := layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir, Files: o.Files}
	units, err := tree.Units()
	if err != nil {
		return err
	}
	for _, u := range units {
		for _, spec := range o.Layout.Files {
			kind, ok := credential.ByCert(spec.Role)
			if !ok {
				continue
			}
			p := tree.In(u, spec.Role)
			certs, err := readCerts(o.Files, p)
			if errors.Is(err, fs.ErrNotExist) || (err != nil && o.skip(p, err)) {
				continue
			}
			if err != nil {
				return err
			}
			for i, c := range certs {
				k := kind.Name
				if i > 0 || (c.BasicConstraintsValid && c.IsCA) {
					k = credential.CA.Name
				}
				add(u.Name, p, k, c)
			}
		}
		for _, spec := range o.Layout.Files {
			if spec.CRL == "" {
				continue
			}
			crl := filepath.Join(filepath.Dir(tree.In(u, spec.Role)), spec.CRL)
			if err := o.addCRL(u.Name, crl, rows); err != nil {
				return err
			}
		}
	}
	return nil
}

// addCRL adds a row for a CRL file: its "expiry" is its next update, after
// which libvirtd rejects every client.
func (o Options) addCRL(host, path string, rows *[]Row) error {
	data, err := o.Files.ReadFile(path, fsutil.LimitCRL)
	if errors.Is(err, fs.ErrNotExist) || (err != nil && o.skip(path, err)) {
		return nil
	}
	if err != nil {
		return err
	}
	crl, err := pki.ParseCRLPEM(data)
	if err != nil {
		if err = fmt.Errorf("%s: %v", path, err); o.skip(path, err) {
			return nil
		}
		return err
	}
	r := Row{Host: host, File: filepath.Base(path), Path: path, Kind: "crl", Issuer: crl.Issuer.CommonName,
		NotBefore: crl.ThisUpdate, NotAfter: crl.NextUpdate}
	r.LeftSeconds = int64(r.NotAfter.Sub(o.Now) / time.Second)
	r.Status = o.status(r.NotBefore, r.NotAfter)
	*rows = append(*rows, r)
	return nil
}

func (o Options) row(host, path, kind string, c *x509.Certificate) Row {
	r := Row{
		Host: host, File: filepath.Base(path), Path: path, Kind: kind,
		Subject: c.Subject.CommonName, SANs: pki.SANsOf(c).Strings(), Issuer: c.Issuer.CommonName,
		Serial: pki.SerialHex(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}
	r.LeftSeconds = int64(r.NotAfter.Sub(o.Now) / time.Second)
	r.Status = o.status(c.NotBefore, c.NotAfter)
	if o.Revoked[r.Serial] {
		r.Status = Revoked
	}
	return r
}

func (o Options) status(nb, na time.Time) Status {
	switch {
	case o.Now.Before(nb):
		return NotYetValid
	case !o.Now.Before(na):
		return Expired
	case na.Sub(o.Now) < time.Duration(o.WarnDays)*24*time.Hour:
		return Expiring
	}
	return OK
}

// NeedsAttention reports whether any row is expiring, expired, not yet
// valid or revoked.
func NeedsAttention(rows []Row) bool {
	for _, r := range rows {
		if r.Status != OK {
			return true
		}
	}
	return false
}

// FetchServed reads the certificate chain a TLS server presents, without
// trusting it and without a client certificate: the server sends its
// certificate before it asks for ours, so this works against libvirtd.
func FetchServed(ctx context.Context, endpoint string, timeout time.Duration) ([]*x509.Certificate, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if _, _, err := net.SplitHostPort(endpoint); err != nil {
		endpoint = net.JoinHostPort(strings.Trim(endpoint, "[]"), "16514")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var served []*x509.Certificate
	d := tls.Dialer{Config: &tls.Config{
		InsecureSkipVerify: true, // we read the chain; we do not trust it
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return err
				}
				served = append(served, c)
			}
			return nil
		},
	}}
	conn, err := d.DialContext(ctx, "tcp", endpoint)
	if conn != nil {
		conn.Close()
	}
	if len(served) > 0 {
		return served, nil
	}
	if err == nil {
		err = fmt.Errorf("no certificate served")
	}
	return nil, err
}
