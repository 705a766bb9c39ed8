package install

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// Options says where and for whom a bundle is installed.
type Options struct {
	// Root is the directory the bundle's paths are below ("/" on a host).
	Root string
	// Host is this host with every name its peers use (hostname, FQDN,
	// --host): each server certificate must cover them all.
	Host layout.Host
	// Force installs despite a CA-continuity problem (the new CA file no
	// longer trusting the certificates installed now).
	Force bool
	Now   time.Time
	// Served are the certificates the running daemons present now (read
	// live by the caller, e.g. install --reload): each CA file must still
	// trust those of its set too, as their peers will check them.
	Served []ServedCert
}

// ServedCert is a certificate a listener presents, with the role of the
// file it should come from.
type ServedCert struct {
	Role layout.Role
	Addr string
	Cert *x509.Certificate
}

// Problem is one reason a bundle is refused (or, as a warning, noted).
type Problem struct {
	Code    string `json:"code"`
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
}

// Check judges b the way its consumers will, before anything is
// written: verify's offline checks (chains, key match, usages, modes,
// the names of o.Host) on a private copy, the manifest's modes and
// owners against the layout's table, and CA continuity with the
// certificates installed under o.Root now. It returns the warnings; an
// error (errs.Input) lists every problem that refuses the bundle.
func Check(b *Bundle, o Options) (warnings []Problem, err error) {
	var refuse []Problem
	vrep, err := offline(b, o)
	if err != nil {
		return nil, err
	}
	for _, f := range vrep.Findings {
		p := Problem{string(f.Code), f.File, f.Message}
		if f.Severity == verify.Error {
			refuse = append(refuse, p)
		} else {
			warnings = append(warnings, p)
		}
	}
	own, notes := b.checkOwners()
	refuse = append(refuse, own...)
	warnings = append(warnings, notes...)
	cont := continuity(b, o)
	if o.Force {
		warnings = append(warnings, cont...)
	} else {
		refuse = append(refuse, cont...)
	}
	if len(refuse) > 0 {
		return warnings, refusal(b, refuse)
	}
	return warnings, nil
}

// refusal is the one error naming every problem.
func refusal(b *Bundle, ps []Problem) error {
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, fmt.Sprintf("[%s] %s", p.Code, p.Message))
	}
	return &RefusedError{Source: b.Source, Problems: ps, msg: fmt.Sprintf("%s: refused, nothing written: %s", b.Source, strings.Join(msgs, "; "))}
}

// RefusedError is a bundle refused by Check; it is bad input (exit 2).
type RefusedError struct {
	Source   string
	Problems []Problem
	msg      string
}

func (e *RefusedError) Error() string { return e.msg }

// Unwrap makes errs.IsInput true.
func (e *RefusedError) Unwrap() error { return &errs.Input{Err: fmt.Errorf("%s", e.msg)} }

