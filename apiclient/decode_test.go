package apiclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

func TestDecodeResponse(t *testing.T) {
	const (
		api       = "api"
		transport = "transport"
		success   = "success"
	)
	moves := 2
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       string
		want       string // api, transport or success
		transient  bool
		retryAfter time.Duration
		wantText   string // the error's text, or the success's message
		wantResp   *apiclient.Response
	}{
		{name: "success", status: 200, body: `{"result":"success","message":"grouped okay","containermoves":2}`, want: success,
			wantResp: &apiclient.Response{Result: "success", Message: "grouped okay", ContainerMoves: &moves}},
		{name: "fail", status: 200, body: `{"result":"fail","message":" company \"x\" not found "}`, want: api,
			wantText: `read of "x": server refused: company "x" not found`},
		{name: "fail without message", status: 200, body: `{"result":"fail"}`, want: api,
			wantText: `read of "x": server refused: (no message)`},
		{name: "unknown result", status: 200, body: `{"result":"maybe"}`, want: transport,
			wantText: `read of "x": the answer has an unknown result "maybe"`},
		{name: "no result", status: 200, body: `{}`, want: transport, transient: true,
			wantText: `read of "x": the answer has no result`},
		{name: "html", status: 200, body: `<html><body>Please wait</body></html>`, want: transport, transient: true,
			wantText: `read of "x": the answer is not the API's JSON (an HTML page)`},
		{name: "cut off", status: 200, body: `{"result":"succ`, want: transport, transient: true,
			wantText: `read of "x": the answer is not the API's JSON (cut off or malformed)`},
		{name: "empty", status: 200, body: ``, want: transport, transient: true,
			wantText: `read of "x": the answer is not the API's JSON (empty body)`},
		{name: "wrong shape", status: 200, body: `{"result":1}`, want: transport, transient: false,
			wantText: `read of "x": the answer is not the API's JSON (unexpected shape)`},
		{name: "values one at a time", status: 200, body: `{"values":{"a":{"id":1,"name":"A","data":{"zone":"UTC"}},"b":{"id":2,"data":null}},"x":[1,{}],"result":"success"}`,
			want: success, wantResp: &apiclient.Response{Result: "success", Values: map[string]apiclient.Entry{
				"a": {ID: 1, Name: "A", Data: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("UTC")})}, "b": {ID: 2}}}},
		{name: "values that are not an object", status: 200, body: `{"result":"success","values":[]}`, want: transport,
			wantText: `read of "x": the answer is not the API's JSON (unexpected shape)`},
		{name: "an entry of the wrong shape", status: 200, body: `{"result":"success","values":{"a":{"id":"1"}}}`, want: transport,
			wantText: `read of "x": the answer is not the API's JSON (unexpected shape)`},
		{name: "null", status: 200, body: `null`, want: transport, transient: true,
			wantText: `read of "x": the answer has no result`},
		{name: "a second answer after the first", status: 200, body: `{"result":"success"}{"result":"fail"}`, want: transport, transient: true,
			wantText: `read of "x": the answer is not the API's JSON (cut off or malformed)`},
		{name: "cut off in the values", status: 200, body: `{"result":"success","values":{"a":{"id":1,"na`, want: transport, transient: true,
			wantText: `read of "x": the answer is not the API's JSON (cut off or malformed)`},
		{name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"7"}}, body: `slow down`, want: transport,
			transient: true, retryAfter: 7 * time.Second, wantText: `read of "x": HTTP status 429`},
		{name: "502", status: 502, want: transport, transient: true, wantText: `read of "x": HTTP status 502`},
		{name: "503 with a past date", status: 503, header: http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, want: transport, transient: true,
			wantText: `read of "x": HTTP status 503`},
		{name: "504 with garbage Retry-After", status: 504, header: http.Header{"Retry-After": {"soon"}}, want: transport, transient: true,
			wantText: `read of "x": HTTP status 504`},
		{name: "500 with a success body", status: 500, body: `{"result":"success"}`, want: transport, transient: true,
			wantText: `read of "x": HTTP status 500`},
		{name: "501", status: 501, want: transport, wantText: `read of "x": HTTP status 501`},
		{name: "404", status: 404, want: transport, wantText: `read of "x": HTTP status 404`},
		{name: "401", status: 401, want: transport, wantText: `read of "x": HTTP status 401`},
		{name: "301", status: 301, want: transport, wantText: `read of "x": HTTP status 301`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := apiclient.DecodeResponse("read", "x", tc.status, tc.header, strings.NewReader(tc.body))
			switch tc.want {
			case success:
				require.NoError(t, err)
				if diff := cmp.Diff(tc.wantResp, resp, cmp.AllowUnexported(apiclient.Value{})); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
				return
			case api:
				var apiErr *apiclient.APIError
				require.ErrorAs(t, err, &apiErr)
			case transport:
				var te *apiclient.TransportError
				require.ErrorAs(t, err, &te)
				require.Equal(t, tc.status, te.Status)
				require.Equal(t, tc.retryAfter, te.RetryAfter)
			}
			require.Nil(t, resp)
			require.Equal(t, tc.transient, apiclient.IsTransient(err))
			require.Equal(t, tc.want == api, apiclient.IsRefused(err))
			require.Equal(t, tc.wantText, err.Error())
		})
	}
}

