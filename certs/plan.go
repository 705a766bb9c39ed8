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
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
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
	// Top is the tree the command was given (Kolla's config directory,
	// the --out directory), which LockTrees locks and whose journal makes
	// the run's writes one unit; Root when empty. See Roots.
	Top string
	// CACertFile and CAKeyFile name an existing CA (or intermediate) to
	// sign with instead of CADir.
	CACertFile, CAKeyFile string
	// Remote signs through a cfssl signer that keeps the CA key (CA
	// source "remote", remote.go).
	Remote *Remote
	// CSROnly writes keys, CSRs and a manifest for an external CA
	// (csr.go); ImportDir installs what it signed (import.go). Both take
	// that CA's certificate alone as CACertFile.
	CSROnly   bool
	ImportDir string

	Hosts []layout.Host
	// ProxyHosts are the console proxy hosts (nova-novncproxy): they get
	// the kinds of the selected sets for proxies (credential.Proxy).
	ProxyHosts []layout.Host
	// Sets are the credential sets to issue (credential.Sets); none
	// means credential.DefaultSet.
	Sets []string
	// Bundle also writes <root>/<host>.tar for a layout with host
	// bundles (layout.Layout.BundleDir).
	Bundle         bool
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

	// Keys reads the tree's keys and says how to write them
	// (--encrypt-keys); the tree's own choice is kept (Keys.ForTree).
	Keys Keys
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
	Source   string // "new", "existing" (CADir), "external" (--ca-cert) or "remote" (--remote-signer)
	CertPath string
	KeyPath  string // "" for an external CA's key we never copy
	Subject  string
	NotAfter time.Time
	ca       *pki.CA
	created  bool // made in memory by this run, to be written by Apply
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
	Leaves   []Leaf
	Warnings []string
	// Notes say how the layout's consumer uses what was made (Kolla's
	// SPICE reuses the libvirt server pair).
	Notes []string

	tree    layout.Tree
	revoked map[string]bool // serials (hex) revoked by this CA
	units   []planUnit      // what planLeaves planned, for the bundles
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

func inputErr(format string, a ...any) error { return errs.Inputf(format, a...) }

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
	if err := o.checkSets(); err != nil {
		return nil, err
	}
	if err := layout.CheckHostNames(o.Layout, append(slices.Clone(o.Hosts), o.ProxyHosts...)); err != nil {
		return nil, errs.WrapInput(err)
	}
	if err := checkOutputDir(o.Root); err != nil {
		return nil, err
	}
	if err := checkTrees(o.Top, o.Root, o.CADir); err != nil {
		return nil, err
	}
	p := &Plan{Opts: o, tree: layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}, revoked: map[string]bool{}}
	if err := p.planCA(); err != nil {
		return nil, err
	}
	if err := p.CA.checkDates(o.Now); err != nil {
		return nil, err
	}
	keys, err := o.Keys.ForTree(p.tree, p.CA.KeyPath)
	if err != nil {
		return nil, err
	}
	p.Opts.Keys = keys
	if p.CA.Source == "existing" && keys.Encrypt && !p.CA.ca.Key.Vaulted {
		p.Notes = append(p.Notes, p.CA.KeyPath+": the CA key is written ansible-vault encrypted, as the tree's other keys")
	}
	revoked, err := LoadRevocations(o.CADir)
	if err != nil {
		return nil, err
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
		return readErr(err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return inputErr("%s: is a symlink; refusing to write through it (give the real path)", dir)
	case !fi.IsDir():
		return inputErr("%s: exists and is not a directory", dir)
	}
	return nil
}

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

// SharedPair names, in a certificates run's report, the one pair every
// host shares in shared mode (wherever the layout copies it).
const SharedPair = "shared"

