package apiclient

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// redactor remembers every credential and secret value a client has sent, and
// removes them from what the server says: a server may echo a request in its fail
// message, a header, its proxy's error page (spec/api.md, "What the tool trusts";
// cli.md, --trace v0.3). It is the one scrubber of server text: messages, errors
// and traces. It is safe for concurrent use.
//
// From every text it removes:
//   - each credential (the key, the password, a session) and each secret value,
//     whatever its length, as sent and also URL-escaped (%4B), HTML-escaped (&amp;
//     &#75; &#x4b;) or JSON-escaped (\" \u004b), in any mix and up to maxLayers
//     deep;
//   - the base64 of each of them of minEncoded characters or more, in the standard
//     and the URL alphabet, with and without padding;
//   - for a credential of runLen characters or more, also any run of runLen or more
//     of its characters, in the forms above, and its base64 inside longer base64
//     text at each of the three alignments.
//
// Letters match only in the case sent: matched in any case, the runs of a password
// such as "MyPASSWORD-1" would cut "password" out of every login error.
//
// A secret value gets no runs and no alignments: it is mostly a PIN of a few
// digits, whose runs would be the digits of every number and whose base64 inside
// longer base64 is a few letters.
type redactor struct {
	mu    sync.RWMutex
	all   matcher // every credential and secret value sent
	creds matcher // the credentials of minDataCredential characters or more
}

// credential remembers a key, a password or a session.
func (r *redactor) credential(s string) {
	if s == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all.addCredential(s)
	if len(s) >= minDataCredential {
		r.creds.addCredential(s)
	}
}

// secret remembers the value of a secret field.
func (r *redactor) secret(s string) {
	if s == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all.addWhole(s)
}

// message removes every credential and secret value from a server's free text.
func (r *redactor) message(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all.scrub(s)
}

// minDataCredential is the shortest credential removed from the values a server
// holds: a longer one found there was put there on purpose, while a short test key
// such as "solo" would cut company-ids such as solo_ltd apart.
const minDataCredential = 8

// data returns what removes the credentials from the values the server holds (ids,
// names, settings), or nil when there is nothing to remove. Secret values are not
// removed there: a secret field's value is the tenant's own, and a digit that is
// some PIN must not be cut out of every number.
func (r *redactor) data() func(string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.creds.shortest == 0 {
		return nil
	}
	return func(s string) string {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.creds.scrub(s)
	}
}

// scrubError removes the credentials and secret values from the server's text in
// err: a fail message, or a transport error that quotes the answer (its result, a
// malformed status line, a certificate's names). The error keeps its type and what
// it wraps, for errors.Is and errors.As.
func (r *redactor) scrubError(err error) {
	var refused *APIError
	if errors.As(err, &refused) {
		refused.Message = r.message(refused.Message)
	}
	var te *TransportError
	if errors.As(err, &te) && te.Err != nil {
		if text := r.message(te.Err.Error()); text != te.Err.Error() {
			te.Err = &scrubbedError{text: text, err: te.Err}
		}
	}
}

// scrubbedError is an error whose text had credentials in it.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// runLen is the length of the shortest run of a credential's characters that is
// removed: a longer one holds one of this length.
const runLen = 8

// minEncoded is the shortest value whose base64 is removed: that of a shorter one
// is a few letters found in ordinary words.
const minEncoded = 4

// maxLayers is how many layers of escapes are undone, one within the other.
const maxLayers = 3

// A matcher finds a set of strings in a text: those of runLen bytes or more by
// their first runLen bytes read as one number, the shorter ones by their length.
// Its zero value finds nothing.
type matcher struct {
	long     map[uint64][]string
	short    map[string]bool
	lens     []int     // the lengths of the short strings, each once
	first    [256]bool // the first bytes of the short strings
	shortest int       // the length of the shortest string; 0 for none
}

// addCredential adds a credential in every form the redactor removes.
func (m *matcher) addCredential(c string) {
	m.addWhole(c)
	if len(c) < runLen {
		return
	}
	m.addRuns(c)
	m.addRuns(strings.ReplaceAll(c, " ", "+")) // a query string's space
	for offset := range 3 {
		core := base64Core(c, offset)
		m.addRuns(core)
		m.addRuns(strings.NewReplacer("+", "-", "/", "_").Replace(core))
	}
}

// addWhole adds a value, and its base64 when it is long enough.
func (m *matcher) addWhole(v string) {
	m.add(v)
	if len(v) < minEncoded {
		return
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		m.add(enc.EncodeToString([]byte(v)))
	}
}

// addRuns adds every run of runLen bytes of s.
func (m *matcher) addRuns(s string) {
	for i := 0; i+runLen <= len(s); i++ {
		m.add(s[i : i+runLen])
	}
}

// base64Core returns the characters of the standard base64 of c, preceded by
// offset other bytes, that depend on c alone: what shows of c inside any longer
// base64 text in which it starts at that offset within a group of three bytes.
func base64Core(c string, offset int) string {
	b := base64.StdEncoding.EncodeToString(append(make([]byte, offset), c...))
	from := (8*offset + 5) / 6      // the first character whose six bits are all of c
	to := 8 * (offset + len(c)) / 6 // past the last one
	return b[from:to]
}

