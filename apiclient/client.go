package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// SessionCookie is the cookie in which the server keeps a login session.
const SessionCookie = "Red60urne"

// Client calls one PBX. It is safe for concurrent use.
type Client struct {
	base      string
	http      *http.Client
	key       secret
	user      string
	password  secret
	userAgent string
	retry     RetryPolicy
	maxBody   int64
	retries   atomic.Int64                     // requests sent again (Retries)
	peer      atomic.Pointer[x509.Certificate] // the server's TLS certificate, once seen (PeerCertificate)
	trace     *Trace                           // records every exchange, redacted; nil for none
	log       *slog.Logger
	pacer     *Pacer
	limiter   *Limiter // bounds the requests in flight; nil for no bound
	allowHTTP bool     // http:// to a host other than this machine (WithAllowHTTP)

	redact redactor // what the client sent that no server text may show

	logins singleflight.Group // one login at a time, shared by every caller waiting for it
	mu     sync.Mutex         // guards session and refused
	// session is the current login session; refused, once a login was refused, the
	// error every later call returns without sending anything (spec/api.md: a run
	// makes at most one failed login, so a rotated password never locks the account).
	session secret
	refused error
}

// RetryPolicy bounds the retries of the verbs that are safe to repeat.
type RetryPolicy struct {
	Attempts      int           // attempts in all, the first included
	BaseDelay     time.Duration // the first wait; each next one doubles, with jitter
	MaxDelay      time.Duration // the longest wait between attempts
	MaxRetryAfter time.Duration // the longest Retry-After honoured, longer ones are cut to it; 0 for no bound
}

// DefaultRetryPolicy is what New uses unless told otherwise.
var DefaultRetryPolicy = RetryPolicy{Attempts: 5, BaseDelay: 250 * time.Millisecond, MaxDelay: 15 * time.Second, MaxRetryAfter: 2 * time.Minute}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey authenticates every call with an API key (the way for batch jobs).
func WithAPIKey(key string) Option { return func(c *Client) { c.key = secret(key) } }

// WithLogin authenticates by user and password: the client logs in at /rest/auth/
// and sends the session cookie, logging in again once when a session has expired.
func WithLogin(user, password string) Option {
	return func(c *Client) { c.user, c.password = user, secret(password) }
}

// WithHTTPClient replaces the HTTP client (its timeouts and transport).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRootCAs trusts the given certificate authorities instead of the system's.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *Client) {
		if t, ok := c.http.Transport.(*http.Transport); ok {
			t = t.Clone()
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			c.http.Transport = t
		}
	}
}

// WithTimeout bounds each HTTP request, the reading of its answer included.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.http.Timeout = d } }

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithLogger logs requests (debug) and retries (info) to l. Credentials are never logged.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithPacer spaces every request through p, which workers that share it slow down
// together when the server answers 429 or 503.
func WithPacer(p *Pacer) Option { return func(c *Client) { c.pacer = p } }

// WithLimiter bounds the requests in flight to the server with l (a fixed or an
// adaptive limit): every request of the client, from every phase of a run, takes a
// slot of it, and each answer's time tells an adaptive one about the server's load.
func WithLimiter(l *Limiter) Option { return func(c *Client) { c.limiter = l } }

// Limiter is the client's limiter, nil without one.
func (c *Client) Limiter() *Limiter { return c.limiter }

