package apiclient

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// redactor remembers every credential and secret value a client has sent, and
// removes them from what the server says: a server may echo a request in its fail
// message (spec/api.md, "What the tool trusts"). It is safe for concurrent use.
type redactor struct {
	mu          sync.Mutex
	credentials map[string]bool // the key, the password, every session cookie
	secrets     map[string]bool // values of the field table's secret fields
	all, creds  *strings.Replacer
}

// credential remembers a key, a password or a session.
func (r *redactor) credential(s string) { r.add(&r.credentials, s) }

// secret remembers the value of a secret field.
func (r *redactor) secret(s string) { r.add(&r.secrets, s) }

func (r *redactor) add(set *map[string]bool, s string) {
	if s == "" {
		return
	}
	forms := []string{s}
	if b, err := json.Marshal(s); err == nil && string(b[1:len(b)-1]) != s {
		forms = append(forms, string(b[1:len(b)-1])) // as it stands inside a JSON string
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if *set == nil {
		*set = map[string]bool{}
	}
	for _, f := range forms {
		if !(*set)[f] {
			(*set)[f] = true
			r.all, r.creds = nil, nil
		}
	}
}

// message removes every credential and secret value from a server's free text,
// whatever their length.
func (r *redactor) message(s string) string {
	r.mu.Lock()
	if r.all == nil {
		r.all = replacer(r.credentials, r.secrets)
	}
	rep := r.all
	r.mu.Unlock()
	return rep.Replace(s)
}

// minDataCredential is the shortest credential removed from the values a server
// holds: a longer one found there was put there on purpose, while a short test key
// such as "solo" would cut company-ids such as solo_ltd apart.
const minDataCredential = 8

// data returns what removes the credentials from the values the server holds (ids,
// names, settings). Secret values are not removed there: a secret field's value is
// the tenant's own, and a digit that is some PIN must not be cut out of every number.
func (r *redactor) data() scrubber {
	r.mu.Lock()
	defer r.mu.Unlock()
	long := map[string]bool{}
	for v := range r.credentials {
		if len(v) >= minDataCredential {
			long[v] = true
		}
	}
	if r.creds == nil {
		r.creds = replacer(long, nil)
	}
	s := scrubber{rep: r.creds}
	for v := range long {
		s.values = append(s.values, v)
	}
	return s
}

// scrubber removes a fixed set of values; most strings hold none, and are checked
// at the speed of strings.Contains.
type scrubber struct {
	values []string
	rep    *strings.Replacer
}

func (s scrubber) clean(text string) string {
	for _, v := range s.values {
		if strings.Contains(text, v) {
			return s.rep.Replace(text)
		}
	}
	return text
}

// replacer replaces each of the values with Redacted, the longest first, so that no
// part of one is left by replacing another that it contains.
func replacer(sets ...map[string]bool) *strings.Replacer {
	var values []string
	for _, set := range sets {
		for v := range set {
			values = append(values, v)
		}
	}
	slices.SortFunc(values, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	values = slices.Compact(values)
	args := make([]string, 0, 2*len(values))
	for _, v := range values {
		args = append(args, v, Redacted)
	}
	return strings.NewReplacer(args...)
}
