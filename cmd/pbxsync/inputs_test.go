//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// TestInputsThatNeverEnd: a FIFO (no writer: reading it would wait for ever) or a
// device that never ends (/dev/zero), named where pbxsync expects a file, is refused
// before anything is read or sent, exit 1 (cli.md "Files pbxsync reads").
func TestInputsThatNeverEnd(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	fifoPlan := filepath.Join(dir, "changes.plan")
	require.NoError(t, syscall.Mkfifo(fifoPlan, 0o600))
	inv := writeFile(t, dir, "real.yaml", "version: 1\ncompanies:\n  a: {name: A}\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"validate -f FIFO", []string{"validate", "-f", fifo}, fifo + ": a FIFO, not a regular file"},
		{"plan -f /dev/zero", []string{"plan", "-f", "/dev/zero"}, "/dev/zero: a device, not a regular file"},
		{"apply PLANFILE FIFO", []string{"apply", fifoPlan}, "read the plan: " + fifoPlan + ": a FIFO, not a regular file"},
		{"apply /dev/zero as PLANFILE", []string{"apply", "/dev/zero"}, "read the plan: /dev/zero: a device, not a regular file"},
		{"--fleet FIFO", []string{"plan", "--fleet", fifo}, "read the fleet: " + fifo + ": a FIFO, not a regular file"},
		{"sim: state FIFO", []string{"plan", "-f", inv, "--url", "sim:" + fifo}, "simulator state: " + fifo + ": a FIFO, not a regular file"},
		{"--ca-cert FIFO", []string{"plan", "-f", inv, "--ca-cert", fifo, "--url", "https://127.0.0.1:1"}, "--ca-cert: " + fifo + ": a FIFO, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, "", adminEnv(srv), tt.args...)
			require.Equal(t, 1, got.code, "%s", got.stderr)
			require.Contains(t, got.stderr, tt.want)
		})
	}
	require.Zero(t, srv.Stats().TotalRequests(), "nothing was sent")
}

// TestPrintedPathsEscaped: a file name with an escape sequence is printed escaped
// wherever pbxsync names it: validate's result, a fleet's, the saved plan's line.
func TestPrintedPathsEscaped(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv\x1b[31m.yaml", "version: 1\ncompanies:\n  a: {name: A}\n")
	got := invoke(t, "", nil, "validate", "-f", inv)
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, filepath.Join(dir, `inv\x1b[31m.yaml`)+": valid: 1 company, 0 containers\n", got.stdout)

	out := filepath.Join(dir, "p\x1b[2J.plan")
	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv, "-o", out)
	require.Equal(t, 0, got.code, got.stderr)
	require.NotContains(t, got.stderr, "\x1b")
	require.Contains(t, got.stderr, `Saved the plan to `+filepath.Join(dir, `p\x1b[2J.plan`))
}

// readStarted is an input that never ends, and says when it is first read.
type readStarted struct {
	started chan struct{}
	once    sync.Once
	r       io.Reader
}

func (s *readStarted) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	return s.r.Read(p)
}

// TestInterruptWhileReadingStdin: an interrupt while -f - waits on standard input
// that never ends (a pipe whose writer stays open) ends the command, exit 1, with
// nothing sent (cli.md "Files pbxsync reads").
func TestInterruptWhileReadingStdin(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	for _, args := range [][]string{{"validate", "-f", "-"}, {"plan", "-f", "-"}, {"apply", "-f", "-", "--auto-approve"}} {
		t.Run(args[0], func(t *testing.T) {
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			stdin := &readStarted{started: make(chan struct{}), r: pr}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout, stderr bytes.Buffer
			vars := adminEnv(srv)
			code := make(chan int, 1)
			go func() {
				code <- run(ctx, args, stdin, &stdout, &stderr, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, fastRetries)
			}()
			<-stdin.started
			cancel() // as SIGINT does
			select {
			case c := <-code:
				require.Equal(t, 1, c, "%s", stderr.String())
				require.Contains(t, stderr.String(), "read the inventory: read standard input: interrupted")
			case <-time.After(time.Minute): // a hang, not a measure of speed
				t.Fatal("the command did not end after the interrupt")
			}
		})
	}
	require.Zero(t, srv.Stats().TotalRequests(), "nothing was sent")
}
