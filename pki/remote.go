package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/cloudflare/cfssl/auth"
	"github.com/cloudflare/cfssl/info"
	"github.com/cloudflare/cfssl/signer"
)

// leafSigner is what Issue needs of a signer: cfssl's local signer, or a
// remote cfssl signer reached over its authenticated sign API.
type leafSigner interface {
	Sign(signer.SignRequest) ([]byte, error)
}

// RemoteOptions says how to reach a cfssl signer: multirootca, or
// `cfssl serve` with an auth key. docs/remote-signing.md has the signer's
// side (SignerConfig).
type RemoteOptions struct {
	// URL is the signer's base URL, https://host:port: the CA certificate
	// comes from it, so plain http is refused.
	URL string
	// AuthKey is the hex HMAC-SHA-256 key of the signer's "standard"
	// auth_keys entry, read from a file by the caller, never from argv.
	AuthKey string
	// Label picks the signing root of a multirootca ("": its default).
	Label string
	// ProfilePrefix is put before each of our cfssl profile names
	// ("server-ecdsa", ...) on a signer shared with other users.
	ProfilePrefix string
	// TLSRoots are trusted for the signer's TLS certificate (nil: the
	// system's roots).
	TLSRoots *x509.CertPool
	// Issuers are the signer CA's issuers up to the root, when the
	// signer's certificate is an intermediate: cfssl's info endpoint gives
	// only its own certificate.
	Issuers []*x509.Certificate
	// Timeout bounds each HTTP request (default 30 s).
	Timeout time.Duration
	// Limit bounds the connections, and so the requests in flight, to
	// the signer (default 16).
	Limit int
}

// Defaults of RemoteOptions.
const (
	DefaultRemoteTimeout = 30 * time.Second
	DefaultRemoteLimit   = 16
)

// remoteSigner speaks cfssl's remote signing API (cfssl's own request and
// response types, HMAC tokens from cfssl's auth package) over one HTTP
// client. cfssl's api/client is not used because it makes a new transport
// and connection for every request and turns the status and the network
// error into text, which leaves nothing to bound, retry or classify.
type remoteSigner struct {
	url    string // base URL, without a trailing slash
	label  string
	prefix string
	auth   auth.Provider
	client *http.Client
}

// RemoteCA connects to a remote cfssl signer and returns a CA whose Issue
// signs through it: keys are made here and never leave the host, only
// CSRs go out. The CA certificate comes from the signer's info endpoint
// (with o.Issuers, up to the root). Before returning it checks that the
// signer has the label and every profile we sign with (SignerConfig)
// with our usages, and that it accepts our auth key, so a misconfigured
// signer fails here, before any key is made. The CA has no Key. Errors
// from the signer are *RemoteError.
func RemoteCA(ctx context.Context, o RemoteOptions) (*CA, error) {
	r, err := newRemoteSigner(o)
	if err != nil {
		return nil, err
	}
	cert, err := r.checkProfiles(ctx)
	if err != nil {
		return nil, err
	}
	chain := append([]*x509.Certificate{cert}, o.Issuers...)
	if err := checkCAChain(chain); err != nil {
		return nil, &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: fmt.Errorf("its CA certificate: %v", err)}
	}
	if err := r.checkAuth(ctx); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Chain: o.Issuers, CertPEM: EncodeCertsPEM(chain...), signer: r}, nil
}

// newRemoteSigner checks o and builds the HTTP client.
func newRemoteSigner(o RemoteOptions) (*remoteSigner, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("remote signer URL %q: want https://host:port (the CA certificate comes from it, so TLS is required)", o.URL)
	}
	key := strings.TrimSpace(o.AuthKey)
	if b, err := hex.DecodeString(key); err != nil || len(b) < 16 {
		return nil, errors.New("remote signer auth key: want the hex HMAC key of the signer's auth_keys entry (at least 16 bytes, 32 hex digits)")
	}
	provider, err := auth.New(key, nil)
	if err != nil {
		return nil, fmt.Errorf("remote signer auth key: %v", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRemoteTimeout
	}
	if o.Limit <= 0 {
		o.Limit = DefaultRemoteLimit
	}
	// HTTP/1.1 on purpose: one request per connection, so MaxConnsPerHost
	// bounds the requests in flight; idle connections are kept for reuse.
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: o.TLSRoots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxConnsPerHost:     o.Limit,
		MaxIdleConnsPerHost: o.Limit,
		IdleConnTimeout:     90 * time.Second,
	}
	return &remoteSigner{
		url:    strings.TrimSuffix(u.String(), "/"),
		label:  o.Label,
		prefix: o.ProfilePrefix,
		auth:   provider,
		client: &http.Client{Transport: tr, Timeout: o.Timeout},
	}, nil
}

// remoteProfiles are the cfssl profile names Issue signs with, each with
// the usages it must have on the signer.
func remoteProfiles() (names []string, usages map[string][]string) {
	usages = map[string][]string{}
	for _, p := range Profiles {
		for _, f := range KeyFamilies {
			names = append(names, p.cfsslName(f))
			usages[p.cfsslName(f)] = p.cfsslUsages(f)
		}
	}
	return names, usages
}

