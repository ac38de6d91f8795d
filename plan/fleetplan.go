package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// FleetMember is one PBX of a fleet as planning needs it: its inventory and what its
// server holds, or the error that kept it from being read.
type FleetMember struct {
	Name  string
	Inv   *inventory.Inventory
	State *state.State // nil when Err is set
	Err   error
	// Left is true for a PBX this run leaves out (--pbx): read only so that a
	// company moved from it is not created empty elsewhere; never planned.
	Left bool
}

// Move is a company moved from one PBX to another (spec fleet.md): the inventory of
// To lists it, the server of From holds it and the inventory of From does not.
type Move struct {
	Company  string
	From, To string
	// Adopt is true when To holds it already: a move interrupted after its create,
	// which the apply on To finishes before the delete on From. To's copy is what a
	// move could have written (AdoptionConflicts), else it is a Conflict.
	Adopt bool
	// Want is what To's inventory asks of it, for the adoption to be checked again
	// before it is written (AdoptionConflicts).
	Want inventory.Company
	// Carried is what the company takes from From: every setting of From's server that
	// this pbxsync knows, secrets included (in memory only), under To's inventory's own.
	Carried apiclient.Settings
	// Fingerprint is what was read of it on From (Fingerprint): the delete on From
	// happens only while it still matches, and a saved plan is stale when it differs.
	Fingerprint string
}

// CarriedFields returns the settings the move carries, in name order, each value as
// every form of a plan shows it (Shown).
func (mv Move) CarriedFields() []NamedField {
	out := make([]NamedField, 0, mv.Carried.Len())
	for name, v := range mv.Carried.All() {
		out = append(out, NamedField{name, FieldChange{Before: apiclient.Null(), After: Shown(name, v)}})
	}
	return out
}

// FleetOptions tune a fleet plan: Options apply to each PBX's plan (MaxDelete per
// PBX, a move's final delete not counted), MaxMove to the moves of the whole fleet.
type FleetOptions struct {
	Options
	MaxMove int
}

// FleetPlan is a plan for every PBX of a fleet, and the moves between them.
type FleetPlan struct {
	Moves []Move // sorted by company
	// Conflicts are the companies two servers hold that are not moves (Conflict):
	// neither copy is written. Sorted by company.
	Conflicts []Conflict
	// PBXs holds the plan of each PBX that could be read, by name.
	PBXs map[string]*Plan
	// Inventories holds what each plan was made from: the PBX's inventory, each
	// company moved to it holding the settings it carries under its own. Apply on a
	// PBX applies its plan with this inventory.
	Inventories map[string]*inventory.Inventory
	// Failed holds the PBXs that could not be read, with the error.
	Failed map[string]error
	// Names lists every PBX planned or failed, sorted.
	Names []string
}

// MoveBudgetError refuses, before any write, a fleet plan with more moves than
// --max-move allows.
type MoveBudgetError struct {
	Moves, Max int
}

func (e *MoveBudgetError) Error() string {
	return fmt.Sprintf("the fleet plan moves %s, more than --max-move allows (%d)", plural(e.Moves, "company", "companies"), e.Max)
}

// FleetDeleteBudgetError is a PBX whose plan deletes more than --max-delete allows.
type FleetDeleteBudgetError struct {
	PBX string
	*DeleteBudgetError
}

func (e *FleetDeleteBudgetError) Error() string { return e.PBX + ": " + e.DeleteBudgetError.Error() }

// MoveOf returns the move of company id, if the plan moves it.
func (fp *FleetPlan) MoveOf(id string) (Move, bool) {
	i := sort.Search(len(fp.Moves), func(i int) bool { return fp.Moves[i].Company >= id })
	if i < len(fp.Moves) && fp.Moves[i].Company == id {
		return fp.Moves[i], true
	}
	return Move{}, false
}

