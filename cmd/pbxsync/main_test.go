package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/sync"
)

// fastRetries is the retry policy of every client that a test's run makes: the
// attempts of the default, with waits of milliseconds, so that a test of a failing
// server does not sleep through real backoff.
var fastRetries = apiclient.WithRetryPolicy(apiclient.RetryPolicy{
	Attempts: apiclient.DefaultRetryPolicy.Attempts, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond,
})

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr, env(nil), fastRetries)
	return result{code, stdout.String(), stderr.String()}
}

func TestRunHelp(t *testing.T) {
	mentions := []string{
		"PBX_URL", "PBX_API_KEY", "PBX_USERNAME", "PBX_PASSWORD", "NO_COLOR",
		"Exit codes", "\n  0  success", "\n  1  an error", "\n  2  plan --detailed-exitcode", "\n  3  apply refused",
		"--url", "--ca-cert", "--log-format", "--log-level", "version",
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got := runCLI(t, args...)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stderr)
			for _, m := range mentions {
				require.Contains(t, got.stdout, m)
			}
			require.NotContains(t, got.stdout, "--parallelism")
		})
	}
}

func TestRunVersion(t *testing.T) {
	want := fmt.Sprintf("pbxsync %s (%s %s/%s)\n", apiclient.BuildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got := runCLI(t, args...)
			if diff := cmp.Diff(result{code: 0, stdout: want}, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantLine string // in the one pbxsync: line
		wantHint string // the lines below it
	}{
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`, "Run 'pbxsync --help' for usage."},
		{"later command", []string{"import", "-f", "inventory.yaml"}, `unknown command "import"`, "Did you mean \"export\"?\nRun 'pbxsync --help' for usage."},
		{"misspelled command", []string{"verson"}, `"verson"`, "Did you mean \"version\"?\nRun 'pbxsync --help' for usage."},
		{"a command of two", []string{"ex"}, `unknown command "ex"`, "Did you mean \"explain\" or \"export\"?\nRun 'pbxsync --help' for usage."},
		{"misspelled flag", []string{"plan", "--detailed-exitcodes"}, "unknown flag: --detailed-exitcodes", "Did you mean --detailed-exitcode?\nRun 'pbxsync plan --help' for usage."},
		{"misspelled flag with a value", []string{"apply", "--flet=f.yaml"}, "unknown flag: --flet", "Did you mean --fleet?\nRun 'pbxsync apply --help' for usage."},
		{"misspelled global flag", []string{"plan", "--log-formt", "json"}, "unknown flag: --log-formt", "Did you mean --log-format?\nRun 'pbxsync plan --help' for usage."},
		{"unknown shorthand", []string{"plan", "-x"}, "unknown shorthand flag", "Run 'pbxsync plan --help' for usage."},
		{"unknown flag", []string{"--bogus"}, "unknown flag: --bogus", "Run 'pbxsync --help' for usage."},
		{"unknown flag of a command", []string{"version", "--bogus"}, "unknown flag: --bogus", "Run 'pbxsync version --help' for usage."},
		{"flag without value", []string{"version", "--url"}, "--url", "Run 'pbxsync version --help' for usage."},
		{"extra argument", []string{"version", "extra"}, `"extra"`, "Run 'pbxsync version --help' for usage."},
		{"bad log format", []string{"--log-format", "xml", "version"}, `invalid --log-format "xml"`, "Run 'pbxsync version --help' for usage."},
		{"bad log level", []string{"--log-level", "loud", "version"}, `invalid --log-level "loud"`, "Run 'pbxsync version --help' for usage."},
		{"an inventory without -f", []string{"validate", "inv.yaml"}, "validate takes no argument: did you mean -f inv.yaml?", "Run 'pbxsync validate --help' for usage."},
		{"an inventory without -f, plan", []string{"plan", "inventory.yml"}, "plan takes no argument: did you mean -f inventory.yml?", "Run 'pbxsync plan --help' for usage."},
		{"an argument that is no file", []string{"plan", "now"}, `plan takes no argument, and "now" is not one of its commands`, "Run 'pbxsync plan --help' for usage."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, tt.args...)
			require.Equal(t, 1, got.code)
			require.Empty(t, got.stdout)
			first, hint, _ := strings.Cut(strings.TrimSuffix(got.stderr, "\n"), "\n")
			require.True(t, strings.HasPrefix(first, "pbxsync: "), "first line: %q", first)
			require.Contains(t, first, tt.wantLine)
			if diff := cmp.Diff(tt.wantHint, hint); diff != "" {
				t.Errorf("hint (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunCommandErrors runs a root with one more command that returns err, as later
// commands will.
func TestRunCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want result
	}{
		{"success", nil, result{code: 0}},
		{"changes", errChanges, result{code: 2}},
		{"refused", fmt.Errorf("apply: %w", &planfile.StalePlanError{Reason: "the inventory changed"}),
			result{code: 3, stderr: "pbxsync: refused before any write: apply: the saved plan is stale: the inventory changed: plan again\n"}},
		{"plain error", errors.New(`create of "acme": server refused: no such zone`),
			result{code: 1, stderr: "pbxsync: create of \"acme\": server refused: no such zone\n"}},
		{"lines joined", errors.New("first\n\n  second\tthird\n"),
			result{code: 1, stderr: "pbxsync: first second third\n"}},
		{"interrupted", fmt.Errorf("read: %w", context.Canceled),
			result{code: 1, stderr: "pbxsync: read: context canceled\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: env(nil)}
			root := a.newRootCmd()
			root.AddCommand(&cobra.Command{
				Use: "try",
				RunE: func(*cobra.Command, []string) error {
					require.NotNil(t, a.logger)
					return tt.err
				},
			})
			code := a.execute(t.Context(), root, []string{"try"})
			got := result{code, stdout.String(), stderr.String()}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain error", errors.New("boom"), 1},
		{"changes", errChanges, 2},
		{"wrapped changes", fmt.Errorf("plan: %w", errChanges), 2},
		{"refused", &plan.DeleteBudgetError{Deletes: 3, Max: 0}, 3},
		{"wrapped refused", fmt.Errorf("apply: %w", &planfile.StalePlanError{Reason: "edited"}), 3},
		{"move budget", &plan.MoveBudgetError{Moves: 2, Max: 1}, 3},
		{"fleet delete budget", &plan.FleetDeleteBudgetError{PBX: "paris", DeleteBudgetError: &plan.DeleteBudgetError{Deletes: 3}}, 3},
		{"another server", &planfile.OtherServerError{PlanFile: "p", MadeFor: "a", Given: "b"}, 3},
		{"migration's source budget", fmt.Errorf("migrate: %w", &sync.SourceDeleteBudgetError{Deletes: 5, Max: 4}), 3},
		{"canceled", context.Canceled, 1},
		{"wrapped canceled", fmt.Errorf("read: %w", context.Canceled), 1},
		{"refused credentials", &apiclient.AuthError{Message: "bad password"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, exitCode(tt.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format, level string
		wantErr       string
		wantLines     []string // of logging "d" at debug and "i" at info
	}{
		{format: "text", level: "info", wantLines: []string{"level=INFO msg=i"}},
		{format: "text", level: "debug", wantLines: []string{"level=DEBUG msg=d", "level=INFO msg=i"}},
		{format: "json", level: "debug", wantLines: []string{`"level":"DEBUG","msg":"d"`, `"level":"INFO","msg":"i"`}},
		{format: "json", level: "error"},
		{format: "xml", level: "info", wantErr: `invalid --log-format "xml": want text or json`},
		{format: "", level: "info", wantErr: `invalid --log-format "": want text or json`},
		{format: "text", level: "verbose", wantErr: `invalid --log-level "verbose": want debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := newLogger(&buf, tt.format, tt.level)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Nil(t, logger)
				return
			}
			require.NoError(t, err)
			logger.Debug("d")
			logger.Info("i")
			var lines []string
			for line := range strings.Lines(buf.String()) {
				if tt.format == "json" {
					require.True(t, json.Valid([]byte(line)), "not JSON: %q", line)
				}
				lines = append(lines, line)
			}
			require.Len(t, lines, len(tt.wantLines), "log: %q", buf.String())
			for i, want := range tt.wantLines {
				require.Contains(t, lines[i], want)
			}
		})
	}
}

