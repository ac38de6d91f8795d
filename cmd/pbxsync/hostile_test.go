package main

// Attack tests of the trust boundaries (spec/api.md, "What the tool trusts"): no
// tenant, server or file can turn pbxsync against its owner. A hostile server puts
// escape sequences, forged lines, Markdown and HTML, bidirectional overrides, C1
// controls and invalid UTF-8 into every string it controls, and echoes every request
// (the key, the PINs) back in its fail messages; every output of every command must
// stay inert text that holds no credential.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

// hostileKey is the key pbxsync authenticates with: long and recognisable, so that a
// leak of it anywhere is found.
const hostileKey = "KEY-sk_live_0123456789abcdef"

// The PINs the inventories send. The long one must be absent everywhere; the short
// ones are also digits of counts and ids, so the tests look for them where an echo
// would put them.
const (
	longPIN  = "987654"
	shortPIN = "42"
	tinyPIN  = "7"
)

// hostileText is what a hostile server writes into every string it controls: a
// window retitle, a screen clear, hidden text, a carriage return and a forged
// summary line, Markdown and HTML that break out of their line, a backtick run,
// table breakers, bidirectional overrides and isolates, C1 controls (CSI, NEL) and
// DEL.
const hostileText = "\x1b]0;pwned\x07\x1b[2J\x1b[8m\rVerified: yes\n# Heading\n\n<img src=x onerror=alert(1)>" +
	"```|a|b|\u202eevil\u2066x\u2067y\u2068z\u2069\u009b31m\u0085\x7f"

// badUTF8Marker stands for bytes that are not UTF-8 in what the hostile server
// writes: it is replaced by them after the answer is encoded, since encoding/json
// would replace them itself.
const badUTF8Marker = "@@BADUTF8@@"

// hostileOptions choose what a hostileServer does besides forwarding to the simulator.
type hostileOptions struct {
	rewrite bool // make every string of every answer hostile
	names   bool // with rewrite: company names too (a managed company never matches then)
	echo    bool // answer every update that carries a secret with a fail echoing the request
	// failContainerOf: readContainer of this company always fails, echoing the request.
	failContainerOf string
	// failFirst answers the first requests of a verb with a fail, without forwarding
	// them: a change that fails once, for a repair round to make again.
	failFirst map[string]int
	// hook runs as each request arrives, one at a time, with the number of requests
	// so far and the verb: a test grows or shrinks the server there.
	hook func(h *hostileServer, n int, verb string)
}

// hostileServer is an http.Handler in front of a pbxtest simulator: it forwards each
// request and rewrites the answer as opts say.
type hostileServer struct {
	t    testing.TB
	sim  *pbxtest.Server
	opts hostileOptions
	URL  string

	mu       sync.Mutex // serialises hooks and guards what follows
	requests int
	failed   map[string]int // requests answered by failFirst, by verb
	// refuseLogins makes every later login fail, as after a password rotation; a
	// hook sets it.
	refuseLogins bool
	logins       int // login attempts, refused ones included
	failedLogins int // logins refused because of refuseLogins
}

// newHostileServer starts a hostile server over real HTTP on loopback, in front of a
// simulator that accepts hostileKey and pbxtest.AdminKey as System-Admin.
func newHostileServer(t testing.TB, opts hostileOptions, simOpts ...pbxtest.Option) *hostileServer {
	t.Helper()
	sim := pbxtest.New(append([]pbxtest.Option{
		pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()),
		pbxtest.WithAPIKey(hostileKey, pbxtest.SystemAdmin()),
	}, simOpts...)...)
	h := &hostileServer{t: t, sim: sim, opts: opts}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	h.URL = hs.URL
	return h
}

func hostileVerb(path string) string {
	if strings.HasPrefix(path, "/rest/auth") {
		return "login"
	}
	return strings.Trim(strings.TrimPrefix(path, "/rest/ops/"), "/")
}

