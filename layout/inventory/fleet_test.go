package inventory

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// fleetHosts is the size of the fleets the tests and benchmarks load.
const fleetHosts = 100000

// fleetVars are the host variables each host of a fleet inventory gets,
// as a real deployment's inventory carries them (addresses, interfaces,
// Kolla's per-host settings), besides ansible_host and migration_hostname.
var fleetVars = []string{
	"network_interface=bond0.100", "api_interface=bond0.200", "tunnel_interface=bond0.300",
	"neutron_external_interface=bond1", "storage_interface=bond0.400", "rack=r%03d",
	"ansible_user=deploy", "ansible_become=true", "nova_compute_virt_type=kvm", "serial=SN%08d",
}

// fleetINI is an INI inventory of n compute hosts, each on one line with
// its variables.
func fleetINI(n int) []byte {
	var b bytes.Buffer
	b.WriteString("[control]\ncontrol01 ansible_host=10.0.0.1\n\n[compute]\n")
	for i := range n {
		fmt.Fprintf(&b, "compute-%06d ansible_host=10.%d.%d.%d migration_hostname=compute-%06d.mgmt.example.org", i, i>>16&255, i>>8&255, i&255, i)
		for _, v := range fleetVars {
			b.WriteString(" " + strings.ReplaceAll(v, "%03d", fmt.Sprintf("%03d", i%1000)))
		}
		b.WriteString("\n")
	}
	return []byte(strings.ReplaceAll(b.String(), "%08d", "00000000"))
}

// fleetYAML is the same inventory in YAML, a mapping of variables per host.
func fleetYAML(n int) []byte {
	var b bytes.Buffer
	b.WriteString("all:\n  children:\n    control:\n      hosts:\n        control01:\n          ansible_host: 10.0.0.1\n    compute:\n      hosts:\n")
	for i := range n {
		fmt.Fprintf(&b, "        compute-%06d:\n          ansible_host: 10.%d.%d.%d\n          migration_hostname: compute-%06d.mgmt.example.org\n", i, i>>16&255, i>>8&255, i&255, i)
		for _, v := range fleetVars {
			k, val, _ := strings.Cut(v, "=")
			val = strings.ReplaceAll(strings.ReplaceAll(val, "%03d", fmt.Sprintf("%03d", i%1000)), "%08d", fmt.Sprintf("%08d", i))
			fmt.Fprintf(&b, "          %s: %s\n", k, val)
		}
	}
	return b.Bytes()
}

func writeFleet(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// A 100,000-host inventory with a dozen variables a host, far beyond the
// 4 MiB that used to bound it, loads in INI and in YAML, every host with
// its names.
func TestFleetInventory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two 100,000-host inventories")
	}
	for name, data := range map[string][]byte{"hosts.ini": fleetINI(fleetHosts), "hosts.yml": fleetYAML(fleetHosts)} {
		if len(data) <= fsutil.LimitConfig {
			t.Fatalf("%s: %d bytes, want more than the old 4 MiB bound", name, len(data))
		}
		inv, err := Load(writeFleet(t, name, data))
		if err != nil {
			t.Fatalf("%s (%d MiB): %v", name, len(data)>>20, err)
		}
		hosts, err := inv.Hosts("compute")
		if err != nil || len(hosts) != fleetHosts {
			t.Fatalf("%s: %d hosts, %v", name, len(hosts), err)
		}
		last := hosts[fleetHosts-1]
		names, warns := last.SANNames()
		want := fmt.Sprintf("compute-%06d compute-%06d.mgmt.example.org 10.1.134.159", fleetHosts-1, fleetHosts-1)
		if strings.Join(names, " ") != want || warns != nil || last.Vars["rack"] != "r999" {
			t.Errorf("%s: last host %q %q %v", name, names, warns, last.Vars)
		}
	}
}

// A file denser in values than any inventory (2 bytes a value) is refused
// before yaml.v3 builds it: the bound grows with the file, at one value
// per 4 bytes.
func TestYAMLDenseFileRefusedBeforeParsing(t *testing.T) {
	old := maxYAMLNodes
	maxYAMLNodes = 1000
	defer func() { maxYAMLNodes = old }()
	dense := []byte("a: [" + strings.Repeat("x,", 20000) + "x]\n") // 40 KB, 20,003 values
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseVarsFile("v.yml", dense, "vars", nil)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.HasPrefix(err.Error(), "v.yml: more than 10001 YAML values") {
		t.Fatalf("dense file: %v", err)
	}
	// yaml.v3 would have made some 200 bytes a value (4 MB); the estimate
	// allocates nothing.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing the dense file allocated %d bytes: it was parsed", grew)
	}
	// The same values written one a line, as inventories are, pass.
	sparse := []byte("a:\n" + strings.Repeat("  - xxxxxxxx\n", 2000))
	if _, err := ParseVarsFile("v.yml", sparse, "vars", nil); err != nil {
		t.Errorf("2,000 values one a line: %v", err)
	}
}

// The estimate is an upper bound of the values yaml.v3 makes, on every
// form of YAML the tests know (inventories, vars files, hostile input).
func TestYAMLValueEstimateBounds(t *testing.T) {
	for _, s := range append(hostileYAML(), string(fleetYAML(20)), "a", "[[],[],{}]", "{a: 1, b: [2, 3]}", `{"a":1,"b":{"c":[1,2]}}`,
		"- - - a\n  - b\n", "? a\n: b\n", "a: &x [1,2]\nb: *x\n", "a: |\n  text\n  more\n", "a:\n  b:\n    c:\n") {
		doc, err := parseYAMLDoc("e.yml", []byte(s))
		if err != nil || doc == nil {
			continue
		}
		if n, est := countNodes(doc, 1<<30), yamlValueEstimate([]byte(s)); n > est {
			t.Errorf("%q: %d values, estimated %d", s, n, est)
		}
	}
}

// BenchmarkFleetInventory loads a 100,000-host inventory (each host with
// ansible_host, migration_hostname and ten more variables) and lists the
// compute hosts with their names: -benchmem gives the bytes allocated,
// and peak-heap-MiB the largest live heap seen (GC forced between runs).
func BenchmarkFleetInventory(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"ini", fleetINI(fleetHosts)}, {"yaml", fleetYAML(fleetHosts)}} {
		b.Run(c.name, func(b *testing.B) {
			path := writeFleet(b, "hosts."+map[string]string{"ini": "ini", "yaml": "yml"}[c.name], c.data)
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				runtime.GC()
				inv, err := Load(path)
				if err != nil {
					b.Fatal(err)
				}
				hosts, err := inv.Hosts("compute")
				if err != nil || len(hosts) != fleetHosts {
					b.Fatal(len(hosts), err)
				}
				for _, h := range hosts {
					h.SANNames()
				}
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
				runtime.KeepAlive(hosts)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(len(c.data))/(1<<20), "file-MiB")
		})
	}
}
