package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RemoteClass says what went wrong with a remote signer, and so what the
// operator has to fix.
type RemoteClass string

// The classes of RemoteError.
const (
	RemoteUnreachable    RemoteClass = "unreachable"     // no answer, or only 5xx, after retries
	RemoteTLS            RemoteClass = "tls"             // its TLS certificate is not trusted, or it does not speak TLS
	RemoteAuthRefused    RemoteClass = "auth-refused"    // it refused our HMAC token
	RemoteProfileRefused RemoteClass = "profile-refused" // it lacks our label or a profile, or its profile refused the request
	RemoteBadCertificate RemoteClass = "bad-certificate" // what it returned fails our checks
	RemoteProtocol       RemoteClass = "protocol"        // it does not answer as a cfssl signer
)

// remoteHints say what to do about each class.
var remoteHints = map[RemoteClass]string{
	RemoteUnreachable:    "check the URL and that the signer is running",
	RemoteTLS:            "trust the CA that issued the signer's TLS certificate (and use its name in the URL)",
	RemoteAuthRefused:    "the auth key file must hold the hex key of the signer's auth_keys entry",
	RemoteProfileRefused: "give the signer the label and the profiles of docs/remote-signing.md (pki.SignerConfig)",
	RemoteBadCertificate: "it was refused, not used: check the signer's CA and profiles against docs/remote-signing.md",
	RemoteProtocol:       "the URL must be a cfssl signer (multirootca, or cfssl serve with an auth key)",
}

// RemoteError is a remote signer's failure, classified.
type RemoteError struct {
	Class RemoteClass
	URL   string
	Err   error
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("remote signer %s (%s): %s; %s", e.URL, e.Class, oneLine(e.Err.Error()), remoteHints[e.Class])
}

func (e *RemoteError) Unwrap() error { return e.Err }

// apiError is a cfssl API answer other than success.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// missingCSR is how multirootca ("invalid request") and cfssl serve
// ("missing parameter ...") refuse an authorised request without a CSR.
func (e *apiError) missingCSR() bool {
	return e.Message == "invalid request" || strings.HasPrefix(e.Message, "missing parameter")
}

// transportError is a request that got no HTTP answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// Retries: three tries in all, waiting about 100 ms, then 400 ms (at
// most 1 s), with jitter so parallel workers do not retry in step.
const (
	remoteTries     = 3
	remoteBackoff   = 100 * time.Millisecond
	remoteBackoffTo = time.Second
)

// call POSTs payload to the API endpoint and decodes a successful
// result into out, retrying transient failures: no answer at all (refused,
// reset, timed out) and 5xx. A refusal (4xx), a TLS failure and a
// malformed answer are never retried. Errors are unclassified.
func (r *remoteSigner) call(ctx context.Context, endpoint string, payload, out any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	wait := remoteBackoff
	for try := 1; ; try++ {
		err = r.once(ctx, endpoint, body, out)
		if try == remoteTries || !transient(err) {
			return err
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(4*wait, remoteBackoffTo)
	}
}

func transient(err error) bool {
	var te *transportError
	var ae *apiError
	switch {
	case err == nil || tlsFailure(err):
		return false
	case errors.As(err, &te):
		return true
	case errors.As(err, &ae):
		return ae.Status >= 500
	}
	return false
}

// once is one request.
func (r *remoteSigner) once(ctx context.Context, endpoint string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/api/v1/cfssl/"+endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		// The URL is in every RemoteError already: keep the cause.
		if ue, ok := err.(*url.Error); ok {
			err = fmt.Errorf("%s: %w", endpoint, ue.Err)
		}
		return &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &transportError{err}
	}
	var ans struct {
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		if resp.StatusCode >= 500 {
			return &apiError{resp.StatusCode, http.StatusText(resp.StatusCode)}
		}
		return fmt.Errorf("HTTP %d, not a cfssl API answer: %q", resp.StatusCode, truncate(string(data), 80))
	}
	if !ans.Success || resp.StatusCode != http.StatusOK {
		msg := http.StatusText(resp.StatusCode)
		if len(ans.Errors) > 0 {
			msg = ans.Errors[0].Message
		}
		return &apiError{resp.StatusCode, msg}
	}
	if err := json.Unmarshal(ans.Result, out); err != nil {
		return fmt.Errorf("%s answer: %v", endpoint, err)
	}
	return nil
}

// classify turns an error of call into a *RemoteError. cfssl's refusals
// are told apart by their fixed messages: "invalid token" (wrong key),
// "not authorised" (address not allowed), "bad label", "invalid profile",
// "authorisation required" (a profile without auth_key), and "bad
// request" (multirootca: an unknown label, or its profile's policy
// refused the request).
func (r *remoteSigner) classify(err error) error {
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	e := &RemoteError{URL: r.url, Err: err}
	var ae *apiError
	var te *transportError
	switch {
	case tlsFailure(err):
		e.Class = RemoteTLS
	case errors.As(err, &te):
		e.Class, e.Err = RemoteUnreachable, fmt.Errorf("no answer after %d tries: %w", remoteTries, err)
	case errors.As(err, &ae) && ae.Status >= 500:
		e.Class, e.Err = RemoteUnreachable, fmt.Errorf("failing after %d tries: %w", remoteTries, err)
	case errors.As(err, &ae) && (ae.Message == "invalid token" || ae.Message == "not authorised"):
		e.Class, e.Err = RemoteAuthRefused, fmt.Errorf("it refused our auth key: %w", err)
	case errors.As(err, &ae) && ae.Status < 500 && ae.Status >= 400 && ae.Status != http.StatusNotFound && ae.Status != http.StatusMethodNotAllowed:
		e.Class, e.Err = RemoteProfileRefused, fmt.Errorf("it refused the request for %s or our profile: %w", r.labelName(), err)
	default:
		e.Class = RemoteProtocol
	}
	return e
}

// tlsFailure says whether err is the TLS handshake failing: an untrusted
// or misnamed certificate, or a server that does not speak TLS.
func tlsFailure(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
		rherr tls.RecordHeaderError
		alert tls.AlertError
	)
	return errors.As(err, &verr) || errors.As(err, &uaerr) || errors.As(err, &herr) ||
		errors.As(err, &cierr) || errors.As(err, &rherr) || errors.As(err, &alert) ||
		// net/http's own words for a plain-HTTP server, without a type.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// oneLine keeps an error on one line: servers put newlines in messages.
func oneLine(s string) string { return truncate(strings.Join(strings.Fields(s), " "), 400) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (r *remoteSigner) labelName() string {
	if r.label == "" {
		return "its default label"
	}
	return fmt.Sprintf("its label %q", r.label)
}
