package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// SharedUnit names the Kolla shared directory (nova-libvirt/ itself) in
// reports. Host names cannot hold parentheses, so it never collides.
const SharedUnit = "(shared)"

// RenewOptions says which leaves to renew and how.
type RenewOptions struct {
	Layout layout.Layout
	Root   string // as Options.Root
	CADir  string
	// CACertFile and CAKeyFile name an external CA, as in Options.
	CACertFile, CAKeyFile string

	RenewBefore time.Duration // renew leaves expiring within this
	All         bool          // renew every leaf, whatever its dates
	RotateKeys  bool          // new key for every renewed leaf
	Days        int
	Workers     int
	Now         time.Time
	DryRun      bool

	// allReason is the reason reported with All ("all" unless set).
	allReason string
	// select, when set, replaces the expiry test: it returns the reason
	// to renew a leaf, or "" to keep it. rotate-ca uses it to resume.
	selectFn func(*x509.Certificate) string
}

// RenewedLeaf is what renew did (or would do) to one certificate and the
// copies of it the layout holds.
type RenewedLeaf struct {
	Host        string     `json:"host"` // host directory, or SharedUnit
	Profile     string     `json:"profile"`
	File        string     `json:"file"` // the certificate's path
	Copies      []string   `json:"copies,omitempty"`
	Action      Action     `json:"action"` // reissue or unchanged
	Reason      string     `json:"reason,omitempty"`
	Subject     string     `json:"subject"`
	SANs        []string   `json:"sans"`
	OldNotAfter time.Time  `json:"old_not_after"`
	NewNotAfter *time.Time `json:"new_not_after,omitempty"`
	Key         string     `json:"key,omitempty"` // "kept" or "new" for a renewed leaf

	cert    *x509.Certificate
	oldKey  *pki.Key // nil when a new key is needed
	profile pki.Profile
	targets []target
}

// RenewResult is a whole renew run.
type RenewResult struct {
	DryRun      bool          `json:"dry_run"`
	Layout      string        `json:"layout"`
	Root        string        `json:"root"`
	CASubject   string        `json:"ca_subject"`
	CANotAfter  time.Time     `json:"ca_not_after"`
	RenewBefore string        `json:"renew_before,omitempty"`
	All         bool          `json:"all"`
	Leaves      []RenewedLeaf `json:"certificates"`
	Warnings    []string      `json:"warnings"`
	Renewed     int           `json:"renewed"`
	Unchanged   int           `json:"unchanged"`

	opts RenewOptions
	ca   *pki.CA
}