// DiffFleet plans every PBX of a fleet and the moves between them. A company that
// an inventory lists, that its PBX's server lacks (or holds too: a move half done),
// and that another PBX's server holds while that PBX's inventory does not list it,
// is moved: created on its new PBX with every setting it held (its new inventory's
// values over them), and deleted from its old one once verified there; its old
// PBX's plan neither deletes it (--prune) nor counts it unmanaged. A company whose
// create could be a move from a PBX that could not be read is not planned. When
// there are more moves than MaxMove, or a PBX's deletes exceed MaxDelete, DiffFleet
// returns the plan and a *MoveBudgetError or *FleetDeleteBudgetError.
//
// A company both servers hold is adopted (a move half done) only when the copy on
// its new PBX is what the move could have written (AdoptionConflicts); else it is a
// Conflict: left alone on both, and not counted against MaxMove.
func DiffFleet(members []FleetMember, opts FleetOptions) (*FleetPlan, error) {
	d := newFleetDiff(members)
	for _, to := range members {
		if to.Err != nil || to.Left {
			continue
		}
		for _, want := range to.Inv.Companies {
			d.move(to, want.ID)
		}
	}
	fp := d.fp
	slices.SortFunc(fp.Moves, func(a, b Move) int { return strings.Compare(a.Company, b.Company) })

	var budgetErr error
	for _, m := range members {
		if m.Err != nil || m.Left {
			continue
		}
		p, err := d.planPBX(m, opts.Options)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		fp.PBXs[m.Name] = p
		if n := p.Count()[Delete]; n > opts.MaxDelete && budgetErr == nil {
			budgetErr = &FleetDeleteBudgetError{PBX: m.Name, DeleteBudgetError: &DeleteBudgetError{Deletes: n, Max: opts.MaxDelete}}
		}
	}
	slices.SortFunc(fp.Conflicts, func(a, b Conflict) int { return strings.Compare(a.Company, b.Company) })
	if len(fp.Moves) > opts.MaxMove {
		return fp, &MoveBudgetError{Moves: len(fp.Moves), Max: opts.MaxMove}
	}
	return fp, budgetErr
}

// fleetDiff is what DiffFleet learns of the fleet while it finds the moves, and then
// plans each PBX with.
type fleetDiff struct {
	fp       *FleetPlan
	members  []FleetMember
	listedBy map[string]string          // company -> the PBX whose inventory lists it
	unread   []string                   // the PBXs that could not be read, left out or not
	held     map[string]string          // company -> why its create waits (Plan.NotPlanned)
	conflict map[string]*Conflict       // company -> its conflict, held on both PBXs
	lost     map[string][]string        // PBX -> warnings of fields a move leaves behind
	movedOut map[string]map[string]bool // PBX -> companies moved away from it
}

// newFleetDiff indexes the fleet's inventories and records the PBXs that could not
// be read.
func newFleetDiff(members []FleetMember) *fleetDiff {
	d := &fleetDiff{
		fp:       &FleetPlan{PBXs: map[string]*Plan{}, Inventories: map[string]*inventory.Inventory{}, Failed: map[string]error{}},
		members:  members,
		listedBy: map[string]string{},
		held:     map[string]string{},
		conflict: map[string]*Conflict{},
		lost:     map[string][]string{},
		movedOut: map[string]map[string]bool{},
	}
	for _, m := range members {
		for _, c := range m.Inv.Companies {
			d.listedBy[c.ID] = m.Name
		}
		switch {
		case m.Err != nil && !m.Left:
			d.fp.Names = append(d.fp.Names, m.Name)
			d.fp.Failed[m.Name] = m.Err
			d.unread = append(d.unread, m.Name)
		case m.Err != nil:
			d.unread = append(d.unread, m.Name)
		case !m.Left:
			d.fp.Names = append(d.fp.Names, m.Name)
		}
	}
	slices.Sort(d.fp.Names)
	return d
}

