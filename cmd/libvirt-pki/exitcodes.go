package main

import (
	"errors"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

// exitCodeFor maps the project's error types to exit codes: a failure
// after something was written (errs.Partial, whose message names what was
// written) exits 1 even when bad input caused it, and bad input with
// nothing written (errs.Input) exits 2. ok is false for any other error.
func exitCodeFor(err error) (code int, ok bool) {
	var partial *errs.Partial
	switch {
	case errors.As(err, &partial):
		return exitFailure, true
	case errs.IsInput(err):
		return exitUsage, true
	}
	return 0, false
}

// asUsage hands bad input (errs.Input) to run as a usageError, which run
// maps to exit 2 today. It is a bridge: once run asks exitCodeFor first,
// it is an identity and its calls can go.
func asUsage(err error) error {
	if errs.IsInput(err) {
		return usageError{err}
	}
	return err
}