func (m *matcher) add(v string) {
	if m.shortest == 0 || len(v) < m.shortest {
		m.shortest = len(v)
	}
	if len(v) >= runLen {
		k := binary.LittleEndian.Uint64([]byte(v[:runLen]))
		if m.long == nil {
			m.long = map[uint64][]string{}
		}
		if !slices.Contains(m.long[k], v) {
			m.long[k] = append(m.long[k], v)
		}
		return
	}
	if m.short == nil {
		m.short = map[string]bool{}
	}
	m.short[v] = true
	m.first[v[0]] = true
	if !slices.Contains(m.lens, len(v)) {
		m.lens = append(m.lens, len(v))
	}
}

// A span is a part of a text, from its byte from up to its byte to.
type span struct{ from, to int }

// scrub returns text with every string of m replaced by Redacted: found in text as
// it stands, and in text with its escapes undone, one layer after the other.
func (m *matcher) scrub(text string) string {
	if m.shortest == 0 || len(text) < m.shortest {
		return text // undoing escapes only shortens a text
	}
	found := m.find(text, nil)
	layer := text
	var from, to []int // where each byte of layer stands in text; nil for the first
	for range maxLayers {
		next, start, end := unescape(layer)
		if start == nil {
			break
		}
		if from != nil {
			for i := range start {
				start[i], end[i] = from[start[i]], to[end[i]-1]
			}
		}
		layer, from, to = next, start, end
		for _, s := range m.find(layer, nil) {
			found = append(found, span{from[s.from], to[s.to-1]})
		}
	}
	return cut(text, found)
}

// find appends to spans where the strings of m occur in t. It reads each byte once:
// the runLen bytes that end at it make one number, looked up among the long
// strings, and a byte that begins a short string is followed up.
func (m *matcher) find(t string, spans []span) []span {
	var window uint64
	for i := 0; i < len(t); i++ {
		window = window>>8 | uint64(t[i])<<56
		if from := i + 1 - runLen; from >= 0 && len(m.long) > 0 {
			for _, v := range m.long[window] {
				if strings.HasPrefix(t[from:], v) {
					spans = append(spans, span{from, from + len(v)})
				}
			}
		}
		if m.first[t[i]] {
			for _, n := range m.lens {
				if i+n <= len(t) && m.short[t[i:i+n]] {
					spans = append(spans, span{i, i + n})
				}
			}
		}
	}
	return spans
}

// cut replaces the spans of text, merged where they overlap or touch, with Redacted.
func cut(text string, spans []span) string {
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	var b strings.Builder
	done := 0 // text[:done] is written
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(text[done:from])
		b.WriteString(Redacted)
		done = to
	}
	b.WriteString(text[done:])
	return b.String()
}

// unescape undoes one layer of URL (%4B), HTML (&amp; &#75; &#x4b;) and JSON or Go
// (\" \u004b \x4b) escapes in s. For each byte of the result it returns where the
// text it stands for starts and ends in s; start is nil when s holds no escape.
func unescape(s string) (out string, start, end []int) {
	if !strings.ContainsAny(s, `%&\`) {
		return s, nil, nil
	}
	b := make([]byte, 0, len(s))
	start, end = make([]int, 0, len(s)), make([]int, 0, len(s))
	escaped := false
	for i := 0; i < len(s); {
		text, n := unescapeAt(s[i:])
		if n == 0 {
			text, n = s[i:i+1], 1
		} else {
			escaped = true
		}
		for range len(text) {
			start, end = append(start, i), append(end, i+n)
		}
		b = append(b, text...)
		i += n
	}
	if !escaped {
		return s, nil, nil
	}
	return string(b), start, end
}

// entity is an HTML character reference: numeric, or named with its semicolon.
var entity = regexp.MustCompile(`^&(#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{1,31};)`)

// backslashed are the one-letter escapes of JSON and Go.
var backslashed = map[byte]string{'"': `"`, '\\': `\`, '/': "/", '\'': "'", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t"}

// unescapeAt returns what the escape at the start of s stands for, and its length;
// 0 when s does not start with one.
func unescapeAt(s string) (string, int) {
	switch s[0] {
	case '%':
		if c, ok := hexByte(s[1:], 2); ok {
			return c, 3
		}
	case '&':
		if e := entity.FindString(s); e != "" {
			if text := html.UnescapeString(e); text != e {
				return text, len(e)
			}
		}
	case '\\':
		if len(s) < 2 {
			return "", 0
		}
		if text, ok := backslashed[s[1]]; ok {
			return text, 2
		}
		switch s[1] {
		case 'x':
			if c, ok := hexByte(s[2:], 2); ok {
				return c, 4
			}
		case 'u':
			return unescapeU(s)
		}
	}
	return "", 0
}

// unescapeU reads \uXXXX at the start of s, and the second half of a surrogate
// pair after it.
func unescapeU(s string) (string, int) {
	r, ok := hexRune(s[2:])
	if !ok {
		return "", 0
	}
	if utf16.IsSurrogate(r) && len(s) >= 12 && s[6:8] == `\u` {
		if low, ok := hexRune(s[8:]); ok {
			if pair := utf16.DecodeRune(r, low); pair != '\uFFFD' {
				return string(pair), 12
			}
		}
	}
	return string(r), 6
}

// hexByte reads the byte of the n hex digits at the start of s.
func hexByte(s string, n int) (string, bool) {
	if len(s) < n {
		return "", false
	}
	c, err := strconv.ParseUint(s[:n], 16, 8)
	return string([]byte{byte(c)}), err == nil
}

// hexRune reads the four hex digits at the start of s.
func hexRune(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	r, err := strconv.ParseUint(s[:4], 16, 32)
	return rune(r), err == nil
}
