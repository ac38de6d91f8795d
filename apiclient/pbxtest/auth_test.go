package pbxtest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

func userAuth(user, password string) obj {
	return obj{"auth": obj{"type": "auth", "username": user, "password": password}}
}

// login logs in at /rest/auth/ and returns the session cookie.
func login(t *testing.T, srv *simtest.Server, user, password string) *http.Cookie {
	t.Helper()
	status, resp, cookies := post(t, srv.URL, "login", userAuth(user, password), nil)
	requireSuccess(t, status, resp)
	require.Contains(t, resp, "user", "a login answer carries the user")
	c := findCookie(cookies)
	require.NotNil(t, c, "login sets the %s cookie; got %v", sessionCookie, cookies)
	require.NotEmpty(t, c.Value)
	return c
}

func findCookie(cookies []*http.Cookie) *http.Cookie {
	for _, c := range cookies {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// noAuth is an ops body without credentials.
func noAuth(sc obj) obj { return obj{"type": "company", "scope": sc} }

func TestAuthentication(t *testing.T) {
	bogus := &http.Cookie{Name: sessionCookie, Value: "0123456789abcdef"}
	tests := []struct {
		name    string
		body    func(valid *http.Cookie) (obj, *http.Cookie)
		success bool
	}{
		{
			name: "key in the body",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return ops(pbxtest.AdminKey, scope("acme"), nil), nil
			},
			success: true,
		},
		{
			name: "wrong key",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return ops("not-the-key", scope("acme"), nil), nil
			},
		},
		{
			name: "session cookie",
			body: func(valid *http.Cookie) (obj, *http.Cookie) {
				return noAuth(scope("acme")), valid
			},
			success: true,
		},
		{
			name: "unknown session cookie",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return noAuth(scope("acme")), bogus
			},
		},
		{
			name: "valid key wins over a bogus cookie",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return ops(pbxtest.AdminKey, scope("acme"), nil), bogus
			},
			success: true,
		},
		{
			name: "bogus key wins over a valid cookie",
			body: func(valid *http.Cookie) (obj, *http.Cookie) {
				return ops("not-the-key", scope("acme"), nil), valid
			},
		},
		{
			name: "user and password in an ops call are refused",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				b := userAuth("ops", "pw")
				b["type"], b["scope"] = "company", scope("acme")
				return b, nil
			},
		},
		{
			name: "user without password in an ops call is refused",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return obj{"type": "company", "scope": scope("acme"), "auth": obj{"type": "auth", "username": "ops"}}, nil
			},
		},
		{
			name: "no credentials",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return noAuth(scope("acme")), nil
			},
		},
		{
			name: "empty auth",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return obj{"type": "company", "scope": scope("acme"), "auth": obj{"type": "auth"}}, nil
			},
		},
		{
			name: "empty key",
			body: func(*http.Cookie) (obj, *http.Cookie) {
				return ops("", scope("acme"), nil), nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
			valid := login(t, srv, "ops", "pw")
			body, cookie := tt.body(valid)
			status, resp, _ := post(t, srv.URL, "read", body, cookie)
			if !tt.success {
				requireFail(t, status, resp)
				require.NotContains(t, resp, "values")
				return
			}
			requireSuccess(t, status, resp)
			if diff := cmp.Diff([]string{"acme"}, keys(object(t, resp, "values"))); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedCredentialsChangeNothing(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"))
	before := srv.Snapshot()
	for _, body := range []obj{
		ops("not-the-key", nil, obj{"company": "newco", "name": "New"}),
		{"type": "company", "values": obj{"company": "newco", "name": "New"}},
	} {
		status, resp, _ := post(t, srv.URL, "create", body, nil)
		requireFail(t, status, resp)
	}
	if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
		t.Errorf("refused creates changed the state (-before +after):\n%s", diff)
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		body     obj
		success  bool
		wantUser string
	}{
		{name: "right password", body: userAuth("ops", "pw"), success: true, wantUser: "ops"},
		{name: "wrong password", body: userAuth("ops", "PW")},
		{name: "empty password", body: userAuth("ops", "")},
		{name: "unknown user", body: userAuth("nobody", "pw")},
		{name: "no auth", body: obj{}},
		{name: "a key is not a login", body: obj{"auth": keyAuth(pbxtest.AdminKey)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
			status, resp, cookies := post(t, srv.URL, "login", tt.body, nil)
			if !tt.success {
				requireFail(t, status, resp)
				require.Nil(t, findCookie(cookies), "a refused login sets no session cookie")
				require.Empty(t, cookies, "a refused login sets no cookie")
				return
			}
			requireSuccess(t, status, resp)
			if diff := cmp.Diff(tt.wantUser, field(t, resp, "user", "username")); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			require.NotNil(t, findCookie(cookies), "login sets %s", sessionCookie)
		})
	}
}

func TestSessionsEnd(t *testing.T) {
	t.Run("ExpireSessions", func(t *testing.T) {
		srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
		cookie := login(t, srv, "ops", "pw")
		status, resp, _ := post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
		requireSuccess(t, status, resp)

		srv.ExpireSessions()
		status, resp, _ = post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
		requireFail(t, status, resp)

		again := login(t, srv, "ops", "pw")
		require.NotEqual(t, cookie.Value, again.Value, "a new login gets a new session")
		status, resp, _ = post(t, srv.URL, "read", noAuth(scope("acme")), again)
		requireSuccess(t, status, resp)
		status, resp, _ = post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
		requireFail(t, status, resp)
	})
	t.Run("WithSessionTTL", func(t *testing.T) {
		srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()),
			pbxtest.WithSessionTTL(time.Nanosecond))
		cookie := login(t, srv, "ops", "pw")
		status, resp, _ := post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
		requireFail(t, status, resp)
		// The key still works: an expired session is no reason to refuse a key.
		status, resp, _ = post(t, srv.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), cookie)
		requireSuccess(t, status, resp)
	})
	t.Run("a session survives a while under the default TTL", func(t *testing.T) {
		srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
		cookie := login(t, srv, "ops", "pw")
		for range 3 {
			status, resp, _ := post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
			requireSuccess(t, status, resp)
		}
	})
}

// User and password are taken only by /rest/auth/: no path under /rest/ops/ logs in.
func TestOnlyRestAuthLogsIn(t *testing.T) {
	for _, path := range []string{"/rest/ops/login/", "/rest/ops/auth/"} {
		t.Run(path, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
			status, resp, cookies := post(t, srv.URL, path, userAuth("ops", "pw"), nil)
			require.Nil(t, findCookie(cookies), "%s set a session cookie", path)
			requireFail(t, status, resp)
		})
	}
}

// New, unlike NewServer, accepts no credentials unless given some.
func TestNewAcceptsNoCredentialsByDefault(t *testing.T) {
	hs := httptest.NewServer(pbxtest.New(companies("acme")))
	t.Cleanup(hs.Close)
	status, resp, _ := post(t, hs.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), nil)
	requireFail(t, status, resp)

	hs2 := httptest.NewServer(pbxtest.New(companies("acme"), pbxtest.WithAPIKey("mine", pbxtest.SystemAdmin())))
	t.Cleanup(hs2.Close)
	status, resp, _ = post(t, hs2.URL, "read", ops("mine", scope("acme"), nil), nil)
	requireSuccess(t, status, resp)
}