// WithUserAgent replaces the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxResponseBytes bounds the size of an answer; a larger one is an error.
func WithMaxResponseBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New returns a client for the PBX at baseURL (such as https://pbx.example.com).
// Exactly one way to authenticate must be given.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid server URL: want http(s)://host[:port]")
	}
	if u.User != nil {
		return nil, errors.New("invalid server URL: credentials belong in the environment, not in the URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("invalid server URL: it takes no query or fragment")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = time.Minute
	c := &Client{
		base: u.Scheme + "://" + u.Host + trimSlash(u.EscapedPath()),
		http: &http.Client{
			Transport: transport,
			Timeout:   2 * time.Minute,
			// A redirect could carry the key to another host: it is an error instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: "pbxsync/" + BuildVersion(),
		retry:     DefaultRetryPolicy,
		maxBody:   256 << 20,
		log:       slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(c)
	}
	switch {
	case c.key == "" && c.user == "":
		return nil, errors.New("no credentials: give an API key, or a user and password")
	case c.key != "" && c.user != "":
		return nil, errors.New("two sets of credentials: give an API key, or a user and password, not both")
	case c.user != "" && c.password == "":
		return nil, errors.New("no password for the user")
	case c.retry.Attempts < 1:
		return nil, errors.New("retry policy: at least one attempt is needed")
	}
	if err := c.checkCleartext(u); err != nil {
		return nil, err
	}
	c.redact.credential(string(c.key))
	c.redact.credential(string(c.password))
	if c.trace != nil {
		c.http.Transport = &tracing{next: c.http.Transport, trace: c.trace, c: c}
	}
	return c, nil
}

// BuildVersion is pbxsync's version as the Go toolchain stamped it into the binary.
func BuildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// Retries returns how many requests the client has sent again after a passing
// failure (429, 503, a lost connection) since it was made.
func (c *Client) Retries() int { return int(c.retries.Load()) }

// RetryPolicy is the policy the client retries with (WithRetryPolicy).
func (c *Client) RetryPolicy() RetryPolicy { return c.retry }

// PeerCertificate is the certificate the server presented, verified, on the first
// answer over https; nil before one, and for http://.
func (c *Client) PeerCertificate() *x509.Certificate { return c.peer.Load() }

// call sends one verb, retrying transient failures when the verb is safe to repeat.
func (c *Client) call(ctx context.Context, verb, company string, req Request, safe bool) (*Response, error) {
	req.Type = "company"
	var resp *Response
	again := func(err error) bool { return safe && retryable(err) }
	err := c.retrying(ctx, verb, company, again, func(int) (err error) {
		resp, err = c.authorized(ctx, verb, company, req)
		return err
	})
	return resp, err
}

// retrying is the one retry loop of the client, for every verb and the login: it
// calls try (attempt 1, 2, ...) until try succeeds, again says its error is not
// worth another attempt, the policy's attempts are spent, or ctx ends; between two
// attempts it waits (see wait).
func (c *Client) retrying(ctx context.Context, verb, company string, again func(error) bool, try func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := try(attempt)
		if err == nil || !again(err) || attempt >= c.retry.Attempts {
			return err
		}
		if err := c.wait(ctx, attempt, verb, company, err); err != nil {
			return err
		}
	}
}

// retryable reports whether err is transient and its retries are not spent already.
func retryable(err error) bool {
	var spent *retriedError
	return IsTransient(err) && !errors.As(err, &spent)
}

// wait sleeps before attempt+1: exponential backoff with full jitter, or what the
// server asked for in Retry-After. It ends at once when ctx is done.
func (c *Client) wait(ctx context.Context, attempt int, verb, company string, cause error) error {
	d := c.retry.backoff(attempt)
	var te *TransportError
	if errors.As(cause, &te) && te.RetryAfter > 0 {
		asked := te.RetryAfter
		if c.retry.MaxRetryAfter > 0 {
			asked = min(asked, c.retry.MaxRetryAfter)
		}
		d = max(d, asked) // the server's wish, never shorter than our own backoff
	}
	c.retries.Add(1)
	// At debug: a passing failure retried is routine; the run's summary counts them.
	c.log.LogAttrs(ctx, slog.LevelDebug, "retrying", slog.String("verb", verb), slog.String("company", company),
		slog.Int("attempt", attempt), slog.Duration("wait", d), slog.String("error", cause.Error()))
	if err := Wait(ctx, d); err != nil {
		return fmt.Errorf("%w (while waiting to retry: %v)", err, cause)
	}
	return nil
}

// Wait waits d, or until ctx ends, and then returns its cause: the one way a wait
// is made (a backoff, a Retry-After, a pause before a read is sent again), never
// time.Sleep.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// backoff is the wait after the given attempt, drawn uniformly from zero to the
// exponential bound, so that many workers spread out.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	bound := p.BaseDelay << min(attempt-1, 30)
	if bound > p.MaxDelay || bound <= 0 {
		bound = p.MaxDelay
	}
	if bound <= 0 {
		return 0
	}
	return bound/2 + rand.N(bound/2+1)
}

