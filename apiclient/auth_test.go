package apiclient_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

const (
	testUser     = "ops"
	testPassword = "correct-horse-7731"
)

func newLoginServer(t *testing.T) *simtest.Server {
	t.Helper()
	return simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithUser(testUser, testPassword, pbxtest.SystemAdmin()))
}

func newLoginClient(t *testing.T, url, password string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(url, apiclient.WithLogin(testUser, password), apiclient.WithRetryPolicy(fastRetries))
	require.NoError(t, err)
	return c
}

func TestAPIKey(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))

	t.Run("accepted without a login", func(t *testing.T) {
		c := newClient(t, srv.URL)
		for range 3 {
			_, err := c.ReadAll(t.Context())
			require.NoError(t, err)
		}
		require.Zero(t, srv.Stats().Requests["login"], "a key needs no login")
	})

	t.Run("refused", func(t *testing.T) {
		const wrongKey = "wrong-key-5f2e91"
		c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(wrongKey), apiclient.WithRetryPolicy(fastRetries))
		require.NoError(t, err)
		srv.ResetStats()

		_, err = c.Read(t.Context(), "acme")
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.False(t, apiclient.IsTransient(err))
		require.NotContains(t, err.Error(), wrongKey)
		require.Equal(t, 1, srv.Stats().Requests["read"], "a refused key is not tried again")
	})
}

func TestLogin(t *testing.T) {
	t.Run("one login for many calls", func(t *testing.T) {
		srv := newLoginServer(t)
		c := newLoginClient(t, srv.URL, testPassword)

		for range 5 {
			_, err := c.Read(t.Context(), "acme")
			require.NoError(t, err)
		}
		_, err := c.ReadAll(t.Context())
		require.NoError(t, err)
		_, err = c.Update(t.Context(), "acme", apiclient.Changes{Name: "Acme by login"})
		require.NoError(t, err)
		_, err = c.ReadContainer(t.Context(), "beta")
		require.NoError(t, err)

		if diff := cmp.Diff(map[string]int{"login": 1, "read": 6, "update": 1, "readContainer": 1}, srv.Stats().Requests); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		require.Equal(t, "Acme by login", serverCompany(t, srv, "acme").Name)
	})

	t.Run("an expired session is renewed once", func(t *testing.T) {
		srv := newLoginServer(t)
		c := newLoginClient(t, srv.URL, testPassword)
		_, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)

		srv.ExpireSessions()
		srv.ResetStats()
		got, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
		if diff := cmp.Diff(serverCompany(t, srv, "acme"), got, valueJSON); diff != "" {
			t.Errorf("Read after renewal (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"login": 1, "read": 2}, srv.Stats().Requests); diff != "" {
			t.Errorf("requests: the refused call, one login, the call again (-want +got):\n%s", diff)
		}

		for range 3 {
			_, err := c.Read(t.Context(), "beta")
			require.NoError(t, err)
		}
		require.Equal(t, 1, srv.Stats().Requests["login"], "the new session is kept")
	})

	t.Run("concurrent calls after expiry log in once", func(t *testing.T) {
		srv := newLoginServer(t)
		c := newLoginClient(t, srv.URL, testPassword)
		_, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
		srv.ExpireSessions()
		srv.ResetStats()

		const workers = 8
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				_, errs[i] = c.Read(t.Context(), "gamma")
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "worker %d", i)
		}
		require.Equal(t, 1, srv.Stats().Requests["login"], "one re-login for all workers")
	})

	t.Run("a wrong password is an AuthError", func(t *testing.T) {
		srv := newLoginServer(t)
		const wrong = "wrong-password-0815"
		c := newLoginClient(t, srv.URL, wrong)

		_, err := c.Read(t.Context(), "acme")
		var authErr *apiclient.AuthError
		require.ErrorAs(t, err, &authErr)
		require.False(t, apiclient.IsTransient(err))
		require.NotContains(t, err.Error(), wrong)
		if diff := cmp.Diff(map[string]int{"login": 1}, srv.Stats().Requests); diff != "" {
			t.Errorf("requests: one refused login and no call (-want +got):\n%s", diff)
		}
	})

	t.Run("a refused login is fatal: nothing more is sent", func(t *testing.T) {
		srv := newLoginServer(t)
		c := newLoginClient(t, srv.URL, "rotated-away-4711")

		const workers = 16
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				_, errs[i] = c.Update(t.Context(), "acme", apiclient.Changes{Name: fmt.Sprintf("Acme %d", i)})
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.True(t, apiclient.IsFatal(err), "worker %d: %v", i, err)
			require.NotContains(t, err.Error(), "rotated-away-4711")
		}
		_, err := c.ReadAll(t.Context())
		require.True(t, apiclient.IsFatal(err), "a later call: %v", err)
		if diff := cmp.Diff(map[string]int{"login": 1}, srv.Stats().Requests); diff != "" {
			t.Errorf("requests: at most one failed login per client, and no call (-want +got):\n%s", diff)
		}
	})

	t.Run("an expired session with many calls in flight is renewed by one login", func(t *testing.T) {
		srv := newLoginServer(t)
		c := newLoginClient(t, srv.URL, testPassword)
		_, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
		for round := range 3 {
			srv.ExpireSessions()
			srv.ResetStats()
			var wg sync.WaitGroup
			errs := make([]error, 32)
			for i := range errs {
				wg.Go(func() { _, errs[i] = c.ReadContainer(t.Context(), "beta") })
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "round %d, call %d", round, i)
			}
			require.Equal(t, 1, srv.Stats().Requests["login"], "round %d", round)
		}
	})

	t.Run("an unknown user is an AuthError", func(t *testing.T) {
		srv := newLoginServer(t)
		c, err := apiclient.New(srv.URL, apiclient.WithLogin("nobody", testPassword), apiclient.WithRetryPolicy(fastRetries))
		require.NoError(t, err)
		_, err = c.ReadAll(t.Context())
		var authErr *apiclient.AuthError
		require.ErrorAs(t, err, &authErr)
		require.NotContains(t, err.Error(), testPassword)
	})

	t.Run("a login that meets a transient fault is retried", func(t *testing.T) {
		srv := newLoginServer(t)
		srv.SetFaults(pbxtest.Faults{Verbs: []string{"login"}, Rates: map[pbxtest.Fault]float64{pbxtest.Fault503: 1}})
		c := newLoginClient(t, srv.URL, testPassword)

		_, err := c.Read(t.Context(), "acme")
		require.True(t, apiclient.IsTransient(err), "got %v", err)
		require.Equal(t, fastRetries.Attempts, srv.Stats().Requests["login"])
		require.Zero(t, srv.Stats().Requests["read"])

		srv.SetFaults(pbxtest.Faults{})
		_, err = c.Read(t.Context(), "acme")
		require.NoError(t, err, "a later call logs in")
	})
}

