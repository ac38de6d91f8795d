//go:build unix

package main

import (
	"path/filepath"
	"syscall"
	"testing"

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
