package live

import (
	"errors"
	"testing"
)

func TestDigestRealm(t *testing.T) {
	for challenge, want := range map[string]string{
		`realm="compute01.example.org",nonce="abc",qop="auth",charset=utf-8,algorithm=md5-sess`: "compute01.example.org",
		`nonce="abc", realm="a\"b",qop="auth"`:                                                  "a\"b",
		`nonce="abc",qop="auth",algorithm=md5-sess`:                                             "",
		`nonce="xrealm=\"no\"",algorithm=md5-sess`:                                              "",
	} {
		if got := digestRealm([]byte(challenge)); got != want {
			t.Errorf("digestRealm(%s) = %q, want %q", challenge, got, want)
		}
	}
}

// An auth failure is an unknown user only where the mechanism shows it:
// SCRAM refused at START, or DIGEST-MD5 in a realm the sasldb lacks.
func TestUnknownUser(t *testing.T) {
	refused := &failure{class: ClassAuthFailed, err: errors.New("authentication failed")}
	for _, tc := range []struct {
		mech, step, realm string
		realms            []string
		want              Class
	}{
		{mechSCRAMSHA256, "sasl-start", "", []string{"compute01"}, ClassSASLUnknownUser},
		{mechSCRAMSHA256, "sasl-step", "", []string{"compute01"}, ClassAuthFailed}, // a wrong password
		{mechDigestMD5, "sasl-step", "compute01.example.org", []string{"compute01"}, ClassSASLUnknownUser},
		{mechDigestMD5, "sasl-step", "Compute01", []string{"compute01"}, ClassAuthFailed},
		{mechDigestMD5, "sasl-step", "compute01.example.org", []string{}, ClassSASLUnknownUser}, // no user at all
		{mechDigestMD5, "sasl-step", "compute01.example.org", nil, ClassAuthFailed},             // sasldb unknown
	} {
		ck := &checker{c: Credentials{Authname: "nova", Realms: tc.realms}, r: &Result{ServerRealm: tc.realm, Steps: []Step{{Name: tc.step}}}}
		var f *failure
		if err := ck.unknownUser(refused, tc.mech); !errors.As(err, &f) || f.class != tc.want {
			t.Errorf("%s failing at %s, realm %q, sasldb realms %v: %v, want class %s", tc.mech, tc.step, tc.realm, tc.realms, err, tc.want)
		}
	}
	other := &failure{class: ClassTimeout, err: errors.New("timeout")}
	if err := (&checker{r: &Result{Steps: []Step{{Name: "sasl-start"}}}}).unknownUser(other, mechSCRAMSHA256); err != other {
		t.Errorf("a timeout became %v", err)
	}
}
