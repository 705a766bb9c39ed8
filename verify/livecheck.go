package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/verify/live"
)

// LiveOptions configures the live checks.
type LiveOptions struct {
	// Endpoints are HOST[:PORT] to check; each uses the credentials of the
	// host it names (its own directory, else the shared files).
	Endpoints []string
	// All adds every name and address of every host, at live.DefaultPort.
	All         bool
	Authname    string
	Password    string // "" when none is known: a daemon requiring SASL then fails with sasl-no-password
	Mech        string
	URI         string
	Timeout     time.Duration
	Concurrency int
}

// LiveCheck runs the live checks and adds their results, and a finding
// for each failure, to rep. hosts are the hosts the offline check used.
func LiveCheck(ctx context.Context, o Options, lo LiveOptions, hosts []layout.Host, rep *Report) error {
	hosts, err := hostsToCheck(o, hosts)
	if err != nil {
		return err
	}
	endpoints := append([]string(nil), lo.Endpoints...)
	if lo.All {
		for _, h := range hosts {
			for _, n := range h.Names() {
				endpoints = append(endpoints, net.JoinHostPort(n, live.DefaultPort))
			}
		}
	}
	c := &checker{o: o, tree: o.tree()}
	creds := map[string]live.Credentials{}
	var jobs []live.Job
	for _, ep := range endpoints {
		name, port, err := net.SplitHostPort(ep)
		if err != nil {
			name, port = strings.Trim(ep, "[]"), live.DefaultPort
		}
		if layout.ValidateName(name) != nil {
			return fmt.Errorf("--live %q: not a host name or address", ep)
		}
		host := ownerOf(name, hosts)
		cr, ok := creds[host]
		if !ok {
			if cr, err = c.liveCredentials(host, name, lo); err != nil {
				return err
			}
			creds[host] = cr
		}
		label := host
		if label == "" {
			label = SharedHost
		}
		jobs = append(jobs, live.Job{
			Target:      live.Target{Host: label, Addr: net.JoinHostPort(name, port), ServerName: name},
			Credentials: cr,
			Options:     live.Options{Timeout: lo.Timeout, Mech: lo.Mech, URI: lo.URI},
		})
	}
	rep.Live = live.CheckAll(ctx, jobs, lo.Concurrency)
	for _, r := range rep.Live {
		if r.OK {
			continue
		}
		f := Finding{Error, Code("live-" + string(r.Class)), r.Target.Host, r.Target.Addr, r.Err}
		rep.Findings = append(rep.Findings, f)
	}
	return nil
}

// ownerOf finds the host an endpoint name belongs to ("" for none).
func ownerOf(name string, hosts []layout.Host) string {
	for _, h := range hosts {
		if strings.EqualFold(h.Name, name) {
			return h.Name
		}
	}
	for _, h := range hosts {
		for _, n := range h.Names() {
			if strings.EqualFold(n, name) {
				return h.Name
			}
		}
	}
	return ""
}

// liveCredentials loads the CA and client pair a host's clients hold, and
// the SASL credentials (the options', else the host's auth.conf).
func (c *checker) liveCredentials(host, endpointName string, lo LiveOptions) (live.Credentials, error) {
	files := map[layout.Role]string{}
	for _, r := range c.tree.Resolve(host) {
		files[r.Role] = r.Path
	}
	var pem [3][]byte
	for i, role := range []layout.Role{layout.CACert, layout.ClientCert, layout.ClientKey} {
		if files[role] == "" {
			if host == "" {
				return live.Credentials{}, fmt.Errorf("live check of %s: it is not a name of any host, and %s has no shared %s.pem: give --host NAME=%s to use that host's credentials", endpointName, c.o.Root, role, endpointName)
			}
			return live.Credentials{}, fmt.Errorf("live check of %s: host %s has no %s.pem under %s", endpointName, host, role, c.o.Root)
		}
		var err error
		if pem[i], err = readTreeFile(files[role], role); err != nil {
			return live.Credentials{}, err
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem[0]) {
		return live.Credentials{}, fmt.Errorf("%s: no certificate", files[layout.CACert])
	}
	pair, err := tls.X509KeyPair(pem[1], pem[2])
	if err != nil {
		return live.Credentials{}, fmt.Errorf("%s: %v", files[layout.ClientCert], err)
	}
	return live.Credentials{CA: pool, ClientCert: pair, Authname: lo.Authname, Password: lo.Password}, nil
}