func (h *hostileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	verb := hostileVerb(r.URL.Path)
	var req apiclient.Request
	_ = json.Unmarshal(body, &req)
	h.mu.Lock()
	h.requests++
	if h.opts.hook != nil {
		h.opts.hook(h, h.requests, verb)
	}
	failNow := h.failed[verb] < h.opts.failFirst[verb]
	if failNow {
		if h.failed == nil {
			h.failed = map[string]int{}
		}
		h.failed[verb]++
	}
	h.mu.Unlock()
	if failNow {
		h.fail(w, "try again later: "+string(body)+" "+hostileText+badUTF8Marker)
		return
	}
	if verb == "login" {
		h.mu.Lock()
		h.logins++
		refuse := h.refuseLogins
		if refuse {
			h.failedLogins++
		}
		h.mu.Unlock()
		if refuse {
			h.fail(w, "invalid credentials: "+string(body)+" "+hostileText+badUTF8Marker)
			return
		}
	}
	if h.opts.echo && verb == "update" && len(secretsOf(req)) > 0 {
		h.fail(w, "bad request: "+string(body)+pinEcho(req)+" "+hostileText+badUTF8Marker)
		return
	}
	if h.opts.failContainerOf != "" && verb == "readContainer" && req.Scope != nil && req.Scope.Company == h.opts.failContainerOf {
		h.fail(w, "no container for you: "+string(body)+" "+hostileText+badUTF8Marker)
		return
	}

	rec := httptest.NewRecorder()
	// What arrived is forwarded whole, even when the client has gone meanwhile: a
	// server that got a request carries it out (tests interrupt mid-request).
	fwd := httptest.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, r.URL.Path, bytes.NewReader(body))
	fwd.Header = r.Header.Clone()
	h.sim.ServeHTTP(rec, fwd)
	out := rec.Body.Bytes()
	if rec.Code == http.StatusOK && (h.opts.rewrite || h.opts.echo) {
		out = h.rewrite(verb, body, req, out)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// loginCounts returns the login attempts so far, and how many of them were refused.
func (h *hostileServer) loginCounts() (all, refused int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logins, h.failedLogins
}

// fail answers with the API's fail and a message, invalid UTF-8 spliced in.
func (h *hostileServer) fail(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]string{"result": apiclient.ResultFail, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(spliceBadUTF8(b))
}

// secretsOf returns the values of the secret fields a request writes.
func secretsOf(req apiclient.Request) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(req.Values)) {
		var s string
		if apiclient.IsSecret(name) && json.Unmarshal(req.Values[name], &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// pinEcho repeats each secret of the request bare, as "pin=VALUE;".
func pinEcho(req apiclient.Request) string {
	var b strings.Builder
	for _, s := range secretsOf(req) {
		fmt.Fprintf(&b, " pin=%s;", s)
	}
	return b.String()
}

func spliceBadUTF8(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte(badUTF8Marker), []byte("\xff\xfe\xc0"))
}

// rewrite makes an answer hostile: its fail message echoes the request; every
// company's free-text settings hold hostile text (one of them the request itself,
// key included), an unknown field with a hostile name and an object value holding
// invalid UTF-8 appear; with names, every name is hostile; a container's name too.
func (h *hostileServer) rewrite(verb string, reqBody []byte, req apiclient.Request, answer []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return answer
	}
	switch doc["result"] {
	case apiclient.ResultFail:
		msg, _ := doc["message"].(string)
		doc["message"] = msg + " | you sent: " + string(reqBody) + pinEcho(req) + " " + hostileText + badUTF8Marker
	case apiclient.ResultSuccess:
		if !h.opts.rewrite {
			return answer
		}
		values, _ := doc["values"].(map[string]any)
		renamed := map[string]any{}
		for key, v := range values {
			e, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if verb == "readContainer" {
				if members, ok := e["members"].(map[string]any); ok {
					for _, m := range members {
						if me, ok := m.(map[string]any); ok {
							h.rewriteCompany(me, reqBody)
						}
					}
				}
				e["name"] = fmt.Sprint(e["name"]) + hostileText + badUTF8Marker
				renamed[key+hostileText] = e // a container's name is the key
				continue
			}
			h.rewriteCompany(e, reqBody)
			renamed[key] = e
		}
		if values != nil {
			doc["values"] = renamed
		}
		if _, ok := doc["message"]; ok {
			doc["message"] = hostileText
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		h.t.Errorf("hostile server: encode: %v", err)
		return answer
	}
	return spliceBadUTF8(out)
}

func (h *hostileServer) rewriteCompany(e map[string]any, reqBody []byte) {
	if h.opts.names {
		e["name"] = fmt.Sprint(e["name"]) + hostileText + badUTF8Marker
	}
	data, _ := e["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
		e["data"] = data
	}
	data["hs_access"] = "access" + hostileText + badUTF8Marker
	data["hs_access_nm"] = "echo " + string(reqBody) + hostileText
	data["crm_url"] = "https://crm.example/" + hostileText + badUTF8Marker
	data["x_note"+hostileText] = "unknown" + hostileText + badUTF8Marker
	data["x_blob"] = map[string]any{"k" + hostileText: "v" + hostileText + badUTF8Marker}
}

// admin sends one request to the simulator with the admin key, as its own operator
// would, and fails the test when it is refused.
func (h *hostileServer) admin(verb string, req apiclient.Request) {
	req.Type = "company"
	req.Auth = &apiclient.Auth{Type: "auth", Key: pbxtest.AdminKey}
	b, _ := json.Marshal(req)
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/rest/ops/"+verb+"/", bytes.NewReader(b)))
	var resp apiclient.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Result != apiclient.ResultSuccess {
		h.t.Errorf("hostile server: admin %s: %s", verb, rec.Body.String())
	}
}

// create makes a company on the simulator, as another operator does during a run.
func (h *hostileServer) create(id string) {
	h.admin("create", apiclient.Request{Values: map[string]json.RawMessage{"company": jsonText(id), "name": jsonText("Grown " + id)}})
}

// group moves mover into the container of target on the simulator.
func (h *hostileServer) group(mover, target string) {
	h.admin("group", apiclient.Request{Scope: &apiclient.Scope{Company: mover}, Values: map[string]json.RawMessage{"company": jsonText(target)}})
}

func jsonText(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// The companies of the hostile scenario: a managed company with a PIN the inventory
// changes, one grouped with an unmanaged company whose id is hostile, a prune
// candidate whose id is hostile (with a secret, so that an export names a variable
// after it), in a container whose name is hostile too.
func hostileState() pbxtest.State {
	str := apiclient.String
	return pbxtest.State{
		Companies: []apiclient.Company{
			{ID: "acme", Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": str("external"), "nm_password": str("1111")})},
			{ID: "beta", Name: "Beta"},
			{ID: "delta", Name: "Delta"},
			{ID: "epsilon", Name: "Epsilon"},
			{ID: "cust_" + hostileText, Name: "Cust " + hostileText, Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": str("5555")})},
			{ID: "zz" + hostileText, Name: "Mate " + hostileText},
		},
		Containers: map[string][]string{
			"beta":              {"beta", "zz" + hostileText},
			"box" + hostileText: {"cust_" + hostileText, "epsilon"},
		},
	}
}

// hostileInventory manages acme (new PIN, hs_access), beta, delta (whose container
// cannot be read), epsilon, and creates gamma with two short PINs.
const hostileInventory = `version: 1
companies:
  acme:
    name: Acme
    settings:
      hs_access: internal
      nm_password: ${ACME_PIN}
  beta:
    name: Beta
    settings:
      hs_access_nm: night
  delta:
    name: Delta
  epsilon:
    name: Epsilon
  gamma:
    name: Gamma
    settings:
      barge_pin: ${GAMMA_PIN}
      ivr_password: ${TINY_PIN}
      zone: Europe/London
prune:
  match: "^cust_"
`

// hostileEnv is the environment of a run against h.
func hostileEnv(h *hostileServer) map[string]string {
	return map[string]string{"PBX_URL": h.URL, "PBX_API_KEY": hostileKey, "ACME_PIN": longPIN, "GAMMA_PIN": shortPIN, "TINY_PIN": tinyPIN}
}

// hostileRun is what one command printed and wrote.
type hostileRun struct {
	code    int
	outputs map[string]string // stdout, stderr and every file written, by name
}

func runHostile(t *testing.T, vars map[string]string, files map[string]string, args ...string) hostileRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr, lookup, fastRetries)
	r := hostileRun{code: code, outputs: map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}}
	for name, path := range files {
		data, err := os.ReadFile(path)
		require.NoError(t, err, "%s was not written; stderr: %s", name, stderr.String())
		r.outputs[name] = string(data)
	}
	return r
}

func (r hostileRun) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exit %d\n", r.code)
	for _, name := range slices.Sorted(maps.Keys(r.outputs)) {
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, r.outputs[name])
	}
	return b.String()
}