// authorized sends one request with credentials. In login mode it logs in when there
// is no session yet, and when the server refuses a call made with a session (that is
// how an expired session shows) it renews the session once, in one login shared by
// every request in flight, and sends the request again.
func (c *Client) authorized(ctx context.Context, verb, company string, req Request) (*Response, error) {
	if c.key != "" {
		req.Auth = &Auth{Type: "auth", Key: string(c.key)}
		return c.send(ctx, verb, company, req, "")
	}
	session, err := c.renewSession(ctx, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, verb, company, req, session)
	if !IsRefused(err) {
		return resp, err
	}
	if session, err = c.renewSession(ctx, session); err != nil {
		return nil, err
	}
	return c.send(ctx, verb, company, req, session)
}

// renewSession returns a session other than stale: the current one when another
// caller has renewed it already, else a new one from a login that concurrent callers
// share. After a refused login it returns that refusal, and sends nothing.
func (c *Client) renewSession(ctx context.Context, stale secret) (secret, error) {
	c.mu.Lock()
	session, refused := c.session, c.refused
	c.mu.Unlock()
	switch {
	case refused != nil:
		return "", refused
	case session != "" && session != stale:
		return session, nil
	}
	v, err, _ := c.logins.Do("login", func() (any, error) {
		c.mu.Lock()
		session, refused := c.session, c.refused
		c.mu.Unlock()
		switch {
		case refused != nil:
			return secret(""), refused
		case session != "" && session != stale:
			return session, nil // renewed by the login that ended just before this one began
		}
		session, err := c.login(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		var authErr *AuthError
		if errors.As(err, &authErr) {
			c.refused = err
		}
		if err != nil {
			return secret(""), err
		}
		c.session = session
		return session, nil
	})
	return v.(secret), err
}

// login posts user and password to /rest/auth/ and returns the session. Transient
// failures are retried: a login changes nothing on the server. A refusal is an
// *AuthError, which is fatal for the run (IsFatal).
func (c *Client) login(ctx context.Context) (secret, error) {
	body, err := json.Marshal(Request{Auth: &Auth{Type: "auth", Username: c.user, Password: string(c.password)}})
	if err != nil {
		return "", err
	}
	var session secret
	err = c.retrying(ctx, "login", "", IsTransient, func(int) error {
		_, cookies, err := c.post(ctx, "/rest/auth/", "login", "", body, "")
		var refused *APIError
		switch {
		case errors.As(err, &refused):
			return &AuthError{Message: refused.Message}
		case err != nil:
			return err
		}
		for _, ck := range cookies {
			if ck.Name == SessionCookie && ck.Value != "" {
				session = secret(ck.Value)
				return nil
			}
		}
		return &TransportError{Verb: "login", Err: errors.New("the server answered without a session cookie")}
	})
	var authErr *AuthError
	if err != nil && !errors.As(err, &authErr) && ctx.Err() == nil {
		err = &retriedError{err} // spent: the calls waiting for this login do not start over
	}
	return session, err
}

// retriedError marks an error whose retries are spent, so that no caller retries it
// again: a login that failed Attempts times does not start Attempts more per call.
type retriedError struct{ err error }

func (e *retriedError) Error() string { return e.err.Error() }
func (e *retriedError) Unwrap() error { return e.err }

func (c *Client) send(ctx context.Context, verb, company string, req Request, session secret) (*Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", subject(verb, company), err)
	}
	resp, _, err := c.post(ctx, "/rest/ops/"+verb+"/", verb, company, body, session)
	return resp, err
}