// move plans the move of company id to PBX to when another PBX's server holds it, or
// holds its create back when that server is ambiguous, unread or left out.
func (d *fleetDiff) move(to FleetMember, id string) {
	_, here := to.State.Companies[id]
	from := d.holders(id, to.Name)
	switch {
	case len(from) > 1:
		names := make([]string, len(from))
		for i, m := range from {
			names[i] = m.Name
		}
		d.held[id] = "not moved: the servers of " + strings.Join(names, " and ") + " both hold it; delete it from all but one"
		return
	case len(from) == 0 && !here && len(d.unread) > 0:
		d.held[id] = "not created: it may be on " + strings.Join(d.unread, ", ") + ", which could not be read (a move); run again"
		return
	case len(from) == 0:
		return
	}
	src := from[0]
	if src.Left {
		d.held[id] = "not moved: it is on " + src.Name + ", which this run leaves out (--pbx): name both PBXs to move it"
		return
	}
	have := src.State.Companies[id]
	want, _ := to.Inv.Company(id)
	if here {
		if fields := AdoptionConflicts(to.State.Companies[id], have, want); len(fields) > 0 {
			d.conflict[id] = &Conflict{Company: id, From: src.Name, To: to.Name, Fields: fields}
			return
		}
	}
	carried, unknown := carry(have.Settings)
	if len(unknown) > 0 {
		d.lost[to.Name] = append(d.lost[to.Name], fmt.Sprintf("%s: fields this pbxsync does not know are not carried from %s: %s", id, src.Name, strings.Join(unknown, ", ")))
	}
	d.fp.Moves = append(d.fp.Moves, Move{
		Company: id, From: src.Name, To: to.Name, Adopt: here, Want: want, Carried: carried,
		Fingerprint: Fingerprint(have, containerMembers(src.State, id), inventory.Company{}),
	})
	if d.movedOut[src.Name] == nil {
		d.movedOut[src.Name] = map[string]bool{}
	}
	d.movedOut[src.Name][id] = true
}

// holders returns the PBXs other than to whose servers were read and hold company id.
// Company-ids are unique across the fleet's inventories (inventory.LoadFleet), so none
// of their inventories lists it.
func (d *fleetDiff) holders(id, to string) []FleetMember {
	var from []FleetMember
	for _, m := range d.members {
		if m.Name == to || m.Err != nil {
			continue
		}
		if _, there := m.State.Companies[id]; there {
			from = append(from, m)
		}
	}
	return from
}

// carry splits what a moved company holds into the settings it takes along, the ones
// this pbxsync knows, and the names of the others, sorted.
func carry(have apiclient.Settings) (carried apiclient.Settings, unknown []string) {
	for name, v := range have.All() {
		if _, known := apiclient.LookupField(name); known {
			carried.Set(name, v)
		} else {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return carried, unknown
}

// planPBX plans PBX m with the companies moved to it. A company another PBX's inventory
// lists is on its way there: moved in this run, or by a run that reads both. It is
// never pruned here, nor unmanaged. The MaxDelete of opts is left to the caller,
// which checks it with the moves left out.
func (d *fleetDiff) planPBX(m FleetMember, opts Options) (*Plan, error) {
	inv := withCarried(m.Inv, d.fp.Moves, m.Name)
	d.fp.Inventories[m.Name] = inv
	opts.MaxDelete = len(m.State.Companies)
	conflicts := map[string]string{}
	for id, c := range d.conflict {
		if c.To == m.Name {
			conflicts[id] = c.reason()
		}
	}
	p, err := diff(inv, m.State, opts, conflicts)
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(conflicts)) {
		c := *d.conflict[id]
		c.Held = []string{id}
		if i := slices.IndexFunc(inv.Containers, func(box inventory.Container) bool { return slices.Contains(box.Members, id) }); i >= 0 {
			c.Held = slices.Sorted(slices.Values(inv.Containers[i].Members))
		}
		d.fp.Conflicts = append(d.fp.Conflicts, c)
	}
	out := d.movedOut[m.Name]
	elsewhere := func(id string) bool { return out[id] || d.listedBy[id] != "" && d.listedBy[id] != m.Name }
	waiting := slices.Clone(p.Unmanaged)
	for _, c := range p.Changes {
		if c.Action == Delete {
			waiting = append(waiting, c.Company)
		}
	}
	slices.Sort(waiting)
	for _, id := range waiting {
		if elsewhere(id) && !out[id] && d.conflict[id] == nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is listed by the inventory of %s: not moved by this run; a run that names both PBXs moves it", id, d.listedBy[id]))
		}
	}
	p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.Action == Delete && elsewhere(c.Company) })
	p.Unmanaged = slices.DeleteFunc(p.Unmanaged, elsewhere)
	for id, why := range d.held {
		if d.listedBy[id] == m.Name {
			if p.NotPlanned == nil {
				p.NotPlanned = map[string]string{}
			}
			p.NotPlanned[id] = why
			p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return c.Company == id || c.Target == id })
		}
	}
	p.Warnings = append(p.Warnings, d.lost[m.Name]...)
	return p, nil
}

