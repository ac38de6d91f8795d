package main

// Attack: traces leak (issue 18, attack 5). A server that fails often, cuts its
// answers off and echoes the key, the password, the session and the PINs in every
// encoding it can think of gets none of them into a --trace file, stdout or stderr
// (cli.md, --trace v0.3).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

// The credentials and PINs of the scrub test. The password holds characters that
// JSON, URLs and HTML escape; heldPIN is a PIN the server holds before the run.
const (
	scrubKey      = "AlnumKey0123456789abcdefghijKLMNOPqrstuv"
	scrubUser     = "ops"
	scrubPassword = `Tr0ub4dor&3 "horse"/staple`
	heldPIN       = "31415926"
)

// scrubPINs are the PINs the inventory sends, by variable.
var scrubPINs = map[string]string{"PIN_A": "86420975", "PIN_B": "97531864", "PIN_C": "10293847"}

// charForms are the ways a server may write text back one character at a time.
var charForms = map[string]func(string) string{
	"as sent": func(s string) string { return s },
	"JSON": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	},
	`\u each`: func(s string) string { return eachRuneAs(s, `\u%04x`) },
	"query":   url.QueryEscape,
	"path":    url.PathEscape,
	"%XX each": func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	},
	"HTML":      html.EscapeString,
	"&#x; each": func(s string) string { return eachRuneAs(s, "&#x%x;") },
	"&#; each":  func(s string) string { return eachRuneAs(s, "&#%d;") },
}

func eachRuneAs(s, format string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, format, r)
	}
	return b.String()
}

var base64s = []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}

// echoOf is what the hostile server writes back of s: each character form, a
// prefix as in "invalid key AlnumKey01...", and base64 on its own and inside longer
// base64 at each of the three alignments.
func echoOf(s string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(charForms)) {
		out = append(out, charForms[name](s))
	}
	out = append(out, "invalid key "+s[:min(len(s), 12)]+"...")
	for _, enc := range base64s {
		out = append(out, enc.EncodeToString([]byte(s)))
		for _, before := range []string{"a", "ab", "abc"} {
			out = append(out, enc.EncodeToString([]byte(before+s+"tail")))
		}
	}
	return out
}

// credentialLeaks is what must show nowhere of a credential: every run of 8 of its
// characters in each character form, its base64, and every 8 characters of its
// base64 inside longer base64 that encode it alone.
func credentialLeaks(c string) []string {
	var out []string
	for i := 0; i+8 <= len(c); i++ {
		for _, form := range charForms {
			out = append(out, form(c[i:i+8]))
		}
	}
	for _, enc := range base64s {
		out = append(out, enc.EncodeToString([]byte(c)))
		for _, before := range []string{"", "a", "ab"} {
			b := enc.EncodeToString([]byte(before + c + "tail"))
			inner := b[4 : len(b)-12] // what stands beside it mixes in at each end
			for i := 0; i+8 <= len(inner); i++ {
				out = append(out, inner[i:i+8])
			}
		}
	}
	return out
}

// pinLeaks is what must show nowhere of a PIN: the PIN in each character form, and
// its base64.
func pinLeaks(pin string) []string {
	var out []string
	for _, form := range charForms {
		out = append(out, form(pin))
	}
	for _, enc := range base64s {
		out = append(out, enc.EncodeToString([]byte(pin)))
	}
	return out
}

// The ways the echo server answers a write, in turn.
var echoAnswers = []string{"forward", "fail", "cut off", "HTML page", "status 500", "unknown result", "malformed status line"}

// echoServer stands in front of a simulator with faults. It echoes every credential
// and PIN a request carries (the password of the login before it, the session) in
// a header of every answer, and answers each write in turn with one of echoAnswers.
type echoServer struct {
	sim *pbxtest.Server
	URL string

	mu       sync.Mutex
	password string         // from the last login
	sessions []string       // every session a request carried
	writes   int            // writes seen
	answered map[string]int // writes answered, by echoAnswers
}

