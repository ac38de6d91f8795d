// Package pbxtest is an in-memory PBX that implements spec/api.md to the letter: both
// ways to authenticate, roles and permissions, the silent ignore of feature switches,
// the validation of the field table, containers in "move" and "merge" modes, and
// seeded fault injection. Tests, benchmarks, pbxsim and sim: URLs all run against it.
package pbxtest

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Mode is what group does with the mover's container.
type Mode string

// AdminKey is the System-Admin API key of the simulators that tests start
// (simtest.NewServer).
const AdminKey = "pbxtest-admin-key"

const (
	// ModeMove moves the mover alone (the default).
	ModeMove Mode = "move"
	// ModeMerge moves the mover's whole container along; the others count in containermoves.
	ModeMerge Mode = "merge"
)

// Role is what a key or a user may do.
type Role struct {
	Admin     bool     // System-Admin: everything
	Companies []string // for a company administrator: the companies it administers
}

// SystemAdmin is the role that may do everything.
func SystemAdmin() Role { return Role{Admin: true} }

// CompanyAdmin is the role of an administrator of the given companies: read and update
// with their scope, feature switches silently ignored.
func CompanyAdmin(ids ...string) Role { return Role{Companies: ids} }

func (r Role) administers(id string) bool { return r.Admin || slices.Contains(r.Companies, id) }

// State is the server's content: companies and the containers that group them.
type State struct {
	Companies []apiclient.Company
	// Containers maps a container's name to its members. A company in none has a
	// container of its own, named after it.
	Containers map[string][]string
}

// Option configures a Server.
type Option func(*Server)

// WithMode sets what group does (ModeMove by default).
func WithMode(m Mode) Option { return func(s *Server) { s.mode = m } }

// WithAPIKey accepts key with the given role.
func WithAPIKey(key string, r Role) Option { return func(s *Server) { s.keys[key] = r } }

// WithUser accepts a login of user with password, and gives its sessions the role.
func WithUser(user, password string, r Role) Option {
	return func(s *Server) { s.users[user] = account{password: password, role: r} }
}

// WithSessionTTL sets how long a login session lasts (30 minutes by default).
func WithSessionTTL(d time.Duration) Option { return func(s *Server) { s.sessionTTL = d } }

// WithVersion makes the server one of an older version, which lacks the fields
// introduced later (see apiclient.Field.Since). The default is 6.5.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// WithState seeds the server, after every other option is applied. Companies get
// numeric ids in order unless they have one.
func WithState(st State) Option { return func(s *Server) { s.seeds = append(s.seeds, st) } }

// WithFaults injects faults (see Faults).
func WithFaults(f Faults) Option { return func(s *Server) { s.setFaults(f) } }

// WithLogger logs one line per request at info level.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

type account struct {
	password string
	role     Role
}

type session struct {
	user    string
	expires time.Time
}

type company struct {
	num         int64
	id          string
	name        string
	description string
	data        apiclient.Settings
	box         *container
}

type container struct {
	num     int64
	name    string
	members map[string]*company
}

// Server is the simulated PBX, an http.Handler. It is safe for concurrent use.
type Server struct {
	mode       Mode
	version    string
	sessionTTL time.Duration
	log        *slog.Logger
	pool       *workers // WithWorkers'; nil serves every request at once
	seeds      []State  // WithState's, until New has applied every option

	mu            sync.Mutex // guards everything below
	keys          map[string]Role
	users         map[string]account
	sessions      map[string]session
	companies     map[string]*company
	containers    map[string]*container
	nextCompany   int64
	nextContainer int64
	faults        faultState
	stats         Stats
	inFlight      int
	queued        int // requests waiting for a worker
	busy          int // workers serving a request
}

// New returns a server with the options applied. It accepts no credentials unless
// given some with WithAPIKey or WithUser.
func New(opts ...Option) *Server {
	s := &Server{
		mode:          ModeMove,
		version:       "6.5",
		sessionTTL:    30 * time.Minute,
		log:           slog.New(slog.DiscardHandler),
		keys:          map[string]Role{},
		users:         map[string]account{},
		sessions:      map[string]session{},
		companies:     map[string]*company{},
		containers:    map[string]*container{},
		nextCompany:   1001,
		nextContainer: 501,
	}
	s.setFaults(Faults{})
	for _, opt := range opts {
		opt(s)
	}
	for _, st := range s.seeds {
		s.seed(st)
	}
	s.seeds = nil
	return s
}