const (
	testKey      = "k3y-SECRET-VALUE"
	testUser     = "alice-SECRET-USER"
	testPassword = "p4ss-SECRET-VALUE"
)

func TestConnect(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate "+testKey), 0o600))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name    string
		opts    globalOptions
		env     map[string]string
		wantErr string // empty for success
	}{
		{"no server", globalOptions{}, map[string]string{"PBX_API_KEY": testKey},
			"no server: set --url or PBX_URL"},
		{"no credentials", globalOptions{url: "https://pbx.example.com"}, nil,
			"no credentials: set PBX_API_KEY, or PBX_USERNAME and PBX_PASSWORD"},
		{"key and user", globalOptions{}, map[string]string{"PBX_URL": "https://pbx.example.com",
			"PBX_API_KEY": testKey, "PBX_USERNAME": testUser, "PBX_PASSWORD": testPassword},
			"two kinds of credentials"},
		{"key and password", globalOptions{}, map[string]string{"PBX_URL": "https://pbx.example.com",
			"PBX_API_KEY": testKey, "PBX_PASSWORD": testPassword},
			"two kinds of credentials"},
		{"user without password", globalOptions{}, map[string]string{"PBX_URL": "https://pbx.example.com",
			"PBX_USERNAME": testUser},
			"PBX_USERNAME is set without PBX_PASSWORD"},
		{"password without user", globalOptions{}, map[string]string{"PBX_URL": "https://pbx.example.com",
			"PBX_PASSWORD": testPassword},
			"PBX_PASSWORD is set without PBX_USERNAME"},
		{"unreadable ca-cert", globalOptions{url: "https://pbx.example.com", caCert: missing},
			map[string]string{"PBX_API_KEY": testKey},
			"--ca-cert: " + missing + ": no such file or directory"},
		{"ca-cert not PEM", globalOptions{url: "https://pbx.example.com", caCert: notPEM},
			map[string]string{"PBX_API_KEY": testKey},
			"--ca-cert " + notPEM + ": no PEM certificate in the file"},
		{"bad URL in flag", globalOptions{url: "ftp://pbx.example.com"}, map[string]string{"PBX_API_KEY": testKey},
			"--url: invalid server URL"},
		{"simulator URL without a file", globalOptions{}, map[string]string{"PBX_URL": "sim:", "PBX_API_KEY": testKey},
			"sim: needs a state file"},
		{"credentials in URL", globalOptions{url: "https://" + testUser + ":" + testPassword + "@pbx.example.com"},
			map[string]string{"PBX_API_KEY": testKey},
			"--url: invalid server URL"},
		{"API key", globalOptions{}, map[string]string{"PBX_URL": "https://pbx.example.com", "PBX_API_KEY": testKey}, ""},
		{"user and password", globalOptions{url: "http://127.0.0.1:8080"},
			map[string]string{"PBX_USERNAME": testUser, "PBX_PASSWORD": testPassword}, ""},
		{"flag before env", globalOptions{url: "https://pbx.example.com"},
			map[string]string{"PBX_URL": "sim:state.yaml", "PBX_API_KEY": testKey}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := connect(t.Context(), tt.opts, false, env(tt.env), nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, c)
			for _, secret := range []string{testKey, testUser, testPassword} {
				require.NotContains(t, err.Error(), secret)
			}
		})
	}
}

