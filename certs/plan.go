// Package certs is the engine behind `libvirt-pki certificates`: it works
// out which CA, server and client files a layout needs, compares them with
// what is on disk, and issues only what is missing or no longer right.
//
// A run has two phases. Plan reads the existing files and decides, for
// every certificate, whether to create, re-issue or keep it, and why; it
// writes nothing (this is --dry-run). Apply generates keys and signs in
// parallel on all cores and writes each file atomically.
package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Options is everything a certificates run needs.
type Options struct {
	Layout layout.Layout
	// Root is the layout's root: Kolla's nova-libvirt directory, or the
	// --out directory of the libvirt and pkipath layouts.
	Root string
	// CADir keeps cacert.pem and cakey.pem of a CA made by libvirt-pki.
	CADir string
	// CACertFile and CAKeyFile name an existing CA (or intermediate) to
	// sign with instead of CADir.
	CACertFile, CAKeyFile string

	Hosts          []layout.Host
	Shared         bool   // one server and one client pair for all hosts
	WildcardDomain string // shared mode: adds *.domain to the server SAN
	Org            string
	Algo           pki.KeyAlgo
	Days, CADays   int
	RenewBefore    time.Duration
	RotateKeys     bool // new keys for every leaf that is issued
	Force          bool // re-issue every leaf (never the CA)
	Workers        int  // parallel key generation; default all cores
	Now            time.Time
}

// Action says what a run does to a certificate or file.
type Action string

// Actions.
const (
	Create    Action = "create"
	Reissue   Action = "reissue"
	Unchanged Action = "unchanged"
	Update    Action = "update" // cacert.pem rewritten with the CA bundle
)

// CAPlan says where the CA comes from.
type CAPlan struct {
	Source   string // "new", "existing" (CADir) or "external" (--ca-cert)
	CertPath string
	KeyPath  string // "" for an external CA's key we never copy
	Subject  string
	NotAfter time.Time
	ca       *pki.CA
	created  bool // made in memory by this run, to be written by Apply
}

// LeafPlan is the decision for one certificate (server or client) of one
// unit: a host, or the shared pair.
type LeafPlan struct {
	Unit     string // host name, or "shared"
	Profile  string // "server" or "client"
	Action   Action
	Reasons  []string
	NewKey   bool
	SANs     []string
	CertPath string   // first place it is written
	Copies   []string // further places the same pair goes (shared mode, per-host layouts)
	NotAfter time.Time

	profile pki.Profile
	sans    pki.SANs
	cn      string
	targets []target // where cert and key go; existing state read from targets[0]
	oldKey  *pki.Key
}

type target struct{ cert, key string }

// pairRoles maps each leaf profile to the layout roles of its files.
var pairRoles = map[string]struct{ cert, key layout.Role }{
	pki.ServerProfile.Name: {layout.ServerCert, layout.ServerKey},
	pki.ClientProfile.Name: {layout.ClientCert, layout.ClientKey},
}

