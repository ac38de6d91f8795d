//go:build unix

package apiclient_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

// TestReadFile: a regular file is read; a FIFO (with no writer: its open would wait
// for ever), a device that never ends, a directory and a file over the limit are
// refused before anything is read, each named, its name made printable.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, os.WriteFile(regular, []byte("version: 1\n"), 0o600))
	data, err := apiclient.ReadFile(regular, 100)
	require.NoError(t, err)
	require.Equal(t, "version: 1\n", string(data))

	fifo := filepath.Join(dir, "fifo\x1b[31m.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(101)) // sparse: nothing is written
	require.NoError(t, f.Close())

	tests := []struct {
		name, path, want string
	}{
		{"a FIFO", fifo, `/fifo\x1b[31m.yaml: a FIFO, not a regular file: pbxsync reads only files`},
		{"a device", "/dev/zero", "/dev/zero: a device, not a regular file"},
		{"a directory", dir, "a directory, not a regular file"},
		{"too large", big, "big.yaml: 101 bytes, more than the 0 MiB pbxsync reads"},
		{"missing", filepath.Join(dir, "none.yaml"), "none.yaml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apiclient.ReadFile(tt.path, 100)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "\x1b", "the name is printable")
		})
	}
}
