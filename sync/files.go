package sync

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with what write writes, with mode 0644 for a new
// file (an existing one keeps its mode, see WriteFileAtomicMode): into a temporary
// file in the same directory, renamed over path once complete, so that a reader such
// as node_exporter sees the old file or the new one, never half of one.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return WriteFileAtomicMode(path, 0o644, write)
}

// WriteFileAtomicMode replaces path atomically with what write writes. A new file
// gets perm. A regular file that is replaced keeps its permission bits (a report
// someone made 0600 stays 0600), except that a private perm, one with nothing for
// group and others (an export with secrets), is a ceiling: the result is never wider,
// whatever the old file allowed. The temporary file is created 0600, so a file meant
// to be 0600 never exists with a wider mode.
//
// When path is a symbolic link, the rename replaces the link itself with a regular
// file of mode perm: the file it pointed to is neither written nor read (not even for
// its mode), so a link planted at the path cannot make pbxsync write elsewhere.
func WriteFileAtomicMode(path string, perm fs.FileMode, write func(io.Writer) error) error {
	mode := perm
	if old, err := os.Lstat(path); err == nil && old.Mode().IsRegular() {
		mode = old.Mode().Perm()
		if perm&0o077 == 0 {
			mode &= perm
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
