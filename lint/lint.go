// Package lint runs zlint's RFC lints (RFC 5280, RFC 8813 and zlint's
// other RFC sources) over every certificate and every CRL of a layout
// tree, ours or one made by openssl or `kolla-ansible certificates`, as
// an auditor would. The web-PKI lints (CA/Browser Forum, Mozilla, Apple,
// Chrome, ETSI, community) do not apply to a private PKI and run only on
// request (Options.IncludeCABF).
//
// The tree is walked as every command walks it: the CA directory, then
// layout.Tree.Units with each certificate role of the layout table and
// the CRL beside each CA file (layout.CRLBeside).
package lint

import (
	stdx509 "crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zmap/zcrypto/x509"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/parallel"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// Options says what to lint.
type Options struct {
	Tree layout.Tree
	// IncludeCABF adds every other source zlint has: CA/Browser Forum,
	// Mozilla, Apple, Chrome, ETSI and community lints.
	IncludeCABF bool
	// Unreadable, when set, is given each file that cannot be read or
	// parsed, which is then skipped (an HTML report lists it and goes
	// on); unset, such a file is bad input.
	Unreadable func(path string, err error)
}

// Kind is what an Object is.
type Kind string

// Kinds of object.
const (
	KindCertificate Kind = "certificate"
	KindCRL         Kind = "crl"
)

// RoleCRL is the Role of a CRL file (the layout's roles name only
// certificates and keys).
const RoleCRL = "crl"

// CAUnit names the CA directory in reports, as audit does. Host names
// cannot hold parentheses, so it never collides with one.
const CAUnit = "(ca)"

// caDirCert is the CA certificate's name in the CA directory.
const caDirCert = "cacert.pem"

// Object is one certificate (of a file that may hold a bundle) or one CRL.
type Object struct {
	Unit string `json:"unit"` // host, layout.SharedUnit or CAUnit
	Path string `json:"path"`
	// File is Path relative to the unit's directory.
	File string `json:"file"`
	Role string `json:"role"` // the layout role (cacert, servercert, clientcert) or "crl"
	Kind Kind   `json:"kind"`
	// Index is the certificate's position in its file, 0 first (0 for a
	// CRL).
	Index int `json:"index"`
	// Subject is a certificate's subject or a CRL's issuer, as a DN.
	Subject string `json:"subject"`
}

// Finding is one lint that did not pass on one object.
type Finding struct {
	Object
	Severity verify.Severity `json:"severity"`
	// Status is zlint's own result: fatal, error, warn or info.
	Status      string `json:"status"`
	Lint        string `json:"lint"`
	Source      string `json:"source"`
	Description string `json:"description"`
	Citation    string `json:"citation,omitempty"`
	Details     string `json:"details,omitempty"`
}

// Report is what a run linted and found.
type Report struct {
	// Sources are the zlint sources whose lints ran, sorted.
	Sources []string
	// Lints counts the lints that ran on each certificate and each CRL.
	CertLints, CRLLints int
	Objects             []Object
	Findings            []Finding
}

// target is one file the walk visits.
type target struct {
	unit, dir, path, role string
}

// Run lints every certificate and CRL of the tree. A tree without any, a
// file that does not parse or an unreadable root is bad input (errs.Input).
func Run(o Options) (*Report, error) {
	reg, err := registry(o.IncludeCABF)
	if err != nil {
		return nil, err
	}
	targets, err := walk(o.Tree)
	if err != nil {
		return nil, errs.WrapInput(err)
	}
	rep := &Report{Sources: sourceNames(reg), CertLints: len(reg.CertificateLints().Lints()), CRLLints: len(reg.RevocationListLints().Lints())}
	seen := map[string]bool{}
	var todo []target
	for _, tg := range targets {
		if abs, err := filepath.Abs(tg.path); err == nil {
			if seen[abs] {
				continue
			}
			seen[abs] = true
		}
		todo = append(todo, tg)
	}
	// Files are linted on every core, then joined in walk order, so the
	// report is the same as one file after another.
	for i, part := range lintAll(newLinter(reg), o.Tree.Files, todo) {
		if errors.Is(part.err, fs.ErrNotExist) {
			continue
		}
		// A bundle's certificates before a bad one were linted.
		rep.Objects = append(rep.Objects, part.Objects...)
		rep.Findings = append(rep.Findings, part.Findings...)
		if part.err != nil && o.Unreadable != nil {
			o.Unreadable(todo[i].path, part.err)
		} else if part.err != nil {
			return nil, errs.WrapInput(part.err)
		}
	}
	if len(rep.Objects) == 0 {
		return nil, errs.Inputf("%s: no certificate or CRL found for the %s layout (wrong --config-dir, --out or --layout?)", o.Tree.Root, o.Tree.Layout.Name)
	}
	return rep, nil
}

// lintAll reads and lints each target on up to GOMAXPROCS goroutines;
// the parts come back in the targets' order, each with its read or parse
// error.
func lintAll(l *linter, files *fsutil.Files, targets []target) []filePart {
	out := make([]filePart, len(targets))
	parallel.Each(len(targets), 0, func(i int) { out[i] = lintTarget(l, files, targets[i]) })
	return out
}

// filePart is what one file adds to a Report, or why it could not.
type filePart struct {
	Report
	err error
}

func lintTarget(l *linter, files *fsutil.Files, tg target) filePart {
	limit := int64(fsutil.LimitCert)
	if tg.role == RoleCRL {
		limit = fsutil.LimitCRL
	}
	var part filePart
	data, err := files.ReadFileFollow(tg.path, limit)
	if err == nil {
		err = part.lintFile(l, tg, data)
	}
	part.err = err
	return part
}

// walk lists the files that may hold certificates or CRLs: the CA
// directory's, then each unit's certificate roles and the CRL its
// layout table puts beside each CA file (cacrl.pem, QEMU's ca-crl.pem).
func walk(t layout.Tree) ([]target, error) {
	var out []target
	if t.CADir != "" {
		ca := filepath.Join(t.CADir, caDirCert)
		out = append(out, target{CAUnit, t.CADir, ca, string(layout.CACert)},
			target{CAUnit, t.CADir, layout.CRLBeside(ca), RoleCRL})
	}
	units, err := t.Units()
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		for _, spec := range t.Layout.Files {
			if spec.Role.IsKey() {
				continue
			}
			p := t.In(u, spec.Role)
			out = append(out, target{u.Name, u.Dir, p, string(spec.Role)})
			if spec.CRL != "" {
				out = append(out, target{u.Name, u.Dir, filepath.Join(filepath.Dir(p), spec.CRL), RoleCRL})
			}
		}
	}
	return out, nil
}

