package pbxtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
)

// answer is what a verb handler returns: a success with values, or a fail message.
type answer struct {
	fail   string
	values map[string]apiclient.Entry
	moves  *int
	msg    string
	write  bool // a change was committed (counted as a successful write)
}

func failf(format string, args ...any) answer { return answer{fail: fmt.Sprintf(format, args...)} }

// body encodes the answer as the API's JSON.
func (a answer) body() ([]byte, error) {
	if a.fail != "" {
		return json.Marshal(apiclient.Response{Result: apiclient.ResultFail, Message: a.fail})
	}
	resp := apiclient.Response{Result: apiclient.ResultSuccess, Message: a.msg, ContainerMoves: a.moves}
	resp.Values = a.values
	return json.Marshal(resp)
}

// operate authenticates a request and runs its verb; s.mu is held.
func (s *Server) operate(verb string, req apiclient.Request, cookie string, now time.Time) answer {
	role, fail := s.authenticate(req.Auth, cookie, now)
	if fail != "" {
		return answer{fail: fail}
	}
	if req.Type != "company" {
		return failf("unknown or missing type %q", req.Type)
	}
	var scope apiclient.Scope
	if req.Scope != nil {
		scope = *req.Scope
	}
	switch verb {
	case "read":
		return s.read(role, scope)
	case "update":
		return s.update(role, scope, req.Values)
	}
	if !role.Admin {
		return failf("permission denied: %s needs System-Admin", verb)
	}
	switch verb {
	case "create":
		return s.create(req.Values)
	case "delete":
		return s.delete(scope)
	case "readContainer":
		return s.readContainer(scope)
	case "group":
		return s.group(scope, req.Values)
	case "ungroup":
		return s.ungroup(scope)
	}
	return failf("unknown operation %q", verb)
}

func (s *Server) authenticate(auth *apiclient.Auth, cookie string, now time.Time) (Role, string) {
	if auth != nil && auth.Key != "" {
		if r, ok := s.keys[auth.Key]; ok {
			return r, ""
		}
		return Role{}, "invalid API key"
	}
	if auth != nil && (auth.Username != "" || auth.Password != "") {
		return Role{}, "user and password are accepted only by /rest/auth/"
	}
	if cookie != "" {
		sess, ok := s.sessions[cookie]
		if !ok || now.After(sess.expires) {
			delete(s.sessions, cookie)
			return Role{}, "session expired or unknown: log in again"
		}
		if acct, ok := s.users[sess.user]; ok {
			return acct.role, ""
		}
	}
	return Role{}, "authentication required"
}

// login answers /rest/auth/ with a new session, or "" and a fail message.
func (s *Server) login(auth *apiclient.Auth, now time.Time) (token string, user string, fail string) {
	if auth == nil || auth.Username == "" {
		return "", "", "username and password required"
	}
	acct, ok := s.users[auth.Username]
	if !ok || acct.password != auth.Password {
		return "", "", "invalid username or password"
	}
	token = newToken()
	s.sessions[token] = session{user: auth.Username, expires: now.Add(s.sessionTTL)}
	return token, auth.Username, ""
}

func (s *Server) lookup(id string) (*company, string) {
	if id == "" {
		return nil, "scope must name a company"
	}
	c, ok := s.companies[id]
	if !ok {
		return nil, fmt.Sprintf("company %q not found", id)
	}
	return c, ""
}

// administered returns company id, when role administers it, or a fail message.
func (s *Server) administered(role Role, id string) (*company, string) {
	if !role.administers(id) {
		return nil, fmt.Sprintf("permission denied for company %q", id)
	}
	return s.lookup(id)
}

func (s *Server) read(role Role, scope apiclient.Scope) answer {
	if scope.Company == "" {
		if !role.Admin {
			return failf("permission denied: scope must specify a company")
		}
		values := make(map[string]apiclient.Entry, len(s.companies))
		for id, c := range s.companies {
			values[id] = c.entry(true)
		}
		return answer{values: values}
	}
	c, fail := s.administered(role, scope.Company)
	if fail != "" {
		return answer{fail: fail}
	}
	return answer{values: map[string]apiclient.Entry{c.id: c.entry(true)}}
}