// unsafeBytes returns a description of every byte sequence in out that a terminal or
// a viewer would act on (spec/api.md): a C0 control other than a line feed, DEL, a C1
// control, a format character (bidirectional overrides and isolates, zero-width
// characters), a line or paragraph separator, bytes that are not UTF-8.
func unsafeBytes(out string) []string {
	var found []string
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		var what string
		switch {
		case r == utf8.RuneError && size == 1:
			what = "invalid UTF-8"
		case r == '\n':
		case r < 0x20 || r == 0x7f:
			what = "control"
		case r >= 0x80 && r <= 0x9f:
			what = "C1 control"
		case unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029:
			what = "format character"
		}
		if what != "" {
			lo, hi := max(i-40, 0), min(i+size+20, len(out))
			found = append(found, fmt.Sprintf("%s %q at byte %d in %q", what, out[i:i+size], i, out[lo:hi]))
		}
		i += size
	}
	return found
}

// requireInert checks every output of a run: no unsafe byte, no credential, no PIN,
// no line that the server forged (a heading, an HTML tag, a summary line).
func requireInert(t *testing.T, r hostileRun) {
	t.Helper()
	forged := regexp.MustCompile(`(?m)^\s*(# Heading|<img|Verified: yes|\x1b)`)
	shortEchoes := []string{`"` + shortPIN + `"`, `\"` + shortPIN + `\"`, "pin=" + shortPIN + ";",
		`"` + tinyPIN + `"`, `\"` + tinyPIN + `\"`, "pin=" + tinyPIN + ";"}
	for _, name := range slices.Sorted(maps.Keys(r.outputs)) {
		out := r.outputs[name]
		if found := unsafeBytes(out); len(found) > 0 {
			t.Errorf("%s holds %d unsafe sequences, the first: %s", name, len(found), strings.Join(found[:min(len(found), 3)], "; "))
		}
		for _, secret := range []string{hostileKey, longPIN, "pbxtest-admin-key"} {
			if i := strings.Index(out, secret); i >= 0 {
				t.Errorf("%s holds the secret %q: ...%q...", name, secret, out[max(i-60, 0):min(i+len(secret)+20, len(out))])
			}
		}
		for _, echo := range shortEchoes {
			if i := strings.Index(out, echo); i >= 0 {
				t.Errorf("%s holds the echoed PIN %s: ...%q...", name, echo, out[max(i-60, 0):min(i+len(echo)+20, len(out))])
			}
		}
		if m := forged.FindString(out); m != "" {
			t.Errorf("%s has a line the server forged: %q", name, m)
		}
	}
}

