package verify

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/memo"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// Options says what to check offline.
type Options struct {
	Layout layout.Layout
	// Root is Kolla's nova-libvirt directory, or the --out directory of
	// the libvirt and pkipath layouts.
	Root string
	// Hosts to check, with the names clients use for them. Empty: every
	// host directory under Root, with its directory name as its only name.
	Hosts    []layout.Host
	WarnDays int
	// Perms is a PermProfile name; empty picks the layout's own.
	Perms string
	Now   time.Time
	// SASL, when set, checks the SASL files against the password.
	SASL *SASLOptions
	// Sets are the credential sets to check (credential.Sets); none
	// means libvirt's and every other set with a file in the tree.
	Sets []string
	// ProxyHosts are console proxy hosts: their units are checked for
	// the proxy kinds (credential.Proxy). Without hosts, a directory
	// holding a proxy kind's certificate is a proxy host's.
	ProxyHosts []layout.Host
	// Vault opens private keys kept as ansible-vault files
	// (--encrypt-keys); nil holds no password, and a vaulted key is then
	// bad input.
	Vault *vault.Keyring
	// Files reads the tree's files (nil: from disk each time); report
	// shares one with audit and lint so each file is read once.
	Files *fsutil.Files
}

// tree is the layout on disk the options name.
func (o Options) tree() layout.Tree {
	return layout.Tree{Layout: o.Layout, Root: o.Root, Files: o.Files}
}

// FileInfo is the file one role of one host resolved to.
type FileInfo struct {
	Role     layout.Role `json:"role"`
	Path     string      `json:"path,omitempty"`
	Source   string      `json:"source"` // "host", "shared" or "missing"
	Subject  string      `json:"subject,omitempty"`
	NotAfter *time.Time  `json:"not_after,omitempty"`
	// name is the file's name in the layout, for the table.
	name string
}

// HostReport is what was found for one host.
type HostReport struct {
	Host     string     `json:"host"`
	Names    []string   `json:"names,omitempty"`
	Files    []FileInfo `json:"files"`
	Findings []Finding  `json:"findings"`
}

// Report is a whole offline check. Findings about shared files are
// reported once, under the host "(shared)".
type Report struct {
	Hosts    []HostReport  `json:"hosts"`
	Findings []Finding     `json:"findings"`
	Live     []live.Result `json:"live,omitempty"`
}

// Worst returns the highest severity found ("" when nothing was).
func (r *Report) Worst() Severity {
	var w Severity
	for _, f := range r.Findings {
		if f.Severity.Rank() > w.Rank() || w == "" {
			w = f.Severity
		}
	}
	return w
}

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// SharedHost names the pseudo-host findings about shared files go under.
const SharedHost = layout.SharedUnit

// Offline checks every host's files as libvirt will judge them.
func Offline(o Options) (*Report, error) { return offline(o, 0) }

// offline is Offline on up to workers goroutines (GOMAXPROCS when < 1).
func offline(o Options, workers int) (*Report, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	perms, err := permProfileFor(o)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(o.Root); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", o.Root)
	}
	c := &checker{o: o, tree: o.tree(), perms: perms}
	hosts, err := hostsToCheck(o, o.Hosts)
	if err != nil {
		return nil, err
	}
	if c.sets, err = setsToCheck(o); err != nil {
		return nil, err
	}
	for _, p := range o.ProxyHosts {
		if !slices.ContainsFunc(hosts, func(h layout.Host) bool { return strings.EqualFold(h.Name, p.Name) }) {
			hosts = append(hosts, p)
		}
	}
	rep := &Report{}
	if len(hosts) == 0 {
		c.shared = append(c.shared, Finding{Warning, CodeNoHosts, SharedHost, "", "no host directories and no --host given: only the shared files were checked, and no names"})
		hosts = []layout.Host{{Name: ""}}
	}
	if rep.Hosts, err = c.merge(c.checkHosts(hosts, workers)); err != nil {
		return nil, err
	}
	if o.SASL != nil {
		c.checkSASL(rep, hosts)
	}
	if len(c.shared) > 0 {
		rep.Hosts = append([]HostReport{{Host: SharedHost, Files: []FileInfo{}, Findings: c.shared}}, rep.Hosts...)
	}
	for _, h := range rep.Hosts {
		rep.Findings = append(rep.Findings, h.Findings...)
	}
	return rep, nil
}

