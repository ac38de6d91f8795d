//go:build !unix

package sync

import "errors"

// LockFile is not available where flock(2) is not.
func LockFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	return nil, errors.New("--lock-file is not supported on this system")
}