func (s *Server) update(role Role, scope apiclient.Scope, values map[string]json.RawMessage) answer {
	if scope.Company == "" {
		return failf("scope must name a company")
	}
	c, fail := s.administered(role, scope.Company)
	if fail != "" {
		return answer{fail: fail}
	}
	name, desc := c.name, c.description
	changes := apiclient.Settings{}
	for _, key := range slices.Sorted(maps.Keys(values)) {
		raw := values[key]
		switch key {
		case "name":
			if err := json.Unmarshal(raw, &name); err != nil || !apiclient.ValidName(name) {
				return failf("invalid name")
			}
			continue
		case "description":
			if err := json.Unmarshal(raw, &desc); err != nil {
				return failf("invalid description")
			}
			continue
		}
		f, ok := s.field(key)
		if !ok {
			return failf("unknown field %q", key)
		}
		if f.Feature && !role.Admin {
			continue // dropped before anything else is looked at
		}
		var v apiclient.Value
		if err := json.Unmarshal(raw, &v); err != nil {
			return failf("invalid value for %s", key)
		}
		n, err := f.Normalize(v)
		if err != nil {
			return failf("invalid value for %s: allowed: %s", key, f.Allowed)
		}
		changes.Set(key, n)
	}
	c.name, c.description = name, desc
	for name, v := range changes.All() {
		c.data.Set(name, v)
	}
	return answer{values: map[string]apiclient.Entry{c.id: c.entry(true)}, write: true}
}

func (s *Server) create(values map[string]json.RawMessage) answer {
	var id, name, desc string
	if err := json.Unmarshal(values["company"], &id); err != nil || !apiclient.ValidCompanyID(id) {
		return failf("invalid or missing company-id")
	}
	if err := json.Unmarshal(values["name"], &name); err != nil || !apiclient.ValidName(name) {
		return failf("invalid or missing name")
	}
	if raw, ok := values["description"]; ok {
		if err := json.Unmarshal(raw, &desc); err != nil {
			return failf("invalid description")
		}
	}
	if _, exists := s.companies[id]; exists {
		return failf("company %q already exists", id)
	}
	c := &company{num: s.nextCompany, id: id, name: name, description: desc, data: s.newData()}
	s.nextCompany++
	s.companies[id] = c
	s.join(c, s.newContainer(id))
	return answer{values: map[string]apiclient.Entry{id: c.entry(false)}, write: true}
}

func (s *Server) delete(scope apiclient.Scope) answer {
	c, fail := s.lookup(scope.Company)
	if fail != "" {
		return answer{fail: fail}
	}
	delete(c.box.members, c.id)
	if len(c.box.members) == 0 {
		delete(s.containers, c.box.name)
	}
	delete(s.companies, c.id)
	return answer{write: true}
}

func (s *Server) readContainer(scope apiclient.Scope) answer {
	var box *container
	switch {
	case scope.Container != "":
		box = s.containers[scope.Container]
		if box == nil {
			return failf("container %q not found", scope.Container)
		}
	case scope.Company != "":
		c, fail := s.lookup(scope.Company)
		if fail != "" {
			return answer{fail: fail}
		}
		box = c.box
	default:
		return failf("scope must name a company or a container")
	}
	e := apiclient.Entry{ID: box.num, Name: box.name, Data: apiclient.Settings{},
		Members: make(map[string]apiclient.Entry, len(box.members))}
	for id, m := range box.members {
		e.Members[id] = m.entry(true)
	}
	return answer{values: map[string]apiclient.Entry{box.name: e}}
}

func (s *Server) group(scope apiclient.Scope, values map[string]json.RawMessage) answer {
	mover, fail := s.lookup(scope.Company)
	if fail != "" {
		return answer{fail: fail}
	}
	var targetID string
	if err := json.Unmarshal(values["company"], &targetID); err != nil || targetID == "" {
		return failf("values must name the target company")
	}
	target, fail := s.lookup(targetID)
	if fail != "" {
		return answer{fail: fail}
	}
	moved := 0
	if mover.box != target.box {
		movers := []*company{mover}
		if s.mode == ModeMerge {
			movers = slices.Collect(maps.Values(mover.box.members))
			moved = len(movers) - 1
		}
		for _, m := range movers {
			s.join(m, target.box)
		}
	}
	return answer{msg: "grouped okay", moves: &moved, write: true}
}

func (s *Server) ungroup(scope apiclient.Scope) answer {
	c, fail := s.lookup(scope.Company)
	if fail != "" {
		return answer{fail: fail}
	}
	if len(c.box.members) > 1 {
		s.join(c, s.newContainer(c.id))
	}
	zero := 0
	return answer{msg: "un-grouped okay", moves: &zero, write: true}
}