// checkSets defaults the sets and refuses those the layout cannot hold,
// and proxy hosts when no set is for them.
func (o *Options) checkSets() error {
	if len(o.Sets) == 0 {
		o.Sets = []string{credential.DefaultSet}
	}
	o.Sets = credential.Ordered(o.Sets)
	if err := credential.CheckLayout(o.Layout, o.Sets); err != nil {
		return errs.WrapInput(err)
	}
	if o.Bundle && o.Layout.BundleDir == "" {
		return inputErr("--bundle: the %s layout makes no host bundles (use --layout libvirt)", o.Layout.Name)
	}
	wantProxies := len(credential.Selected(o.Layout, o.Sets, credential.Proxy)) > 0
	switch {
	case wantProxies && len(o.ProxyHosts) == 0:
		return inputErr("--sets %s: no console proxy hosts: name them with --proxy-host NAME, or give an inventory with a nova-novncproxy group", strings.Join(o.Sets, ","))
	case !wantProxies && len(o.ProxyHosts) > 0:
		return inputErr("--proxy-host: no selected set is for console proxy hosts (add novncproxy to --sets)")
	}
	return nil
}

// planUnit is one set of leaves to evaluate: a host's, or the shared
// pair with the directories it is written to.
type planUnit struct {
	name  string // host name, or SharedPair
	host  string // "" for the shared pair
	sans  pki.SANs
	units []layout.Unit
	kinds []credential.Kind // the leaf kinds it gets
}

// kindsFor are the leaf kinds of the selected sets for hosts of class.
func (p *Plan) kindsFor(class credential.HostClass) []credential.Kind {
	var out []credential.Kind
	for _, k := range credential.Selected(p.Opts.Layout, p.Opts.Sets, class) {
		if k.PerHost {
			out = append(out, k)
		}
	}
	return out
}

// planUnits returns one unit per host (or one shared unit for the
// compute hosts), then one per console proxy host; a host that is both
// gets both classes' kinds in its one unit.
func (p *Plan) planUnits() ([]planUnit, error) {
	out, err := p.computeUnits()
	if err != nil {
		return nil, err
	}
	proxyKinds := p.kindsFor(credential.Proxy)
	for _, h := range p.Opts.ProxyHosts {
		i := slices.IndexFunc(out, func(u planUnit) bool { return strings.EqualFold(u.host, h.Name) })
		if i >= 0 {
			out[i].kinds = append(out[i].kinds, proxyKinds...)
			continue
		}
		out = append(out, planUnit{name: h.Name, host: h.Name, sans: h.SANs, units: []layout.Unit{p.tree.HostUnit(h.Name)}, kinds: proxyKinds})
	}
	return out, nil
}

// computeUnits returns one unit per compute host, or one shared unit.
func (p *Plan) computeUnits() ([]planUnit, error) {
	o := p.Opts
	kinds := p.kindsFor(credential.Compute)
	if !o.Shared {
		var out []planUnit
		for _, h := range o.Hosts {
			out = append(out, planUnit{name: h.Name, host: h.Name, sans: h.SANs, units: []layout.Unit{p.tree.HostUnit(h.Name)}, kinds: kinds})
		}
		return out, nil
	}
	all := layout.Host{}
	for _, h := range o.Hosts {
		for _, n := range h.Names() {
			all.Add(n)
		}
	}
	if o.WildcardDomain != "" {
		d := strings.Trim(o.WildcardDomain, ".")
		if err := layout.ValidateName(d); err != nil {
			return nil, inputErr("--wildcard-domain %q: %v", o.WildcardDomain, err)
		}
		all.Add("*." + d)
	}
	u := planUnit{name: SharedPair, sans: all.SANs, kinds: kinds}
	if o.Layout.SharedDirAll {
		u.units = []layout.Unit{p.tree.SharedDir()}
	} else {
		for _, h := range o.Hosts {
			u.units = append(u.units, p.tree.HostUnit(h.Name))
		}
	}
	return []planUnit{u}, nil
}

// planLeaves decides about every leaf kind of every unit.
func (p *Plan) planLeaves() error {
	units, err := p.planUnits()
	if err != nil {
		return err
	}
	p.units = units
	p.noteConsoles()
	for _, u := range units {
		for _, k := range u.kinds {
			l := Leaf{Host: u.name, Profile: k.Name, kind: k, sans: u.sans, SANs: u.sans.Strings(),
				cn: k.CommonName(u.host), org: p.leafOrg(), algo: p.Opts.Algo}
			for _, unit := range u.units {
				t := target{p.tree.Target(unit, k.Cert), p.tree.Target(unit, k.Key)}
				for _, path := range []string{filepath.Dir(t.cert), filepath.Dir(t.key)} {
					if err := checkOutputDir(path); err != nil {
						return err
					}
				}
				l.targets = append(l.targets, t)
			}
			l.File = l.targets[0].cert
			for _, t := range l.targets[1:] {
				l.Copies = append(l.Copies, t.cert)
			}
			if err := p.decide(&l); err != nil {
				return err
			}
			l.settle()
			p.Leaves = append(p.Leaves, l)
		}
	}
	return nil
}