// requireEchoRedacted checks that the outputs show the server's echo of an update
// with the PINs replaced by (sensitive): the echo was there, and was cleaned.
func requireEchoRedacted(t *testing.T, r hostileRun, names ...string) {
	t.Helper()
	for _, name := range names {
		require.Contains(t, r.outputs[name], "pin="+apiclient.Redacted+";", "%s does not show the echoed PINs as redacted:\n%s", name, r.outputs[name])
	}
}

// requireKeyEchoRedacted checks that an echoed request shows its key as (sensitive).
func requireKeyEchoRedacted(t *testing.T, r hostileRun, names ...string) {
	t.Helper()
	re := regexp.MustCompile(`key\\*":\\*"` + regexp.QuoteMeta(apiclient.Redacted))
	for _, name := range names {
		require.Regexp(t, re, r.outputs[name], "%s does not show the echoed key as redacted", name)
	}
}

// requireOneJSON checks that out is one JSON document and returns it.
func requireOneJSON(t *testing.T, what, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var doc map[string]any
	require.NoError(t, dec.Decode(&doc), "%s is not JSON: %s", what, out)
	require.False(t, dec.More(), "%s holds more than one JSON document", what)
	return doc
}

// markdownLines is how many lines render.PlanMarkdown writes for the plan whose JSON form
// is doc: the heading, an empty line and the summary; for each action with changes
// an empty line, its heading and an empty line, then a line per change and per
// field; the same for the warnings and the companies not planned.
func markdownLines(t *testing.T, doc map[string]any) int {
	t.Helper()
	n := 3
	sections := map[string]int{}
	for _, c := range doc["changes"].([]any) {
		ch := c.(map[string]any)
		action := ch["action"].(string)
		if sections[action] == 0 {
			n += 5 // "", <details><summary>, "", and after the items "", </details>
		}
		sections[action]++
		n++
		for _, key := range []string{"settings", "fields"} {
			if m, ok := ch[key].(map[string]any); ok {
				n += len(m)
			}
		}
	}
	for _, key := range []string{"warnings", "not_planned"} {
		if list, ok := doc[key].([]any); ok && len(list) > 0 {
			n += 3 + len(list)
		}
	}
	return n
}

