package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestInput(t *testing.T) {
	err := fmt.Errorf("sasl: %w", Inputf("--mech %q: unknown", "plain"))
	if !IsInput(err) || err.Error() != `sasl: --mech "plain": unknown` {
		t.Errorf("IsInput(%v) = %v", err, IsInput(err))
	}
	if IsInput(fs.ErrNotExist) || IsInput(nil) {
		t.Error("a plain error is not bad input")
	}
	if WrapInput(nil) != nil {
		t.Error("WrapInput(nil) != nil")
	}
	w := WrapInput(fs.ErrPermission)
	if !IsInput(w) || !errors.Is(w, fs.ErrPermission) || WrapInput(w) != w {
		t.Errorf("WrapInput: %#v", w)
	}
}

func TestPartial(t *testing.T) {
	if AfterWrites(nil, []string{"a"}) != nil || AfterWrites(fs.ErrPermission, nil) != fs.ErrPermission {
		t.Error("AfterWrites with nothing to say must return err as is")
	}
	// Bad input found after writes is no longer "nothing written".
	err := AfterWrites(Inputf("h2: bad"), []string{"/x/h1/a", "/x/h1/b"})
	if IsInput(err) {
		t.Error("a Partial is not bad input")
	}
	var p *Partial
	if !errors.As(err, &p) || len(p.Written) != 2 {
		t.Fatalf("not a Partial: %#v", err)
	}
	if want := "h2: bad (already written before the failure: /x/h1/a, /x/h1/b)"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}