// FilePlan is cacert.pem at one place.
type FilePlan struct {
	Path   string `json:"path"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
}

// Plan is a whole run's decisions.
type Plan struct {
	Opts     Options
	CA       CAPlan
	CAFiles  []FilePlan
	Leaves   []LeafPlan
	Warnings []string

	revoked map[string]bool // serials (hex) revoked by this CA
}

// Summary counts leaf actions.
func (p *Plan) Summary() map[Action]int {
	m := map[Action]int{}
	for _, l := range p.Leaves {
		m[l.Action]++
	}
	return m
}

// InputError is bad input: the CLI exits 2 for it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, a ...any) error { return &InputError{fmt.Errorf(format, a...)} }

// MakePlan reads the CA and every existing file and decides what to do.
// It writes nothing. A brand-new CA is made in memory (Apply writes it).
func MakePlan(o Options) (*Plan, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Algo == "" {
		o.Algo = pki.ECDSAP256
	}
	if len(o.Hosts) == 0 {
		return nil, inputErr("no hosts")
	}
	if err := layout.CheckHostNames(o.Layout, o.Hosts); err != nil {
		return nil, &InputError{err}
	}
	if err := checkOutputDir(o.Root); err != nil {
		return nil, err
	}
	p := &Plan{Opts: o, revoked: map[string]bool{}}
	if err := p.planCA(); err != nil {
		return nil, err
	}
	revoked, err := LoadRevocations(o.CADir)
	if err != nil {
		return nil, &InputError{err}
	}
	for _, r := range revoked {
		p.revoked[r.Serial] = true
	}
	if err := p.planLeaves(); err != nil {
		return nil, err
	}
	if err := p.planCAFiles(); err != nil {
		return nil, err
	}
	p.findShadows()
	return p, nil
}

// checkOutputDir refuses an output root that is a symlink or not a
// directory, and every existing ancestor-less surprise, before any write.
func checkOutputDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return &InputError{err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return inputErr("%s: is a symlink; refusing to write through it (give the real path)", dir)
	case !fi.IsDir():
		return inputErr("%s: exists and is not a directory", dir)
	}
	return nil
}

func (p *Plan) planCA() error {
	o := p.Opts
	if (o.CACertFile == "") != (o.CAKeyFile == "") {
		return inputErr("--ca-cert and --ca-key go together")
	}
	if o.CACertFile != "" {
		ca, err := loadCAFiles(o.CACertFile, o.CAKeyFile)
		if err != nil {
			return err
		}
		p.CA = CAPlan{Source: "external", CertPath: o.CACertFile, ca: ca}
	} else {
		certPath := filepath.Join(o.CADir, "cacert.pem")
		keyPath := filepath.Join(o.CADir, "cakey.pem")
		_, certErr := os.Stat(certPath)
		_, keyErr := os.Stat(keyPath)
		switch {
		case certErr == nil && keyErr == nil:
			ca, err := loadCAFiles(certPath, keyPath)
			if err != nil {
				return err
			}
			p.CA = CAPlan{Source: "existing", CertPath: certPath, KeyPath: keyPath, ca: ca}
		case certErr == nil || keyErr == nil:
			missing := keyPath
			if keyErr == nil {
				missing = certPath
			}
			return inputErr("%s is missing but its partner exists in %s: restore it, or move the directory away to start a new CA", missing, o.CADir)
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

func caCommonName(org string) string {
	if org != "" {
		return org + " libvirt CA"
	}
	return "libvirt-pki CA"
}

func loadCAFiles(certPath, keyPath string) (*pki.CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, &InputError{err}
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, &InputError{err}
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, inputErr("%s: %v", certPath, err)
	}
	return ca, nil
}

// units returns the credential sets to evaluate: one per host, or one
// shared set.
func (p *Plan) planLeaves() error {
	o := p.Opts
	profiles := []pki.Profile{pki.ClientProfile}
	if o.Layout.HasServer {
		profiles = []pki.Profile{pki.ServerProfile, pki.ClientProfile}
	}
	type unit struct {
		name string
		cn   string
		sans pki.SANs
		dirs []string // host names whose directories get the files ("" = shared dir)
	}
	var units []unit
	if o.Shared {
		all := layout.Host{Name: "shared"}
		for _, h := range o.Hosts {
			for _, n := range h.Names() {
				all.Add(n)
			}
		}
		if o.WildcardDomain != "" {
			d := strings.Trim(o.WildcardDomain, ".")
			if err := layout.ValidateName(d); err != nil {
				return inputErr("--wildcard-domain %q: %v", o.WildcardDomain, err)
			}
			all.Add("*." + d)
		}
		u := unit{name: "shared", cn: "nova-libvirt", sans: all.SANs}
		if o.Layout.SharedDirAll {
			u.dirs = []string{""}
		} else {
			for _, h := range o.Hosts {
				u.dirs = append(u.dirs, h.Name)
			}
		}
		units = append(units, u)
	} else {
		for _, h := range o.Hosts {
			units = append(units, unit{name: h.Name, cn: h.Name, sans: h.SANs, dirs: []string{h.Name}})
		}
	}
	for _, u := range units {
		for _, prof := range profiles {
			lp := LeafPlan{Unit: u.name, Profile: prof.Name, profile: prof, sans: u.sans, cn: u.cn, SANs: u.sans.Strings()}
			for _, d := range u.dirs {
				t := target{
					cert: o.Layout.Path(o.Root, d, pairRoles[prof.Name].cert, o.Shared),
					key:  o.Layout.Path(o.Root, d, pairRoles[prof.Name].key, o.Shared),
				}
				for _, path := range []string{filepath.Dir(t.cert), filepath.Dir(t.key)} {
					if err := checkOutputDir(path); err != nil {
						return err
					}
				}
				lp.targets = append(lp.targets, t)
			}
			lp.CertPath = lp.targets[0].cert
			for _, t := range lp.targets[1:] {
				lp.Copies = append(lp.Copies, t.cert)
			}
			if err := p.decide(&lp); err != nil {
				return err
			}
			p.Leaves = append(p.Leaves, lp)
		}
	}
	return nil
}

// decide compares the existing pair at targets[0] with what is wanted.
func (p *Plan) decide(lp *LeafPlan) error {
	o := p.Opts
	t := lp.targets[0]
	certPEM, certErr := readIfExists(t.cert)
	keyPEM, keyErr := readIfExists(t.key)
	if certErr != nil {
		return certErr
	}
	if keyErr != nil {
		return keyErr
	}
	var key *pki.Key
	if keyPEM != nil {
		if k, err := pki.ParseKey(keyPEM); err == nil {
			key = k
		}
	}
	reissue := func(reason string) { lp.Reasons = append(lp.Reasons, reason) }
	distrustKey := false
	if certPEM == nil {
		lp.Action = Create
	} else {
		lp.Action = Reissue
		certs, err := pki.ParseCertsPEM(certPEM)
		if err != nil {
			reissue("existing certificate unreadable")
		} else {
			cert := certs[0]
			lp.NotAfter = cert.NotAfter
			if o.Force {
				reissue("forced")
			}
			if p.revoked[pki.SerialHex(cert)] {
				// A revoked certificate's key is not trusted either.
				reissue("revoked")
				distrustKey = true
			}
			if err := p.CA.ca.Signed(cert); err != nil {
				reissue("not signed by the current CA")
			}
			if have := pki.SANsOf(cert).Strings(); !slices.Equal(have, lp.SANs) {
				reissue("SANs changed (" + diffNames(have, lp.SANs) + ")")
			}
			if cert.Subject.CommonName != lp.cn || !slices.Equal(cert.Subject.Organization, orgList(o.Org)) {
				reissue("subject changed")
			}
			if probs := pki.UsageProblems(cert, lp.profile); probs != nil {
				reissue(strings.Join(probs, "; "))
			}
			if left := cert.NotAfter.Sub(o.Now); left < o.RenewBefore {
				switch {
				case cappedByCA(cert, p.CA.ca):
					// Re-issuing cannot extend it: the CA needs attention.
					p.warnCAExpiry()
				case left <= 0:
					reissue("expired")
				default:
					reissue(fmt.Sprintf("expires in %s", humanDuration(left)))
				}
			}
			if key == nil {
				reissue("key missing or unreadable")
			} else if !pki.KeyMatches(key.Signer, cert) {
				reissue("key does not match the certificate")
			}
		}
	}
	switch {
	case key == nil || distrustKey:
		lp.NewKey = true
	case pki.AlgoOf(key.Signer.Public()) != o.Algo:
		lp.NewKey = true
		if lp.Action != Create {
			reissue(fmt.Sprintf("key algorithm changed (%s to %s)", algoName(key), o.Algo))
		}
	case o.RotateKeys:
		lp.NewKey = true
		if lp.Action != Create {
			reissue("rotate-keys")
		}
	default:
		lp.oldKey = key
	}
	if lp.Action == Reissue && len(lp.Reasons) == 0 {
		lp.Action = Unchanged
		lp.NewKey = false
		// Copies of a shared pair that drifted are rewritten by Apply.
		for _, c := range lp.targets[1:] {
			if !sameFile(c.cert, certPEM) || !sameFile(c.key, keyPEM) {
				lp.Action = Update
				lp.Reasons = []string{"copy out of date at " + filepath.Dir(c.cert)}
				break
			}
		}
	}
	return nil
}

func algoName(k *pki.Key) string {
	if a := pki.AlgoOf(k.Signer.Public()); a != "" {
		return string(a)
	}
	return "other"
}

func orgList(org string) []string {
	if org == "" {
		return nil
	}
	return []string{org}
}

func sameFile(path string, want []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, want)
}

func readIfExists(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &InputError{err}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, inputErr("%s: is a symlink; refusing to replace it", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, inputErr("%s: not a regular file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{err}
	}
	return b, nil
}

func diffNames(have, want []string) string {
	var parts []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			parts = append(parts, "+"+w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			parts = append(parts, "-"+h)
		}
	}
	return strings.Join(parts, " ")
}

func humanDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

// planCAFiles decides about every cacert.pem the layout holds. A cacert.pem
// that already contains our CA certificate is kept as is (it may be a
// rotation bundle). One that does not, while the CA is brand new, means
// an earlier CA's key went missing: refuse rather than orphan every host.
func (p *Plan) planCAFiles() error {
	o := p.Opts
	var paths []string
	if spec, _ := o.Layout.Spec(layout.CACert); spec.Shared {
		paths = []string{o.Layout.Path(o.Root, "", layout.CACert, o.Shared)}
	} else {
		for _, h := range o.Hosts {
			paths = append(paths, o.Layout.Path(o.Root, h.Name, layout.CACert, o.Shared))
		}
	}
	for _, path := range paths {
		data, err := readIfExists(path)
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

// findShadows warns about Kolla's first-found lookup picking files the
// user did not mean: a stale per-host file hides the shared one.
func (p *Plan) findShadows() {
	o := p.Opts
	if o.Layout.Name != layout.Kolla.Name || !o.Shared {
		return
	}
	for _, h := range o.Hosts {
		var stale []string
		for _, r := range layout.KollaResolve(o.Root, h.Name, os.Stat) {
			if r.FromHostDir {
				stale = append(stale, filepath.Base(r.Path))
			}
		}
		if stale != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s holds %s, which Kolla deploys to host %s instead of the shared files: remove them to use the shared pair",
				filepath.Join(o.Root, h.Name), strings.Join(stale, ", "), h.Name))
		}
	}
}

// cappedByCA reports whether a leaf already runs to its CA's end (leaves
// never outlive their CA, see pki.CA.Issue): re-issuing it cannot make it
// last longer, so an expiring leaf like that is the CA's problem. The
// minute of slack absorbs cfssl's rounding of dates.
func cappedByCA(leaf *x509.Certificate, ca *pki.CA) bool {
	return !leaf.NotAfter.Before(ca.Cert.NotAfter.Add(-time.Minute))
}

// warnCAExpiry says, once, that leaves end with the CA.
func (p *Plan) warnCAExpiry() {
	w := fmt.Sprintf("the CA %q expires on %s, within --renew-before, and leaves end with it: re-issuing them cannot help; rotate the CA (libvirt-pki rotate-ca start) or sign with a longer-lived one",
		p.CA.ca.Cert.Subject.CommonName, p.CA.ca.Cert.NotAfter.UTC().Format("2006-01-02"))
	if !slices.Contains(p.Warnings, w) {
		p.Warnings = append(p.Warnings, w)
	}
}
