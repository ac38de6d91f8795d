package apiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Company is a company (tenant) as the server holds it.
type Company struct {
	ID       string // the company-id, as in scopes
	Num      int64  // the server's numeric id
	Name     string
	Settings Settings
}

// Container is a group of companies. Its name is the company-id whose creation made it.
type Container struct {
	Name    string
	Num     int64
	Members []Company // sorted by ID
}

// MemberIDs returns the company-ids of the members, sorted.
func (c Container) MemberIDs() []string {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.ID
	}
	return ids
}

// Request is the body of every call to /rest/ops/{verb}/, and of the login call.
type Request struct {
	Type   string                     `json:"type,omitempty"`
	Scope  *Scope                     `json:"scope,omitempty"`
	Values map[string]json.RawMessage `json:"values,omitempty"`
	Auth   *Auth                      `json:"auth,omitempty"`
}

// Scope says which company, or container, a call is about.
type Scope struct {
	Company   string `json:"company,omitempty"`
	Container string `json:"container,omitempty"`
}

// Auth carries credentials: a key, or a user and password for /rest/auth/.
type Auth struct {
	Type     string `json:"type"`
	Key      string `json:"key,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// Response is the body of every answer.
type Response struct {
	Result         string           `json:"result"`
	Message        string           `json:"message,omitempty"`
	Values         map[string]Entry `json:"values,omitempty"`
	ContainerMoves *int             `json:"containermoves,omitempty"`
}

// Entry is one company or container in a response's values.
type Entry struct {
	ID      int64            `json:"id"`
	Name    string           `json:"name"`
	Data    map[string]Value `json:"data"`
	Members map[string]Entry `json:"members,omitempty"`
}

// The answers' result values.
const (
	ResultSuccess = "success"
	ResultFail    = "fail"
)

// DecodeResponse turns an HTTP answer into the API's response, or an error: an
// *APIError for "fail", a *TransportError for anything that is not an API answer.
// It is the one place where a response becomes an error.
func DecodeResponse(verb, company string, status int, header http.Header, body []byte) (*Response, error) {
	transport := func(transient bool, err error) error {
		return &TransportError{Verb: verb, Company: company, Status: status,
			RetryAfter: retryAfter(header), Transient: transient, Err: err}
	}
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusInternalServerError, status >= 502 && status <= 504:
		// A 500 too (spec/api.md, v0.2): a web server in front of the PBX answers it for
		// a passing fault as often as for a lasting one. Only safe verbs are retried.
		return nil, transport(true, errStatus)
	case status != http.StatusOK:
		return nil, transport(false, errStatus)
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		// Bytes that are not JSON (a cut-off body, a proxy's page) may come right
		// next time; JSON of the wrong shape will not.
		var syntax *json.SyntaxError
		return nil, transport(errors.As(err, &syntax), fmt.Errorf("the answer is not the API's JSON (%s)", describeBody(body, err)))
	}
	switch r.Result {
	case ResultSuccess:
		return &r, nil
	case ResultFail:
		msg := strings.TrimSpace(r.Message)
		if msg == "" {
			msg = "(no message)"
		}
		return nil, &APIError{Verb: verb, Company: company, Message: msg}
	case "":
		return nil, transport(true, errors.New("the answer has no result"))
	}
	return nil, transport(false, fmt.Errorf("the answer has an unknown result %q", r.Result))
}

// describeBody says what came back instead of JSON, without echoing much of it.
func describeBody(body []byte, err error) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty body"
	case trimmed[0] == '<':
		return "an HTML page"
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return "cut off or malformed"
	}
	return "unexpected shape"
}

// companies returns a response's values as companies keyed by company-id, sorted.
func (r *Response) companies() []Company {
	out := make([]Company, 0, len(r.Values))
	for id, e := range r.Values {
		out = append(out, e.company(id))
	}
	slices.SortFunc(out, func(a, b Company) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// containers returns a response's values as containers keyed by name, sorted.
func (r *Response) containers() []Container {
	out := make([]Container, 0, len(r.Values))
	for name, e := range r.Values {
		c := Container{Name: name, Num: e.ID, Members: make([]Company, 0, len(e.Members))}
		for id, m := range e.Members {
			c.Members = append(c.Members, m.company(id))
		}
		slices.SortFunc(c.Members, func(a, b Company) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// company turns an entry into a Company, normalising each known field so that the
// server's 15 and "15" are one value. A value outside the table is kept as sent.
func (e Entry) company(id string) Company {
	s := Settings(e.Data) // normalised in place: a large read holds one copy only
	if s == nil {
		s = Settings{}
	}
	for name, v := range s {
		if f, ok := LookupField(name); ok {
			if n, err := f.Normalize(v); err == nil && n != v {
				s[name] = n
			}
		}
	}
	return Company{ID: id, Num: e.ID, Name: e.Name, Settings: s}
}
