//go:build !unix

package apiclient

// openNoWait is nothing where there is no O_NONBLOCK.
const openNoWait = 0
