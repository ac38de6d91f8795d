// Package sync applies a plan to a PBX with bounded concurrency, retries and
// verification of what the server kept. It arrives with the apply issue.
package sync
