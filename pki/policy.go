package pki

import (
	"crypto/x509"
	"slices"
	"strings"
)

// PolicyProblem is an RFC rule a leaf's keyUsage breaks although libvirt
// accepts it (CheckUsage finds nothing): the mark of a certificate made
// under libvirt-pki's first key-usage policy (digitalSignature and
// keyEncipherment, on every leaf), or of another PKI's. Such a leaf works
// and is re-issued under the current policy when it is due (renew,
// certificates --renew-before) or with --force, never for this alone.
type PolicyProblem struct {
	// Lint is zlint's name for the rule, which lint reports too.
	Lint string
	Text string
}

// The RFC rules on keyUsage the profiles keep, by zlint's names.
const (
	LintECDSAKeyUsage   = "e_ecdsa_allowed_ku"
	LintKUInconsistent  = "e_key_usage_and_extended_key_usage_inconsistent"
	LintKUNotCritical   = "w_ext_key_usage_not_critical"
	ecForbiddenKeyUsage = x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
)

// ekuConsistentKeyUsage is RFC 5280 §4.2.1.12's table (as zlint applies
// it) for the EKUs libvirt uses: the keyUsage sets consistent with each.
var ekuConsistentKeyUsage = map[x509.ExtKeyUsage][]x509.KeyUsage{
	x509.ExtKeyUsageServerAuth: {
		x509.KeyUsageDigitalSignature, x509.KeyUsageKeyEncipherment, x509.KeyUsageKeyAgreement,
		x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
	},
	x509.ExtKeyUsageClientAuth: {
		x509.KeyUsageDigitalSignature, x509.KeyUsageKeyAgreement, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
	},
}

// CheckPolicy lists the RFC rules cert's keyUsage breaks that the
// current profiles keep: keyEncipherment on an EC key (RFC 8813), bits
// inconsistent with the extended key usage (RFC 5280 §4.2.1.12), a
// keyUsage that is not critical (RFC 5280 §4.2.1.3). nil for a
// certificate of the current policy and for one without keyUsage.
func CheckPolicy(cert *x509.Certificate) []PolicyProblem {
	if !hasExtension(cert, oidKeyUsage) || (cert.BasicConstraintsValid && cert.IsCA) {
		return nil
	}
	var out []PolicyProblem
	ku := cert.KeyUsage
	if FamilyOf(cert.PublicKey) == ECKeys && ku&ecForbiddenKeyUsage != 0 {
		out = append(out, PolicyProblem{LintECDSAKeyUsage, "keyUsage " + KeyUsageString(ku&ecForbiddenKeyUsage) + " on an EC key (RFC 8813 forbids it)"})
	}
	if !kuConsistent(cert.ExtKeyUsage, ku) {
		var names []string
		for _, e := range cert.ExtKeyUsage {
			names = append(names, ExtUsageName(e))
		}
		out = append(out, PolicyProblem{LintKUInconsistent, "keyUsage " + KeyUsageString(ku) + " is inconsistent with " + strings.Join(names, ", ") + " (RFC 5280 §4.2.1.12)"})
	}
	if !critical(cert, oidKeyUsage) {
		out = append(out, PolicyProblem{LintKUNotCritical, "keyUsage is not critical (RFC 5280 §4.2.1.3)"})
	}
	return out
}

// kuConsistent says whether ku suits every purpose of ekus: one of the
// purpose's consistent sets, or (for several purposes) a union of one set
// of each. A purpose outside the table is not judged here.
func kuConsistent(ekus []x509.ExtKeyUsage, ku x509.KeyUsage) bool {
	allowed := []x509.KeyUsage{0}
	for _, e := range ekus {
		sets, ok := ekuConsistentKeyUsage[e]
		if !ok {
			return true
		}
		next := slices.Clone(allowed)
		for _, a := range allowed {
			for _, s := range sets {
				next = append(next, a|s)
			}
		}
		allowed = next
	}
	return len(ekus) == 0 || slices.Contains(allowed[1:], ku)
}
