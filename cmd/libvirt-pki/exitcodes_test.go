package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

func TestExitCodeFor(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		ok   bool
	}{
		{errs.Inputf("bad"), exitUsage, true},
		{fmt.Errorf("sasl: %w", errs.Inputf("bad")), exitUsage, true},
		{errs.AfterWrites(errors.New("disk full"), []string{"h1/passwd.db"}), exitFailure, true},
		{errs.AfterWrites(errs.Inputf("h2: bad"), []string{"h1/passwd.db"}), exitFailure, true},
		{errors.New("plain"), 0, false},
	} {
		code, ok := exitCodeFor(c.err)
		if code != c.code || ok != c.ok {
			t.Errorf("exitCodeFor(%v) = %d, %v; want %d, %v", c.err, code, ok, c.code, c.ok)
		}
	}
}