// offline runs verify.Offline on a private copy of the bundle (a
// temporary tree, removed before it returns), with this host's names.
func offline(b *Bundle, o Options) (*verify.Report, error) {
	tmp, err := os.MkdirTemp("", "libvirt-pki-install-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	name := b.Host
	if layout.ValidateName(name) != nil {
		name = "bundle"
	}
	for _, f := range b.Files {
		p := filepath.Join(tmp, name, filepath.FromSlash(f.Rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := writeNew(p, f.Data, f.Mode); err != nil {
			return nil, err
		}
	}
	h := layout.Host{Name: name, SANs: o.Host.SANs}
	vo := verify.Options{Layout: b.Layout, Root: tmp, Now: o.Now}
	for _, k := range credential.Kinds {
		if spec, ok := b.Layout.Spec(k.Cert); ok && k.PerHost && b.file(spec.Rel) != nil {
			if k.Hosts == credential.Proxy {
				vo.ProxyHosts = []layout.Host{h}
			} else {
				vo.Hosts = []layout.Host{h}
			}
		}
	}
	rep, err := verify.Offline(vo)
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", b.Source, err)
	}
	// Findings name the private copy: name the bundle's files instead.
	for i := range rep.Findings {
		rep.Findings[i].Message = strings.ReplaceAll(rep.Findings[i].Message, filepath.Join(tmp, name)+"/", "/")
	}
	return rep, nil
}

// writeNew creates path with perm from its first byte.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// file returns the bundle's file at rel, or nil.
func (b *Bundle) file(rel string) *File {
	for i := range b.Files {
		if b.Files[i].Rel == rel {
			return &b.Files[i]
		}
	}
	return nil
}

// spec is the layout row of the file at rel (credential or SASL file).
func (b *Bundle) spec(rel string) (layout.FileSpec, bool) {
	for _, s := range b.Layout.Files {
		if s.Rel == rel {
			return s, true
		}
	}
	return b.Layout.SASLSpecAt(rel)
}

// checkOwners compares each credential and SASL file's manifest mode,
// owner and group with the layout's row, and notes owners this host does
// not know (the file is then installed root-owned, as tar does).
func (b *Bundle) checkOwners() (refuse, notes []Problem) {
	for _, f := range b.Files {
		spec, ok := b.spec(f.Rel)
		if !ok {
			continue
		}
		if f.Mode != spec.Mode || f.Owner != spec.OwnerName() || f.Group != spec.GroupName() {
			refuse = append(refuse, Problem{"manifest-mode", f.Rel, fmt.Sprintf("/%s is %04o %s:%s in the manifest, but the %s layout installs it %04o %s:%s: make the bundle again with libvirt-pki certificates --bundle",
				f.Rel, f.Mode, f.Owner, f.Group, b.Layout.Name, spec.Mode, spec.OwnerName(), spec.GroupName())})
		}
	}
	unknown := map[string][]string{} // "user nova" -> files
	var order []string
	note := func(what, rel string) {
		if unknown[what] == nil {
			order = append(order, what)
		}
		unknown[what] = append(unknown[what], "/"+rel)
	}
	for _, f := range b.Files {
		if _, err := lookupUser(f.Owner); err != nil {
			note("user "+f.Owner, f.Rel)
		}
		if _, err := lookupGroup(f.Group); err != nil {
			note("group "+f.Group, f.Rel)
		}
	}
	for _, what := range order {
		notes = append(notes, Problem{"unknown-owner", "", fmt.Sprintf("%s does not exist on this host: %s installed with root instead (create it and install again)", what, strings.Join(unknown[what], ", "))})
	}
	return refuse, notes
}

func lookupUser(name string) (*user.User, error)   { return user.Lookup(name) }
func lookupGroup(name string) (*user.Group, error) { return user.LookupGroup(name) }

// continuity checks that every CA file of the bundle still trusts the
// certificates of its set installed under o.Root now (what the running
// daemons present to their peers, and what the neighbours mid-rotation
// still present): a CA with no overlap would cut the host off.
func continuity(b *Bundle, o Options) []Problem {
	var out []Problem
	for _, ca := range credential.Kinds {
		spec, ok := b.Layout.Spec(ca.Cert)
		f := b.file(spec.Rel)
		if ca.PerHost || !ok || f == nil {
			continue
		}
		roots, err := pki.ParseCertsPEM(f.Data)
		if err != nil {
			continue // verify's findings say so
		}
		pool := x509.NewCertPool()
		for _, c := range roots {
			pool.AddCert(c)
		}
		for _, leaf := range credential.Kinds {
			if p, bad := installedTrusted(b, o, leaf, ca, pool); bad {
				out = append(out, p)
			}
		}
		out = append(out, servedTrusted(o, ca, spec.Rel, pool)...)
	}
	return out
}

// servedTrusted checks the certificates served live whose role is of
// ca's set against the new CA pool.
func servedTrusted(o Options, ca credential.Kind, caRel string, pool *x509.CertPool) []Problem {
	var out []Problem
	for _, s := range o.Served {
		k, ok := credential.ByCert(s.Role)
		if !ok || k.Set != ca.Set || s.Cert == nil || trusts(pool, []*x509.Certificate{s.Cert}, o.Now) {
			continue
		}
		out = append(out, Problem{"ca-continuity", caRel, fmt.Sprintf(
			"the new /%s does not trust the certificate served now at %s (issuer %q): its peers would be cut off. Reload the daemon with the certificates installed now first (libvirt-pki reload), or install the CA bundle holding both CAs, or give --force",
			caRel, s.Addr, s.Cert.Issuer.String())})
	}
	return out
}

// trusts reports whether pool verifies chain's leaf (with the rest of
// chain as intermediates) at now; an expired leaf needs no trust.
func trusts(pool *x509.CertPool, chain []*x509.Certificate, now time.Time) bool {
	if now.IsZero() {
		now = time.Now()
	}
	if now.After(chain[0].NotAfter) {
		return true
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

// installedTrusted checks the certificate of kind leaf installed under
// o.Root (if any, and still valid) against the new CA pool of kind ca.
func installedTrusted(b *Bundle, o Options, leaf, ca credential.Kind, pool *x509.CertPool) (Problem, bool) {
	lspec, ok := b.Layout.Spec(leaf.Cert)
	if !leaf.PerHost || leaf.Set != ca.Set || !ok {
		return Problem{}, false
	}
	path := filepath.Join(o.Root, filepath.FromSlash(lspec.Rel))
	data, err := fsutil.ReadFile(path, fsutil.LimitCert)
	if err != nil {
		return Problem{}, false
	}
	chain, err := pki.ParseCertsPEM(data)
	if err != nil || len(chain) == 0 || trusts(pool, chain, o.Now) {
		return Problem{}, false
	}
	cspec, _ := b.Layout.Spec(ca.Cert)
	return Problem{"ca-continuity", cspec.Rel, fmt.Sprintf(
		"the new /%s does not trust %s, the certificate installed now (issuer %q) that this host's daemons present to their peers: peers still on the old CA would be cut off. Install the CA bundle holding both CAs (rotate-ca start) on every host first, or give --force",
		cspec.Rel, path, chain[0].Issuer.String())}, true
}
