//go:build unix

package apiclient

import "syscall"

// openNoWait keeps the open of a FIFO from waiting for a writer.
const openNoWait = syscall.O_NONBLOCK
