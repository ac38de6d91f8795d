package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// TestAllowHTTPFlag checks that --allow-http reaches the client: http:// to a host
// that is not this machine is refused without it and accepted with it. Only the
// client is made (apiclient.New decides from the URL's text): nothing is dialled.
func TestAllowHTTPFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		vars    map[string]string
		wantErr string // empty: accepted
	}{
		{"remote http refused", []string{"--url", "http://pbx.example.com"}, map[string]string{"PBX_API_KEY": testKey},
			"pbxsync: --url: refusing http:// to pbx.example.com: the API key would travel in the clear; use https://, or --allow-http if you mean it\n"},
		{"remote http from PBX_URL refused, login", nil,
			map[string]string{"PBX_URL": "http://10.0.0.1:8080", "PBX_USERNAME": testUser, "PBX_PASSWORD": testPassword},
			"pbxsync: PBX_URL: refusing http:// to 10.0.0.1: the password would travel in the clear; use https://, or --allow-http if you mean it\n"},
		{"remote http with --allow-http", []string{"--url", "http://pbx.example.com", "--allow-http"}, map[string]string{"PBX_API_KEY": testKey}, ""},
		{"loopback http", []string{"--url", "http://127.0.0.1:8080"}, map[string]string{"PBX_API_KEY": testKey}, ""},
		{"localhost http", []string{"--url", "http://localhost:8080"}, map[string]string{"PBX_API_KEY": testKey}, ""},
		{"https", []string{"--url", "https://pbx.example.com"}, map[string]string{"PBX_API_KEY": testKey}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: env(tt.vars)}
			root := a.newRootCmd()
			root.AddCommand(&cobra.Command{
				Use: "connect",
				RunE: func(cmd *cobra.Command, _ []string) error {
					srv, err := connect(cmd.Context(), a.opts, false, a.lookupEnv, a.logger)
					if err != nil {
						return err
					}
					return srv.close()
				},
			})
			code := a.execute(t.Context(), root, append([]string{"connect"}, tt.args...))
			if tt.wantErr == "" {
				require.Equal(t, 0, code, "stderr: %s", stderr.String())
				require.Empty(t, stderr.String())
				return
			}
			require.Equal(t, 1, code)
			require.Equal(t, tt.wantErr, stderr.String())
		})
	}
}

func TestRootHelpNewFlags(t *testing.T) {
	got := runCLI(t, "--help")
	require.Equal(t, 0, got.code)
	for _, want := range []string{"--timeout DURATION", "--allow-http", "http:// is accepted only to this machine"} {
		require.Contains(t, got.stdout, want)
	}
	got = runCLI(t, "plan", "--help")
	require.Contains(t, got.stdout, "--timeout DURATION", "a global flag, on every command")
	require.Contains(t, got.stdout, "--allow-http")
	require.Contains(t, strings.Join(strings.Fields(got.stdout), " "), "1 an error: bad input, no connection, refused credentials, a plan left incomplete"+
		" (a PBX or a company that could not be read), an interruption, the --timeout reached", "plan's exit codes")
}
