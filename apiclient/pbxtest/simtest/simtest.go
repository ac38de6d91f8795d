// Package simtest starts the simulator of package pbxtest over real HTTP for one
// test. It is apart from pbxtest so that the simulator that pbxsync's sim: URLs and
// pbxsim run does not link testing and httptest into those binaries.
package simtest

import (
	"net/http/httptest"
	"testing"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

// Server is a pbxtest.Server listening on a loopback port for one test.
type Server struct {
	*pbxtest.Server
	URL string
}

// NewServer starts a pbxtest.Server over real HTTP that accepts pbxtest.AdminKey as
// System-Admin, and stops it when the test ends.
func NewServer(t testing.TB, opts ...pbxtest.Option) *Server {
	t.Helper()
	s := pbxtest.New(append([]pbxtest.Option{pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin())}, opts...)...)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &Server{Server: s, URL: hs.URL}
}
