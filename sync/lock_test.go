//go:build unix

package sync

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

var ourPIDLine = strconv.Itoa(os.Getpid()) + "\n"

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

func TestLockFileRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string) (check func(t *testing.T))
		wantErr string
	}{
		{"symbolic link to a file", func(t *testing.T, path string) func(t *testing.T) {
			target := filepath.Join(filepath.Dir(path), "precious")
			require.NoError(t, os.WriteFile(target, []byte("precious"), 0o644))
			require.NoError(t, os.Symlink(target, path))
			return func(t *testing.T) { require.Equal(t, "precious", readString(t, target)) }
		}, "is a symbolic link"},
		{"symbolic link to nothing", func(t *testing.T, path string) func(t *testing.T) {
			target := filepath.Join(filepath.Dir(path), "created")
			require.NoError(t, os.Symlink(target, path))
			return func(t *testing.T) { require.NoFileExists(t, target, "nothing is created through the link") }
		}, "is a symbolic link"},
		{"FIFO", func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, syscall.Mkfifo(path, 0o600))
			return func(*testing.T) {}
		}, "not a regular file"},
		{"directory", func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.Mkdir(path, 0o700))
			return func(*testing.T) {}
		}, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pbxsync.lock")
			check := tt.setup(t, path)
			unlock, err := LockFile(path)
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, "--lock-file "+path)
			require.Nil(t, unlock)
			check(t)
		})
	}
}

func TestLockFileContent(t *testing.T) {
	tests := []struct {
		name     string
		old      *string // nil: no file before
		want     string
		wantMode fs.FileMode // of an existing file; a new one is checked to be private
	}{
		{"new file", nil, ourPIDLine, 0},
		{"empty file", new(""), ourPIDLine, 0o644},
		{"PID of an earlier run", new("12345\n"), ourPIDLine, 0o644},
		{"long PID of an earlier run", new("12345678901234567890\n"), ourPIDLine, 0o644},
		{"other text", new("precious\n"), "precious\n", 0o644},
		{"digits without a newline", new("12345"), "12345", 0o644},
		{"digits and more", new("12345\nprecious\n"), "12345\nprecious\n", 0o644},
		{"two PID lines", new("1\n2\n"), "1\n2\n", 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pbxsync.lock")
			if tt.old != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tt.old), 0o644))
				require.NoError(t, os.Chmod(path, 0o644)) // whatever the umask
			}
			unlock, err := LockFile(path)
			require.NoError(t, err)
			require.Equal(t, tt.want, readString(t, path))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			if tt.old == nil {
				require.Zero(t, fi.Mode().Perm()&0o077, "a new lock file is 0600 less the umask: got %v", fi.Mode().Perm())
			} else {
				require.Equal(t, tt.wantMode, fi.Mode().Perm(), "an existing file keeps its mode")
			}

			// The lock is held whatever the content.
			_, err = LockFile(path)
			require.EqualError(t, err, "another pbxsync run holds "+path)
			require.Equal(t, tt.want, readString(t, path), "a refused run writes nothing")

			unlock()
			again, err := LockFile(path)
			require.NoError(t, err, "the lock is free once let go")
			again()
		})
	}
}

func TestLockFileHardLink(t *testing.T) {
	// A second name for a file that lives elsewhere: it is locked, never written.
	dir := t.TempDir()
	elsewhere := filepath.Join(dir, "elsewhere")
	require.NoError(t, os.WriteFile(elsewhere, []byte("12345\n"), 0o644))
	path := filepath.Join(dir, "pbxsync.lock")
	require.NoError(t, os.Link(elsewhere, path))

	unlock, err := LockFile(path)
	require.NoError(t, err)
	defer unlock()
	require.Equal(t, "12345\n", readString(t, elsewhere))
}

func TestLockFileHeldByAnotherProcess(t *testing.T) {
	// flock(2) as another process would hold it: a separate open file description.
	path := filepath.Join(t.TempDir(), "pbxsync.lock")
	require.NoError(t, os.WriteFile(path, []byte("4242\n"), 0o600))
	held, err := os.Open(path)
	require.NoError(t, err)
	defer held.Close()
	require.NoError(t, syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

	unlock, err := LockFile(path)
	require.EqualError(t, err, "another pbxsync run holds "+path)
	require.Nil(t, unlock)
	require.Equal(t, "4242\n", readString(t, path), "the holder's PID stays")
}
