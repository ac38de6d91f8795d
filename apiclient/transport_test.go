package apiclient_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// hookedServer serves a simulator through hooked, which counts requests and keeps
// their User-Agent.
func hookedServer(t *testing.T, opts ...pbxtest.Option) (*pbxtest.Server, *hooked, string) {
	t.Helper()
	srv := pbxtest.New(append([]pbxtest.Option{pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()), pbxtest.WithState(threeCompanies())}, opts...)...)
	h := &hooked{h: srv}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return srv, h, hs.URL
}

func TestNotFoundIsPermanent(t *testing.T) {
	srv, h, url := hookedServer(t)
	c := newClient(t, url+"/not/the/api")

	_, err := c.Read(t.Context(), "acme")
	var te *apiclient.TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, http.StatusNotFound, te.Status)
	require.False(t, apiclient.IsTransient(err))
	require.False(t, apiclient.IsRefused(err))
	require.Equal(t, `read of "acme": HTTP status 404`, err.Error())
	require.Equal(t, 1, h.requests(), "a 404 is not tried again")
	require.Empty(t, srv.Stats().Requests, "the API saw nothing")
}

func TestBaseURLPath(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	mux := http.NewServeMux()
	mux.Handle("/pbx/", http.StripPrefix("/pbx", srv.Server))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)

	for _, base := range []string{hs.URL + "/pbx", hs.URL + "/pbx/", hs.URL + "/pbx//"} {
		t.Run(base, func(t *testing.T) {
			c := newClient(t, base)
			_, err := c.Read(t.Context(), "acme")
			require.NoError(t, err)
		})
	}
}

func TestMaxResponseBytes(t *testing.T) {
	srv, h, url := hookedServer(t)

	small := newClient(t, url, apiclient.WithMaxResponseBytes(64))
	_, err := small.ReadAll(t.Context())
	var te *apiclient.TransportError
	require.ErrorAs(t, err, &te)
	require.False(t, te.Transient, "a larger answer will not shrink by asking again")
	require.Contains(t, err.Error(), "larger than 64 bytes")
	require.Equal(t, 1, h.requests())

	large := newClient(t, url, apiclient.WithMaxResponseBytes(1<<20))
	got, err := large.ReadAll(t.Context())
	require.NoError(t, err)
	require.Len(t, got, len(srv.Snapshot().Companies))
}

func TestUserAgent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		login bool
		opts  []apiclient.Option
		check func(t *testing.T, ua string)
	}{
		{"default, key", false, nil, func(t *testing.T, ua string) {
			require.True(t, strings.HasPrefix(ua, "pbxsync/"), "User-Agent %q", ua)
			require.Equal(t, "pbxsync/"+apiclient.BuildVersion(), ua)
		}},
		{"default, login", true, nil, func(t *testing.T, ua string) {
			require.True(t, strings.HasPrefix(ua, "pbxsync/"), "User-Agent %q", ua)
		}},
		{"replaced", false, []apiclient.Option{apiclient.WithUserAgent("acme-sync/1.0")}, func(t *testing.T, ua string) {
			require.Equal(t, "acme-sync/1.0", ua)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, h, url := hookedServer(t, pbxtest.WithUser(testUser, testPassword, pbxtest.SystemAdmin()))
			auth := apiclient.WithAPIKey(pbxtest.AdminKey)
			if tc.login {
				auth = apiclient.WithLogin(testUser, testPassword)
			}
			c, err := apiclient.New(url, append([]apiclient.Option{auth, apiclient.WithRetryPolicy(fastRetries)}, tc.opts...)...)
			require.NoError(t, err)
			_, err = c.Read(t.Context(), "acme")
			require.NoError(t, err)
			_, err = c.ReadContainer(t.Context(), "acme")
			require.NoError(t, err)

			agents := h.agents()
			want := 2
			if tc.login {
				want = 3
			}
			require.Len(t, agents, want)
			for _, ua := range agents {
				tc.check(t, ua)
			}
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	c := newClient(t, redirect.URL)

	_, err := c.Read(t.Context(), "acme")
	var te *apiclient.TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, http.StatusTemporaryRedirect, te.Status)
	require.False(t, te.Transient)
	require.Empty(t, srv.Stats().Requests, "the key never went to the other host")
}

func TestTimeoutIsTransient(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{Latency: 5 * time.Second}))
	c := newClient(t, srv.URL, apiclient.WithTimeout(20*time.Millisecond))

	_, err := c.Read(t.Context(), "acme")
	var te *apiclient.TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Transient, "got %v", err)
	require.Zero(t, te.Status)
	if diff := cmp.Diff(map[string]int{"read": fastRetries.Attempts}, srv.Stats().Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
