//go:build !unix

package main

import "errors"

// lockFile is not available where flock(2) is not.
func lockFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	return nil, errors.New("--lock-file is not supported on this system")
}