// TestConnectCACert calls a TLS server whose certificate only --ca-cert vouches for,
// and checks that the key reached it and was not logged.
func TestConnectCACert(t *testing.T) {
	keys := make(chan string, 10)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req apiclient.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err == nil && req.Auth != nil {
			keys <- req.Auth.Key
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":"fail","message":"test refusal"}`))
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	var log bytes.Buffer
	logger, err := newLogger(&log, "json", "debug")
	require.NoError(t, err)
	c, err := connect(t.Context(), globalOptions{url: srv.URL, caCert: caFile}, false,
		env(map[string]string{"PBX_API_KEY": testKey}), logger)
	require.NoError(t, err)

	_, err = c.ReadAll(t.Context())
	require.True(t, apiclient.IsRefused(err), "want the server's refusal over verified TLS, got %v", err)
	require.Len(t, keys, 1)
	require.Equal(t, testKey, <-keys)
	require.NotEmpty(t, log.String(), "the logger was not passed to the client")
	require.NotContains(t, log.String(), testKey)
}

// TestCompanyFlagOneType: every command that takes --company reads it alike,
// repeated or comma-separated.
func TestCompanyFlagOneType(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, lookupEnv: env(nil)}
	root := a.newRootCmd()
	for _, name := range []string{"plan", "apply", "export", "migrate", "diff", "doctor"} {
		t.Run(name, func(t *testing.T) {
			cmd, _, err := root.Find([]string{name})
			require.NoError(t, err)
			require.NoError(t, cmd.ParseFlags([]string{"--company", "acme_hq,beta", "--company", "solo"}))
			got, err := cmd.Flags().GetStringSlice("company")
			require.NoError(t, err)
			require.Equal(t, []string{"acme_hq", "beta", "solo"}, got)
		})
	}
}
