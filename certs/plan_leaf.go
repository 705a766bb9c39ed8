package certs

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

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
