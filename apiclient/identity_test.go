package apiclient_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/stretchr/testify/require"
)

func TestSameServer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://pbx.example.com", "https://pbx.example.com/", true},
		{"https://PBX.example.com", "https://pbx.example.com", true},
		{"HTTPS://pbx.example.com/api/", "https://pbx.example.com/api", true},
		{"https://pbx.example.com", "http://pbx.example.com", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"sim:state.yaml", "sim:./state.yaml", true},
		{"sim:state.yaml", "sim:" + filepath.Join(dir, "state.yaml"), true},
		{"sim:state.yaml", "sim:other.yaml", false},
		{"sim:state.yaml", "http://127.0.0.1:8080", false},
		// Respellings of one loopback server (cli.md "One server, one identity").
		{"http://127.0.0.1:18140", "http://127.1:18140", true},
		{"http://127.0.0.1:18140", "http://[::ffff:127.0.0.1]:18140", true},
		{"http://127.0.0.1:18140", "http://127.0.0.1:018140", true},
		{"http://127.0.0.1:18140", "http://0x7f.1:18140/", true},
		{"http://127.0.0.1:18140", "http://2130706433:18140", true},
		{"http://127.0.0.1:18140", "http://0177.0.0.1:18140", true},
		{"http://[::1]:18140", "http://[0:0:0:0:0:0:0:1]:18140", true},
		{"https://pbx.example.com", "https://PBX.Example.COM.:443", true},
		{"http://pbx.example.com", "http://pbx.example.com:80/", true},
		{"https://pbx.example.com/api", "https://pbx.example.com/x/../api/", true},
		{"http://127.0.0.1:18140", "http://127.0.0.1:18141", false},
		{"http://127.0.0.1:18140", "http://127.0.0.2:18140", false},
		{"http://127.0.0.1:443", "https://127.0.0.1:443", false},
		{"https://pbx.example.com/a", "https://pbx.example.com/b", false},
	}
	for _, tt := range tests {
		if got := apiclient.SameServer(tt.a, tt.b); got != tt.want {
			t.Errorf("SameServer(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := apiclient.SameServer(tt.b, tt.a); got != tt.want {
			t.Errorf("SameServer(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestServerLabel(t *testing.T) {
	for raw, want := range map[string]string{
		"https://pbx.example.com:8443/": "pbx.example.com:8443",
		"http://127.0.0.1:8080":         "127.0.0.1:8080",
		"sim:state.yaml":                "sim:state.yaml",
	} {
		if got := apiclient.ServerLabel(raw); got != want {
			t.Errorf("ServerLabel(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestSameServerSimLink: a sim: state file and a symbolic link to it are one server.
func TestSameServerSimLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "state.yaml")
	require.NoError(t, os.WriteFile(real, []byte("version: 1\n"), 0o600))
	link := filepath.Join(dir, "link.yaml")
	require.NoError(t, os.Symlink(real, link))
	require.True(t, apiclient.SameServer("sim:"+real, "sim:"+link))
}

// pathSegment is a path segment of a URL as people write one.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9._~-]*$`)

// FuzzSameServer: a loopback URL and its respellings are one server; the same URL on
// another port, or another loopback address, is not.
func FuzzSameServer(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(1), uint16(18140), "api", false)
	f.Add(uint8(1), uint8(2), uint8(3), uint16(80), "", true)
	f.Fuzz(func(t *testing.T, b, c, d uint8, port uint16, p string, upper bool) {
		if port == 0 || port == 65535 || !pathSegment.MatchString(p) {
			return // not a URL apiclient.New takes
		}
		ip := netip.AddrFrom4([4]byte{127, b, c, d})
		base := fmt.Sprintf("http://%s:%d/%s", ip, port, p)
		respellings := []string{
			fmt.Sprintf("http://[::ffff:%s]:%d/%s/", ip, port, p),
			fmt.Sprintf("HTTP://%s:0%d/./%s", ip, port, p),
			fmt.Sprintf("http://%d:%d/%s", uint32(127)<<24|uint32(b)<<16|uint32(c)<<8|uint32(d), port, p),
			fmt.Sprintf("http://0x7f.%d.%d.%d:%d/%s", b, c, d, port, p),
		}
		if b == 0 && c == 0 {
			respellings = append(respellings, fmt.Sprintf("http://127.%d:%d/%s", d, port, p))
		}
		if port == 80 {
			respellings = append(respellings, fmt.Sprintf("http://%s/%s", ip, p))
		}
		if upper {
			respellings = append(respellings, strings.ToUpper(base[:4])+base[4:])
		}
		for _, r := range respellings {
			if !apiclient.SameServer(base, r) {
				t.Errorf("%q and %q are one server: keys %q and %q", base, r, apiclient.ServerKey(base), apiclient.ServerKey(r))
			}
		}
		other := fmt.Sprintf("http://%s:%d/%s", ip, port+1, p)
		if apiclient.SameServer(base, other) {
			t.Errorf("%q and %q are two servers", base, other)
		}
		next := netip.AddrFrom4([4]byte{127, b, c, d + 1})
		if d != 255 && apiclient.SameServer(base, fmt.Sprintf("http://%s:%d/%s", next, port, p)) {
			t.Errorf("%s and %s are two servers", ip, next)
		}
	})
}
