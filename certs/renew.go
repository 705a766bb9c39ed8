package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// SharedUnit names the shared directory in reports.
const SharedUnit = layout.SharedUnit

// RenewOptions says which leaves to renew and how.
type RenewOptions struct {
	Layout layout.Layout
	Root   string // as Options.Root
	CADir  string
	Top    string // as Options.Top
	// CACertFile and CAKeyFile name an external CA, as in Options.
	CACertFile, CAKeyFile string
	// Remote signs through a cfssl signer, as in Options.
	Remote *Remote

	RenewBefore time.Duration // renew leaves expiring within this
	All         bool          // renew every leaf, whatever its dates
	RotateKeys  bool          // new key for every renewed leaf
	Days        int
	Workers     int
	Now         time.Time
	DryRun      bool
	// Keys reads the tree's keys; renewed keys are written as the tree
	// keeps them (Keys.ForTree).
	Keys Keys

	// allReason is the reason reported with All ("all" unless set).
	allReason string
	// select, when set, replaces the expiry test: it returns the reason
	// to renew a leaf, or "" to keep it. rotate-ca uses it to resume.
	selectFn func(*x509.Certificate) string
}

// RenewResult is a whole renew run.
type RenewResult struct {
	DryRun      bool      `json:"dry_run"`
	Layout      string    `json:"layout"`
	Root        string    `json:"root"`
	CASubject   string    `json:"ca_subject"`
	CANotAfter  time.Time `json:"ca_not_after"`
	RenewBefore string    `json:"renew_before,omitempty"`
	All         bool      `json:"all"`
	Leaves      []Leaf    `json:"certificates"`
	Warnings    []string  `json:"warnings"`
	Renewed     int       `json:"renewed"`
	Unchanged   int       `json:"unchanged"`
	// Tarballs are the <host>.tar files made again with the renewed
	// files (withTarballs).
	Tarballs []string `json:"tarballs,omitempty"`

	opts RenewOptions
	ca   *pki.CA
	tree layout.Tree
}

// Renew re-issues the layout's leaves that expire within RenewBefore (or
// all of them), each keeping its own subject, SANs, profile and, unless
// RotateKeys, its key. It signs with the current CA (CADir or an external
// one) and never writes the CA or any cacert.pem.
func Renew(o RenewOptions) (*RenewResult, error) {
	p := &Plan{Opts: Options{Layout: o.Layout, Root: o.Root, CADir: o.CADir, CACertFile: o.CACertFile, CAKeyFile: o.CAKeyFile, Remote: o.Remote, Keys: o.Keys}}
	if err := p.planCA(); err != nil {
		return nil, err
	}
	var err error
	if o.Keys, err = o.Keys.ForTree(layout.Tree{Layout: o.Layout, Root: o.Root}, p.CA.KeyPath); err != nil {
		return nil, err
	}
	if p.CA.created {
		return nil, inputErr("no CA in %s: run certificates first", o.CADir)
	}
	o.Workers = o.Remote.workers(o.Workers)
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if err := p.CA.checkDates(o.Now); err != nil {
		return nil, err
	}
	res, err := planRenew(o, p.CA.ca)
	if err != nil {
		return nil, err
	}
	// Renewed leaves are only useful where the cacert.pem trusts their CA.
	files, err := caFilesOf(res.tree)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if data, err := fsutil.ReadFile(f, fsutil.LimitCert); err == nil && !containsCert(data, p.CA.ca.Cert) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s does not hold the signing CA: renewed certificates will not verify against it (run certificates to update it)", f))
		}
	}
	if o.DryRun {
		return res, nil
	}
	return res, res.apply()
}

