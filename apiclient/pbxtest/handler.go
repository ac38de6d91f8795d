package pbxtest

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
)

// maxRequestBytes bounds a request body; a larger one counts as {} and fails.
const maxRequestBytes = 1 << 20

// Fault is a kind of failure the server injects.
type Fault string

// The faults, in the order in which a draw picks among them.
const (
	Fault500        Fault = "500"         // HTTP 500, nothing changes
	Fault503        Fault = "503"         // HTTP 503 with Retry-After, nothing changes
	Fault429        Fault = "429"         // HTTP 429 with Retry-After, nothing changes
	FaultFail       Fault = "fail"        // a transient "fail" answer, nothing changes
	FaultHTML       Fault = "html"        // a proxy's HTML page with status 200, nothing changes
	FaultTruncated  Fault = "truncated"   // the change is made, the JSON answer is cut off
	FaultDropBefore Fault = "drop-before" // the connection is dropped before the change
	FaultDropAfter  Fault = "drop-after"  // the change is committed, then the connection is dropped
)

// AllFaults returns every kind of fault.
func AllFaults() []Fault {
	return []Fault{Fault500, Fault503, Fault429, FaultFail, FaultHTML, FaultTruncated, FaultDropBefore, FaultDropAfter}
}

// Faults describe what goes wrong, drawn from a seeded source so that a failing
// test repeats (for requests that arrive in the same order).
type Faults struct {
	Seed        uint64
	Latency     time.Duration     // added to every request
	Jitter      time.Duration     // a further random delay, from 0 up to this
	Rates       map[Fault]float64 // the share of requests that get each fault
	Verbs       []string          // the verbs faults hit ("read", ..., "login"); all but login when empty
	RetryAfter  time.Duration     // sent with 429 and 503, in whole seconds
	MaxInFlight int               // above this many requests at once, answer 429; 0 for no limit
}

// SpreadRate shares a total fault rate evenly among the given kinds (all when none).
func SpreadRate(total float64, kinds ...Fault) map[Fault]float64 {
	if len(kinds) == 0 {
		kinds = AllFaults()
	}
	rates := make(map[Fault]float64, len(kinds))
	for _, k := range kinds {
		rates[k] += total / float64(len(kinds))
	}
	return rates
}

type faultState struct {
	Faults
	rng *rand.Rand
}

// SetFaults replaces the faults, for a test that seeds without them and then breaks
// the server.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setFaults(f)
}

func (s *Server) setFaults(f Faults) {
	s.faults = faultState{Faults: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
}

// draw picks this request's fault ("" for none) and delay; s.mu is held.
func (fs *faultState) draw(verb string) (Fault, time.Duration) {
	delay := fs.Latency
	if fs.Jitter > 0 {
		delay += time.Duration(fs.rng.Int64N(int64(fs.Jitter) + 1))
	}
	hit := slices.Contains(fs.Verbs, verb) || (len(fs.Verbs) == 0 && verb != "login")
	if len(fs.Rates) == 0 || !hit {
		return "", delay
	}
	u, sum := fs.rng.Float64(), 0.0
	for _, k := range AllFaults() {
		sum += fs.Rates[k]
		if u < sum {
			return k, delay
		}
	}
	return "", delay
}

// Stats count what the server saw.
type Stats struct {
	Requests    map[string]int // by verb ("login" for /rest/auth/), faulted ones included
	Writes      map[string]int // write requests the server carried out (no-ops included), by verb
	Faults      map[Fault]int  // faults injected, by kind
	MaxInFlight int            // the most requests in progress at once
	Pool        PoolStats      // the workers' (WithWorkers), zero without them
}

// TotalRequests is the number of requests of all verbs.
func (st Stats) TotalRequests() int { return sum(st.Requests) }

// TotalWrites is the number of committed changes of all verbs.
func (st Stats) TotalWrites() int { return sum(st.Writes) }

func sum[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Stats returns a copy of the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Requests: maps.Clone(s.stats.Requests), Writes: maps.Clone(s.stats.Writes),
		Faults: maps.Clone(s.stats.Faults), MaxInFlight: s.stats.MaxInFlight, Pool: s.stats.Pool}
}

// ResetStats sets the counts to zero.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{}
}

func count[K comparable](m *map[K]int, k K) {
	if *m == nil {
		*m = map[K]int{}
	}
	(*m)[k]++
}

