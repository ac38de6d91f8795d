package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tracePIN is the PIN the trace tests send: long enough that no port or time in a
// trace holds it by chance.
const tracePIN = "86420975"

// keyEcho is every form of echoForms of the key, and the PIN as sent and escaped,
// in one text.
func keyEcho() string {
	forms := echoForms(testKey)
	echo := make([]string, 0, len(forms)+3)
	for _, name := range slices.Sorted(maps.Keys(forms)) {
		echo = append(echo, forms[name])
	}
	return strings.Join(append(echo, tracePIN, jsonInner(`"`+tracePIN+`"`), html.EscapeString(`"`+tracePIN+`"`)), ";")
}

// A server's answer that echoes the key in every form, whatever its shape, leaves
// no run of the key and no PIN in the trace or the error: a body that is not JSON
// is recorded as its size only.
func TestTraceHoldsNoFormOfTheKey(t *testing.T) {
	echo := keyEcho()
	notJSON := func(body string) string { return fmt.Sprintf("(%d bytes, not JSON: not recorded)", len(body)) }
	cutOff := `{"result":"success","values":{"acme":{"id":1,"name":"Acme","data":{"nm_password":"` + tracePIN + `","note":"` + echo
	page := "<html><body>bad key " + html.EscapeString(echo) + "</body></html>"
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter)
		wantText string // the answer's text in the trace; "" for none to check
	}{
		{"cut off", func(w http.ResponseWriter) { _, _ = w.Write([]byte(cutOff)) }, notJSON(cutOff)},
		{"HTML page", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(page))
		}, notJSON(page)},
		{"status 500", func(w http.ResponseWriter) { http.Error(w, echo, http.StatusInternalServerError) }, notJSON(echo + "\n")},
		{"fail message", func(w http.ResponseWriter) { writeTestJSON(w, map[string]any{"result": "fail", "message": echo}) }, ""},
		{"unknown result", func(w http.ResponseWriter) { writeTestJSON(w, map[string]any{"result": echo}) }, ""},
		{"header", func(w http.ResponseWriter) {
			w.Header().Set("X-Echo", echo)
			writeTestJSON(w, map[string]any{"result": "fail", "message": "no"})
		}, ""},
		{"malformed status line", func(w http.ResponseWriter) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = buf.WriteString(strings.ReplaceAll(echo, " ", "_") + "\r\n\r\n")
				_ = buf.Flush()
				_ = conn.Close()
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.answer(w) }))
			t.Cleanup(srv.Close)
			trace := NewTrace()
			c, err := New(srv.URL, WithAPIKey(testKey), WithTrace(trace), WithRetryPolicy(RetryPolicy{Attempts: 1}))
			require.NoError(t, err)
			_, err = c.Update(t.Context(), "acme", Changes{Settings: SettingsOf(map[string]Value{"nm_password": String(tracePIN)})})
			require.Error(t, err)
			var har bytes.Buffer
			require.NoError(t, trace.WriteHAR(&har))
			for what, text := range map[string]string{"the error": err.Error(), "the trace": har.String()} {
				requireNoRun(t, text, testKey, 6)
				for _, reading := range readings(text) {
					require.NotContains(t, reading, tracePIN, "%s holds the PIN", what)
				}
			}
			if tt.wantText != "" {
				var doc struct{ Log struct{ Entries []harEntry } }
				require.NoError(t, json.Unmarshal(har.Bytes(), &doc))
				require.Len(t, doc.Log.Entries, 1)
				require.Equal(t, tt.wantText, doc.Log.Entries[0].Response.Content.Text)
			}
		})
	}
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