func rawValue(t *testing.T, text string) apiclient.Value {
	t.Helper()
	var v apiclient.Value
	require.NoError(t, json.Unmarshal([]byte(text), &v))
	return v
}

// cannedServer answers every request with body, as a server of another version might.
func cannedServer(t *testing.T, body string) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestDecodeCompanies(t *testing.T) {
	t.Run("known fields are normalised, others kept as sent", func(t *testing.T) {
		url := cannedServer(t, `{"result":"success","values":{"acme":{"id":1001,"name":"Acme","data":{
			"q_ringtime":15,"record":"7","vm_callback":"-1","nocallrec":false,"q_pausetime":"oops",
			"new_field":{"a":[1,2]},"other":12.5}}}}`)
		c := newClient(t, url)
		got, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
		want := apiclient.Company{ID: "acme", Num: 1001, Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{
			"q_ringtime":  apiclient.String("15"),
			"record":      apiclient.Int(7),
			"vm_callback": apiclient.Int(-1),
			"nocallrec":   apiclient.Bool(false),
			"q_pausetime": apiclient.String("oops"),
			"new_field":   rawValue(t, `{"a":[1,2]}`),
			"other":       apiclient.Number("12.5"),
		})}
		if diff := cmp.Diff(want, got, valueJSON); diff != "" {
			t.Errorf("Read (-want +got):\n%s", diff)
		}
		require.Equal(t, apiclient.KindOther, got.Settings.Get("new_field").Kind())
		require.Equal(t, apiclient.KindNumber, got.Settings.Get("other").Kind())
	})

	for _, tc := range []struct {
		name string
		body string
		call func(*apiclient.Client) error
	}{
		{"read without the company", `{"result":"success","values":{"other":{"id":1,"name":"O","data":{}}}}`,
			func(c *apiclient.Client) error { _, err := c.Read(t.Context(), "acme"); return err }},
		{"read with a string id", `{"result":"success","values":{"acme":{"id":"1001","name":"Acme","data":{}}}}`,
			func(c *apiclient.Client) error { _, err := c.Read(t.Context(), "acme"); return err }},
		{"read all with a list", `{"result":"success","values":{"acme":[1,2]}}`,
			func(c *apiclient.Client) error { _, err := c.ReadAll(t.Context()); return err }},
		{"two containers", `{"result":"success","values":{"a":{"id":1,"members":{}},"b":{"id":2,"members":{}}}}`,
			func(c *apiclient.Client) error { _, err := c.ReadContainer(t.Context(), "acme"); return err }},
		{"no container", `{"result":"success"}`,
			func(c *apiclient.Client) error { _, err := c.ReadContainer(t.Context(), "acme"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, cannedServer(t, tc.body))
			err := tc.call(c)
			var te *apiclient.TransportError
			require.ErrorAs(t, err, &te)
			require.Equal(t, 200, te.Status)
			require.False(t, te.Transient, "a malformed success is not worth trying again")
			require.Contains(t, err.Error(), "unexpected")
		})
	}

	t.Run("members of a container, sorted", func(t *testing.T) {
		url := cannedServer(t, `{"result":"success","values":{"acme":{"id":501,"name":"acme","data":{},"members":{
			"zulu":{"id":1003,"name":"Zulu","data":{"hs_nm":3}},"acme":{"id":1001,"name":"Acme","data":{}}}}}}`)
		c := newClient(t, url)
		got, err := c.ReadContainer(t.Context(), "zulu")
		require.NoError(t, err)
		want := apiclient.Container{Name: "acme", Num: 501, Members: []apiclient.Company{
			{ID: "acme", Num: 1001, Name: "Acme", Settings: apiclient.Settings{}},
			{ID: "zulu", Num: 1003, Name: "Zulu", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_nm": apiclient.String("3")})},
		}}
		if diff := cmp.Diff(want, got, valueJSON); diff != "" {
			t.Errorf("ReadContainer (-want +got):\n%s", diff)
		}
	})
}