// planRenew finds every leaf and decides which to renew with ca. It
// writes nothing.
func planRenew(o RenewOptions, ca *pki.CA) (*RenewResult, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Days <= 0 {
		o.Days = pki.DefaultLeafDays
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if err := checkTrees(o.Top, o.Root, o.CADir); err != nil {
		return nil, err
	}
	tree := layout.Tree{Layout: o.Layout, Root: o.Root, CADir: o.CADir}
	found, err := scanLeaves(tree, o.Keys)
	if err != nil {
		return nil, err
	}
	revs, err := LoadRevocations(o.CADir)
	if err != nil {
		return nil, err
	}
	revoked := map[string]bool{}
	for _, r := range revs {
		revoked[r.Serial] = true
	}
	res := &RenewResult{
		DryRun: o.DryRun, Layout: o.Layout.Name, Root: o.Root, All: o.All, Warnings: []string{},
		CASubject: ca.Cert.Subject.String(), CANotAfter: ca.Cert.NotAfter, opts: o, ca: ca, tree: tree,
	}
	if !o.All && o.selectFn == nil {
		res.RenewBefore = o.RenewBefore.String()
	}
	// A pair copied into several directories (shared mode in the
	// per-host layouts) is renewed once and the same new pair written
	// everywhere, so the copies stay identical.
	groups := map[[32]byte]int{}
	for _, f := range found {
		id := sha256.Sum256(slices.Concat([]byte(f.kind.Name), f.cert.Raw, f.keyPEM))
		if i, ok := groups[id]; ok {
			res.Leaves[i].Copies = append(res.Leaves[i].Copies, f.t.cert)
			res.Leaves[i].targets = append(res.Leaves[i].targets, f.t)
			continue
		}
		l, err := res.decide(f, revoked)
		if err != nil {
			return nil, err
		}
		groups[id] = len(res.Leaves)
		res.Leaves = append(res.Leaves, l)
	}
	for _, l := range res.Leaves {
		if l.Action == Reissue {
			res.Renewed++
		} else {
			res.Unchanged++
		}
	}
	return res, nil
}

// decide is renew's policy for one leaf found on disk: renew it when it
// is due (or selected), keeping its subject, SANs, profile and, where it
// can be trusted, its key.
func (r *RenewResult) decide(f observed, revoked map[string]bool) (Leaf, error) {
	o := r.opts
	l := Leaf{
		Host: f.unit.Name, Profile: f.kind.Name, File: f.t.cert, Action: Unchanged,
		Subject: f.cert.Subject.String(), SANs: pki.SANsOf(f.cert).Strings(), OldNotAfter: f.cert.NotAfter,
		kind: f.kind, sans: pki.SANsOf(f.cert), cn: f.cert.Subject.CommonName, org: firstOrg(f.cert),
		algo: pki.AlgoOf(f.cert.PublicKey), targets: []target{f.t}, old: f.cert, keepIdentity: true,
	}
	if l.algo == "" {
		l.algo = pki.ECDSAP256 // a new key keeps the old one's algorithm where we know it
	}
	if reason := r.selectReason(f.cert); reason != "" {
		l.Action = Reissue
		l.reissue(reason)
	}
	if l.Action != Reissue {
		l.settle()
		return l, nil
	}
	if err := reproducibleSubject(f.cert); err != nil {
		return l, inputErr("%s: %v; re-issue it with the certificates command", f.t.cert, err)
	}
	switch {
	case o.RotateKeys:
	case revoked[pki.SerialHex(f.cert)]:
		// A revoked certificate's key is not trusted either, as in
		// certificates: renewing it with the same key would undo the
		// revocation.
		l.reissue("revoked")
	case f.key == nil:
		// Nothing to keep: a leaf without its key is useless.
		l.reissue("key missing or unreadable")
	case !pki.KeyMatches(f.key.Signer, f.cert):
		l.reissue("key did not match the certificate")
	case pki.KeyWeakness(f.key.Signer.Public()) != "":
		// Renewing keeps the key; this one must not be certified again.
		return l, inputErr("%s: %s: renew it with --rotate-keys (a new key), or re-issue it with certificates", f.t.key, pki.KeyWeakness(f.key.Signer.Public()))
	default:
		l.oldKey = f.key
	}
	l.NewKey = l.oldKey == nil
	if o.DryRun {
		_, na := r.ca.LeafDates(o.Now.Add(-5*time.Minute), o.Days)
		l.NewNotAfter = &na
	}
	l.settle()
	return l, nil
}

// selectReason is why a leaf is renewed, or "" to keep it.
func (r *RenewResult) selectReason(c *x509.Certificate) string {
	o := r.opts
	switch {
	case o.selectFn != nil:
		return o.selectFn(c)
	case o.All && o.allReason != "":
		return o.allReason
	case o.All:
		return "all"
	}
	left := c.NotAfter.Sub(o.Now)
	switch {
	case left >= o.RenewBefore:
		return ""
	case r.ca.EndsWith(c):
		// Renewing cannot extend it: the CA needs attention.
		w := fmt.Sprintf("the CA %q expires on %s, within --renew-before, and leaves end with it: renewing them cannot help; rotate the CA (libvirt-pki rotate-ca start)",
			r.ca.Cert.Subject.CommonName, r.ca.Cert.NotAfter.UTC().Format("2006-01-02"))
		if !slices.Contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
		return ""
	case left <= 0:
		return "expired"
	default:
		return "expires in " + humanDuration(left)
	}
}

func firstOrg(c *x509.Certificate) string {
	if len(c.Subject.Organization) > 0 {
		return c.Subject.Organization[0]
	}
	return ""
}

// apply issues and writes every leaf marked for renewal, with the host
// tarballs that hold them, as one journalled unit: on an error before
// the commit nothing is replaced.
func (r *RenewResult) apply() (err error) {
	o := r.opts
	batch := newStage(o.Layout, o.Top, o.Root, o.CADir, false)
	defer func() { err = batch.finish(err) }()
	r.Tarballs, err = withTarballs(batch, o.Layout, o.Root, func() error { return r.stage(batch) })
	return err
}

// stage issues every leaf marked for renewal into batch.
func (r *RenewResult) stage(batch *stage) error {
	is := &issuer{ca: r.ca, tree: r.tree, batch: batch, keys: r.opts.Keys, days: r.opts.Days, notBefore: r.opts.Now.Add(-5 * time.Minute)}
	return is.issueAll(r.Leaves, r.opts.Workers, nil)
}

// reproducibleSubject accepts a subject renew can issue again exactly:
// at most one O and one CN, single-valued, O first (the order pki.Issue
// writes). Anything else would change the DN libvirtd's
// tls_allowed_dn_list matches.
func reproducibleSubject(c *x509.Certificate) error {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return errors.New("subject does not parse")
	}
	oidO, oidCN := asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.ObjectIdentifier{2, 5, 4, 3}
	var seen []string
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			return errors.New("subject has a multi-valued attribute")
		}
		switch t := rdn[0].Type; {
		case t.Equal(oidO) && len(seen) == 0:
			seen = append(seen, "O")
		case t.Equal(oidCN) && !slices.Contains(seen, "CN"):
			seen = append(seen, "CN")
		default:
			dn, _ := pki.GnuTLSDN(c)
			return fmt.Errorf("subject %q holds attributes other than one O and one CN", dn)
		}
	}
	return nil
}
