package apiclient

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// WithAllowHTTP accepts an http:// URL to a host other than this machine, where the
// key or the password would cross the network in the clear (spec/api.md: the user
// asks for it on purpose, with --allow-http).
func WithAllowHTTP() Option { return func(c *Client) { c.allowHTTP = true } }

// CleartextError is why New refuses http:// to a host that is not this machine.
type CleartextError struct {
	Host       string // as the URL names it
	Credential string // "API key" or "password": what would travel in the clear
}

func (e *CleartextError) Error() string {
	return fmt.Sprintf("refusing http:// to %s: the %s would travel in the clear; use https://, or --allow-http if you mean it",
		e.Host, e.Credential)
}

// checkCleartext refuses u when it is http:// to a host other than this machine,
// unless WithAllowHTTP was given. It decides from the URL's text alone: nothing is
// resolved or dialled.
func (c *Client) checkCleartext(u *url.URL) error {
	if u.Scheme != "http" || c.allowHTTP || LoopbackHost(u.Hostname()) {
		return nil
	}
	credential := "API key"
	if c.key == "" {
		credential = "password"
	}
	return &CleartextError{Host: u.Hostname(), Credential: credential}
}

// LoopbackHost reports whether host, the host of a URL without its port or brackets,
// names this machine by its text alone: "localhost" in any case, or an IP literal in
// 127.0.0.0/8 or ::1 (an IPv4-mapped ::ffff:127.x.y.z included). No DNS lookup is
// made, so a name such as localhost.example.com or 127.0.0.1.nip.io is not loopback
// whatever it resolves to, and neither is "localhost." nor a shorthand like 127.1.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
