// Package errs holds the two error types that decide libvirt-pki's exit
// code: Input, bad input found before anything was written (exit 2), and
// Partial, a failure after some files were already written (exit 1, and
// the message names those files so the operator knows what changed).
// Every other error is a plain failure (exit 1).
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Input is bad input: a flag, file or setting the user must fix. Nothing
// has been written when it is returned.
type Input struct{ Err error }

func (e *Input) Error() string { return e.Err.Error() }
func (e *Input) Unwrap() error { return e.Err }

// Inputf returns an Input error with a formatted message.
func Inputf(format string, a ...any) error { return &Input{fmt.Errorf(format, a...)} }

// WrapInput marks err as bad input; nil stays nil.
func WrapInput(err error) error {
	if err == nil || IsInput(err) {
		return err
	}
	return &Input{err}
}

// IsInput reports whether err is bad input with nothing written: an Input
// somewhere in its chain, and no Partial.
func IsInput(err error) bool {
	var in *Input
	var p *Partial
	return errors.As(err, &in) && !errors.As(err, &p)
}

// Partial is a failure after some files were written: Written lists them,
// in the order written.
type Partial struct {
	Err     error
	Written []string
}

func (e *Partial) Error() string {
	if len(e.Written) == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v (already written before the failure: %s)", e.Err, strings.Join(e.Written, ", "))
}

func (e *Partial) Unwrap() error { return e.Err }

// AfterWrites returns err as a Partial naming written, or err itself when
// nothing was written (nil stays nil).
func AfterWrites(err error, written []string) error {
	if err == nil || len(written) == 0 {
		return err
	}
	return &Partial{Err: err, Written: written}
}