// lintFile parses a file as its role says (a CRL, or one or more
// certificates) and lints each object in it.
func (r *Report) lintFile(l *linter, tg target, data []byte) error {
	if tg.role == RoleCRL {
		der, err := crlDER(data)
		if err != nil {
			return fmt.Errorf("%s: %v", tg.path, err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("%s: %v", tg.path, err)
		}
		l.crl(r, tg.object(KindCRL, 0, crl.Issuer.String()), crl)
		return nil
	}
	ders, err := certDERs(data)
	if err != nil {
		return fmt.Errorf("%s: %v", tg.path, err)
	}
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%s: certificate %d: %v", tg.path, i, err)
		}
		n := len(r.Findings)
		l.cert(r, tg.object(KindCertificate, i, c.Subject.String()), c)
		r.gradePolicy(r.Findings[n:], der)
	}
	return nil
}

// oldPolicyNote ends the details of a finding gradePolicy makes a warning.
const oldPolicyNote = "libvirt accepts this keyUsage, which libvirt-pki's earlier key-usage policy gave every leaf: a warning; the certificate is re-issued under the current policy (docs/key-usage.md) at its next renewal, or now with libvirt-pki certificates --force"

// gradePolicy makes the findings of a leaf whose keyUsage breaks an RFC
// rule libvirt does not care about (pki.CheckPolicy: the mark of the old
// key-usage policy) warnings, whatever zlint's status: the certificate
// works, and is re-issued under the current policy when it is due.
func (r *Report) gradePolicy(findings []Finding, der []byte) {
	if !slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == verify.Error }) {
		return // nothing to grade
	}
	c, err := stdx509.ParseCertificate(der)
	if err != nil {
		return // crypto/x509 is stricter than zcrypto: zlint's findings stand
	}
	for _, p := range pki.CheckPolicy(c) {
		for i := range findings {
			if findings[i].Lint == p.Lint && findings[i].Severity == verify.Error {
				findings[i].Severity = verify.Warning
				findings[i].Details = strings.TrimSpace(findings[i].Details + " " + oldPolicyNote)
			}
		}
	}
}

func (tg target) object(kind Kind, index int, subject string) Object {
	file, err := filepath.Rel(tg.dir, tg.path)
	if err != nil {
		file = filepath.Base(tg.path)
	}
	return Object{Unit: tg.unit, Path: tg.path, File: filepath.ToSlash(file), Role: tg.role, Kind: kind, Index: index, Subject: subject}
}