func newEchoServer(t *testing.T, sim *pbxtest.Server) *echoServer {
	e := &echoServer{sim: sim, answered: map[string]int{}}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req apiclient.Request
	_ = json.Unmarshal(body, &req)
	verb := hostileVerb(r.URL.Path)
	echo, answer := e.echo(r, req, verb)
	w.Header().Set("X-Echo", echo)
	switch answer {
	case "fail":
		writeEchoJSON(w, map[string]any{"result": "fail", "message": "bad request " + echo})
	case "cut off":
		b, _ := json.Marshal(map[string]any{"result": "success", "values": map[string]any{"x": map[string]any{
			"name": echo, "data": map[string]any{"nm_password": heldPIN, "hs_access": echo}}}})
		_, _ = w.Write(b[:len(b)-10])
	case "HTML page":
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body><p>Bad gateway for "+html.EscapeString(echo)+"</p></body></html>")
	case "status 500":
		http.Error(w, echo, http.StatusInternalServerError)
	case "unknown result":
		writeEchoJSON(w, map[string]any{"result": echo})
	case "malformed status line":
		if conn, buf, err := w.(http.Hijacker).Hijack(); err == nil {
			_, _ = buf.WriteString(strings.ReplaceAll(echo, " ", "_") + "\r\n\r\n")
			_ = buf.Flush()
			_ = conn.Close()
		}
	default:
		e.sim.ServeHTTP(w, r) // with the simulator's faults
	}
}

// echo returns the echo of what r carries, and how to answer it.
func (e *echoServer) echo(r *http.Request, req apiclient.Request, verb string) (echo, answer string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var carried []string
	if req.Auth != nil {
		carried = append(carried, req.Auth.Key)
		if verb == "login" {
			e.password = req.Auth.Password
		}
	}
	if ck, err := r.Cookie(apiclient.SessionCookie); err == nil {
		carried = append(carried, ck.Value)
		if !slices.Contains(e.sessions, ck.Value) {
			e.sessions = append(e.sessions, ck.Value)
		}
	}
	carried = append(carried, e.password)
	var forms []string
	for _, s := range append(carried, secretsOf(req)...) {
		if s != "" {
			forms = append(forms, echoOf(s)...)
		}
	}
	if !isWrite(verb) {
		return strings.Join(forms, " | "), "forward"
	}
	answer = echoAnswers[e.writes%len(echoAnswers)]
	e.writes++
	e.answered[answer]++
	return strings.Join(forms, " | "), answer
}

func writeEchoJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}

// scrubInventory changes the PINs of four companies the server holds and creates two
// more with PINs.
const scrubInventory = `version: 1
companies:
  tenant_a: {name: Tenant A, settings: {nm_password: '${PIN_A}', barge_pin: '${PIN_B}'}}
  tenant_b: {name: Tenant B, settings: {nm_password: '${PIN_B}', ivr_password: '${PIN_C}'}}
  tenant_c: {name: Tenant C, settings: {ivr_password: '${PIN_A}', zone: UTC}}
  tenant_d: {name: Tenant D, settings: {barge_pin: '${PIN_C}'}}
  new_e: {name: New E, settings: {nm_password: '${PIN_C}', barge_pin: '${PIN_A}'}}
  new_f: {name: New F, settings: {ivr_password: '${PIN_B}'}}
`

