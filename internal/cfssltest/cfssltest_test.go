package cfssltest

import (
	"net"
	"strings"
	"testing"
)

// TestSignerStopRestart starts a real multirootca, stops it (its port
// then refuses connections) and starts it again on the same address.
func TestSignerStopRestart(t *testing.T) {
	s := Start(t, Options{})
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || s.CA.Key == nil || len(s.AuthKey) != 64 {
		t.Fatalf("signer %+v", s)
	}
	s.Stop()
	if c, err := net.Dial("tcp", s.addr); err == nil {
		c.Close()
		t.Fatal("the stopped signer still accepts connections")
	}
	s.Restart()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatalf("the restarted signer: %v", err)
	}
	c.Close()
}