// containerMembers returns the members of id's container as read, or nil.
func containerMembers(st *state.State, id string) []string {
	for _, members := range st.Containers {
		if slices.Contains(members, id) {
			return members
		}
	}
	return nil
}

// withCarried returns inv with each company moved to pbx holding the settings it
// carries under its own; inv itself when nothing moves to pbx.
func withCarried(inv *inventory.Inventory, moves []Move, pbx string) *inventory.Inventory {
	carried := map[string]Move{}
	for _, mv := range moves {
		if mv.To == pbx {
			carried[mv.Company] = mv
		}
	}
	if len(carried) == 0 {
		return inv
	}
	out := *inv
	out.Companies = slices.Clone(inv.Companies)
	for i, c := range out.Companies {
		mv, ok := carried[c.ID]
		if !ok {
			continue
		}
		settings := mv.Carried.Clone()
		for name, v := range c.Settings.All() {
			settings.Set(name, v)
		}
		c.Settings = settings
		out.Companies[i] = c
	}
	return &out
}

// Summary is the fleet plan's first line: "Fleet: 3 PBXs; 2 moves; london: 1 to
// update; paris: 2 to create." PBXs without changes are left out of it; conflicts
// are counted after the moves when there are any ("1 conflict").
func (fp *FleetPlan) Summary() string {
	parts := []string{plural(len(fp.Names), "PBX", "PBXs"), plural(len(fp.Moves), "move", "moves")}
	if n := len(fp.Conflicts); n > 0 {
		parts = append(parts, plural(n, "conflict", "conflicts"))
	}
	for _, name := range fp.Names {
		switch p := fp.PBXs[name]; {
		case fp.Failed[name] != nil:
			parts = append(parts, name+": not read")
		case p != nil && !p.Empty():
			parts = append(parts, name+": "+strings.TrimSuffix(strings.TrimPrefix(p.Summary(), "Plan: "), "."))
		}
	}
	return "Fleet: " + strings.Join(parts, "; ") + "."
}

// JSONFleetPlan is the JSON form of a fleet plan (fleet.md).
type JSONFleetPlan struct {
	FormatVersion int                 `json:"format_version"`
	Kind          string              `json:"kind"` // "fleet"
	Moves         []JSONMove          `json:"moves"`
	Conflicts     []JSONConflict      `json:"conflicts"`
	PBXs          map[string]JSONPlan `json:"pbxs"`
	Failed        map[string]string   `json:"failed,omitempty"` // the PBXs that could not be read, with why
	Summary       JSONFleetSummary    `json:"summary"`
}

// JSONMove is a move in a JSON fleet plan.
type JSONMove struct {
	Company string `json:"company"`
	From    string `json:"from"`
	To      string `json:"to"`
	// Adopt is true when the new PBX holds it already (a move half done).
	Adopt    bool                       `json:"adopt,omitempty"`
	Settings map[string]json.RawMessage `json:"settings,omitempty"` // what it carries; secrets "(sensitive)", unless empty
}

// JSONConflict is a conflict in a JSON fleet plan: a company on the servers of
// both PBXs that is not a move, the fields that differ, and the companies held
// for it on To.
type JSONConflict struct {
	Company string              `json:"company"`
	From    string              `json:"from"`
	To      string              `json:"to"`
	Fields  []JSONFieldConflict `json:"fields"`
	Held    []string            `json:"held"`
}

// JSONFieldConflict is a field of a conflict: its value on each PBX's server,
// secrets "(sensitive)".
type JSONFieldConflict struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