// TestTraceHoldsNoSecretInAnyForm runs apply --trace against the echo server in
// front of a simulator that faults 30% of its requests (every kind, cut-off answers
// included) until each kind of echo has answered a write and the simulator has cut
// an answer off, with a key and with a
// login, and looks in every trace, stdout and stderr for each form of the key, the
// password, the sessions and the PINs, sent or held by the server.
func TestTraceHoldsNoSecretInAnyForm(t *testing.T) {
	for _, login := range []bool{false, true} {
		t.Run(map[bool]string{false: "key", true: "login"}[login], func(t *testing.T) {
			held := apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String(heldPIN)})
			var st pbxtest.State
			for _, id := range []string{"tenant_a", "tenant_b", "tenant_c", "tenant_d"} {
				st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: "Old " + id, Settings: held})
			}
			sim := pbxtest.New(pbxtest.WithState(st), pbxtest.WithAPIKey(scrubKey, pbxtest.SystemAdmin()),
				pbxtest.WithUser(scrubUser, scrubPassword, pbxtest.SystemAdmin()),
				pbxtest.WithFaults(pbxtest.Faults{Seed: 18, Rates: pbxtest.SpreadRate(0.3)}))
			e := newEchoServer(t, sim)
			vars := maps.Clone(scrubPINs)
			vars["PBX_URL"] = e.URL
			if login {
				vars["PBX_USERNAME"], vars["PBX_PASSWORD"] = scrubUser, scrubPassword
			} else {
				vars["PBX_API_KEY"] = scrubKey
			}
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", scrubInventory)
			var runs []hostileRun
			done := func() bool { return e.answeredAll() && sim.Stats().Faults[pbxtest.FaultTruncated] > 0 }
			for i := 0; i < 30 && !done(); i++ {
				har := filepath.Join(dir, fmt.Sprintf("run%d.har", i))
				r := runHostile(t, vars, nil, "apply", "-f", inv, "--auto-approve", "--trace", har)
				require.Contains(t, []int{0, 1}, r.code, r.String())
				data, err := os.ReadFile(har)
				require.NoError(t, err, r.String())
				r.outputs["trace"] = string(data)
				r.outputs["trace, its strings"] = harStrings(t, data)
				runs = append(runs, r)
			}
			require.True(t, done(), "every kind of echo answered a write (%v), and the simulator cut an answer off", e.answered)
			requireNoLeak(t, runs, e.leaks(t, login))
			var all strings.Builder
			for _, r := range runs {
				all.WriteString(r.String())
			}
			require.Contains(t, all.String(), "not JSON: not recorded", "a cut-off answer is recorded as its size")
			require.Contains(t, all.String(), "bad request "+apiclient.Redacted, "the echo was shown, scrubbed")
		})
	}
}

// answeredAll reports whether each of echoAnswers has answered a write.
func (e *echoServer) answeredAll() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.answered) == len(echoAnswers)
}

// leaks is what must show nowhere: the credentials of the run and the sessions the
// server saw, in every form, and the PINs sent and held.
func (e *echoServer) leaks(t *testing.T, login bool) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	creds := []string{scrubKey}
	if login {
		require.NotEmpty(t, e.sessions)
		creds = append([]string{scrubPassword}, e.sessions...)
	}
	var out []string
	for _, c := range creds {
		out = append(out, credentialLeaks(c)...)
	}
	for _, pin := range append(slices.Collect(maps.Values(scrubPINs)), heldPIN) {
		out = append(out, pinLeaks(pin)...)
	}
	return out
}

// harStrings returns every string of a HAR file, one a line, as a viewer shows them.
func harStrings(t *testing.T, data []byte) string {
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc), "the trace is JSON")
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				b.WriteString(k + "\n")
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		case string:
			b.WriteString(x + "\n")
		}
	}
	walk(doc)
	return b.String()
}

// requireNoLeak fails for each output of each run that holds one of leaks.
func requireNoLeak(t *testing.T, runs []hostileRun, leaks []string) {
	t.Helper()
	for i, r := range runs {
		for _, name := range slices.Sorted(maps.Keys(r.outputs)) {
			out := r.outputs[name]
			for _, leak := range leaks {
				if j := strings.Index(out, leak); j >= 0 {
					line := out[strings.LastIndexByte(out[:j], '\n')+1:]
					line, _, _ = strings.Cut(line, "\n")
					t.Errorf("run %d: %s holds %q in: %s", i, name, leak, line[:min(len(line), 300)])
					break
				}
			}
		}
	}
}