// markdownPrefixes are how the lines of render.PlanMarkdown start.
var markdownPrefixes = []string{"### pbxsync plan", "**Plan: ", "**No changes", "#### ", "- ", "  - ", "</details>", "<details><summary>"}

// detailsLineRE is a line of a collapsible section, which holds no server text.
var detailsLineRE = regexp.MustCompile(`^(<details><summary>[A-Z][a-z]+ \(\d+\)</summary>|</details>)$`)

// requireMarkdownContained checks that every line starts as the renderer writes one,
// and that outside code spans a list item holds no character that starts markup
// unless escaped: server text stays inside its code span or escaped text.
func requireMarkdownContained(t *testing.T, md string, wantLines int) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	require.Len(t, got, wantLines, "markdown:\n%s", md)
	for i, line := range got {
		if line == "" {
			continue
		}
		ok := false
		for _, p := range markdownPrefixes {
			ok = ok || strings.HasPrefix(line, p)
		}
		if !ok || strings.HasPrefix(line, "<") && !detailsLineRE.MatchString(line) {
			t.Errorf("line %d does not start as the renderer writes one: %q", i+1, line)
			continue
		}
		if !strings.HasPrefix(line, "- ") && !strings.HasPrefix(line, "  - ") {
			continue
		}
		outside := outsideCodeSpans(line)
		for j := 0; j < len(outside); j++ {
			if strings.IndexByte("<>|#`*[]_&!~", outside[j]) >= 0 && (j == 0 || outside[j-1] != '\\') {
				t.Errorf("line %d has markup %q outside a code span: %q (outside spans: %q)", i+1, outside[j], line, outside)
				break
			}
		}
	}
}

// outsideCodeSpans returns line without its code spans (CommonMark: a run of n
// backticks opens a span that the next run of exactly n backticks closes; a run that
// nothing closes is literal text).
func outsideCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			b.WriteString(line[i : i+2])
			i += 2
			continue
		case line[i] != '`':
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		j, closed := i+n, false
		for j < len(line) {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				closed = true
				break
			}
			j += m
		}
		if !closed {
			b.WriteString(line[i : i+n])
			i += n
			continue
		}
		b.WriteByte(' ')
		i = j + n
	}
	return b.String()
}

