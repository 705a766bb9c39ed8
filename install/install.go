package install

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
)

// Report is what an install did (or, dry, would do).
type Report struct {
	Bundle   string    `json:"bundle"`
	Host     string    `json:"host"`
	Names    []string  `json:"names"`
	Root     string    `json:"root"`
	DryRun   bool      `json:"dry_run"`
	Changes  []*Change `json:"changes"`
	Warnings []Problem `json:"warnings"`
	Written  []string  `json:"written"`
}

// Install reads the bundle at src, checks it (Check), plans it against
// o.Root and, unless dry, applies the plan. Bad input (a hostile or
// refused bundle) is errs.Input with nothing written.
func Install(ctx context.Context, src string, l layout.Layout, o Options, dry bool) (*Report, error) {
	b, err := Read(src, l)
	if err != nil {
		return nil, err
	}
	rep := &Report{Bundle: src, Host: b.Host, Names: o.Host.Names(), Root: o.Root, DryRun: dry, Written: []string{}}
	if rep.Warnings, err = Check(b, o); err != nil {
		return rep, err
	}
	p, err := MakePlan(b, o.Root)
	if err != nil {
		return rep, err
	}
	rep.Changes = p.Changes
	if dry {
		return rep, nil
	}
	written, err := p.Apply(ctx)
	if written != nil {
		rep.Written = written
	}
	return rep, err
}

// ThisHost is this host as its peers name it: its host name and, when
// the resolver knows one, its fully qualified name.
func ThisHost() (layout.Host, error) {
	name, err := os.Hostname()
	if err != nil {
		return layout.Host{}, err
	}
	h, err := layout.ParseHostSpec(name)
	if err != nil {
		return layout.Host{}, fmt.Errorf("this host's name: %v: give --host NAME", err)
	}
	// The FQDN as hostname -f finds it: /etc/hosts' canonical name for
	// the host name, else the resolver's.
	hosts, _ := fsutil.ReadFileFollow("/etc/hosts", fsutil.LimitConfig)
	fqdn := hostsCanonical(hosts, name)
	if fqdn == "" {
		if cname, err := net.LookupCNAME(name); err == nil {
			fqdn = strings.TrimSuffix(cname, ".")
		}
	}
	if fqdn != name && strings.Contains(fqdn, ".") && layout.ValidateName(fqdn) == nil {
		h.Add(fqdn)
	}
	return h, nil
}

// hostsCanonical is the canonical name (the first) of the first line of
// an /etc/hosts text that lists name, or "".
func hostsCanonical(hosts []byte, name string) string {
	for _, line := range strings.Split(string(hosts), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) >= 2 && slices.ContainsFunc(f[1:], func(n string) bool { return strings.EqualFold(n, name) }) {
			return f[1]
		}
	}
	return ""
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	verb := map[bool]string{true: "would ", false: ""}[r.DryRun]
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: [%s] %s\n", p.Code, p.Message)
	}
	n := 0
	for _, c := range r.Changes {
		if c.Action == ActionUnchanged {
			continue
		}
		n++
		why := ""
		if c.Why != "" {
			why = " (" + c.Why + ")"
		}
		fmt.Fprintf(w, "%s%s %s %04o%s\n", verb, c.Action, c.Path, c.Mode, why)
	}
	switch {
	case n == 0:
		fmt.Fprintf(w, "%s: nothing to change under %s (names %s)\n", r.Bundle, r.Root, strings.Join(r.Names, ", "))
	case r.DryRun:
		fmt.Fprintf(w, "%s: %d files would change under %s; nothing written (dry run)\n", r.Bundle, n, r.Root)
	default:
		fmt.Fprintf(w, "%s: installed %d files under %s for %s\n", r.Bundle, n, r.Root, strings.Join(r.Names, ", "))
	}
}
