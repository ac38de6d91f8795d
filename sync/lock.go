//go:build unix

package sync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"syscall"
)

// LockFile takes an exclusive lock on path (created when missing) without waiting:
// when another process holds it, it fails at once. The lock lasts until unlock, or
// until the process ends, however it ends. The file is left in place: removing it
// would let two runs lock two different files of one name.
//
// The lock path often lies in a directory that others may write (/run/lock, /tmp), so
// it is opened without following a symbolic link, only a regular file is accepted,
// and its content is replaced only when it is ours: empty, or the PID line of an
// earlier run. Anything else is locked as it is and left alone.
//
// A new lock file is 0600 (less the umask): flock needs no more than a descriptor
// open for reading, so a file that others may read is a file on which any local user
// could hold the lock and keep every run from starting.
//
// An empty path (no --lock-file) locks nothing.
func LockFile(path string) (unlock func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pbxsync run holds %s", path)
		}
		return nil, fmt.Errorf("--lock-file %s: %w", path, err)
	}
	// Who holds it, for a person who finds the file; a failure here changes nothing.
	writePID(f)
	return func() { _ = f.Close() }, nil
}

// openLockFile opens path for locking, creating it 0600 when missing. It refuses a
// symbolic link (O_NOFOLLOW) and anything but a regular file, checked on the open
// descriptor (fstat), so that nothing can be swapped in between a check and the open.
// O_NONBLOCK keeps the open of a FIFO from waiting for a writer, and O_NOCTTY a
// terminal from becoming the controlling one; neither matters for a regular file.
func openLockFile(path string) (*os.File, error) {
	const flags = syscall.O_RDWR | syscall.O_CREAT | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK | syscall.O_NOCTTY
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, flags, 0o600)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK): // EMLINK: FreeBSD's answer to O_NOFOLLOW
		return nil, fmt.Errorf("--lock-file %s: is a symbolic link, which pbxsync does not follow: name the lock file itself", path)
	case errors.Is(err, syscall.EISDIR):
		return nil, fmt.Errorf("--lock-file %s: is a directory, not a regular file", path)
	case err != nil:
		return nil, fmt.Errorf("--lock-file: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("--lock-file: %w", &os.PathError{Op: "fstat", Path: path, Err: err})
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("--lock-file %s: not a regular file", path)
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("--lock-file %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// pidLine is what writePID leaves in a lock file: the digits of a PID and a newline.
var pidLine = regexp.MustCompile(`\A[0-9]{1,20}\n\z`)

// writePID writes the PID of this process into f when f is empty or holds the PID
// line of an earlier run; any other content is not ours, and stays as it is, and so
// does a file with a second name (a hard link to a file that lives elsewhere). The
// line is written over the old one before the rest is cut, so the file never holds
// less than a PID.
func writePID(f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Nlink != 1 {
		return
	}
	old, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil || (len(old) > 0 && !pidLine.Match(old)) {
		return
	}
	line := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(line, 0); err == nil {
		_ = f.Truncate(int64(len(line)))
	}
}