// checkProfiles asks the info endpoint for each of our profiles and
// returns the signer's CA certificate. cfssl answers for an unknown
// profile with its default profile's usages, so comparing the usages
// catches a missing profile as well as a wrong one.
func (r *remoteSigner) checkProfiles(ctx context.Context) (*x509.Certificate, error) {
	names, want := remoteProfiles()
	var cert *x509.Certificate
	for _, name := range names {
		var resp info.Resp
		if err := r.call(ctx, "info", info.Req{Label: r.label, Profile: r.prefix + name}, &resp); err != nil {
			return nil, r.classify(err)
		}
		got := slices.Clone(resp.Usage)
		slices.Sort(got)
		if w := slices.Sorted(slices.Values(want[name])); !slices.Equal(got, w) {
			return nil, &RemoteError{Class: RemoteProfileRefused, URL: r.url, Err: fmt.Errorf("its profile %q has usages %q, we need %q (a missing profile shows the default's)", r.prefix+name, got, w)}
		}
		if cert != nil {
			continue
		}
		certs, err := ParseCertsPEM([]byte(resp.Certificate))
		if err != nil {
			return nil, &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: fmt.Errorf("its info certificate: %v", err)}
		}
		cert = certs[0]
	}
	return cert, nil
}

// checkAuth sends each profile an authenticated sign request without a
// CSR: cfssl checks the label, the profile and the token before it looks
// for the CSR, so "missing CSR" means all three passed, and nothing is
// signed.
func (r *remoteSigner) checkAuth(ctx context.Context) error {
	names, _ := remoteProfiles()
	for _, name := range names {
		_, err := r.sign(ctx, signer.SignRequest{Profile: name})
		var ae *apiError
		if errors.As(err, &ae) && ae.missingCSR() {
			continue
		}
		if err == nil {
			return &RemoteError{Class: RemoteProtocol, URL: r.url, Err: errors.New("it signed a request without a CSR")}
		}
		return r.classify(err)
	}
	return nil
}

// Sign signs req through the signer. The certificate it returns is
// checked by Issue (checkIssued) before anyone sees it.
func (r *remoteSigner) Sign(req signer.SignRequest) ([]byte, error) {
	certPEM, err := r.sign(context.Background(), req)
	if err != nil {
		return nil, r.classify(err)
	}
	if _, err := ParseCertsPEM(certPEM); err != nil {
		return nil, &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: fmt.Errorf("it returned no certificate: %v", err)}
	}
	return certPEM, nil
}

// sign is one authenticated sign request (with retries), unclassified.
func (r *remoteSigner) sign(ctx context.Context, req signer.SignRequest) ([]byte, error) {
	req.Label = r.label
	req.Profile = r.prefix + req.Profile
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	token, err := r.auth.Token(body)
	if err != nil {
		return nil, err
	}
	areq := auth.AuthenticatedRequest{Timestamp: time.Now().Unix(), Token: token, Request: body}
	var resp struct {
		Certificate string `json:"certificate"`
	}
	if err := r.call(ctx, "authsign", areq, &resp); err != nil {
		return nil, err
	}
	return []byte(resp.Certificate), nil
}

// CheckAuthKeyRef accepts a reference to the signer's HMAC auth key as
// cfssl resolves it, "file:PATH" or "env:VAR", for a configuration that
// will be shown and kept: the hex key itself, which cfssl also reads
// there, is refused, as is anything else cfssl would take for a key.
func CheckAuthKeyRef(ref string) error {
	kind, name, _ := strings.Cut(ref, ":")
	switch {
	case kind == "file" && name != "" && !strings.ContainsFunc(name, unicode.IsControl):
		return nil
	case kind == "env" && envName.MatchString(name):
		return nil
	}
	// The value is not repeated: it may be the key.
	return errors.New("want file:PATH (the file holding the hex auth key, relative to the signer's working directory) or env:VAR, never the key itself")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckProfilePrefix accepts a prefix for our profile names on a shared
// signer: letters, digits, '.', '_' and '-'.
func CheckProfilePrefix(prefix string) error {
	if !profilePrefix.MatchString(prefix) {
		return fmt.Errorf("profile prefix %q: use letters, digits, '.', '_' and '-' only", prefix)
	}
	return nil
}

var profilePrefix = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// SignerConfig is the cfssl configuration (the JSON file roots.conf's
// config = names, or `cfssl serve -config`) a remote signer needs for
// libvirt-pki: one profile per leaf profile and key family, named as
// Issue asks for them after prefix, with our usages and the HMAC key
// keyRef names as cfssl reads it ("file:PATH", "env:VAR" or the hex key).
// The default profile has no usages and no auth key, so it signs nothing
// and a request for a profile the signer lacks is refused.
func SignerConfig(prefix, keyRef string) ([]byte, error) {
	type profile struct {
		Usages  []string `json:"usages,omitempty"`
		Expiry  string   `json:"expiry"`
		AuthKey string   `json:"auth_key,omitempty"`
	}
	const keyName = "libvirt-pki"
	profiles := map[string]profile{}
	names, usages := remoteProfiles()
	for _, n := range names {
		profiles[prefix+n] = profile{Usages: usages[n], Expiry: fmt.Sprintf("%dh", DefaultLeafDays*24), AuthKey: keyName}
	}
	cfg := map[string]any{
		"signing": map[string]any{
			"default":  profile{Expiry: "1h"},
			"profiles": profiles,
		},
		"auth_keys": map[string]any{keyName: map[string]string{"type": "standard", "key": keyRef}},
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	return append(out, '\n'), err
}
