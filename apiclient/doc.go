// Package apiclient speaks the PBX company API of version 6.5 (spec/api.md): one
// method per verb, typed results and errors (transient, permanent, fatal), retries
// of the verbs that are safe to repeat, the pacer, the HTTP trace, and the scrubbing
// of every credential and secret from what a server says. It owns the field table
// (everything known about a setting), Value and Settings, the credentials taken from
// the environment, and the identity of a server (ServerKey, SameServer, Resolver,
// SameCompanies).
//
// It imports nothing of pbxsync's: plan and sync declare the few methods they need of
// a client as their own interfaces.
package apiclient