// Renew re-issues the layout's leaves that expire within RenewBefore (or
// all of them), each keeping its own subject, SANs, profile and, unless
// RotateKeys, its key. It signs with the current CA (CADir or an external
// one) and never writes the CA or any cacert.pem.
func Renew(o RenewOptions) (*RenewResult, error) {
	p := &Plan{Opts: Options{Layout: o.Layout, Root: o.Root, CADir: o.CADir, CACertFile: o.CACertFile, CAKeyFile: o.CAKeyFile}}
	if err := p.planCA(); err != nil {
		return nil, err
	}
	if p.CA.created {
		return nil, inputErr("no CA in %s: run certificates first", o.CADir)
	}
	res, err := planRenew(o, p.CA.ca)
	if err != nil {
		return nil, err
	}
	// Renewed leaves are only useful where the cacert.pem trusts their CA.
	files, err := scanCAFiles(o.Layout, o.Root, o.CADir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && !containsCert(data, p.CA.ca.Cert) {
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
	if err := checkOutputDir(o.Root); err != nil {
		return nil, err
	}
	files, err := scanLeaves(o.Layout, o.Root, o.CADir)
	if err != nil {
		return nil, err
	}
	revs, err := LoadRevocations(o.CADir)
	if err != nil {
		return nil, &InputError{err}
	}
	revoked := map[string]bool{}
	for _, r := range revs {
		revoked[r.Serial] = true
	}
	res := &RenewResult{
		DryRun: o.DryRun, Layout: o.Layout.Name, Root: o.Root, All: o.All, Warnings: []string{},
		CASubject: ca.Cert.Subject.String(), CANotAfter: ca.Cert.NotAfter, opts: o, ca: ca,
	}
	if !o.All && o.selectFn == nil {
		res.RenewBefore = o.RenewBefore.String()
	}
	// A pair copied into several directories (shared mode in the
	// per-host layouts) is renewed once and the same new pair written
	// everywhere, so the copies stay identical.
	groups := map[[32]byte]int{}
	for _, f := range files {
		h := sha256.New()
		h.Write([]byte(f.profile.Name))
		h.Write(f.cert.Raw)
		h.Write(f.keyPEM)
		var id [32]byte
		copy(id[:], h.Sum(nil))
		if i, ok := groups[id]; ok {
			res.Leaves[i].Copies = append(res.Leaves[i].Copies, f.certPath)
			res.Leaves[i].targets = append(res.Leaves[i].targets, target{f.certPath, f.keyPath})
			continue
		}
		rl := RenewedLeaf{
			Host: f.host, Profile: f.profile.Name, File: f.certPath, Action: Unchanged,
			Subject: f.cert.Subject.String(), SANs: pki.SANsOf(f.cert).Strings(), OldNotAfter: f.cert.NotAfter,
			cert: f.cert, profile: f.profile, targets: []target{{f.certPath, f.keyPath}},
		}
		switch {
		case o.selectFn != nil:
			rl.Reason = o.selectFn(f.cert)
		case o.All:
			rl.Reason = "all"
			if o.allReason != "" {
				rl.Reason = o.allReason
			}
		default:
			left := f.cert.NotAfter.Sub(o.Now)
			switch {
			case left >= o.RenewBefore:
			case cappedByCA(f.cert, ca):
				// Renewing cannot extend it: the CA needs attention.
				w := fmt.Sprintf("the CA %q expires on %s, within --renew-before, and leaves end with it: renewing them cannot help; rotate the CA (libvirt-pki rotate-ca start)",
					ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format("2006-01-02"))
				if !slices.Contains(res.Warnings, w) {
					res.Warnings = append(res.Warnings, w)
				}
			case left <= 0:
				rl.Reason = "expired"
			default:
				rl.Reason = "expires in " + humanDuration(left)
			}
		}
		if rl.Reason != "" {
			rl.Action = Reissue
			if err := reproducibleSubject(f.cert); err != nil {
				return nil, inputErr("%s: %v; re-issue it with the certificates command", f.certPath, err)
			}
			rl.Key = "kept"
			var key *pki.Key
			if f.keyPEM != nil {
				key, _ = pki.ParseKey(f.keyPEM)
			}
			switch {
			case o.RotateKeys:
				rl.Key = "new"
			case revoked[pki.SerialHex(f.cert)]:
				// A revoked certificate's key is not trusted either, as in
				// certificates: renewing it with the same key would undo
				// the revocation.
				rl.Key, rl.Reason = "new", rl.Reason+"; revoked"
			case key == nil:
				// Nothing to keep: a leaf without its key is useless.
				rl.Key, rl.Reason = "new", rl.Reason+"; key missing or unreadable"
			case !pki.KeyMatches(key.Signer, f.cert):
				rl.Key, rl.Reason = "new", rl.Reason+"; key did not match the certificate"
			default:
				rl.oldKey = key
			}
			if o.DryRun {
				na := leafNotAfter(ca, o.Now, o.Days)
				rl.NewNotAfter = &na
			}
		}
		groups[id] = len(res.Leaves)
		res.Leaves = append(res.Leaves, rl)
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

// leafNotAfter predicts the end date pki.CA.Issue gives a leaf issued now.
func leafNotAfter(ca *pki.CA, now time.Time, days int) time.Time {
	nb := now.Add(-5 * time.Minute)
	if nb.Before(ca.Cert.NotBefore) {
		nb = ca.Cert.NotBefore
	}
	na := nb.Add(time.Duration(days) * 24 * time.Hour)
	if na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter
	}
	return na
}

// apply issues and writes every leaf marked for renewal, on Workers
// goroutines (a new RSA key takes a while).
func (r *RenewResult) apply() error {
	jobs := make(chan int)
	errs := make(chan error, len(r.Leaves))
	var wg sync.WaitGroup
	for w := 0; w < r.opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := r.renewLeaf(&r.Leaves[i]); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range r.Leaves {
		if r.Leaves[i].Action == Reissue {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *RenewResult) renewLeaf(rl *RenewedLeaf) error {
	key := rl.oldKey
	if key == nil {
		// A new key keeps the old one's algorithm: the operator chose it.
		algo := pki.AlgoOf(rl.cert.PublicKey)
		if algo == "" {
			algo = pki.ECDSAP256
		}
		var err error
		if key, err = pki.GenerateKey(algo); err != nil {
			return err
		}
	}
	org := ""
	if len(rl.cert.Subject.Organization) > 0 {
		org = rl.cert.Subject.Organization[0]
	}
	cert, certPEM, err := r.ca.Issue(pki.LeafRequest{
		Profile: rl.profile, CommonName: rl.cert.Subject.CommonName, Org: org,
		SANs: pki.SANsOf(rl.cert), Key: key, Days: r.opts.Days, NotBefore: r.opts.Now.Add(-5 * time.Minute),
	})
	if err != nil {
		return err
	}
	// tls_allowed_dn_list matches the DN string and clients match the
	// SANs: a renewal that changed either would lock a host out, so check
	// before writing anything.
	oldDN, _ := pki.GnuTLSDN(rl.cert)
	newDN, _ := pki.GnuTLSDN(cert)
	if oldDN != newDN || !slices.Equal(pki.SANsOf(cert).Strings(), rl.SANs) {
		return fmt.Errorf("%s: renewed certificate's subject %q or SANs differ from the old %q; nothing written for it", rl.File, newDN, oldDN)
	}
	for _, t := range rl.targets {
		if err := r.writeLeaf(t, certPEM, key.PEM, rl.profile); err != nil {
			return fmt.Errorf("%s: %w", t.cert, err)
		}
	}
	na := cert.NotAfter
	rl.NewNotAfter = &na
	return nil
}

// writeLeaf writes the key before the certificate, as Apply does: after a
// crash between the two, a mismatched pair is visible to verify.
func (r *RenewResult) writeLeaf(t target, certPEM, keyPEM []byte, prof pki.Profile) error {
	roles := pairRoles[prof.Name]
	certSpec, _ := r.opts.Layout.Spec(roles.cert)
	keySpec, _ := r.opts.Layout.Spec(roles.key)
	if err := writeIfChanged(t.key, keyPEM, keySpec.Mode); err != nil {
		return err
	}
	return writeIfChanged(t.cert, certPEM, certSpec.Mode)
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

// leafFile is one leaf certificate found in a layout.
type leafFile struct {
	host              string
	profile           pki.Profile
	certPath, keyPath string
	cert              *x509.Certificate
	keyPEM            []byte // nil when missing
}

// unitDirs returns the directories of a layout that can hold credentials,
// as (unit name, host argument for Layout.Path, shared flag): Kolla's
// shared directory first, then every host directory, sorted. The CA
// directory is skipped wherever it lives.
func unitDirs(l layout.Layout, root, caDir string) ([][3]string, error) {
	var units [][3]string
	if l.SharedDirAll {
		units = append(units, [3]string{SharedUnit, "", "shared"})
	}
	hosts, err := layout.HostDirs(l, root, caDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, inputErr("%s does not exist: nothing to work on (run certificates first)", root)
	}
	if err != nil {
		return nil, &InputError{err}
	}
	for _, h := range hosts {
		units = append(units, [3]string{h, h, ""})
	}
	sort.SliceStable(units, func(i, j int) bool {
		if units[i][0] == SharedUnit || units[j][0] == SharedUnit {
			return units[i][0] == SharedUnit && units[j][0] != SharedUnit
		}
		return units[i][0] < units[j][0]
	})
	return units, nil
}

// scanLeaves reads every server and client certificate of the layout:
// Kolla's shared directory and every host directory.
func scanLeaves(l layout.Layout, root, caDir string) ([]leafFile, error) {
	units, err := unitDirs(l, root, caDir)
	if err != nil {
		return nil, err
	}
	var out []leafFile
	for _, u := range units {
		for _, prof := range pki.Profiles {
			roles := pairRoles[prof.Name]
			if _, ok := l.Spec(roles.cert); !ok {
				continue
			}
			shared := u[2] == "shared"
			certPath := l.Path(root, u[1], roles.cert, shared)
			keyPath := l.Path(root, u[1], roles.key, shared)
			certPEM, err := readIfExists(certPath)
			if err != nil {
				return nil, err
			}
			if certPEM == nil {
				continue
			}
			certs, err := pki.ParseCertsPEM(certPEM)
			if err != nil {
				return nil, inputErr("%s: %v", certPath, err)
			}
			keyPEM, err := readIfExists(keyPath)
			if err != nil {
				return nil, err
			}
			out = append(out, leafFile{host: u[0], profile: prof, certPath: certPath, keyPath: keyPath, cert: certs[0], keyPEM: keyPEM})
		}
	}
	return out, nil
}

// scanCAFiles lists every cacert.pem the layout holds: Kolla's shared one
// and any per-host override (Kolla deploys a host's own cacert.pem
// instead of the shared one), or each host directory's.
func scanCAFiles(l layout.Layout, root, caDir string) ([]string, error) {
	units, err := unitDirs(l, root, caDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range units {
		var path string
		if u[2] == "shared" {
			path = l.Path(root, "", layout.CACert, true)
		} else {
			// Path puts a Shared spec (Kolla's) in the root; a per-host
			// override lives in the host directory under the same name.
			spec, _ := l.Spec(layout.CACert)
			path = filepath.Join(root, u[1], filepath.FromSlash(spec.Rel))
		}
		data, err := readIfExists(path)
		if err != nil {
			return nil, err
		}
		if data != nil {
			out = append(out, path)
		}
	}
	return out, nil
}
