//go:build !unix

package main

import "errors"

// lockFile is not available where flock(2) is not.
func lockFile(string) (func(), error) {
	return nil, errors.New("--lock-file is not supported on this system")
}