// JSONConflicts returns the conflicts' JSON form.
func JSONConflicts(conflicts []Conflict) []JSONConflict {
	out := make([]JSONConflict, 0, len(conflicts))
	for _, c := range conflicts {
		jc := JSONConflict{Company: c.Company, From: c.From, To: c.To, Fields: make([]JSONFieldConflict, len(c.Fields)), Held: slices.Clone(c.Held)}
		for i, f := range c.Fields {
			jc.Fields[i] = JSONFieldConflict{Field: f.Field, From: jsonValue(f.From), To: jsonValue(f.To)}
		}
		out = append(out, jc)
	}
	return out
}

// JSONFleetSummary counts the moves, and the changes of every PBX by action.
type JSONFleetSummary struct {
	PBXs      int `json:"pbxs"`
	Failed    int `json:"failed"`
	Moves     int `json:"moves"`
	Conflicts int `json:"conflicts"`
	JSONSummary
}

// JSON returns the fleet plan's JSON form.
func (fp *FleetPlan) JSON() JSONFleetPlan {
	doc := JSONFleetPlan{FormatVersion: FormatVersion, Kind: "fleet", Moves: []JSONMove{}, Conflicts: JSONConflicts(fp.Conflicts), PBXs: map[string]JSONPlan{}}
	for _, mv := range fp.Moves {
		jm := JSONMove{Company: mv.Company, From: mv.From, To: mv.To, Adopt: mv.Adopt, Settings: map[string]json.RawMessage{}}
		for _, f := range mv.CarriedFields() {
			jm.Settings[f.Name] = jsonValue(f.After)
		}
		doc.Moves = append(doc.Moves, jm)
	}
	for name, p := range fp.PBXs {
		jp := p.JSON()
		doc.PBXs[name] = jp
		doc.Summary.Create += jp.Summary.Create
		doc.Summary.Update += jp.Summary.Update
		doc.Summary.Ungroup += jp.Summary.Ungroup
		doc.Summary.Group += jp.Summary.Group
		doc.Summary.Delete += jp.Summary.Delete
	}
	if len(fp.Failed) > 0 {
		doc.Failed = map[string]string{}
		for name, err := range fp.Failed {
			doc.Failed[name] = apiclient.Printable(err.Error())
		}
	}
	doc.Summary.PBXs, doc.Summary.Failed, doc.Summary.Moves, doc.Summary.Conflicts = len(fp.Names), len(fp.Failed), len(fp.Moves), len(fp.Conflicts)
	return doc
}

// Empty reports whether the fleet plan changes nothing: no move, no PBX's change.
func (fp *FleetPlan) Empty() bool {
	return len(fp.Moves) == 0 && !slices.ContainsFunc(fp.Names, func(n string) bool { p := fp.PBXs[n]; return p != nil && !p.Empty() })
}

// Incomplete names the PBXs that could not be read, the conflicts, or the companies
// not planned; nil when the plan leaves nothing out.
func (fp *FleetPlan) Incomplete() error {
	var parts []string
	for _, name := range fp.Names {
		if err := fp.Failed[name]; err != nil {
			parts = append(parts, name+": "+err.Error())
		}
	}
	if len(parts) > 0 {
		return fmt.Errorf("%s not read: %s", plural(len(parts), "PBX", "PBXs"), strings.Join(parts, "; "))
	}
	if len(fp.Conflicts) > 0 {
		return &ConflictError{Conflicts: fp.Conflicts}
	}
	var held []string
	for _, name := range fp.Names {
		if p := fp.PBXs[name]; p != nil {
			for _, id := range p.NotPlannedIDs() {
				held = append(held, fmt.Sprintf("%s: %s: %s", name, apiclient.Printable(id), p.NotPlanned[id]))
			}
		}
	}
	if n := len(held); n > 0 {
		more := ""
		if n > 5 {
			held, more = held[:5], fmt.Sprintf("; and %d more (see the plan)", n-5)
		}
		return fmt.Errorf("%s not planned: %s%s", plural(n, "company", "companies"), strings.Join(held, "; "), more)
	}
	return nil
}
