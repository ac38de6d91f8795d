package apiclient

import (
	"net/url"
	"path/filepath"
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

// SameServer reports whether two server URLs name one server (ServerKey).
func SameServer(a, b string) bool { return ServerKey(a) == ServerKey(b) }

// ServerKey is the identity of the server that raw names: for sim:PATH the state
// file's absolute, clean path; for a URL its scheme and host in lower case and its
// path without a final /. Two URLs with one key are one server.
func ServerKey(raw string) string {
	if path, ok := strings.CutPrefix(raw, "sim:"); ok {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sim:" + filepath.Clean(path)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(raw, "/")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
}
