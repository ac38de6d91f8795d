package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan"
)

// silentServer listens on a loopback port, accepts every connection and never
// answers: a server that hangs. It returns the URL and counts the connections.
func silentServer(t *testing.T) (url string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

// runBounded runs pbxsync under a safety deadline far beyond any --timeout in these
// tests, so that a run that ignores --timeout fails the test instead of hanging it.
// The safety deadline has its own cause, which no assertion accepts as the timeout.
func runBounded(t *testing.T, vars map[string]string, args ...string) outcome {
	t.Helper()
	errSafety := errors.New("the test's safety deadline passed: --timeout did not end the run")
	ctx, cancel := context.WithTimeoutCause(t.Context(), 2*time.Minute, errSafety)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, strings.NewReader(""), &stdout, &stderr, env(vars), fastRetries)
		done <- outcome{code, stdout.String(), stderr.String()}
	}()
	select {
	case got := <-done:
		return got
	case <-time.After(3 * time.Minute):
		t.Fatalf("pbxsync %s did not return", strings.Join(args, " "))
		return outcome{}
	}
}

const timeoutInventory = `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      zone: US/Pacific
`

func TestTimeoutPlan(t *testing.T) {
	t.Parallel()
	url, accepted := silentServer(t)
	inv := writeFile(t, t.TempDir(), "inventory.yaml", timeoutInventory)

	got := runBounded(t, map[string]string{"PBX_URL": url, "PBX_API_KEY": testKey},
		"plan", "-f", inv, "--timeout", "1s")

	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Empty(t, got.stdout, "no plan from a server that never answered")
	last := lines(got.stderr)[len(lines(got.stderr))-1]
	require.True(t, strings.HasPrefix(last, "pbxsync: "), "stderr: %s", got.stderr)
	require.Contains(t, last, "the run took longer than --timeout 1s")
	require.Equal(t, 1, strings.Count(got.stderr, "--timeout"), "said once: %s", got.stderr)
	require.NotContains(t, got.stderr, "context deadline exceeded")
	require.NotContains(t, got.stderr, "Run 'pbxsync", "no usage hint: pbxsync was called right")
	require.NotContains(t, got.stderr, testKey)
	require.Positive(t, accepted(), "the request reached the server")
}

func TestTimeoutApply(t *testing.T) {
	t.Parallel()
	url, _ := silentServer(t)
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", timeoutInventory)
	report := filepath.Join(dir, "report.json")
	metrics := filepath.Join(dir, "pbxsync.prom")

	got := runBounded(t, map[string]string{"PBX_URL": url, "PBX_API_KEY": testKey},
		"apply", "-f", inv, "--auto-approve", "--timeout", "1s", "--report", report, "--metrics-file", metrics)

	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Contains(t, got.stderr, "the run took longer than --timeout 1s")
	require.NotContains(t, got.stderr, testKey)

	data, err := os.ReadFile(report)
	require.NoError(t, err, "the report is written when the run times out")
	res := decodeResult(t, string(data))
	require.False(t, res.Verified)
	require.Contains(t, res.Error, "the run took longer than --timeout 1s")
	text, err := os.ReadFile(metrics)
	require.NoError(t, err, "the metrics are written when the run times out")
	_, values, _ := metricsOf(t, string(text))
	require.Equal(t, 0.0, values["pbxsync_last_run_success"])
}

func TestTimeoutFlag(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantLine string
	}{
		{"negative", []string{"--timeout", "-1s", "version"}, "invalid --timeout -1s"},
		{"not a duration", []string{"--timeout", "soon", "version"}, `invalid argument "soon" for "--timeout"`},
		{"no unit", []string{"version", "--timeout", "30"}, `invalid argument "30" for "--timeout"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, tt.args...)
			require.Equal(t, 1, got.code)
			require.Empty(t, got.stdout)
			require.Len(t, lines(got.stderr), 2, "stderr: %q", got.stderr)
			require.Contains(t, lines(got.stderr)[0], tt.wantLine)
			require.Contains(t, lines(got.stderr)[1], "--help' for usage.")
		})
	}

	for _, args := range [][]string{{"--timeout", "0", "version"}, {"version", "--timeout", "90s"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got := runCLI(t, args...)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		})
	}
}

// TestTimeoutMessage runs commands that end at the deadline in the ways the real
// ones do: with the context's cause in their error's chain, or with an error of their
// own (a cancelled prompt), which gets the reason in front. Each says it once.
func TestTimeoutMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(ctx context.Context) error
		want result
	}{
		{"cause wrapped", func(ctx context.Context) error {
			return fmt.Errorf(`read of "acme": %w`, context.Cause(ctx))
		}, result{code: 1, stderr: "pbxsync: read of \"acme\": the run took longer than --timeout 50ms\n"}},
		{"cause wrapped in a report's error", func(ctx context.Context) error {
			return fmt.Errorf("interrupted: %w: 1 change not run", context.Cause(ctx))
		}, result{code: 1, stderr: "pbxsync: interrupted: the run took longer than --timeout 50ms: 1 change not run\n"}},
		{"own error", func(context.Context) error {
			return errors.New("interrupted: 3 changes not run, run apply again to finish")
		}, result{code: 1, stderr: "pbxsync: the run took longer than --timeout 50ms: interrupted: 3 changes not run, run apply again to finish\n"}},
		{"refused", func(context.Context) error {
			return &plan.DeleteBudgetError{Deletes: 2, Max: 1}
		}, result{code: 3, stderr: "pbxsync: refused before any write: the plan deletes 2 companies, more than --max-delete allows (1)\n"}}, // decided on what was read, whole
		{"changes", func(context.Context) error { return errChanges }, result{code: 2}},
		{"success", func(context.Context) error { return nil }, result{code: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: env(nil)}
			root := a.newRootCmd()
			root.AddCommand(&cobra.Command{
				Use: "wait",
				RunE: func(cmd *cobra.Command, _ []string) error {
					<-cmd.Context().Done()
					require.ErrorIs(t, cmd.Context().Err(), context.DeadlineExceeded)
					require.ErrorIs(t, context.Cause(cmd.Context()), context.DeadlineExceeded,
						"code that knows nothing of the flag can tell a deadline from an interrupt")
					return tt.err(cmd.Context())
				},
			})
			code := a.execute(t.Context(), root, []string{"wait", "--timeout", "50ms"})
			got := result{code, stdout.String(), stderr.String()}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimeoutInterruptIsNotTimeout: Ctrl-C before the deadline is an interrupt, not
// a timeout.
func TestTimeoutInterruptIsNotTimeout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: env(nil)}
	root := a.newRootCmd()
	ctx, interrupt := context.WithCancel(t.Context())
	root.AddCommand(&cobra.Command{
		Use: "wait",
		RunE: func(cmd *cobra.Command, _ []string) error {
			interrupt()
			<-cmd.Context().Done()
			return fmt.Errorf("read: %w", context.Cause(cmd.Context()))
		},
	})
	code := a.execute(ctx, root, []string{"wait", "--timeout", "1h"})
	require.Equal(t, 1, code)
	require.Equal(t, "pbxsync: read: context canceled\n", stderr.String())
}
