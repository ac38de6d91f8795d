package apiclient_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// fastRetries keeps the suite fast: four attempts, waits of a few milliseconds.
var fastRetries = apiclient.RetryPolicy{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxRetryAfter: time.Second}

// valueJSON compares setting values by their JSON text, which holds their kind too
// ("15" and 15 differ here; apiclient.Equal is the place where they are one value).
var valueJSON = cmp.Comparer(func(a, b apiclient.Value) bool { return a.Reveal().JSON() == b.Reveal().JSON() })

// newClient returns a System-Admin client of srv with fast retries.
func newClient(t *testing.T, url string, opts ...apiclient.Option) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(url, append([]apiclient.Option{apiclient.WithAPIKey(pbxtest.AdminKey), apiclient.WithRetryPolicy(fastRetries)}, opts...)...)
	require.NoError(t, err)
	return c
}

// threeCompanies is a small state: acme and beta share the container "acme", gamma is alone.
func threeCompanies() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			{ID: "acme", Name: "Acme Inc.", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"q_ringtime": apiclient.String("20"), "nm_password": apiclient.String("0000"), "record": apiclient.Int(3)})},
			{ID: "beta", Name: "Beta", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("Europe/London")})},
			{ID: "gamma", Name: "Gamma", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": apiclient.Bool(true)})},
		},
		Containers: map[string][]string{"acme": {"acme", "beta"}},
	}
}

// serverCompany returns a company as the simulator holds it; it must exist.
func serverCompany(t *testing.T, srv *simtest.Server, id string) apiclient.Company {
	t.Helper()
	co, ok := srv.Company(id)
	require.True(t, ok, "the server holds %q", id)
	return co
}

// hooked serves h one request at a time, and calls after (if set) when a request of
// the given path has been served, before the next request is looked at. It counts
// requests and keeps the last User-Agent, whatever the path.
type hooked struct {
	h     http.Handler
	mu    sync.Mutex
	after func(r *http.Request)
	n     int
	agent []string
}

func (s *hooked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.agent = append(s.agent, r.Header.Get("User-Agent"))
	s.h.ServeHTTP(w, r)
	if s.after != nil {
		s.after(r)
	}
}

func (s *hooked) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *hooked) agents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.agent...)
}