// decide compares the existing pair at targets[0] with what is wanted.
func (p *Plan) decide(l *Leaf) error {
	keys := p.Opts.Keys
	ob, err := observe(layout.Unit{}, l.kind, l.targets[0], keys)
	if err != nil {
		return err
	}
	distrustKey := false
	switch {
	case ob.certPEM == nil:
		l.Action = Create
	case ob.certErr != nil:
		l.Action = Reissue
		l.reissue("existing certificate unreadable")
	default:
		l.Action = Reissue
		distrustKey = p.judgeExisting(l, ob)
	}
	p.chooseKey(l, ob.key, distrustKey)
	if l.Action == Reissue && len(l.Reasons) == 0 {
		l.Action = Unchanged
		l.NewKey = false
		if keys.Encrypt && !ob.key.Vaulted {
			l.Action, l.Reasons = Update, []string{"key to be ansible-vault encrypted"}
			return nil
		}
		// Copies of a shared pair that drifted are rewritten by Apply.
		for _, c := range l.targets[1:] {
			if !sameFile(c.cert, ob.certPEM) || !keys.holds(c.key, ob.key) {
				l.Action = Update
				l.Reasons = []string{"copy out of date at " + filepath.Dir(c.cert)}
				break
			}
		}
	}
	return nil
}

// judgeExisting lists why an existing certificate must be re-issued; it
// returns true when its key is not to be trusted either.
func (p *Plan) judgeExisting(l *Leaf, ob observed) (distrustKey bool) {
	o := p.Opts
	cert := ob.cert
	l.OldNotAfter, l.Subject, l.old = cert.NotAfter, cert.Subject.String(), cert
	if o.Force {
		l.reissue("forced")
	}
	if p.revoked[pki.SerialHex(cert)] {
		// A revoked certificate's key is not trusted either.
		l.reissue("revoked")
		distrustKey = true
	}
	if err := p.CA.ca.Signed(cert); err != nil {
		l.reissue("not signed by the current CA")
	}
	if have := pki.SANsOf(cert).Strings(); !slices.Equal(have, l.SANs) {
		l.reissue("SANs changed (" + diffNames(have, l.SANs) + ")")
	}
	if cert.Subject.CommonName != l.cn || !p.orgAccepted(cert.Subject.Organization) {
		l.reissue("subject changed")
	} else {
		// A re-issue keeps the organization it has (none, under the
		// default before the CA's name): the DN stays as
		// tls_allowed_dn_list names it.
		l.org = firstOrg(cert)
	}
	if probs := pki.UsageProblems(cert, l.kind.Profile); probs != nil {
		l.reissue(strings.Join(probs, "; "))
	}
	if reason := p.dueReason(cert); reason != "" {
		l.reissue(reason)
	}
	if ob.key == nil {
		l.reissue("key missing or unreadable")
	} else if !pki.KeyMatches(ob.key.Signer, cert) {
		l.reissue("key does not match the certificate")
	}
	return distrustKey
}

// dueReason says why cert is due for renewal within RenewBefore, or ""; a
// leaf that already ends with its CA is the CA's problem, and says so.
func (p *Plan) dueReason(cert *x509.Certificate) string {
	left := cert.NotAfter.Sub(p.Opts.Now)
	switch {
	case left >= p.Opts.RenewBefore:
		return ""
	case p.CA.ca.EndsWith(cert):
		// Re-issuing cannot extend it: the CA needs attention.
		p.warnCAExpiry()
		return ""
	case left <= 0:
		return "expired"
	default:
		return fmt.Sprintf("expires in %s", humanDuration(left))
	}
}

