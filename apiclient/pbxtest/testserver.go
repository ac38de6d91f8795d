package pbxtest

import (
	"net/http/httptest"
	"testing"
)

// AdminKey is the System-Admin API key that NewServer accepts.
const AdminKey = "pbxtest-admin-key"

// TestServer is a Server listening on a loopback port for one test.
type TestServer struct {
	*Server
	URL string
}

// NewServer starts a Server over real HTTP that accepts AdminKey as System-Admin, and
// stops it when the test ends.
func NewServer(t testing.TB, opts ...Option) *TestServer {
	t.Helper()
	s := New(append([]Option{WithAPIKey(AdminKey, SystemAdmin())}, opts...)...)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &TestServer{Server: s, URL: hs.URL}
}