// post makes one HTTP request and decodes its answer.
func (c *Client) post(ctx context.Context, path, verb, company string, body []byte, session secret) (*Response, []*http.Cookie, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", subject(verb, company), err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if session != "" {
		hreq.AddCookie(&http.Cookie{Name: SessionCookie, Value: string(session)})
	}
	if c.pacer != nil {
		if err := c.pacer.wait(ctx); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", subject(verb, company), context.Cause(ctx))
		}
	}
	if c.limiter != nil {
		if err := c.limiter.acquire(ctx); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", subject(verb, company), context.Cause(ctx))
		}
	}
	start := time.Now()
	outcome := Failed
	if c.limiter != nil {
		defer func() { c.limiter.release(time.Since(start), outcome) }()
	}
	hresp, err := c.http.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: %w", subject(verb, company), context.Cause(ctx))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; the cause is the news
		}
		err = &TransportError{Verb: verb, Company: company, Transient: !permanent(err), Err: err}
		c.redact.scrubError(err) // net/http quotes a malformed answer
		return nil, nil, err
	}
	defer hresp.Body.Close()
	c.rememberSession(hresp)
	if hresp.TLS != nil && len(hresp.TLS.PeerCertificates) > 0 && c.peer.Load() == nil {
		c.peer.Store(hresp.TLS.PeerCertificates[0])
	}
	overloaded := hresp.StatusCode == http.StatusTooManyRequests || hresp.StatusCode == http.StatusServiceUnavailable
	if c.pacer != nil {
		if overloaded {
			c.pacer.throttled()
		} else {
			c.pacer.answered()
		}
	}
	resp, err := DecodeResponse(verb, company, hresp.StatusCode, hresp.Header, limitBody(hresp.Body, c.maxBody))
	switch {
	case overloaded:
		outcome = Overloaded
	case ctx.Err() == nil:
		outcome = Answered // the answer read whole: its time counts
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "request", slog.String("verb", verb), slog.String("company", company),
		slog.Int("status", hresp.StatusCode), slog.Duration("duration", time.Since(start)))
	if err != nil && ctx.Err() != nil {
		return nil, nil, fmt.Errorf("%s: %w", subject(verb, company), context.Cause(ctx))
	}
	c.redact.scrubError(err)
	if resp != nil {
		resp.Message = c.redact.message(resp.Message)
		scrubEntries(resp.Values, c.redact.data())
	}
	return resp, hresp.Cookies(), err
}

// rememberSession adds the session cookie an answer sets to what no server text may
// show, before anything of the answer is shown or recorded.
func (c *Client) rememberSession(resp *http.Response) {
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie && ck.Value != "" {
			c.redact.credential(ck.Value)
		}
	}
}

// scrubEntries removes the credentials from what the server says it holds: ids,
// names, container names and settings other than secrets.
func scrubEntries(entries map[string]Entry, clean func(string) string) {
	if clean == nil {
		return
	}
	for id, e := range entries {
		e.Name = clean(e.Name)
		for name, v := range e.Data.All() {
			if v.kind == KindString || v.kind == KindOther {
				if cleaned := clean(v.text); cleaned != v.text && !IsSecret(name) {
					e.Data.Set(name, String(cleaned)) // raw JSON no longer valid, perhaps
				}
			}
		}
		scrubEntries(e.Members, clean)
		if cleaned := clean(id); cleaned != id {
			delete(entries, id)
			id = cleaned
		}
		entries[id] = e
	}
}

// permanent reports whether a failed connection would fail the same way again: a
// certificate that is not trusted, or a host name that does not resolve.
func permanent(err error) bool {
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var dnsErr *net.DNSError
	return errors.As(err, &certErr) || errors.As(err, &authErr) || errors.As(err, &hostErr) ||
		(errors.As(err, &dnsErr) && dnsErr.IsNotFound)
}

// retryAfter reads Retry-After as seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// String names the server only: a client holds credentials.
func (c *Client) String() string { return "apiclient.Client(" + c.base + ")" }

// Format makes every fmt verb, %+v and %#v included, print String.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements slog.LogValuer with String.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// secret is a credential: it prints, formats and logs as (sensitive).
type secret string

func (s secret) String() string             { return Redacted }
func (s secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }
func (s secret) LogValue() slog.Value       { return slog.StringValue(Redacted) }
