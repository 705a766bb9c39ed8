package sasl

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Options says which SASL files to write for a set of hosts.
type Options struct {
	// Root holds one directory per host (Kolla's nova-libvirt directory).
	Root  string
	Hosts []string
	// Realm is every host's realm; "" gives each host its own name,
	// lowercased, which is the realm libvirtd computes for itself when its
	// host name is the inventory name.
	Realm      string
	Authname   string
	Password   string
	Mechs      []string // any case (ParseMech)
	Format     string   // ParseDBFormat
	Iterations int
}

// Plan is every host's SASL files, decided and not yet written.
type Plan struct {
	Authname string
	Mechs    []string // canonical
	Format   DBFormat
	Hosts    []HostPlan

	files []hostFiles // per host, as Hosts
}

// HostPlan is what happens to one host's files.
type HostPlan struct {
	Host  string       `json:"host"`
	Realm string       `json:"realm"`
	Files []FileResult `json:"files"`
}

// NewPlan checks o and decides every host's files, reading what is there
// and writing nothing: bad input anywhere (options, an existing passwd.db
// of the wrong format) is an errs.Input before the first write.
func NewPlan(o Options) (*Plan, error) {
	mechs, format, err := o.check()
	if err != nil {
		return nil, err
	}
	p := &Plan{Authname: o.Authname, Mechs: mechs, Format: format}
	for _, h := range o.Hosts {
		if err := layout.ValidateName(h); err != nil {
			return nil, errs.Inputf("host %q: %v", h, err)
		}
		realm := o.Realm
		if realm == "" {
			realm = strings.ToLower(h)
		}
		files, err := planHost(hostOptions{
			Dir: filepath.Join(o.Root, h), Realm: realm, Authname: o.Authname, Password: o.Password,
			Mechs: p.Mechs, Format: p.Format, Iterations: o.Iterations,
		})
		if err != nil {
			return nil, err
		}
		p.Hosts = append(p.Hosts, HostPlan{Host: h, Realm: realm, Files: files.results()})
		p.files = append(p.files, files)
	}
	return p, nil
}

// Check reports bad settings (authname, iterations, mechanisms, format)
// as an errs.Input; hosts and password are checked by NewPlan.
func (o Options) Check() error {
	_, _, err := o.check()
	return err
}

func (o Options) check() (mechs []string, format DBFormat, err error) {
	if o.Authname == "" || strings.ContainsAny(o.Authname, "\x00@") {
		return nil, "", errs.Inputf("SASL authname %q: want a user name without '@'", o.Authname)
	}
	if o.Iterations < MinSCRAMIterations || o.Iterations > MaxSCRAMIterations {
		return nil, "", errs.Inputf("SCRAM iterations %d: want %d to %d", o.Iterations, MinSCRAMIterations, MaxSCRAMIterations)
	}
	for _, m := range o.Mechs {
		mech, err := ParseMech(m)
		if err != nil {
			return nil, "", errs.WrapInput(err)
		}
		mechs = append(mechs, mech)
	}
	if format, err = ParseDBFormat(o.Format); err != nil {
		return nil, "", errs.WrapInput(err)
	}
	return mechs, format, nil
}

// Changed counts the files Apply writes (or wrote).
func (p *Plan) Changed() int {
	n := 0
	for _, h := range p.Hosts {
		for _, f := range h.Files {
			if f.Action != "unchanged" {
				n++
			}
		}
	}
	return n
}

// Apply writes the plan, host by host. A failure after some files were
// written is an errs.Partial naming them; written lists them either way.
func (p *Plan) Apply() (written []string, err error) {
	for i, h := range p.files {
		w, err := h.write()
		written = append(written, w...)
		if err != nil {
			return written, errs.AfterWrites(fmt.Errorf("host %s: %w", p.Hosts[i].Host, err), written)
		}
	}
	return written, nil
}
