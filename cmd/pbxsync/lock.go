//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path (created when missing) without waiting:
// when another process holds it, it fails at once. The lock lasts until unlock, or
// until the process ends, however it ends. The file is left in place: removing it
// would let two runs lock two different files of one name.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--lock-file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pbxsync run holds %s", path)
		}
		return nil, fmt.Errorf("--lock-file %s: %w", path, err)
	}
	// Who holds it, for a person who finds the file; a failure here changes nothing.
	if f.Truncate(0) == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() { _ = f.Close() }, nil
}
