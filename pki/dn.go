package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// shortNames are the attribute names GnuTLS prints in a DN.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "EMAIL",
}

// GnuTLSDN renders a certificate's subject the way libvirt's GnuTLS code
// does before matching tls_allowed_dn_list: attributes in the order they
// are encoded (for our certificates "O=Example,CN=compute01"), not the
// reversed RFC 4514 order Go's pkix.Name.String uses.
func GnuTLSDN(cert *x509.Certificate) (string, error) {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil {
		return "", err
	}
	var parts []string
	for _, rdn := range rdns {
		var attrs []string
		for _, atv := range rdn {
			name, ok := shortNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			attrs = append(attrs, name+"="+escapeDNValue(fmt.Sprint(atv.Value)))
		}
		parts = append(parts, strings.Join(attrs, "+"))
	}
	return strings.Join(parts, ","), nil
}

// escapeDNValue escapes the characters RFC 4514 reserves.
func escapeDNValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case strings.ContainsRune(`,+"\<>;=`, r), r == '#' && i == 0, r == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
