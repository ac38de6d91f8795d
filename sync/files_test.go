//go:build unix

package sync

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeString is a write func for WriteFileAtomic that also records the mode of the
// temporary file while it is being written.
func writeString(s string, tempMode *fs.FileMode) func(io.Writer) error {
	return func(w io.Writer) error {
		if f, ok := w.(*os.File); ok && tempMode != nil {
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			*tempMode = fi.Mode().Perm()
		}
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWriteFileAtomicModes(t *testing.T) {
	tests := []struct {
		name    string
		oldMode fs.FileMode // 0: no file before
		perm    fs.FileMode
		want    fs.FileMode
	}{
		{"new file", 0, 0o644, 0o644},
		{"new private file", 0, 0o600, 0o600},
		{"a 0600 report stays 0600", 0o600, 0o644, 0o600},
		{"a 0640 report stays 0640", 0o640, 0o644, 0o640},
		{"a 0664 report stays 0664", 0o664, 0o644, 0o664},
		{"a read-only file stays read-only", 0o444, 0o644, 0o444},
		{"private over 0644 is 0600", 0o644, 0o600, 0o600},
		{"private over 0777 is 0600", 0o777, 0o600, 0o600},
		{"private over 0400 stays 0400", 0o400, 0o600, 0o400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tt.oldMode != 0 {
				require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
				require.NoError(t, os.Chmod(path, tt.oldMode))
			}
			var tempMode fs.FileMode
			require.NoError(t, WriteFileAtomicMode(path, tt.perm, writeString("new", &tempMode)))
			require.Equal(t, fs.FileMode(0o600), tempMode, "the temporary file is 0600 while it is written")

			fi, err := os.Lstat(path)
			require.NoError(t, err)
			require.True(t, fi.Mode().IsRegular())
			require.Equal(t, tt.want, fi.Mode().Perm())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, "new", string(data))
			requireOnly(t, dir, "out")
		})
	}
}

func TestWriteFileAtomicKeepsModeOnRewrite(t *testing.T) {
	// What apply --report does night after night: the mode an operator chose stays.
	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, WriteFileAtomic(path, writeString("1", nil)))
	require.NoError(t, os.Chmod(path, 0o600))
	for _, content := range []string{"2", "3"} {
		require.NoError(t, WriteFileAtomic(path, writeString(content, nil)))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	}
}

func TestWriteFileAtomicSymlink(t *testing.T) {
	// The link itself is replaced: its target is neither written nor given a mode.
	for _, perm := range []fs.FileMode{0o644, 0o600} {
		t.Run(perm.String(), func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "precious")
			require.NoError(t, os.WriteFile(target, []byte("precious"), 0o640))
			link := filepath.Join(dir, "out")
			require.NoError(t, os.Symlink(target, link))

			require.NoError(t, WriteFileAtomicMode(link, perm, writeString("new", nil)))

			fi, err := os.Lstat(link)
			require.NoError(t, err)
			require.True(t, fi.Mode().IsRegular(), "the link was replaced by a file")
			require.Equal(t, perm, fi.Mode().Perm(), "a new file's mode, not the target's")
			data, err := os.ReadFile(target)
			require.NoError(t, err)
			require.Equal(t, "precious", string(data))
			tfi, err := os.Stat(target)
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o640), tfi.Mode().Perm())
		})
	}
}

func TestWriteFileAtomicFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	boom := errors.New("boom")
	err := WriteFileAtomicMode(path, 0o644, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	require.ErrorIs(t, err, boom)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "old", string(data))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	requireOnly(t, dir, "out")
}

// requireOnly checks that dir holds exactly the named entries: no temporary file is
// left behind.
func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	require.ElementsMatch(t, names, got)
}
