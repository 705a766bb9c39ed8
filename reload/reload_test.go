package reload

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// QMP replies: a return, QEMU's error message, events skipped.
func TestParseReply(t *testing.T) {
	ret, done, err := parseReply([]byte(`{"return": {}}`))
	if !done || err != nil || string(ret) != "{}" {
		t.Errorf("return: %s %v %v", ret, done, err)
	}
	_, done, err = parseReply([]byte(`{"error": {"class": "GenericError", "desc": "The certificate hasn't got a known issuer"}}`))
	if !done || err == nil || !strings.Contains(err.Error(), "known issuer") {
		t.Errorf("error: %v %v", done, err)
	}
	if _, done, _ := parseReply([]byte(`{"event": "VNC_CONNECTED", "data": {}}`)); done {
		t.Error("an event ended the command")
	}
	if _, done, err := parseReply([]byte(`not json`)); !done || err == nil {
		t.Error("garbage accepted")
	}
}

// The VeNCrypt listeners of query-vnc-servers, wildcards reached on
// loopback; plain VNC is not reloaded.
func TestVNCTLSAddrs(t *testing.T) {
	var servers []vncServer
	raw := `[{"id":"default","auth":"vencrypt","vencrypt":"x509-vnc","server":[{"host":"0.0.0.0","service":"5901","family":"ipv4","websocket":false,"auth":"vencrypt","vencrypt":"x509-vnc"}],"clients":[]},
	         {"id":"plain","auth":"none","server":[{"host":"127.0.0.1","service":"5902","auth":"none"}]}]`
	if err := json.Unmarshal([]byte(raw), &servers); err != nil {
		t.Fatal(err)
	}
	if got := vncTLSAddrs(servers); !slices.Equal(got, []string{"127.0.0.1:5901"}) {
		t.Errorf("vncTLSAddrs = %v", got)
	}
}

// Admin sockets name their daemon; libvirtd.conf overrides are found
// only when not commented out.
func TestServerOfAndOverrides(t *testing.T) {
	for sock, want := range map[string]string{"/run/libvirt/libvirt-admin-sock": "libvirtd", "/run/libvirt/virtproxyd-admin-sock": "virtproxyd"} {
		if got := serverOf(sock); got != want {
			t.Errorf("serverOf(%s) = %s", sock, got)
		}
	}
	// Kolla's libvirtd.conf sets libvirt's default paths: no override.
	conf := "# key_file = \"/a\"\n#cert_file=\"/b\"\n  ca_file = \"/c\"\ncrl_file_x = 1\n" +
		"key_file = \"/etc/pki/libvirt/private/serverkey.pem\"\ncert_file = \"/etc/pki/libvirt/servercert.pem\"\n" +
		"crl_file = \"/etc/pki/CA/cacrl.pem\"\n"
	if keys := overrides([]byte(conf)); !slices.Equal(keys, []string{"ca_file"}) {
		t.Errorf("overrides found: %v", keys)
	}
}
