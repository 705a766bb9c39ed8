package certmonger

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// RenewBefore is how long before a certificate's end certmonger renews
// it: the largest of its default enroll_ttls (certmonger.conf(5),
// 2419200 s). A host may set other values in /etc/certmonger/certmonger.conf.
const RenewBefore = 28 * 24 * time.Hour

// failedStates are the states in which certmonger will not get a
// certificate without help.
var failedStates = []string{"CA_UNREACHABLE", "CA_REJECTED", "CA_UNCONFIGURED", "NEED_GUIDANCE"}

// Ours returns the requests enroll made (IDPrefix), in certmonger's
// order.
func Ours(all []Tracked) []Tracked {
	var out []Tracked
	for _, t := range all {
		if strings.HasPrefix(t.ID, IDPrefix) {
			out = append(out, t)
		}
	}
	return out
}

// Problem says what is wrong with a request certmonger holds, "" when
// nothing is: stuck, or refused, unreachable or unconfigured CA, with
// the helper's message.
func (t Tracked) Problem() string {
	if !t.Stuck && !slices.Contains(failedStates, t.Status) {
		return ""
	}
	msg := fmt.Sprintf("certmonger request %s is %s", t.ID, t.Status)
	if t.Stuck {
		msg += " and stuck"
	}
	if t.CAError != "" {
		msg += ": " + t.CAError
	}
	switch t.Status {
	case "CA_UNREACHABLE":
		msg += "; certmonger retries by itself: start the signer (or fix the network), then `getcert resubmit -i " + t.ID + "` to retry now"
	default:
		msg += "; fix the cause, then `getcert resubmit -i " + t.ID + "`"
	}
	return msg
}

// RenewAt is when certmonger will renew the certificate (zero when it
// has none yet, or does not renew it).
func (t Tracked) RenewAt() time.Time {
	if t.Expires.IsZero() || !t.AutoRenew {
		return time.Time{}
	}
	return t.Expires.Add(-RenewBefore)
}
