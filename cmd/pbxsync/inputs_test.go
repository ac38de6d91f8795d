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