// chooseKey decides whether the leaf keeps its key.
func (p *Plan) chooseKey(l *Leaf, key *pki.Key, distrust bool) {
	o := p.Opts
	switch {
	case key == nil || distrust:
		l.NewKey = true
	case pki.KeyWeakness(key.Signer.Public()) != "":
		// Never certified again: the remedy verify's weak-key asks for.
		l.NewKey = true
		if l.Action != Create {
			l.reissue("its key is " + pki.KeyWeakness(key.Signer.Public()))
		}
	case pki.AlgoOf(key.Signer.Public()) != o.Algo:
		l.NewKey = true
		if l.Action != Create {
			l.reissue(fmt.Sprintf("key algorithm changed (%s to %s)", algoName(key), o.Algo))
		}
	case o.RotateKeys:
		l.NewKey = true
		if l.Action != Create {
			l.reissue("rotate-keys")
		}
	default:
		l.oldKey = key
	}
}

func algoName(k *pki.Key) string {
	if a := pki.AlgoOf(k.Signer.Public()); a != "" {
		return string(a)
	}
	return "other"
}

// leafOrg is the organization (O) of a new leaf: --org, or else the name
// virt-pki-validate reads as the CA's organization, the issuer CN of the
// first certificate of cacert.pem (a root CA's own CN), so that it finds
// the two matching, as libvirt's TLS guide sets them.
func (p *Plan) leafOrg() string {
	if p.Opts.Org != "" {
		return p.Opts.Org
	}
	return p.CA.ca.Cert.Issuer.CommonName
}

// orgAccepted says whether an existing leaf's organization is the one
// asked for: --org's, or without --org the default (leafOrg) or none, the
// default before it (an upgrade re-issues nothing for the new default).
func (p *Plan) orgAccepted(have []string) bool {
	if p.Opts.Org != "" {
		return slices.Equal(have, []string{p.Opts.Org})
	}
	return len(have) == 0 || slices.Equal(have, orgList(p.leafOrg()))
}

func orgList(org string) []string {
	if org == "" {
		return nil
	}
	return []string{org}
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

// findShadows warns about Kolla's first-found lookup picking files the
// user did not mean: a stale per-host file hides the shared one.
func (p *Plan) findShadows() {
	o := p.Opts
	if !o.Layout.SharedLookup || !o.Shared {
		return
	}
	for _, h := range o.Hosts {
		var stale []string
		for _, r := range p.tree.Resolve(h.Name) {
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

// noteConsoles says, for console servers, which hosts' certificates
// cover only their inventory name: the console proxy connects to an
// address (nova's server_proxyclient_address; Kolla's
// api_interface_address) the inventory did not say. It also notes a
// set the layout's consumer serves from another kind's files.
func (p *Plan) noteConsoles() {
	o := p.Opts
	if credential.Reused(o.Layout, o.Sets) {
		p.Notes = append(p.Notes, o.Layout.ReuseNote)
	}
	console := false
	for _, k := range credential.Kinds {
		console = console || (k.Console && slices.Contains(o.Sets, k.Set) && o.Layout.Holds(k.Cert))
	}
	if !console {
		return
	}
	var only []string
	for _, h := range o.Hosts {
		if names := h.Names(); len(names) == 1 && strings.EqualFold(names[0], h.Name) {
			only = append(only, h.Name)
		}
	}
	if len(only) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("console address unknown for %s: the console certificates cover only the inventory name; add the address nova-novncproxy connects to (nova's [vnc] server_proxyclient_address; in Kolla, api_interface_address) with --host NAME=ADDRESS",
			strings.Join(only, ", ")))
	}
}

// warnCAExpiry says, once, that leaves end with the CA.
func (p *Plan) warnCAExpiry() {
	w := fmt.Sprintf("the CA %q expires on %s, within --renew-before, and leaves end with it: re-issuing them cannot help; rotate the CA (libvirt-pki rotate-ca start) or sign with a longer-lived one",
		p.CA.ca.Cert.Subject.CommonName, p.CA.ca.Cert.NotAfter.UTC().Format("2006-01-02"))
	if !slices.Contains(p.Warnings, w) {
		p.Warnings = append(p.Warnings, w)
	}
}
