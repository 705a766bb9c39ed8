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