// Mode reports what group does.
func (s *Server) Mode() Mode { return s.mode }

// seed adds a state; s.mu need not be held, since no request is served yet.
func (s *Server) seed(st State) {
	grouped := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(st.Containers)) {
		for _, id := range st.Containers[name] {
			grouped[id] = name
		}
	}
	for _, in := range st.Companies {
		c := &company{num: in.Num, id: in.ID, name: in.Name, data: s.newData()}
		if c.num == 0 {
			c.num = s.nextCompany
		}
		s.nextCompany = max(s.nextCompany, c.num+1)
		for name, v := range in.Settings.All() {
			if f, ok := apiclient.LookupField(name); ok {
				if n, err := f.Normalize(v); err == nil {
					v = n
				}
			}
			c.data.Set(name, v) // fields the table does not know stand for a newer server's
		}
		s.companies[c.id] = c
		box := grouped[c.id]
		if box == "" {
			box = c.id
		}
		if s.containers[box] == nil {
			s.containers[box] = &container{num: s.nextContainer, name: box, members: map[string]*company{}}
			s.nextContainer++
		}
		s.join(c, s.containers[box])
	}
}

// newData is the data of a new company: every field of this version, empty.
func (s *Server) newData() apiclient.Settings {
	data := apiclient.Settings{}
	for _, f := range apiclient.Fields() {
		if f.AvailableIn(s.version) {
			data.Set(f.Name, f.Zero())
		}
	}
	return data
}

// field returns the row of the table for name, if this version knows it.
func (s *Server) field(name string) (apiclient.Field, bool) {
	f, ok := apiclient.LookupField(name)
	return f, ok && f.AvailableIn(s.version)
}

// Snapshot returns the server's content: companies sorted by ID, and every container.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Containers: map[string][]string{}}
	for _, id := range slices.Sorted(maps.Keys(s.companies)) {
		st.Companies = append(st.Companies, s.companies[id].public())
	}
	for name, box := range s.containers {
		st.Containers[name] = slices.Sorted(maps.Keys(box.members))
	}
	return st
}

// Company returns one company as the server holds it.
func (s *Server) Company(id string) (apiclient.Company, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.companies[id]
	if !ok {
		return apiclient.Company{}, false
	}
	return c.public(), true
}

// Description returns the description last written for a company (it is write-only
// on the API, so only tests can see it).
func (s *Server) Description(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.companies[id]; ok {
		return c.description
	}
	return ""
}

// ContainerOf returns the name of the container that holds the company, and its
// members, sorted.
func (s *Server) ContainerOf(id string) (string, []string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.companies[id]
	if !ok {
		return "", nil, false
	}
	return c.box.name, slices.Sorted(maps.Keys(c.box.members)), true
}

// ExpireSessions ends every login session, as a server does after its timeout.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

func (c *company) public() apiclient.Company {
	return apiclient.Company{ID: c.id, Num: c.num, Name: c.name, Settings: c.data.Clone()}
}

func (c *company) entry(withData bool) apiclient.Entry {
	e := apiclient.Entry{ID: c.num, Name: c.name, Data: apiclient.Settings{}}
	if withData {
		e.Data = c.data
	}
	return e
}

// join puts c into box, leaving its old container, which disappears when empty.
func (s *Server) join(c *company, box *container) {
	if old := c.box; old != nil {
		delete(old.members, c.id)
		if len(old.members) == 0 {
			delete(s.containers, old.name)
		}
	}
	c.box = box
	box.members[c.id] = c
}

// newContainer makes an empty container named after id, or id_2, id_3, ... when
// that name is taken.
func (s *Server) newContainer(id string) *container {
	name := id
	for i := 2; s.containers[name] != nil; i++ {
		name = id + "_" + strconv.Itoa(i)
	}
	box := &container{num: s.nextContainer, name: name, members: map[string]*company{}}
	s.nextContainer++
	s.containers[name] = box
	return box
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
