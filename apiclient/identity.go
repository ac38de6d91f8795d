package apiclient

import (
	"cmp"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
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
func SameServer(a, b string) bool { return ServerKey(a) == ServerKey(b) }

// ServerKey is the canonical form of the server that raw names (cli.md "One server,
// one identity"), so that two spellings of one server have one key:
//   - sim:PATH: the state file's absolute, clean path, symbolic links resolved where
//     the file exists;
//   - a URL: the scheme in lower case; the host in lower case without a final dot, an
//     IP literal in one form (IPv4-mapped IPv6 as IPv4; 127.1, 0x7f.1 and 2130706433
//     as 127.0.0.1, as inet_aton reads them); the port always written, the scheme's
//     default when none is given, without leading zeros; the path cleaned, without
//     a final /.
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
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(raw, "/")
	}
	scheme := strings.ToLower(u.Scheme)
	port, ok := canonicalPort(u.Port(), scheme)
	if !ok {
		return strings.TrimRight(raw, "/")
	}
	p := path.Clean("/" + u.EscapedPath())
	if p == "/" {
		p = ""
	}
	return scheme + "://" + net.JoinHostPort(canonicalHost(u.Hostname()), port) + p
}

// canonicalHost writes a host name in lower case without a final dot, and an IP
// address in its one form.
func canonicalHost(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().WithZone("").String()
	}
	if addr, ok := inetAton(host); ok {
		return addr.String()
	}
	return host
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