// ServeHTTP serves POST /rest/auth/ and POST /rest/ops/{verb}/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	verb, ok := route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, subject := readRequest(w, r, verb)
	fault, delay, retryAfter := s.admit(verb)
	var released sync.Once
	release := func() { // before a drop too, since the client may retry at once
		released.Do(func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		})
	}
	defer release()

	outcome, wait := string(fault), time.Duration(0)
	defer func() {
		attrs := append(make([]slog.Attr, 0, 5), slog.String("verb", verb), slog.String("company", subject),
			slog.String("outcome", outcome), slog.Duration("duration", time.Since(start)))
		if s.pool != nil {
			attrs = append(attrs, slog.Duration("wait", wait))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	if apiclient.Wait(r.Context(), delay) != nil {
		outcome = "client gone"
		return
	}
	if answerFault(w, fault, retryAfter) {
		return
	}
	if fault == FaultDropBefore {
		release()
		drop(w)
		return
	}

	var (
		body   []byte
		cookie *http.Cookie
		result string
		served bool
	)
	wait, served = s.work(r.Context(), func() { body, cookie, result = s.serve(verb, req, r) })
	if !served {
		outcome = "client gone"
		return
	}
	if result != "" && fault == "" {
		outcome = result
	}
	switch fault {
	case FaultDropAfter:
		release()
		drop(w)
	case FaultTruncated:
		writeJSON(w, body[:len(body)/2], cookie)
	default:
		writeJSON(w, body, cookie)
	}
}

// readRequest decodes the request's body, {} when it cannot be parsed, and returns it
// with the company it is about, for the log.
func readRequest(w http.ResponseWriter, r *http.Request, verb string) (req apiclient.Request, subject string) {
	if body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes)); err != nil || json.Unmarshal(body, &req) != nil {
		req = apiclient.Request{}
	}
	if req.Scope != nil {
		subject = req.Scope.Company
	} else if verb == "create" {
		_ = json.Unmarshal(req.Values["company"], &subject)
	}
	return req, subject
}

// admit counts a request in and draws its fault ("" for none) and delay, with the
// Retry-After to send: an overloaded server answers 429 at once. The caller counts
// the request out.
func (s *Server) admit(verb string) (fault Fault, delay time.Duration, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	count(&s.stats.Requests, verb)
	s.inFlight++
	s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.inFlight)
	fault, delay = s.faults.draw(verb)
	if s.faults.MaxInFlight > 0 && s.inFlight > s.faults.MaxInFlight {
		fault, delay = Fault429, 0
	}
	if fault != "" {
		count(&s.stats.Faults, fault)
	}
	return fault, delay, strconv.Itoa(int((s.faults.RetryAfter + time.Second - 1) / time.Second))
}

// answerFault answers a fault that comes instead of serving the request, and reports
// whether it did.
func answerFault(w http.ResponseWriter, fault Fault, retryAfter string) bool {
	switch fault {
	case Fault500:
		http.Error(w, "internal server error", http.StatusInternalServerError)
	case Fault503, Fault429:
		w.Header().Set("Retry-After", retryAfter)
		code, _ := strconv.Atoi(string(fault))
		http.Error(w, http.StatusText(code), code)
	case FaultFail:
		writeJSON(w, []byte(`{"result":"fail","message":"temporarily unavailable, try again"}`), nil)
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><head><title>Gateway</title></head><body><h1>Please wait</h1></body></html>\n")
	default:
		return false
	}
	return true
}

// serve runs the request and returns the answer's body, a session cookie for a
// login, and "success" or "fail" for the log.
func (s *Server) serve(verb string, req apiclient.Request, r *http.Request) ([]byte, *http.Cookie, string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if verb == "login" {
		token, user, fail := s.login(req.Auth, now)
		if fail != "" {
			b, _ := answer{fail: fail}.body()
			return b, nil, "fail"
		}
		b, _ := json.Marshal(map[string]any{"result": apiclient.ResultSuccess, "user": map[string]string{"username": user}})
		return b, &http.Cookie{Name: apiclient.SessionCookie, Value: token, Path: "/", HttpOnly: true}, "success"
	}
	cookie := ""
	if c, err := r.Cookie(apiclient.SessionCookie); err == nil {
		cookie = c.Value
	}
	a := s.operate(verb, req, cookie, now)
	if a.write && a.fail == "" {
		count(&s.stats.Writes, verb)
	}
	b, err := a.body()
	if err != nil {
		b, _ = answer{fail: "internal error: " + err.Error()}.body()
	}
	if a.fail != "" {
		return b, nil, "fail"
	}
	return b, nil, "success"
}

// route names the verb of a path: "login" for /rest/auth/, the verb for
// /rest/ops/{verb}/ ("ops/login" there, so that no ops call can log in).
func route(path string) (string, bool) {
	if path == "/rest/auth/" || path == "/rest/auth" {
		return "login", true
	}
	verb, ok := strings.CutPrefix(path, "/rest/ops/")
	verb = strings.TrimSuffix(verb, "/")
	if verb == "login" {
		verb = "ops/login"
	}
	return verb, ok && verb != "" && !strings.Contains(strings.TrimPrefix(verb, "ops/"), "/")
}

func writeJSON(w http.ResponseWriter, body []byte, cookie *http.Cookie) {
	if cookie != nil {
		http.SetCookie(w, cookie)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http's way to abort a response; it logs nothing
}