// hostsToCheck returns the hosts given, or when none is, one per host
// directory under the root. Either way the whole tree is listed first with
// layout.Tree.Units, so that a symlinked host directory is refused, as
// every command refuses it, rather than followed for a host given by
// name or skipped for the others.
func hostsToCheck(o Options, given []layout.Host) ([]layout.Host, error) {
	units, err := o.tree().Units()
	if err != nil {
		return nil, err
	}
	if len(given) > 0 {
		return given, nil
	}
	var hosts []layout.Host
	for _, u := range units {
		if u.Shared() {
			continue
		}
		if h, err := layout.ParseHostSpec(u.Host); err == nil {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

type checker struct {
	o      Options
	sets   []string // the sets checked
	tree   layout.Tree
	crls   memo.Map[string, *parsedCRL] // by path: each CRL is read once
	perms  PermProfile
	files  memo.Map[string, *parsedFile] // by path: each file is read once
	shared []Finding                     // filled by merge, in host order
}

// parsedFile is one file read and judged on its own (without any host).
type parsedFile struct {
	path     string
	name     string // as the layout names it (layout.FileSpec.Rel)
	certs    []*x509.Certificate
	key      *pki.Key
	err      error
	size     int64
	mode     fs.FileMode
	findings []Finding // file-level findings, host left blank
	fatal    error     // a vaulted key without its password: no report
}

func (c *checker) checkHost(h layout.Host) hostResult {
	var touches []touch
	hr := HostReport{Host: h.Name, Names: h.Names(), Findings: []Finding{}}
	if h.Name == "" {
		hr.Host = SharedHost
	}
	add := func(sev Severity, code Code, file, format string, a ...any) {
		hr.Findings = append(hr.Findings, Finding{sev, code, hr.Host, file, fmt.Sprintf(format, a...)})
	}
	kinds := c.kindsFor(h)
	var roles []layout.Role
	for _, k := range kinds {
		roles = append(roles, k.Cert, k.Key)
	}
	resolved := c.tree.ResolveRoles(h.Name, roles)
	byRole := map[layout.Role]*parsedFile{}
	for _, r := range resolved {
		spec, _ := c.o.Layout.Spec(r.Role)
		fi := FileInfo{Role: r.Role, Path: r.Path, Source: "missing", name: spec.Rel}
		if r.Path != "" {
			fi.Source = "shared"
			if r.FromHostDir {
				fi.Source = "host"
			}
			pf := c.parse(r.Path, r.Role)
			byRole[r.Role] = pf
			shared := fi.Source == "shared" && c.o.Layout.SharedLookup
			touches = append(touches, touch{file: pf, sharedFile: shared})
			if len(pf.certs) > 0 {
				fi.Subject = pf.certs[0].Subject.String()
				na := pf.certs[0].NotAfter
				fi.NotAfter = &na
			}
			// A file's own findings go with the host that owns it, or
			// once under (shared) (merge).
			if !shared {
				for _, f := range pf.findings {
					f.Host = hr.Host
					hr.Findings = append(hr.Findings, f)
				}
			}
		} else {
			add(Error, CodeMissing, fi.name, "%s not found%s: run libvirt-pki certificates", fi.name, c.tree.WhereLooked(h.Name, r.Role))
		}
		hr.Files = append(hr.Files, fi)
	}
	c.checkShadows(resolved, add)
	c.checkLeaves(h, kinds, byRole, func(pc *parsedCRL) {
		touches = append(touches, touch{crl: pc, at: len(hr.Findings)})
	}, add)
	return hostResult{hr: hr, touches: touches}
}

// checkLeaves judges each leaf of kinds against the CA copy of its set
// (and the CRL its consumer reads beside it).
// A CRL's own findings are placed by merge, from the touches noted.
func (c *checker) checkLeaves(h layout.Host, kinds []credential.Kind, byRole map[layout.Role]*parsedFile, noteCRL func(*parsedCRL), add func(Severity, Code, string, string, ...any)) {
	for _, kind := range kinds {
		cf := byRole[kind.Cert]
		if !kind.PerHost || cf == nil || len(cf.certs) == 0 {
			continue
		}
		var anchors []*x509.Certificate
		var crl *parsedCRL
		for _, ca := range kinds {
			if pf := byRole[ca.Cert]; ca.IsCA() && ca.Set == kind.Set && pf != nil {
				anchors = pf.certs
				if crl = c.crlFor(h.Name, ca.Cert, pf.path, anchors); crl != nil {
					noteCRL(crl)
				}
			}
		}
		checkPair(h, kind, cf, byRole[kind.Key], anchors, crl, add)
	}
}

// setsToCheck is Options.Sets, or libvirt's and every set with a
// certificate in the tree.
func setsToCheck(o Options) ([]string, error) {
	if len(o.Sets) > 0 {
		return o.Sets, nil
	}
	units, err := o.tree().Units()
	if err != nil {
		return nil, err
	}
	sets := []string{credential.DefaultSet}
	for _, u := range units {
		for _, k := range credential.Leaves(o.Layout) {
			if _, err := o.Files.Lstat(o.tree().In(u, k.Cert)); err == nil {
				sets = append(sets, k.Set)
			}
		}
	}
	return credential.Ordered(sets), nil
}

// kindsFor lists the kinds checked for host h: those of the sets checked
// for its classes. A host is a console proxy when named so, or (without
// hosts named) when its directory holds a proxy kind's certificate; it
// is a compute host when named so, or when its directory holds a compute
// kind's certificate or no proxy certificate.
func (c *checker) kindsFor(h layout.Host) []credential.Kind {
	named := func(hs []layout.Host) bool {
		return slices.ContainsFunc(hs, func(x layout.Host) bool { return strings.EqualFold(x.Name, h.Name) })
	}
	holds := func(class credential.HostClass) bool {
		for _, k := range credential.Selected(c.o.Layout, c.sets, class) {
			if _, err := c.o.Files.Lstat(c.tree.In(c.tree.HostUnit(h.Name), k.Cert)); k.PerHost && h.Name != "" && err == nil {
				return true
			}
		}
		return false
	}
	proxy := named(c.o.ProxyHosts) || (len(c.o.Hosts) == 0 && holds(credential.Proxy))
	compute := named(c.o.Hosts) || (len(c.o.Hosts) == 0 && (holds(credential.Compute) || !proxy))
	var out []credential.Kind
	if compute {
		out = append(out, credential.Selected(c.o.Layout, c.sets, credential.Compute)...)
	}
	if proxy {
		out = append(out, credential.Selected(c.o.Layout, c.sets, credential.Proxy)...)
	}
	return out
}

// checkPair judges a host's certificate of kind with its key, chain,
// revocation and, for servers, the names clients use.
func checkPair(h layout.Host, kind credential.Kind, cf, kf *parsedFile, anchors []*x509.Certificate, crl *parsedCRL, add func(Severity, Code, string, string, ...any)) {
	cert := cf.certs[0]
	file := cf.name
	if kf != nil && kf.key != nil && !pki.KeyMatches(kf.key.Signer, cert) {
		add(Error, CodeKeyMismatch, file, "%s and %s are not a pair: re-issue with libvirt-pki certificates", file, kf.name)
	}
	if len(anchors) > 0 {
		if err := verifyChain(cert, cf.certs[1:], anchors); err != nil {
			add(Error, CodeChain, file, "%s does not chain to cacert.pem (%v): re-issue it from the CA in cacert.pem", file, err)
		}
	}
	if crl != nil && crl.revoked[pki.SerialHex(cert)] {
		add(Error, CodeRevoked, file, "%s (serial %s) is revoked by %s: re-issue it (libvirt-pki certificates)", file, pki.SerialHex(cert), crl.path)
	}
	if kind.Profile.ExtUsage != x509.ExtKeyUsageServerAuth || h.Name == "" {
		return
	}
	var missing []string
	for _, n := range h.Names() {
		if !coversName(cert, n) {
			missing = append(missing, n)
		}
	}
	if missing != nil {
		add(Error, CodeSANMissing, file, "%s does not cover %s, which clients use for %s: add the names and re-issue (libvirt-pki certificates --host %s=%s)",
			file, strings.Join(missing, ", "), h.Name, h.Name, strings.Join(missing, ","))
	}
}

// checkShadows flags a certificate and its key resolved from different
// directories: Kolla would deploy a pair that was never issued together.
func (c *checker) checkShadows(resolved []layout.Resolved, add func(Severity, Code, string, string, ...any)) {
	from := map[layout.Role]layout.Resolved{}
	for _, r := range resolved {
		from[r.Role] = r
	}
	for _, k := range credential.Leaves(c.o.Layout) {
		a, b := from[k.Cert], from[k.Key]
		if a.Path != "" && b.Path != "" && a.FromHostDir != b.FromHostDir {
			hostFile, sharedFile := a, b
			if b.FromHostDir {
				hostFile, sharedFile = b, a
			}
			add(Warning, CodePartialShadow, filepath.Base(hostFile.Path), "%s comes from the host directory but %s from the shared one: put both in one place", hostFile.Path, sharedFile.Path)
		}
	}
}

// parse reads a file once and judges it on its own.
func (c *checker) parse(path string, role layout.Role) *parsedFile {
	return c.files.Get(path, func() *parsedFile { return c.parseFile(path, role) })
}

func (c *checker) parseFile(path string, role layout.Role) *parsedFile {
	pf := &parsedFile{path: path, name: c.fileName(path)}
	base := pf.name
	add := func(sev Severity, code Code, format string, a ...any) {
		pf.findings = append(pf.findings, Finding{sev, code, "", base, fmt.Sprintf(format, a...)})
	}
	data, err := readTreeFile(c.o.Files, path, role)
	if err != nil {
		pf.err = err
		add(Error, CodeUnreadable, "%v", err)
		return pf
	}
	if fi, err := c.o.Files.Lstat(path); err == nil {
		pf.size, pf.mode = fi.Size(), fi.Mode().Perm()
		c.perms.check(path, role, fi, func(sev Severity, code Code, msg string) { add(sev, code, "%s", msg) })
	}
	if role.IsKey() {
		key, err := pki.ParseKeyFile(path, data, c.o.Vault)
		if errors.Is(err, vault.ErrNoPassword) || errors.Is(err, vault.ErrWrongPassword) {
			pf.fatal = errs.WrapInput(err)
		}
		if err != nil {
			pf.err = err
			add(Error, CodeUnreadable, "%v", err)
			return pf
		}
		pf.key = key
		return pf
	}
	certs, err := pki.ParseTreeCerts(c.o.Files, path, data)
	if err != nil {
		pf.err = err
		add(Error, CodeUnreadable, "%s: %v", path, err)
		return pf
	}
	pf.certs = certs
	if role.IsCA() {
		c.judgeCAFile(pf, add)
		return pf
	}
	kind, _ := credential.ByCert(role)
	judgeLeaf(certs[0], kind.Profile, add)
	c.judgeDates(certs[0], base, add)
	judgeCrypto(certs[0], false, add)
	return pf
}

// fileName is how reports name the file at p: its path in a unit, as
// the layout's table gives it ("servercert.pem", "etc/pki/qemu/ca-cert.pem").
func (c *checker) fileName(p string) string {
	if spec, ok := c.o.Layout.SpecAt(p); ok {
		return spec.Rel
	}
	return filepath.Base(p)
}

// readTreeFile reads a credential file of the tree: a regular file, not
// a symlink (no command follows one out of the tree), within the limit of
// its role, so a FIFO or a device is refused at once. Errors name the file.
func readTreeFile(files *fsutil.Files, path string, role layout.Role) ([]byte, error) {
	limit := int64(fsutil.LimitCert)
	if role.IsKey() {
		limit = vault.EncryptedSize(fsutil.LimitKey)
	}
	data, err := files.ReadFile(path, limit)
	var bad *fsutil.BadFileError
	if err != nil && !errors.As(err, &bad) {
		// Keep one "path: problem" form whatever went wrong.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, err
}
