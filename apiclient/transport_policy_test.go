package apiclient_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

// TestNewCleartextPolicy checks the decision on http:// (spec/api.md): accepted for a
// loopback host, refused for any other unless WithAllowHTTP. New decides from the
// URL's text and connects to nothing, so the refused hosts are never contacted.
func TestNewCleartextPolicy(t *testing.T) {
	tests := []struct {
		url      string
		wantHost string // in the refusal; empty when accepted without WithAllowHTTP
	}{
		{"http://127.0.0.1:8080", ""},
		{"http://127.5.6.7", ""},
		{"http://[::1]:80", ""},
		{"http://[::ffff:127.0.0.1]:80", ""},
		{"http://localhost:1", ""},
		{"http://LOCALHOST", ""},
		{"HTTP://localhost/pbx/", ""},
		{"https://pbx.example.com", ""},
		{"https://192.0.2.1:8443", ""},
		{"http://pbx.example.com", "pbx.example.com"},
		{"http://10.0.0.1", "10.0.0.1"},
		{"http://192.0.2.1", "192.0.2.1"},
		{"http://[2001:db8::1]:8080", "2001:db8::1"},
		{"http://0.0.0.0:8080", "0.0.0.0"},
		{"http://localhost.evil.com", "localhost.evil.com"},
		{"http://localhost.", "localhost."},
		{"http://127.0.0.1.nip.io", "127.0.0.1.nip.io"},
		{"http://127.1", "127.1"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			for _, auth := range []struct {
				opt        apiclient.Option
				credential string
			}{
				{apiclient.WithAPIKey("k3y"), "API key"},
				{apiclient.WithLogin("alice", "p4ss"), "password"},
			} {
				c, err := apiclient.New(tt.url, auth.opt)
				if tt.wantHost == "" {
					require.NoError(t, err)
					require.NotNil(t, c)
				} else {
					require.Nil(t, c)
					var ce *apiclient.CleartextError
					require.ErrorAs(t, err, &ce)
					require.Equal(t, apiclient.CleartextError{Host: tt.wantHost, Credential: auth.credential}, *ce)
					require.EqualError(t, err, "refusing http:// to "+tt.wantHost+": the "+auth.credential+
						" would travel in the clear; use https://, or --allow-http if you mean it")
					require.NotContains(t, err.Error(), "k3y")
					require.NotContains(t, err.Error(), "p4ss")
				}

				c, err = apiclient.New(tt.url, auth.opt, apiclient.WithAllowHTTP())
				require.NoError(t, err, "WithAllowHTTP accepts every host")
				require.NotNil(t, c)
			}
		})
	}
}

// TestNewCleartextPolicyOtherChecksFirst keeps the older refusals: WithAllowHTTP does
// not make a bad URL or missing credentials acceptable.
func TestNewCleartextPolicyOtherChecksFirst(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  string
		opts []apiclient.Option
		want string
	}{
		{"ftp", "ftp://pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k")}, "invalid server URL"},
		{"credentials in the URL", "http://u:p@pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k")}, "invalid server URL"},
		{"no credentials", "http://pbx.example.com", nil, "no credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				opts := tt.opts
				if allow {
					opts = append(opts[:len(opts):len(opts)], apiclient.WithAllowHTTP())
				}
				c, err := apiclient.New(tt.url, opts...)
				require.Nil(t, c)
				require.ErrorContains(t, err, tt.want)
			}
		})
	}
}
