package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"3":       3 * time.Second,
		"0":       0,
		"+5":      5 * time.Second,
		"-5":      -5 * time.Second,
		"2592000": 30 * 24 * time.Hour,
		"3s":      3 * time.Second,
		"1m30s":   90 * time.Second,
		"720h":    720 * time.Hour,
		"1.5s":    1500 * time.Millisecond,
		"-1h":     -time.Hour,
	}
	for in, want := range good {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "+", "3x", "3 s", "1.5", "s", "9223372037", "-9223372037", "99999999999999999999"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestDurationVarFlag(t *testing.T) {
	fl := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var d time.Duration
	durationVar(fl, &d, "timeout", 10*time.Second, "timeout")
	if d != 10*time.Second || fl.Lookup("timeout").DefValue != "10s" || fl.Lookup("timeout").Value.Type() != "duration" {
		t.Fatalf("default: %v, DefValue %q, Type %q", d, fl.Lookup("timeout").DefValue, fl.Lookup("timeout").Value.Type())
	}
	if err := fl.Parse([]string{"--timeout", "3"}); err != nil || d != 3*time.Second {
		t.Fatalf("--timeout 3: %v, %v", d, err)
	}
	if err := fl.Parse([]string{"--timeout=250ms"}); err != nil || d != 250*time.Millisecond || fl.Lookup("timeout").Value.String() != "250ms" {
		t.Fatalf("--timeout=250ms: %v, %v", d, err)
	}
	if err := fl.Parse([]string{"--timeout", "soon"}); err == nil {
		t.Fatal("--timeout soon: no error")
	}
}