func TestHostileServerOutputs(t *testing.T) {
	t.Parallel()
	full := hostileOptions{rewrite: true, names: true, echo: true, failContainerOf: "delta"}
	readable := hostileOptions{rewrite: true, names: true, echo: true} // export and diff need every container
	tests := []struct {
		name  string
		run   func(t *testing.T, dir string) hostileRun
		check func(t *testing.T, r hostileRun)
	}{
		{name: "plan text", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, full, pbxtest.WithState(hostileState()))
			inv := writeHostileFile(t, dir, "inventory.yaml", hostileInventory)
			return runHostile(t, hostileEnv(h), nil, "plan", "-f", inv, "--prune", "--max-delete", "5")
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "delta is not planned: %s", r)
			require.True(t, strings.HasPrefix(r.outputs["stdout"], "Plan: "), "%s", r)
			require.Contains(t, r.outputs["stdout"], "- delete cust_")
			requireKeyEchoRedacted(t, r, "stdout")
			requireHostileShown(t, r, "stdout")
		}},
		{name: "plan markdown", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, full, pbxtest.WithState(hostileState()))
			inv := writeHostileFile(t, dir, "inventory.yaml", hostileInventory)
			args := []string{"plan", "-f", inv, "--prune", "--max-delete", "5"}
			asJSON := runHostile(t, hostileEnv(h), nil, append(args, "--json")...)
			md := runHostile(t, hostileEnv(h), nil, append(args, "--format", "markdown")...)
			md.outputs["json stdout"] = asJSON.outputs["stdout"]
			return md
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "delta is not planned: %s", r)
			doc := requireOneJSON(t, "plan --json", r.outputs["json stdout"])
			requireMarkdownContained(t, r.outputs["stdout"], markdownLines(t, doc))
			requireKeyEchoRedacted(t, r, "stdout")
			requireHostileShown(t, r, "stdout", "json stdout")
		}},
		{name: "plan json", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, full, pbxtest.WithState(hostileState()))
			inv := writeHostileFile(t, dir, "inventory.yaml", hostileInventory)
			return runHostile(t, hostileEnv(h), nil, "plan", "-f", inv, "--prune", "--max-delete", "5", "--json")
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "%s", r)
			doc := requireOneJSON(t, "stdout", r.outputs["stdout"])
			require.NotEmpty(t, doc["changes"])
			require.NotEmpty(t, doc["not_planned"])
			requireKeyEchoRedacted(t, r, "stdout")
			requireHostileShown(t, r, "stdout")
		}},
		{name: "apply text", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, full, pbxtest.WithState(hostileState()))
			inv := writeHostileFile(t, dir, "inventory.yaml", hostileInventory)
			report, metrics := filepath.Join(dir, "report.json"), filepath.Join(dir, "metrics.prom")
			return runHostile(t, hostileEnv(h), map[string]string{"report": report, "metrics": metrics},
				"apply", "-f", inv, "--auto-approve", "--prune", "--max-delete", "1", "--report", report, "--metrics-file", metrics)
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "%s", r)
			requireOneJSON(t, "report", r.outputs["report"])
			stdout := hostileLines(r.outputs["stdout"])
			require.Equal(t, "Verified: no", stdout[len(stdout)-1], "%s", r)
			require.Len(t, regexp.MustCompile(`(?m)^Verified:`).FindAllString(r.outputs["stdout"], -1), 1, "one verdict line: %s", r)
			requireEchoRedacted(t, r, "stdout", "stderr", "report")
			requireHostileShown(t, r, "stdout", "stderr", "report")
		}},
		{name: "apply json logs", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, full, pbxtest.WithState(hostileState()))
			inv := writeHostileFile(t, dir, "inventory.yaml", hostileInventory)
			report, metrics := filepath.Join(dir, "report.json"), filepath.Join(dir, "metrics.prom")
			return runHostile(t, hostileEnv(h), map[string]string{"report": report, "metrics": metrics},
				"--log-format", "json", "apply", "-f", inv, "--auto-approve", "--json", "--prune", "--max-delete", "1",
				"--report", report, "--metrics-file", metrics)
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "%s", r)
			requireOneJSON(t, "stdout", r.outputs["stdout"])
			requireOneJSON(t, "report", r.outputs["report"])
			requireJSONLines(t, r.outputs["stderr"])
			requireEchoRedacted(t, r, "stdout", "stderr", "report")
			requireHostileShown(t, r, "stdout", "stderr", "report")
		}},
		{name: "export", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, readable, pbxtest.WithState(hostileState()))
			out := filepath.Join(dir, "export.yaml")
			r := runHostile(t, hostileEnv(h), map[string]string{"export file": out}, "export", "-o", out)
			toStdout := runHostile(t, hostileEnv(h), nil, "export")
			r.outputs["export stdout"], r.outputs["export stderr"] = toStdout.outputs["stdout"], toStdout.outputs["stderr"]
			return r
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 0, r.code, "%s", r)
			require.Equal(t, r.outputs["export file"], r.outputs["export stdout"])
			require.Contains(t, r.outputs["export file"], "cust_")
			requireHostileShown(t, r, "export file", "export stdout", "stderr")
		}},
		{name: "diff", run: func(t *testing.T, dir string) hostileRun {
			from := newHostileServer(t, readable, pbxtest.WithState(hostileState()))
			other := hostileState()
			other.Companies = other.Companies[1:] // no acme
			other.Companies[0].Name = "Beta Two"
			to := newHostileServer(t, readable, pbxtest.WithState(other))
			vars := map[string]string{"PBX_FROM_API_KEY": hostileKey, "PBX_TO_API_KEY": hostileKey}
			r := runHostile(t, vars, nil, "diff", "--from", from.URL, "--to", to.URL)
			asJSON := runHostile(t, vars, nil, "diff", "--from", from.URL, "--to", to.URL, "--json")
			r.outputs["json stdout"], r.outputs["json stderr"] = asJSON.outputs["stdout"], asJSON.outputs["stderr"]
			return r
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 2, r.code, "%s", r)
			require.Contains(t, r.outputs["stdout"], "- acme: only in --from")
			doc := requireOneJSON(t, "diff --json", r.outputs["json stdout"])
			require.Equal(t, false, doc["equal"])
			requireHostileShown(t, r, "stdout", "json stdout")
		}},
		{name: "export json logs", run: func(t *testing.T, dir string) hostileRun {
			h := newHostileServer(t, readable, pbxtest.WithState(hostileState()))
			out := filepath.Join(dir, "export.yaml")
			return runHostile(t, hostileEnv(h), map[string]string{"export file": out}, "--log-format", "json", "export", "-o", out)
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 0, r.code, "%s", r)
			requireJSONLines(t, r.outputs["stderr"])
			require.Contains(t, r.outputs["stderr"], "ACME_NM_PASSWORD")
			requireHostileShown(t, r, "export file", "stderr")
		}},
		{name: "migrate free text", run: func(t *testing.T, dir string) hostileRun {
			return runMigrate(t, dir, hostileOptions{rewrite: true, echo: true}, migrateFreeTextState(), "--auto-approve")
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "the target refuses the PINs: %s", r)
			requireOneJSON(t, "report", r.outputs["report"])
			require.Contains(t, r.outputs["stdout"], "Migration from ")
			requireEchoRedacted(t, r, "stdout", "report")
			requireHostileShown(t, r, "stdout", "stderr", "report")
		}},
		{name: "migrate json logs", run: func(t *testing.T, dir string) hostileRun {
			return runMigrate(t, dir, hostileOptions{rewrite: true, echo: true}, migrateFreeTextState(), "--auto-approve", "--json", "--log-format", "json")
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "the target refuses the PINs: %s", r)
			requireOneJSON(t, "stdout", r.outputs["stdout"])
			requireOneJSON(t, "report", r.outputs["report"])
			requireJSONLines(t, r.outputs["stderr"])
			requireEchoRedacted(t, r, "stdout", "stderr", "report")
			requireHostileShown(t, r, "stdout", "stderr", "report")
		}},
		{name: "migrate hostile source", run: func(t *testing.T, dir string) hostileRun {
			return runMigrate(t, dir, readable, hostileState(), "--auto-approve", "--json")
		}, check: func(t *testing.T, r hostileRun) {
			require.Equal(t, 1, r.code, "the hostile names are no valid inventory: %s", r)
			requireOneJSON(t, "report", r.outputs["report"])
			requireHostileShown(t, r, "stderr")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.run(t, t.TempDir())
			if os.Getenv("HOSTILE_DUMP") != "" {
				t.Logf("%s", r)
			}
			requireInert(t, r)
			tt.check(t, r)
		})
	}
}

