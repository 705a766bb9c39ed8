package certs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/pki"
)

// ClientDNs lists, once each and in plan order, the DN strings of the
// client certificates the plan's layout holds, as libvirtd's
// tls_allowed_dn_list matches them. It reads the files, so it belongs
// after Apply.
func (p *Plan) ClientDNs() ([]string, error) {
	var dns []string
	for _, l := range p.Leaves {
		if l.kind.Profile.ExtUsage != pki.ClientProfile.ExtUsage {
			continue
		}
		c, err := pki.ReadCertsFile(l.File)
		if err != nil {
			return nil, fmt.Errorf("%v (run without --dry-run first)", err)
		}
		dn, err := pki.GnuTLSDN(c[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", l.File, err)
		}
		// libvirt's config strings have no escapes: a quote cannot be said.
		if strings.Contains(dn, `"`) {
			return nil, fmt.Errorf("%s: subject %s holds a double quote, which libvirtd.conf cannot express", l.File, dn)
		}
		if !slices.Contains(dns, dn) {
			dns = append(dns, dn)
		}
	}
	return dns, nil
}