func TestNewRefuses(t *testing.T) {
	const password = "pw-in-url-31337"
	for _, tc := range []struct {
		name string
		url  string
		opts []apiclient.Option
	}{
		{"no credentials", "http://pbx.example.com", nil},
		{"both kinds of credentials", "http://pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k"), apiclient.WithLogin("u", "p")}},
		{"a user without password", "http://pbx.example.com", []apiclient.Option{apiclient.WithLogin("u", "")}},
		{"credentials in the URL", "https://admin:" + password + "@pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"credentials in the URL, no other", "https://admin:" + password + "@pbx.example.com", nil},
		{"ftp scheme", "ftp://pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"file scheme", "file:///etc/passwd", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"no scheme", "pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"no host", "https://", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"a query", "https://pbx.example.com/?key=" + password, []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"not a URL", "http://[::1", []apiclient.Option{apiclient.WithAPIKey("k")}},
		{"no attempts", "https://pbx.example.com", []apiclient.Option{apiclient.WithAPIKey("k"), apiclient.WithRetryPolicy(apiclient.RetryPolicy{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apiclient.New(tc.url, tc.opts...)
			require.Error(t, err)
			require.Nil(t, c)
			require.NotContains(t, err.Error(), password)
		})
	}

	for _, tc := range []struct {
		name, url string
	}{
		{"http to this machine", "http://127.0.0.1:8080"},
		{"https with port and path", "https://pbx.example.com:8443/pbx/"},
	} {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			c, err := apiclient.New(tc.url, apiclient.WithAPIKey("k"))
			require.NoError(t, err)
			require.NotNil(t, c)
		})
	}
}