// hostileLines splits output into its lines, without the final newline.
func hostileLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// migrateFreeTextState is a source whose names and ids are clean, so that it makes a
// valid inventory and the migration goes all the way, and whose acme holds the long
// PIN, which the target's echo must not show.
func migrateFreeTextState() pbxtest.State {
	st := hostileState()
	st.Companies, st.Containers = st.Companies[:4], map[string][]string{"beta": {"beta", "delta"}}
	st.Companies[0].Settings = apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String(longPIN)})
	return st
}

// runMigrate migrates from a hostile server of st to an empty one that echoes every
// update that carries a secret.
func runMigrate(t *testing.T, dir string, opts hostileOptions, st pbxtest.State, args ...string) hostileRun {
	t.Helper()
	from := newHostileServer(t, opts, pbxtest.WithState(st))
	to := newHostileServer(t, hostileOptions{echo: true})
	report := filepath.Join(dir, "migration.json")
	vars := map[string]string{"PBX_FROM_API_KEY": hostileKey, "PBX_TO_API_KEY": hostileKey}
	return runHostile(t, vars, map[string]string{"report": report},
		append([]string{"migrate", "--from", from.URL, "--to", to.URL, "--report", report}, args...)...)
}

// requireJSONLines checks that every line of a JSON log is one JSON object, but the
// inventory's diagnostics and the final error line.
func requireJSONLines(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range hostileLines(stderr) {
		if strings.HasPrefix(line, "pbxsync: ") || strings.HasPrefix(line, "<export of ") {
			continue
		}
		require.True(t, json.Valid([]byte(line)), "a log line is not JSON: %q", line)
	}
}

// requireHostileShown checks that the hostile text reached each output, made visible:
// the escape sequence's text is there, and requireInert found no raw escape.
func requireHostileShown(t *testing.T, r hostileRun, names ...string) {
	t.Helper()
	for _, name := range names {
		require.Contains(t, strings.ToLower(r.outputs[name]), "]0;pwned", "%s does not show the server's text at all", name)
	}
}

func writeHostileFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}
