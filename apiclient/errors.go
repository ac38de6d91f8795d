package apiclient

import (
	"errors"
	"fmt"
	"time"
)

// APIError is the server's answer "fail": the request was understood and refused,
// and nothing changed. Its Message is for people; code never branches on its words.
type APIError struct {
	Verb    string
	Company string // the company in the request's scope, if any
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: server refused: %s", subject(e.Verb, e.Company), Printable(e.Message))
}

// TransportError is a request that got no API answer: no connection, a timeout, a
// non-200 status, or a body that is not the API's JSON. Transient ones (429, 500, 502, 503,
// 504, timeouts, resets, cut-off or foreign bodies) are worth trying again; whether a
// write that ended this way took effect on the server is unknown.
type TransportError struct {
	Verb       string
	Company    string
	Status     int           // the HTTP status, 0 when there was no response
	RetryAfter time.Duration // what the server asked to wait, from Retry-After
	Transient  bool
	Err        error
}

func (e *TransportError) Error() string {
	what := e.Err.Error()
	if e.Status != 0 && e.Err == errStatus {
		what = fmt.Sprintf("HTTP status %d", e.Status)
	}
	return fmt.Sprintf("%s: %s", subject(e.Verb, e.Company), what)
}

func (e *TransportError) Unwrap() error { return e.Err }

// AuthError means the server refused the credentials: user and password at login, or
// a session that could not be renewed. Nothing more can succeed with them.
type AuthError struct {
	Message string
}

func (e *AuthError) Error() string { return "login refused: " + Printable(e.Message) }

// IsFatal reports whether err means that nothing more can succeed with these
// credentials: the run stops sending (spec/api.md, authentication).
func IsFatal(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae)
}

var errStatus = errors.New("unexpected HTTP status")

// IsTransient reports whether err is a transport error worth trying again.
func IsTransient(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && te.Transient
}

// IsRefused reports whether err is the server's "fail" answer.
func IsRefused(err error) bool {
	var ae *APIError
	return errors.As(err, &ae)
}

func subject(verb, company string) string {
	if company == "" {
		return verb
	}
	return fmt.Sprintf("%s of %q", verb, company)
}
