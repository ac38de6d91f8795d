package apiclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Data    Settings         `json:"data"`
	Members map[string]Entry `json:"members,omitempty"`
}

// MarshalJSON writes the entry as a server sends it, secrets in their real text: it
// is the simulator's answer on the wire.
func (e Entry) MarshalJSON() ([]byte, error) {
	data, err := e.Data.wireJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		ID      int64            `json:"id"`
		Name    string           `json:"name"`
		Data    json.RawMessage  `json:"data"`
		Members map[string]Entry `json:"members,omitempty"`
	}{e.ID, e.Name, data, e.Members})
}

// The answers' result values.
const (
	ResultSuccess = "success"
	ResultFail    = "fail"
)

// DecodeResponse turns an HTTP answer into the API's response, or an error: an
// *APIError for "fail", a *TransportError for anything that is not an API answer.
// It is the one place where a response becomes an error. It decodes the body as it
// reads it, one company of the values at a time, so that the answer to a read of
// every company (megabytes) is never held twice, as bytes and as companies.
func DecodeResponse(verb, company string, status int, header http.Header, body io.Reader) (*Response, error) {
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
	in := &answerReader{r: bufio.NewReader(body)}
	start, _ := in.r.Peek(512)
	start = bytes.Clone(start)
	r, err := decodeAnswer(in)
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, transport(false, err)
	case in.err != nil:
		return nil, transport(true, fmt.Errorf("reading the answer: %w", in.err))
	case err != nil:
		// Bytes that are not JSON (a cut-off body, a proxy's page) may come right
		// next time; JSON of the wrong shape will not.
		malformed := !errors.Is(err, errShape)
		return nil, transport(malformed, fmt.Errorf("the answer is not the API's JSON (%s)", describeBody(start, malformed)))
	}
	switch r.Result {
	case ResultSuccess:
		return r, nil
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

// errShape is JSON that is well formed but not an API answer.
var errShape = errors.New("not an API answer")

// answerReader keeps the error of the body's reader, so that a connection lost in
// the middle of an answer is not taken for bad JSON.
type answerReader struct {
	r   *bufio.Reader
	err error
}

func (a *answerReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		a.err = err
	}
	return n, err
}

// tooLargeError ends an answer longer than the client takes (WithMaxResponseBytes).
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %d bytes", e.limit)
}

// limitBody returns body, ending with a *tooLargeError past limit bytes.
func limitBody(body io.Reader, limit int64) io.Reader {
	return &limitedBody{r: body, limit: limit}
}

type limitedBody struct {
	r           io.Reader
	limit, read int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.read += int64(n); l.read > l.limit {
		return n, &tooLargeError{limit: l.limit}
	}
	return n, err
}

// decodeAnswer decodes an answer's JSON object: result, message and containermoves
// as json.Unmarshal would, and values one entry at a time. Anything but one JSON
// object (or null) is an error; errShape when it is well-formed JSON.
func decodeAnswer(r io.Reader) (*Response, error) {
	dec := json.NewDecoder(r)
	var resp Response
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case nil: // null: an answer without a result
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch key {
			case "values":
				err = decodeValues(dec, &resp.Values)
			case "result":
				err = dec.Decode(&resp.Result)
			case "message":
				err = dec.Decode(&resp.Message)
			case "containermoves":
				err = dec.Decode(&resp.ContainerMoves)
			default:
				var skip json.RawMessage
				err = dec.Decode(&skip)
			}
			if err != nil {
				return nil, shape(err)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing brace
			return nil, err
		}
	default:
		return nil, errShape
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more after the answer")
		}
		return nil, err
	}
	return &resp, nil
}

// decodeValues decodes an answer's values, a JSON object of entries, an entry at a
// time.
func decodeValues(dec *json.Decoder, values *map[string]Entry) error {
	t, err := dec.Token()
	switch {
	case err != nil:
		return err
	case t == nil:
		return nil
	case t != json.Delim('{'):
		return errShape
	}
	if *values == nil {
		*values = map[string]Entry{}
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return err
		}
		(*values)[key.(string)] = e
	}
	_, err = dec.Token()
	return err
}

// shape turns json's "wrong type" into errShape, keeping syntax and reading errors.
func shape(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) || errors.Is(err, errShape) {
		return errShape
	}
	return err
}

// describeBody says what came back instead of JSON, from its first bytes, without
// echoing any of it.
func describeBody(start []byte, malformed bool) string {
	trimmed := bytes.TrimSpace(start)
	switch {
	case len(trimmed) == 0:
		return "empty body"
	case trimmed[0] == '<':
		return "an HTML page"
	case malformed:
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
	e.Data.normalize() // in place: a large read holds one copy only
	return Company{ID: id, Num: e.ID, Name: e.Name, Settings: e.Data}
}
