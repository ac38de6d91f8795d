package apiclient_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

// echoServer answers every ops call with a fail message that repeats the request's
// body, and every login with a session cookie and then the same echo: a server that
// puts whatever it was sent into the text pbxsync shows, logs and reports.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/rest/auth/" {
			http.SetCookie(w, &http.Cookie{Name: apiclient.SessionCookie, Value: "session-cookie-0f1e2d3c4b5a"})
			_, _ = io.WriteString(w, `{"result":"success"}`)
			return
		}
		cookie, _ := r.Cookie(apiclient.SessionCookie)
		msg := "bad request: " + string(body)
		if cookie != nil {
			msg += " (cookie " + cookie.Value + ")"
		}
		answer, _ := json.Marshal(map[string]string{"result": "fail", "message": msg})
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A server that echoes the request in its fail message sees the key, the password,
// the session and the PINs: none of them reaches the error, whatever its length.
func TestFailMessagesAreScrubbed(t *testing.T) {
	const key = "KEY-sk_live_0123456789abcdef"
	const password = "pass\"word-with-quote"
	tests := []struct {
		name    string
		auth    apiclient.Option
		pins    []string // nm_password, ivr_password, barge_pin
		secrets []string // what must not show
	}{
		{"key, long PINs", apiclient.WithAPIKey(key), []string{"987654", "55501234", "1"}, []string{key, "987654", "55501234"}},
		{"key, PINs of one and two digits", apiclient.WithAPIKey(key), []string{"7", "42", "0000"}, []string{key, "42", "0000"}},
		{"login", apiclient.WithLogin("ops", password), []string{"31337", "", ""},
			[]string{password, `pass\"word-with-quote`, "session-cookie-0f1e2d3c4b5a", "31337"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := echoServer(t)
			c, err := apiclient.New(srv.URL, tt.auth, apiclient.WithRetryPolicy(fastRetries))
			require.NoError(t, err)
			_, err = c.Update(t.Context(), "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"nm_password": apiclient.String(tt.pins[0]), "ivr_password": apiclient.String(tt.pins[1]),
				"barge_pin": apiclient.String(tt.pins[2]), "hs_access": apiclient.String("external"),
			})})
			var refused *apiclient.APIError
			require.ErrorAs(t, err, &refused)
			require.Contains(t, refused.Message, "bad request:", "the echo is still there")
			require.Contains(t, refused.Message, `"hs_access":"external"`, "what is no secret stays")
			require.Contains(t, refused.Message, apiclient.Redacted)
			for _, s := range tt.secrets {
				require.NotContains(t, refused.Message, s)
				require.NotContains(t, err.Error(), s)
			}
			if tt.pins[2] == "1" || tt.pins[0] == "7" {
				// a one-digit PIN is gone from the message too: no digit 7 (or 1) is left
				short := tt.pins[0]
				if tt.pins[2] == "1" {
					short = "1"
				}
				require.NotContains(t, refused.Message, short)
			}

			// A later call's echo names the secrets of the earlier one too.
			_, err = c.Read(t.Context(), "acme")
			for _, s := range tt.secrets {
				require.NotContains(t, err.Error(), s)
			}
		})
	}
}

// A server may put the key it was sent into the data it returns: a company's name, a
// free-text setting, a container's name. The client removes it before anyone sees it.
func TestDataIsScrubbedOfCredentials(t *testing.T) {
	const key = "KEY-sk_live_0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Auth struct{ Key string } `json:"auth"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		k := req.Auth.Key
		if strings.HasSuffix(r.URL.Path, "/readContainer/") {
			_ = json.NewEncoder(w).Encode(map[string]any{"result": "success", "values": map[string]any{
				"box-" + k: map[string]any{"id": 1, "name": "box-" + k, "data": map[string]any{},
					"members": map[string]any{"acme": map[string]any{"id": 2, "name": "Acme " + k, "data": map[string]any{}}}},
			}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": "success", "values": map[string]any{
			"acme": map[string]any{"id": 2, "name": "Acme " + k, "data": map[string]any{
				"hs_access": "stolen: " + k, "future_field": map[string]any{"k": k}, "nm_password": "1234",
			}},
		}})
	}))
	t.Cleanup(srv.Close)
	c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(key))
	require.NoError(t, err)

	all, err := c.ReadAll(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "Acme "+apiclient.Redacted, all[0].Name)
	require.Equal(t, `"stolen: (sensitive)"`, all[0].Settings.Get("hs_access").JSON())
	require.NotContains(t, all[0].Settings.Get("future_field").JSON(), key)
	require.Equal(t, `"1234"`, all[0].Settings.Get("nm_password").Reveal().JSON(), "a tenant's own secret is its data, kept for comparison")

	box, err := c.ReadContainer(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, "box-"+apiclient.Redacted, box.Name)
	require.Equal(t, "Acme "+apiclient.Redacted, box.Members[0].Name)
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme HQ", "Acme HQ"},
		{"Zürich Büro €", "Zürich Büro €"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"\x1b[2J\x1b[8mhidden", `\x1b[2J\x1b[8mhidden`},
		{"ok\rVerified: yes", `ok\rVerified: yes`},
		{"line\n# Heading", `line\n# Heading`},
		{"tab\there", `tab\there`},
		{"\u202eevil\u202c", `\u202eevil\u202c`},
		{"\u2066iso\u2069", `\u2066iso\u2069`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"csi\u009b2J nel\u0085", `csi\u009b2J nel\u0085`},
		{"del\x7f", `del\x7f`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"sep\u2028\u2029", `sep\u2028\u2029`},
		{`a\x1b literal`, `a\x1b literal`},
	}
	for _, tt := range tests {
		got := apiclient.Printable(tt.in)
		require.Equal(t, tt.want, got, "Printable(%q)", tt.in)
		requirePrintable(t, got)
	}
}

func TestPrintableJSON(t *testing.T) {
	v := map[string]string{"name": "\x1b[2J\u202e\u009b\x7f\u2028 \xff", "ok": "Zürich"}
	var b strings.Builder
	require.NoError(t, apiclient.WriteJSON(&b, v))
	requirePrintable(t, strings.ReplaceAll(b.String(), "\n", ""))
	var back map[string]string
	require.NoError(t, json.Unmarshal([]byte(b.String()), &back))
	require.Equal(t, "\x1b[2J\u202e\u009b\x7f\u2028 \ufffd", back["name"], "the same document, escaped")
	require.Equal(t, "Zürich", back["ok"])
}

// requirePrintable fails when s holds a character a terminal would act on.
func requirePrintable(t *testing.T, s string) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "invalid UTF-8 in %q", s)
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
			(r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff {
			t.Fatalf("unsafe character %U in %q", r, s)
		}
	}
}
