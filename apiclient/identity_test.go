package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
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
		{"http://127.0.0.1:18140", "http://0.0.0.0:18140", true},
		{"http://[::1]:18140", "http://[::]:18140", true},
		{"http://0.0.0.0:18140", "http://[::]:18140", false},
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

// fakeLookup resolves the names of hosts, and fails for any other; it counts the
// lookups of each name.
type fakeLookup struct {
	hosts map[string][]string
	mu    sync.Mutex
	asked map[string]int
}

func (f *fakeLookup) lookup(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	f.asked[host]++
	if network != "ip" {
		return nil, fmt.Errorf("network %q", network)
	}
	addrs, ok := f.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// loopbackNames resolves names to loopback addresses only.
var loopbackNames = map[string][]string{
	"localhost": {"127.0.0.1", "::1"},
	"pbx.test":  {"::ffff:127.0.0.1"},
	"zero.test": {"0.0.0.0"},
	"two.test":  {"127.0.0.2"},
	"v6.test":   {"fe80::1%lo"},
}

// TestResolverSameServer: two URLs whose hosts resolve to a common address on one
// port are one server; a name that does not resolve is compared by its key alone.
func TestResolverSameServer(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"http://localhost:18140", "http://127.0.0.1:18140", true},
		{"http://localhost:18140", "http://[::1]:18140/", true},
		{"http://localhost:18140", "http://127.1:18140", true},
		{"http://LOCALHOST.:18140", "http://127.0.0.1:18140", true},
		{"http://pbx.test:18140", "http://localhost:18140", true},
		{"http://zero.test:18140", "http://127.0.0.1:18140", true},
		{"http://v6.test:18140", "http://[fe80::1]:18140", true},
		{"http://pbx.test:18140/api", "http://127.0.0.1:18140/api/", true},
		{"http://localhost:18140", "http://127.0.0.1:18141", false},
		{"http://localhost:18140", "https://127.0.0.1:18140", false},
		{"http://localhost:18140/api", "http://127.0.0.1:18140/other", false},
		{"http://two.test:18140", "http://localhost:18140", false},
		{"http://unknown.test:18140", "http://127.0.0.1:18140", false},
		{"http://unknown.test:18140", "http://Unknown.Test.:18140", true},
		{"sim:localhost", "http://localhost:18140", false},
		{"ftp://localhost:18140", "http://127.0.0.1:18140", false},
	}
	for _, tt := range tests {
		for _, pair := range [][2]string{{tt.a, tt.b}, {tt.b, tt.a}} {
			f := &fakeLookup{hosts: loopbackNames}
			got, err := apiclient.Resolver{Lookup: f.lookup}.SameServer(t.Context(), pair[0], pair[1])
			require.NoError(t, err)
			if got != tt.want {
				t.Errorf("SameServer(%q, %q) = %v, want %v", pair[0], pair[1], got, tt.want)
			}
		}
	}
}

// TestResolverTwins: each URL is paired with the first earlier one naming its server,
// and each name is looked up once.
func TestResolverTwins(t *testing.T) {
	f := &fakeLookup{hosts: loopbackNames}
	urls := []string{"http://127.0.0.1:18140", "http://localhost:18141", "http://localhost:18140", "http://unknown.test", "http://127.1:18140", "http://unknown.test/", "ftp://ftp.test", "sim:state.yaml"}
	got, err := apiclient.Resolver{Lookup: f.lookup}.Twins(t.Context(), urls)
	require.NoError(t, err)
	want := []apiclient.Twin{
		{First: 0, Second: 2, Why: "http://127.0.0.1:18140 and http://localhost:18140 both reach http://127.0.0.1:18140"},
		{First: 0, Second: 4, Why: "both are http://127.0.0.1:18140"},
		{First: 3, Second: 5, Why: "both are http://unknown.test:80"},
	}
	require.Equal(t, want, got)
	require.Equal(t, map[string]int{"localhost": 1, "unknown.test": 1}, f.asked)
}

// TestResolverInterrupted: a cancelled context ends the lookups with its cause.
func TestResolverInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("interrupted")
	lookup := func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		cancel(stop)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	_, err := apiclient.Resolver{Lookup: lookup}.SameServer(ctx, "http://localhost:1", "http://127.0.0.1:1")
	require.ErrorIs(t, err, stop)
}

func TestSameCompanies(t *testing.T) {
	companies := func(nums map[string]int64) map[string]apiclient.Company {
		out := map[string]apiclient.Company{}
		for id, n := range nums {
			out[id] = apiclient.Company{ID: id, Num: n, Name: id}
		}
		return out
	}
	ab := companies(map[string]int64{"acme": 1001, "beta": 1002})
	const a, b = "http://127.0.0.1:18140", "http://127.0.0.1:18141"
	tests := []struct {
		name         string
		urlA, urlB   string
		compA, compB map[string]apiclient.Company
		want         bool
	}{
		{"the same companies and numeric ids", a, b, ab, companies(map[string]int64{"beta": 1002, "acme": 1001}), true},
		{"two empty servers", a, b, companies(nil), companies(nil), false},
		{"one more company", a, b, ab, companies(map[string]int64{"acme": 1001, "beta": 1002, "gamma": 1003}), false},
		{"one company fewer", a, b, ab, companies(map[string]int64{"acme": 1001}), false},
		{"another numeric id", a, b, ab, companies(map[string]int64{"acme": 1001, "beta": 1003}), false},
		{"another company with the numeric id", a, b, ab, companies(map[string]int64{"acme": 1001, "gamma": 1002}), false},
		{"a sim: copy", "sim:copy.yaml", b, ab, ab, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why, same := apiclient.SameCompanies(tt.urlA, tt.urlB, tt.compA, tt.compB)
			require.Equal(t, tt.want, same)
			if same {
				require.Equal(t, "both hold the same 2 companies with the same numeric ids", why)
			}
			_, same = apiclient.SameCompanies(tt.urlB, tt.urlA, tt.compB, tt.compA)
			require.Equal(t, tt.want, same)
		})
	}
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
		// A name that resolves to the address is the server too, on that port only.
		f := &fakeLookup{hosts: map[string][]string{"pbx.test": {ip.String()}}}
		named := fmt.Sprintf("http://pbx.test:%d/%s", port, p)
		if same, _ := (apiclient.Resolver{Lookup: f.lookup}).SameServer(t.Context(), base, named); !same {
			t.Errorf("%q resolves to %s: %q is its server", named, ip, base)
		}
		if same, _ := (apiclient.Resolver{Lookup: f.lookup}).SameServer(t.Context(), base, fmt.Sprintf("http://pbx.test:%d/%s", port+1, p)); same {
			t.Errorf("pbx.test on port %d is not %q", port+1, base)
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
