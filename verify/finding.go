// Package verify checks libvirt TLS and SASL credentials: offline, the
// files a layout holds for each host (chains, keys, names, usages, dates,
// permissions, SASL agreement), and live (see verify/live) a real TLS and
// SASL login against libvirtd. It reports findings with stable codes.
package verify

import "fmt"

// Severity orders findings.
type Severity string

// Severities, weakest first.
const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Rank orders severities for --fail-on.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// ParseSeverity accepts "error", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case Error, Warning, Info:
		return Severity(s), nil
	}
	return "", fmt.Errorf("severity %q: want error, warning or info", s)
}

// Finding is one problem found with one file of one host.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     Code     `json:"code"`
	Host     string   `json:"host"`
	File     string   `json:"file,omitempty"`
	Message  string   `json:"message"`
}

// Code is a finding's stable identifier: CI rules and auditors key on it,
// so codes are never renamed.
type Code string

// The offline codes. Each says what is wrong; the message says what to do.
const (
	CodeMissing        Code = "missing-file"
	CodeUnreadable     Code = "unreadable-file"
	CodePartialShadow  Code = "partial-shadow"
	CodeKeyMismatch    Code = "key-mismatch"
	CodeChain          Code = "untrusted-chain"
	CodeCANotCA        Code = "cacert-not-ca"
	CodeCATooMany      Code = "cacert-too-many"
	CodeCATooLarge     Code = "cacert-too-large"
	CodeLeafIsCA       Code = "leaf-is-ca"
	CodeKeyUsage       Code = "key-usage"
	CodeExtKeyUsage    Code = "ext-key-usage"
	CodeUsagePolicy    Code = "key-usage-policy"
	CodeNotYetValid    Code = "not-yet-valid"
	CodeExpired        Code = "expired"
	CodeExpiring       Code = "expiring"
	CodeSANMissing     Code = "san-missing"
	CodeWeakKey        Code = "weak-key"
	CodeWeakSignature  Code = "weak-signature"
	CodePermissions    Code = "permissions"
	CodeKeyExposed     Code = "key-exposed"
	CodeNoHosts        Code = "no-hosts"
	CodeRevoked        Code = "revoked"
	CodeCRLExpired     Code = "crl-expired"
	CodeCRLUntrusted   Code = "crl-untrusted"
	CodeSASLNoPassword Code = "sasl-password-missing"
	CodeSASLAuthConf   Code = "sasl-authconf-mismatch"
	CodeSASLDB         Code = "sasl-db-mismatch"
	CodeSASLRealm      Code = "sasl-realm"
	// CodeSASLRealmMissing: the sasldb lacks the user in a realm libvirtd
	// on the host may compute (one of its names).
	CodeSASLRealmMissing Code = "sasl-realm-missing"
	CodeSecretExposed    Code = "secret-exposed"
	// CodeCertmonger: certmonger cannot get a certificate of an enrolled
	// host (stuck, CA_REJECTED, CA_UNREACHABLE...): verify --certmonger.
	CodeCertmonger Code = "certmonger-request"
)
