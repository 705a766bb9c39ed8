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
