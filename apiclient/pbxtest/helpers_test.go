package pbxtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// obj is a JSON object as sent and as decoded (numbers decode as json.Number, so a
// test sees whether the server sent 15 or "15").
type obj = map[string]any

// sessionCookie is the cookie spec/api.md names for a login session.
const sessionCookie = "Red60urne"

// snapshotOpts compare the server's State exactly: a Value equals only the same Value.
var snapshotOpts = cmp.Options{cmp.Comparer(func(a, b apiclient.Value) bool { return a.Reveal() == b.Reveal() })}

// reply is what came back over HTTP.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	cookies []*http.Cookie
}

// urlPath is where a verb is served; "login" is /rest/auth/, and a verb that starts
// with "/" is taken as the path itself.
func urlPath(verb string) string {
	switch {
	case verb == "login":
		return "/rest/auth/"
	case strings.HasPrefix(verb, "/"):
		return verb
	}
	return "/rest/ops/" + verb + "/"
}

// send POSTs body (a string is sent as is, anything else as its JSON) on a fresh
// connection, and returns the raw answer, or the error of a dropped connection.
func send(ctx context.Context, base, verb string, body any, cookie *http.Cookie) (reply, error) {
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return reply{}, fmt.Errorf("encode body: %w", err)
		}
	}
	return do(ctx, http.MethodPost, base+urlPath(verb), raw, cookie)
}

func do(ctx context.Context, method, url string, raw []byte, cookie *http.Cookie) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(raw))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	// A connection of its own for every request: a dropped one cannot affect the next.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, cookies: resp.Cookies()}, nil
}

// post sends a request that must get an HTTP answer whose body is JSON, and returns
// the status, the decoded answer and the cookies set.
func post(t *testing.T, base, verb string, body any, cookie *http.Cookie) (int, obj, []*http.Cookie) {
	t.Helper()
	r, err := send(t.Context(), base, verb, body, cookie)
	require.NoError(t, err, "POST %s", urlPath(verb))
	resp, err := decode(r.body)
	require.NoError(t, err, "answer to %s (HTTP %d) is not JSON: %q", verb, r.status, r.body)
	return r.status, resp, r.cookies
}

// decode parses one JSON object, keeping numbers as json.Number.
func decode(b []byte) (obj, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m obj
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not an object: %q", b)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the object: %q", b)
	}
	return m, nil
}

func keyAuth(key string) obj { return obj{"type": "auth", "key": key} }

// ops is the body of an ops call with a key; nil scope or values are left out.
func ops(key string, scope, values obj) obj {
	b := obj{"type": "company", "auth": keyAuth(key)}
	if scope != nil {
		b["scope"] = scope
	}
	if values != nil {
		b["values"] = values
	}
	return b
}

func scope(id string) obj { return obj{"company": id} }

func requireSuccess(t *testing.T, status int, resp obj) {
	t.Helper()
	require.Equal(t, http.StatusOK, status, "HTTP status")
	require.Equal(t, "success", resp["result"], "answer %v", resp)
}

// requireFail asserts the API's fail answer: HTTP 200, "fail" and a message.
func requireFail(t *testing.T, status int, resp obj) {
	t.Helper()
	require.Equal(t, http.StatusOK, status, "HTTP status (answer %v)", resp)
	require.Equal(t, "fail", resp["result"], "answer %v", resp)
	msg, _ := resp["message"].(string)
	require.NotEmpty(t, strings.TrimSpace(msg), "a fail carries a message: %v", resp)
}

// call runs a verb with a key and returns status and answer.
func call(t *testing.T, srv *simtest.Server, key, verb string, sc, values obj) (int, obj) {
	t.Helper()
	status, resp, _ := post(t, srv.URL, verb, ops(key, sc, values), nil)
	return status, resp
}

// admin runs a verb as System-Admin; it must succeed.
func admin(t *testing.T, srv *simtest.Server, verb string, sc, values obj) obj {
	t.Helper()
	status, resp := call(t, srv, pbxtest.AdminKey, verb, sc, values)
	requireSuccess(t, status, resp)
	return resp
}

// adminFails runs a verb as System-Admin; it must fail.
func adminFails(t *testing.T, srv *simtest.Server, verb string, sc, values obj) obj {
	t.Helper()
	status, resp := call(t, srv, pbxtest.AdminKey, verb, sc, values)
	requireFail(t, status, resp)
	return resp
}

// field walks an answer: field(t, resp, "values", "acme", "data").
func field(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(obj)
		require.True(t, ok, "%q: want an object, got %#v", k, v)
		v, ok = m[k]
		require.True(t, ok, "%q missing in %v", k, m)
	}
	return v
}

func object(t *testing.T, v any, keys ...string) obj {
	t.Helper()
	m, ok := field(t, v, keys...).(obj)
	require.True(t, ok, "%v: want an object", keys)
	return m
}

// readData reads a company's data as System-Admin.
func readData(t *testing.T, srv *simtest.Server, id string) obj {
	t.Helper()
	return object(t, admin(t, srv, "read", scope(id), nil), "values", id, "data")
}

// companies seeds companies with the given ids, each in a container of its own.
func companies(ids ...string) pbxtest.Option { return grouped(nil, ids...) }

// grouped seeds companies with the given ids, in the given containers.
func grouped(containers map[string][]string, ids ...string) pbxtest.Option {
	st := pbxtest.State{Containers: containers}
	for _, id := range ids {
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: "Company " + id})
	}
	return pbxtest.WithState(st)
}

// keys returns the keys of an object, sorted.
func keys(m obj) []string { return slices.Sorted(maps.Keys(m)) }

// num is how a JSON integer decodes.
func num(n int) json.Number { return json.Number(fmt.Sprint(n)) }
