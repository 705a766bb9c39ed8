package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// durationValue is a pflag.Value for a time.Duration that takes bare
// seconds ("3", as timeouts are usually written in config files and cron
// lines) as well as Go durations ("3s", "720h"). pflag's own duration flag
// rejects "3" with "missing unit".
type durationValue time.Duration

// durationVar registers a duration flag that also accepts bare seconds.
func durationVar(fl *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fl.Var((*durationValue)(p), name, usage+" (a Go duration such as 90s or 720h, or bare seconds)")
}

// parseDuration reads bare whole seconds ("30", "-5") or a Go duration.
func parseDuration(s string) (time.Duration, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("%q seconds is out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither whole seconds (30) nor a Go duration (30s, 5m, 720h)", s)
	}
	return d, nil
}

// Set parses s (see parseDuration).
func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

// String renders the value as a Go duration, as pflag's duration flag does.
func (d *durationValue) String() string { return time.Duration(*d).String() }

// Type names the value in usage lines.
func (d *durationValue) Type() string { return "duration" }
