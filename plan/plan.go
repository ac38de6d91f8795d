package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Action is what a change does.
type Action string

// The actions, in the order a plan lists them: deletes on top, where a reviewer
// sees them first.
const (
	Delete  Action = "delete"
	Create  Action = "create"
	Update  Action = "update"
	Ungroup Action = "ungroup"
	Group   Action = "group"
)

// Actions lists every action in plan order.
var Actions = []Action{Delete, Create, Update, Ungroup, Group}

// FieldChange is one field's value before and after. For a create, Before is null.
type FieldChange struct {
	Before apiclient.Value
	After  apiclient.Value
	// Origin is the inventory's FILE:LINE that set After, when the inventory was
	// loaded to explain (plan --explain); shown in text and Markdown only.
	Origin string
}

// Change is one planned change. It carries every value apply sends, secrets
// included: those stay in memory, since renderers and saved plans show a secret
// as (sensitive).
type Change struct {
	Action  Action
	Company string
	Name    string // create: the new company's name
	// Description is what a create sends as the new company's description.
	Description string
	// ForcedDescription is, for an update, the inventory's description: what the
	// update sends with --force-description (a description is never read back).
	ForcedDescription string
	Target            string                 // group: the company whose container the mover joins
	Fields            map[string]FieldChange // update: the fields that change ("name" included); create: its settings
	// PartnerOf is, in a partial plan, for a company that Options.Companies and
	// Match did not choose, the chosen companies whose container partner it is
	// (transitively, in the inventory or on the server), sorted: they brought it in.
	PartnerOf []string
}

// NamedField is a field of a change, with its name.
type NamedField struct {
	Name string
	FieldChange
}

// SortedFields returns the fields of the change in name order, each value as every
// form of a plan shows it (Shown): a plan made by Diff holds a secret's values
// marked, but one built by a program or a test may not, and an empty one is shown
// as empty.
func (c Change) SortedFields() []NamedField {
	out := make([]NamedField, 0, len(c.Fields))
	for _, name := range slices.Sorted(maps.Keys(c.Fields)) {
		f := c.Fields[name]
		f.Before, f.After = Shown(name, f.Before), Shown(name, f.After)
		out = append(out, NamedField{name, f})
	}
	return out
}

// Shown returns a value of field as every form of a plan shows it: a secret's
// marked sensitive, unless it is empty ("" or null). A PIN that is not set gives
// nothing away, and shown as (sensitive) it would read as set: a create or a move
// counts it with the other empty fields.
func Shown(field string, v apiclient.Value) apiclient.Value {
	switch {
	case Blank(v):
		return v.Reveal()
	case apiclient.IsSecret(field):
		return v.MarkSensitive()
	}
	return v
}

// Blank reports whether v, marked or not, is empty: "" or null.
func Blank(v apiclient.Value) bool { j := v.Reveal().JSON(); return j == `""` || j == "null" }

// Settings returns what a create or an update writes to the settings: the After
// of each field, the name aside.
func (c Change) Settings() apiclient.Settings {
	var s apiclient.Settings
	for name, f := range c.Fields {
		if name != "name" {
			s.Set(name, f.After)
		}
	}
	return s
}

// NewName returns the name an update writes, "" when it leaves the name alone.
func (c Change) NewName() string {
	if f, ok := c.Fields["name"]; ok {
		return f.After.Text()
	}
	return ""
}

// Plan is what apply would do, and what a person reviews.
type Plan struct {
	Changes   []Change // deletes, creates, updates, ungroups, groups; each sorted by company
	Unmanaged []string // companies on the server that the inventory does not name, sorted; not those it deletes
	Warnings  []string
	// Partial is true for a plan of chosen companies (Options.Companies, Match): the
	// rest of the inventory is not planned.
	Partial bool
	// NotPlanned holds the companies of the inventory whose changes are not planned,
	// with the reason: their container could not be read (State.Unread). A plan
	// that leaves any out is incomplete, and a run that applies it fails.
	NotPlanned map[string]string
	// Fingerprints sum up, for each company the plan touches, what was read of it
	// (see Fingerprint), or Absent: a saved plan is stale when one differs.
	Fingerprints map[string]string
	// ContainerOf holds the members of each read company's container, sorted, as
	// read: apply orders a group after the ungroups of the mover's container-mates.
	// It is nil when the containers could not be read (a company administrator).
	ContainerOf map[string][]string
	// Desired is the grouping the inventory asks for the companies whose containers
	// the plan touches: what verification plans grouping again from. Nil when the
	// containers could not be read.
	Desired DesiredGrouping
}

// DesiredGrouping holds, for each managed company whose container a plan's grouping
// changes or creates may touch, the members of the container the inventory puts it
// in; nil for a company the inventory puts in no container. A company it lacks is
// either not managed or out of the plan's reach.
type DesiredGrouping map[string][]string

// Count returns the number of changes of each action.
func (p *Plan) Count() map[Action]int {
	n := map[Action]int{}
	for _, c := range p.Changes {
		n[c.Action]++
	}
	return n
}

// Summary is the plan's first line, such as "Plan: 2 to create, 5 to update, 1 to delete."
func (p *Plan) Summary() string {
	if p.Empty() {
		return "No changes: the server matches the inventory."
	}
	n := p.Count()
	var parts []string
	for _, a := range []Action{Create, Update, Ungroup, Group, Delete} {
		if n[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", n[a], a))
		}
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// NotPlannedIDs returns the companies left out of the plan, sorted.
func (p *Plan) NotPlannedIDs() []string { return slices.Sorted(maps.Keys(p.NotPlanned)) }

// Incomplete is the error of a plan that leaves companies out; nil when it leaves none.
func (p *Plan) Incomplete() error {
	if len(p.NotPlanned) == 0 {
		return nil
	}
	return &NotPlannedError{Companies: p.NotPlannedIDs()}
}

// NotPlannedError is a plan that leaves companies out: their container could not be
// read. The rest of the plan stands.
type NotPlannedError struct {
	Companies []string // sorted
}

func (e *NotPlannedError) Error() string {
	return fmt.Sprintf("%s not planned, since the server could not be read for them (%s): the plan names them; run again",
		plural(len(e.Companies), "company", "companies"), CompanyList(e.Companies))
}

// CompanyList names companies in an error message: the first ten, each made
// printable (apiclient.Printable), and how many more there are.
func CompanyList(ids []string) string { return FirstOf(ids, 10, apiclient.Printable) }

// FirstOf lists the first n ids, each as show writes it, and how many more there are.
func FirstOf(ids []string, n int, show func(string) string) string {
	shown := make([]string, 0, min(len(ids), n))
	for _, id := range ids[:min(len(ids), n)] {
		shown = append(shown, show(id))
	}
	if len(ids) > len(shown) {
		return fmt.Sprintf("%s and %d more", strings.Join(shown, ", "), len(ids)-len(shown))
	}
	return strings.Join(shown, ", ")
}

// Touched returns the companies a plan's changes name (movers and targets included), sorted.
func (p *Plan) Touched() []string {
	var ids []string
	for _, c := range p.Changes {
		ids = append(ids, c.Company)
		if c.Target != "" {
			ids = append(ids, c.Target)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
