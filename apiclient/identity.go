package apiclient

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// The one place that says which server a URL names (cli.md "One server, one
// identity").

// ServerLabel is how metrics and reports name a server: the URL's host (with its port), or
// sim:PATH for the embedded simulator.
func ServerLabel(raw string) string {
	if strings.HasPrefix(raw, "sim:") {
		return raw
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// SameServer reports whether two server URLs name one server: their ServerKeys match.
// Resolver.SameServer also compares the addresses their host names resolve to.
func SameServer(a, b string) bool { return ServerKey(a) == ServerKey(b) }

// ServerKey is the canonical form of the server that raw names (cli.md "One server,
// one identity"), so that two spellings of one server have one key:
//   - sim:PATH: the state file's absolute, clean path, symbolic links resolved where
//     the file exists;
//   - a URL: the scheme in lower case; the host in lower case without a final dot, an
//     IP literal in one form (IPv4-mapped IPv6 as IPv4; 127.1, 0x7f.1 and 2130706433
//     as 127.0.0.1, as inet_aton reads them; 0.0.0.0 and :: as the loopback address a
//     connection to them reaches); the port always written, the scheme's default when
//     none is given, without leading zeros; the path cleaned, without a final /.
//
// A string that is not such a URL is its own key, with any final / removed.
func ServerKey(raw string) string {
	if path, ok := strings.CutPrefix(raw, "sim:"); ok {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		return "sim:" + filepath.Clean(path)
	}
	if s, ok := parseServer(raw); ok {
		return s.key(s.host)
	}
	return strings.TrimRight(raw, "/")
}

// server is a URL split where a Resolver compares it: the host, canonical, and the
// rest of its ServerKey around it.
type server struct {
	scheme, host, port, path string
}

// parseServer splits a URL; false for sim: and strings that are not such URLs.
func parseServer(raw string) (server, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return server{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	port, ok := canonicalPort(u.Port(), scheme)
	if !ok {
		return server{}, false
	}
	p := path.Clean("/" + u.EscapedPath())
	if p == "/" {
		p = ""
	}
	return server{scheme: scheme, host: canonicalHost(u.Hostname()), port: port, path: p}, true
}

// key is the server's ServerKey with host in place of its own.
func (s server) key(host string) string {
	return s.scheme + "://" + net.JoinHostPort(host, s.port) + s.path
}

// lookupTimeout bounds each host name lookup of a Resolver.
const lookupTimeout = 3 * time.Second

// Resolver tells whether server URLs name one server as SameServer does, and also
// when the host names of http(s) URLs resolve to a common address with the same
// scheme, port and path (cli.md "One server, one identity"). A name that cannot be
// resolved proves nothing: it is compared by its ServerKey alone, and the connection
// that follows fails if the name is bad. No connection is made.
type Resolver struct {
	// Lookup returns the addresses of host, as (*net.Resolver).LookupNetIP does for
	// network "ip"; nil asks net.DefaultResolver.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Twin says that urls[Second] names the server of urls[First], an earlier one.
type Twin struct {
	First, Second int
	Why           string // "both are KEY", or "KEY1 and KEY2 both reach KEY" when they resolve to a common address
}

// SameServer reports whether a and b name one server. The error is the context's.
func (r Resolver) SameServer(ctx context.Context, a, b string) (bool, error) {
	twins, err := r.Twins(ctx, []string{a, b})
	return len(twins) > 0, err
}

// Twins returns each URL of urls that names the same server as an earlier one, with
// the first such one, in the order of urls. Each host name is looked up once, for at
// most lookupTimeout (3s). The error is the context's, when it ends first.
func (r Resolver) Twins(ctx context.Context, urls []string) ([]Twin, error) {
	keys, err := r.keys(ctx, urls)
	if err != nil {
		return nil, err
	}
	var twins []Twin
	for j := range urls {
		for i := range j {
			k := slices.IndexFunc(keys[i], func(k string) bool { return slices.Contains(keys[j], k) })
			if k < 0 {
				continue
			}
			why := "both are " + keys[i][k]
			if keys[i][0] != keys[j][0] {
				why = fmt.Sprintf("%s and %s both reach %s", keys[i][0], keys[j][0], keys[i][k])
			}
			twins = append(twins, Twin{First: i, Second: j, Why: why})
			break
		}
	}
	return twins, nil
}

// keys returns, for each URL, the keys of the servers it may reach: its ServerKey
// first, then its key at each address its host name resolves to.
func (r Resolver) keys(ctx context.Context, urls []string) ([][]string, error) {
	var names []string // the host names of http(s) URLs, which alone are connected to
	for _, raw := range urls {
		s, ok := parseServer(raw)
		_, err := netip.ParseAddr(s.host)
		if ok && (s.scheme == "http" || s.scheme == "https") && err != nil && !slices.Contains(names, s.host) {
			names = append(names, s.host)
		}
	}
	found := make([][]netip.Addr, len(names))
	var g errgroup.Group
	g.SetLimit(8)
	for i, name := range names {
		g.Go(func() error { found[i] = r.lookup(ctx, name); return nil })
	}
	_ = g.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	keys := make([][]string, len(urls))
	for i, raw := range urls {
		keys[i] = []string{ServerKey(raw)}
		s, ok := parseServer(raw)
		if n := slices.Index(names, s.host); ok && n >= 0 {
			for _, addr := range found[n] {
				keys[i] = append(keys[i], s.key(canonicalAddr(addr).String()))
			}
		}
	}
	return keys, nil
}

// lookup returns the addresses of a host name; none when it cannot be resolved.
func (r Resolver) lookup(ctx context.Context, host string) []netip.Addr {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	lookup := r.Lookup
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	addrs, err := lookup(ctx, "ip", host)
	if err != nil {
		return nil
	}
	return addrs
}

// SameCompanies reports whether two servers, named urlA and urlB and read whole as a
// and b (every company, by id), hold the same companies with the same numeric ids,
// and at least one: then they are one server under two names (cli.md "One server, one
// identity"), and why says so ("both hold the same 3 companies with the same numeric
// ids"). Two empty servers are not. Two servers whose every company was created in
// the same order look one as well; a sim: server is never compared so, since its
// state file numbers its companies afresh whenever it is served: two copies of one
// file would always look one.
func SameCompanies(urlA, urlB string, a, b map[string]Company) (why string, same bool) {
	if strings.HasPrefix(urlA, "sim:") || strings.HasPrefix(urlB, "sim:") || len(a) == 0 || len(a) != len(b) {
		return "", false
	}
	for id, c := range a {
		if d, ok := b[id]; !ok || d.Num != c.Num {
			return "", false
		}
	}
	n := "1 company"
	if len(a) > 1 {
		n = strconv.Itoa(len(a)) + " companies"
	}
	return "both hold the same " + n + " with the same numeric ids", true
}

// OneServerError refuses a run given one server under two names.
type OneServerError struct {
	A, B string // the two names, as the run was given them: "--from", "PBX london (line 3)"
	Why  string // how they were found one: a Twin's Why, or the companies both hold
}

func (e *OneServerError) Error() string {
	return fmt.Sprintf("%s and %s name one server (%s)", e.A, e.B, e.Why)
}

// canonicalHost writes a host name in lower case without a final dot, and an IP
// address in its one form.
func canonicalHost(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if addr, err := netip.ParseAddr(host); err == nil {
		return canonicalAddr(addr).String()
	}
	if addr, ok := inetAton(host); ok {
		return canonicalAddr(addr).String()
	}
	return host
}

// canonicalAddr is an address in its one form: IPv4-mapped IPv6 as IPv4, no zone,
// and the unspecified address as the loopback one that a connection to it reaches.
func canonicalAddr(addr netip.Addr) netip.Addr {
	addr = addr.Unmap().WithZone("")
	switch {
	case addr == netip.IPv4Unspecified():
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case addr == netip.IPv6Unspecified():
		return netip.IPv6Loopback()
	}
	return addr
}

// canonicalPort is the port as a number without leading zeros, the scheme's default
// when there is none; false when it is not a port.
func canonicalPort(port, scheme string) (string, bool) {
	if port == "" {
		switch scheme {
		case "http":
			return "80", true
		case "https":
			return "443", true
		}
		return "", true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

// inetAton reads an IPv4 address as inet_aton(3) does, and so as a resolver may
// connect to it: one to four parts, each decimal, octal (led by 0) or hex (led by 0x),
// the last one filling the bytes left (127.1 is 127.0.0.1).
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, part := range parts {
		base, digits := 10, part
		switch {
		case strings.HasPrefix(part, "0x"):
			base, digits = 16, part[2:]
		case len(part) > 1 && part[0] == '0':
			base, digits = 8, part[1:]
		}
		if digits == "" && base != 8 {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(cmp.Or(digits, "0"), base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}, false
		}
		v |= n << (24 - 8*i)
	}
	last, room := nums[len(nums)-1], uint(32-8*(len(nums)-1))
	if last >= 1<<room {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
