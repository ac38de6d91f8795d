package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A Trace records every request a client sends and the answer it gets, for a bug
// report about a real server (pbxsync --trace FILE), and writes them as an HTTP
// Archive (HAR 1.2) that browsers' developer tools open. What it keeps is redacted:
// the API key, the password, session cookies and every value of a secret field, sent
// or received, are (sensitive), in every form the client's redactor knows; a body
// that is not JSON is kept as its size only (cli.md, --trace v0.3). Several clients
// may share one trace.
type Trace struct {
	mu      sync.Mutex
	entries []harEntry
}

// NewTrace returns an empty trace.
func NewTrace() *Trace { return &Trace{} }

// WithTrace records the client's requests and answers in t.
func WithTrace(t *Trace) Option { return func(c *Client) { c.trace = t } }

// Len returns how many requests the trace holds.
func (t *Trace) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// WriteHAR writes the trace as an HTTP Archive 1.2.
func (t *Trace) WriteHAR(w io.Writer) error {
	t.mu.Lock()
	entries := append([]harEntry{}, t.entries...)
	t.mu.Unlock()
	return WriteJSON(w, harFile{Log: harLog{Version: "1.2", Creator: harCreator{Name: "pbxsync", Version: BuildVersion()}, Entries: entries}})
}

type harFile struct {
	Log harLog `json:"log"`
}

type harLog struct {
	Version string     `json:"version"`
	Creator harCreator `json:"creator"`
	Entries []harEntry `json:"entries"`
}

type harCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type harEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"` // milliseconds
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
}

type harRequest struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []harHeader `json:"headers"`
	QueryString []harHeader `json:"queryString"`
	Cookies     []harHeader `json:"cookies"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`
	PostData    *harPost    `json:"postData,omitempty"`
}

type harPost struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type harResponse struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []harHeader `json:"headers"`
	Cookies     []harHeader `json:"cookies"`
	Content     harContent  `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// tracing is the transport of a client with a trace: it records each exchange,
// redacted by the client's redactor and the field table.
type tracing struct {
	next  http.RoundTripper
	trace *Trace
	c     *Client
}

func (t *tracing) RoundTrip(req *http.Request) (*http.Response, error) {
	var sent []byte
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			sent, _ = io.ReadAll(body)
			body.Close()
		}
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	e := harEntry{StartedDateTime: start.UTC().Format(time.RFC3339Nano)}
	e.Request = harRequest{Method: req.Method, URL: req.URL.String(), HTTPVersion: "HTTP/1.1", Headers: t.headers(req.Header),
		QueryString: []harHeader{}, Cookies: []harHeader{}, HeadersSize: -1, BodySize: len(sent)}
	if len(sent) > 0 {
		e.Request.PostData = &harPost{MimeType: req.Header.Get("Content-Type"), Text: t.body(sent)}
	}
	if err != nil {
		e.Response = harResponse{StatusText: t.c.redact.message(err.Error()), HTTPVersion: "HTTP/1.1", Headers: []harHeader{},
			Cookies: []harHeader{}, HeadersSize: -1, BodySize: -1}
	} else {
		got, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(got), errReader{readErr}))
		t.c.rememberSession(resp)
		e.Response = harResponse{Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode), HTTPVersion: resp.Proto,
			Headers: t.headers(resp.Header), Cookies: []harHeader{}, HeadersSize: -1, BodySize: len(got),
			Content: harContent{Size: len(got), MimeType: t.c.redact.message(resp.Header.Get("Content-Type")), Text: t.body(got)}}
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	e.Time, e.Timings = ms, harTimings{Wait: ms}
	t.trace.mu.Lock()
	t.trace.entries = append(t.trace.entries, e)
	t.trace.mu.Unlock()
	return resp, err
}

// errReader returns err, or io.EOF.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// headers lists headers, cookies (the session) redacted.
func (t *tracing) headers(h http.Header) []harHeader {
	out := []harHeader{}
	for name, values := range h {
		for _, v := range values {
			switch http.CanonicalHeaderKey(name) {
			case "Cookie", "Set-Cookie", "Authorization":
				v = Redacted
			}
			out = append(out, harHeader{Name: t.c.redact.message(name), Value: t.c.redact.message(v)})
		}
	}
	return out
}

// body records a request's or an answer's body. JSON is kept with the value of
// every secret field and credential key replaced, and every other string, key and
// number scrubbed by the client's redactor. Any other body (cut off, an HTML page,
// garbage) is kept as its size only: what cannot be read cannot be redacted.
func (t *tracing) body(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if !json.Valid(b) || dec.Decode(&v) != nil {
		return fmt.Sprintf("(%d bytes, not JSON: not recorded)", len(b))
	}
	out, _ := json.Marshal(redactJSON(v, t.c.redact.message)) // what was decoded encodes
	return string(out)
}

// credentialKeys are the JSON keys whose values are credentials: what a login sends,
// and what a server's login answer might hold beside its cookie.
var credentialKeys = map[string]bool{"key": true, "password": true, "session": true, "token": true, "sessionid": true}

// redactJSON returns v, a decoded JSON document, with the values of secret fields
// and credentials replaced wherever they stand, and every other string, key and
// number passed through scrub.
func redactJSON(v any, scrub func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, child := range x {
			switch {
			case !IsSecret(k) && !credentialKeys[strings.ToLower(k)]:
				child = redactJSON(child, scrub)
			case child != nil && child != "":
				child = Redacted
			}
			out[scrub(k)] = child
		}
		return out
	case []any:
		for i, child := range x {
			x[i] = redactJSON(child, scrub)
		}
	case string:
		return scrub(x)
	case json.Number:
		if s := scrub(string(x)); s != string(x) {
			return s
		}
	}
	return v
}
