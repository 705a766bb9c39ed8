package report

import (
	"sort"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/lint"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// Model is everything the page shows, sorted: rendering it twice gives
// the same bytes.
type Model struct {
	Layout   string
	Root     string
	CADir    string
	Now      time.Time
	WarnDays int
	Summary  Summary
	Chart    Chart
	// Groups are the hosts in sorted runs of GroupSize, the tree's
	// shared and CA directories first.
	Groups   []Group
	Findings []Finding
	CAs      []CA
	Rotation Rotation
	Live     []Live
	// LintRun says lint ran; LintError is why it could not, if so.
	LintRun   bool
	LintError string
}

// Summary holds the page's headline figures.
type Summary struct {
	Hosts        int
	Certificates int
	CRLs         int
	CAs          int
	Errors       int
	Warnings     int
	Notices      int
	// By status, from audit's rows.
	Expired, Expiring, NotYetValid, Revoked int
	Worst                                   *Finding
	NextExpiry                              *Credential
	Rotation                                string
}

// Group is a run of hosts shown as one collapsible table.
type Group struct {
	ID               string
	First, Last      string
	Hosts            []Host
	Errors, Warnings int
	Credentials      int
	// Open: the group is shown unfolded (small trees, or it has errors).
	Open bool
}

// Host is one host (or the shared or CA directory) with its files.
type Host struct {
	Name             string
	Names            []string
	Credentials      []Credential
	Errors, Warnings int
}

// Credential is one certificate (or key, CRL, or missing file) a host's
// consumer reads.
type Credential struct {
	Host     string
	Role     string
	Kind     string
	File     string
	Path     string
	Source   string // host, shared, missing, ca
	Subject  string
	SANs     string
	Issuer   string
	Serial   string
	NotAfter time.Time
	Dated    bool
	DaysLeft int
	Status   string
	KeyAlgo  string
	Usage    string
	Mode     string
}

// Finding is one finding of verify, lint or the report itself.
type Finding struct {
	Severity string
	Code     string
	Source   string // verify, lint or report
	Host     string
	File     string
	Message  string
	Fix      string
}

// CA is one CA certificate found in the tree, with the rotation role of
// the CA directory's that matches it.
type CA struct {
	Role      string // current, next, previous or other
	Subject   string
	Issuer    string
	Serial    string
	NotBefore time.Time
	NotAfter  time.Time
	DaysLeft  int
	Status    string
	// Copies counts the files holding it.
	Copies int
}

// Rotation is the CA directory's rotation step.
type Rotation struct {
	State    string
	NextStep string
}

// Live is one listener verify logged in to, and what it serves versus
// the files.
type Live struct {
	Host, Addr, Service, Class, Error, TLS string
	NotAfter                               string
	Served                                 string
}

// GroupSize is how many hosts one collapsible table holds.
const GroupSize = 100

// input is what Collect gathered.
type input struct {
	opts     Options
	verify   *verify.Report
	rows     []audit.Row
	lint     *lint.Report
	lintErr  string
	rotation rotationInput
	files    map[string]*fileFacts
	skipped  map[string]string
}

type rotationInput struct {
	state  string
	byRole []roleRow
}

type roleRow struct {
	role string
	row  audit.Row
}

// build joins the inputs into the model.
func build(in input) *Model {
	o := in.opts
	m := &Model{Layout: o.Tree.Layout.Name, Root: clean(o.Tree.Root), CADir: clean(o.Tree.CADir), Now: o.Now.UTC(), WarnDays: o.WarnDays,
		LintRun: in.lint != nil, LintError: in.lintErr}
	m.Findings = in.findings()
	hosts := in.hosts(m.Findings)
	m.Groups = groups(hosts)
	m.CAs = in.cas()
	m.Rotation = Rotation{State: in.rotation.state, NextStep: certs.NextStep(in.rotation.state)}
	m.Live = in.live()
	m.Summary = in.summary(m)
	m.Chart = chart(in.rows, m.CAs, o.Now, o.WarnDays)
	return m
}

// hosts lists the CA directory, the shared directory and every host
// verify checked, each with the files its consumer reads.
func (in input) hosts(findings []Finding) []Host {
	byPath := map[string][]audit.Row{}
	var caRows []audit.Row
	for _, r := range in.rows {
		if r.Host == "(ca)" {
			caRows = append(caRows, r)
			continue
		}
		byPath[r.Path] = append(byPath[r.Path], r)
	}
	var out []Host
	if len(caRows) > 0 {
		h := Host{Name: "(ca)"}
		for _, r := range caRows {
			h.Credentials = append(h.Credentials, in.credential("(ca)", string(layout.CACert), "ca", &r))
		}
		out = append(out, h)
	}
	for _, hr := range in.verify.Hosts {
		h := Host{Name: hr.Host, Names: hr.Names}
		for _, fi := range hr.Files {
			rows := byPath[fi.Path]
			if len(rows) == 0 {
				c := in.credential(hr.Host, string(fi.Role), fi.Source, nil)
				c.Path, c.File, c.Subject = clean(fi.Path), clean(fileName(fi)), clean(fi.Subject)
				if fi.Source != "missing" && c.Mode == "" {
					c.Mode = modeOf(in.opts.Tree.Files, fi.Path)
				}
				h.Credentials = append(h.Credentials, c)
			}
			for i := range rows {
				h.Credentials = append(h.Credentials, in.credential(hr.Host, string(fi.Role), fi.Source, &rows[i]))
			}
		}
		out = append(out, h)
	}
	count := map[string][2]int{}
	for _, f := range findings {
		c := count[f.Host]
		if f.Severity == string(verify.Error) {
			c[0]++
		} else if f.Severity == string(verify.Warning) {
			c[1]++
		}
		count[f.Host] = c
	}
	for i := range out {
		out[i].Errors, out[i].Warnings = count[out[i].Name][0], count[out[i].Name][1]
	}
	return out
}

func fileName(fi verify.FileInfo) string {
	if fi.Path == "" {
		return string(fi.Role)
	}
	return baseName(fi.Path)
}

// credential is one row of a host's table; r is audit's row of the
// certificate (nil for a key, a missing or unreadable file).
func (in input) credential(host, role, source string, r *audit.Row) Credential {
	c := Credential{Host: host, Role: role, Source: source, Kind: kindOfRole(role)}
	if r == nil {
		return c
	}
	c.Kind, c.File, c.Path, c.Serial = r.Kind, clean(r.File), clean(r.Path), r.Serial
	c.Subject, c.Issuer = clean(r.Subject), clean(r.Issuer)
	sans := make([]string, len(r.SANs))
	for i, s := range r.SANs {
		sans[i] = clean(s)
	}
	c.SANs = strings.Join(sans, ", ")
	c.NotAfter, c.Dated, c.Status = r.NotAfter.UTC(), true, string(r.Status)
	c.DaysLeft = daysLeft(r.NotAfter, in.opts.Now)
	if f := in.files[r.Path]; f != nil {
		c.Mode = f.mode
		if cert := f.certs[r.Serial]; cert != nil {
			c.KeyAlgo, c.Usage = keyAlgo(cert), usageVerdict(*r, cert)
		}
	}
	return c
}

// kindOfRole names what a file with no certificate row is.
func kindOfRole(role string) string {
	if layout.Role(role).IsKey() {
		return "key"
	}
	return role
}

// daysLeft is whole days from now to t, rounded down (negative: past).
func daysLeft(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// groups cuts the hosts into runs of GroupSize, after one group for the
// CA and shared directories (the pseudo-hosts verify and audit name in
// parentheses).
func groups(hosts []Host) []Group {
	var out []Group
	small := len(hosts) <= GroupSize
	add := func(hs []Host) {
		g := Group{ID: "g" + itoa(len(out)), First: hs[0].Name, Last: hs[len(hs)-1].Name, Hosts: hs, Open: small}
		for _, h := range g.Hosts {
			g.Errors += h.Errors
			g.Warnings += h.Warnings
			g.Credentials += len(h.Credentials)
		}
		out = append(out, g)
	}
	pseudo := 0
	for pseudo < len(hosts) && strings.HasPrefix(hosts[pseudo].Name, "(") {
		pseudo++
	}
	if pseudo > 0 && !small {
		add(hosts[:pseudo])
		hosts = hosts[pseudo:]
	}
	for i := 0; i < len(hosts); i += GroupSize {
		add(hosts[i:min(i+GroupSize, len(hosts))])
	}
	return out
}

// cas lists each CA certificate found once, by serial, with the role the
// rotation gives it.
func (in input) cas() []CA {
	role := map[string]string{}
	for _, r := range in.rows {
		if r.Host == "(ca)" && r.Kind == "ca" {
			role[r.Serial] = "current"
		}
	}
	rows := append([]audit.Row(nil), in.rows...)
	for _, rr := range in.rotation.byRole {
		if _, ok := role[rr.row.Serial]; !ok {
			role[rr.row.Serial] = rr.role
		}
		rows = append(rows, rr.row)
	}
	bySerial := map[string]*CA{}
	var out []*CA
	for _, r := range rows {
		if r.Kind != "ca" {
			continue
		}
		if ca := bySerial[r.Serial]; ca != nil {
			ca.Copies++
			continue
		}
		ca := &CA{Role: role[r.Serial], Subject: clean(r.Subject), Issuer: clean(r.Issuer), Serial: r.Serial, NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(),
			DaysLeft: daysLeft(r.NotAfter, in.opts.Now), Status: string(r.Status), Copies: 1}
		if ca.Role == "" {
			ca.Role = "other"
		}
		bySerial[r.Serial] = ca
		out = append(out, ca)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := roleRank(out[i].Role), roleRank(out[j].Role); ri != rj {
			return ri < rj
		}
		return out[i].Serial < out[j].Serial
	})
	res := make([]CA, len(out))
	for i, c := range out {
		res[i] = *c
	}
	return res
}

func roleRank(role string) int {
	return map[string]int{"current": 0, "next": 1, "previous": 2}[role] + map[bool]int{true: 3}[role == "other"]
}
