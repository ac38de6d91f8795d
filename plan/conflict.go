package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// Conflict is a company that the servers of two PBXs hold, listed by the inventory
// of To only, whose copy on To is not what a move from From could have written
// (fleet.md): for instance one created on From with the id of To's tenant. It is
// not a move: neither copy is written, and the run fails until a person deletes
// the wrong one.
type Conflict struct {
	Company  string
	From, To string
	Fields   []FieldConflict // sorted by field
	// Held are the companies To's plan leaves alone for it: the company, and those
	// To's inventory groups it with. Sorted.
	Held []string
}

// FieldConflict is a field of To's copy that no move from From writes: its value
// on each server, a secret's marked sensitive.
type FieldConflict struct {
	Field    string // "name", or a setting of the field table
	From, To apiclient.Value
}

// Names returns the fields that differ, for a message.
func (c Conflict) Names() []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.Field
	}
	return names
}

// reason is why To's plan leaves the company alone.
func (c Conflict) reason() string {
	return "a conflict, not a move: the server of " + c.From + " holds it too, and no move from there writes what this copy holds in " +
		strings.Join(c.Names(), ", ") + ": neither copy is written; delete the wrong one"
}

// AdoptionConflicts compares to, a company on the server of a move's new PBX, with
// from, the company the move takes from its old PBX, and want, what the new PBX's
// inventory asks of it, and returns what makes to something other than a move half
// done: none when to may be adopted. A move writes to in two steps, so a copy it
// left behind is one of two: created and nothing more (every field as a new company
// has it), or created and updated once (every field as want asks, else as from
// holds it; a feature switch may be unset, since a server ignores those for some
// credentials). Each field is first checked alone (fleet.md: as a new company has
// it, as from holds it, or as want asks), and then the copy as a whole: a tenant of
// B whose fields are each empty or as B's inventory asks, but not all, is no copy a
// move made, and taking from's values over it would hand them to another tenant. The
// name is from's or want's. Only "name" and the fields of the table that to holds are
// compared: no move writes another. For a whole copy that is neither, the fields
// returned are those that differ from the update's.
func AdoptionConflicts(to, from apiclient.Company, want inventory.Company) []FieldConflict {
	var out []FieldConflict
	if to.Name != from.Name && to.Name != want.Name {
		out = append(out, FieldConflict{Field: "name", From: apiclient.String(from.Name), To: apiclient.String(to.Name)})
	}
	created := true             // every field as a new company has it
	var updated []FieldConflict // the fields not as the move's update writes them
	for name, v := range to.Settings.All() {
		f, known := apiclient.LookupField(name)
		if !known {
			continue
		}
		zero := f.Equal(v, f.Zero())
		created = created && zero
		written := from.Settings.Get(name)
		if asked, managed := want.Settings.Lookup(name); managed {
			written = asked
		}
		if f.Equal(v, written) || f.Feature && zero {
			continue
		}
		updated = append(updated, FieldConflict{Field: name, From: from.Settings.Get(name), To: v})
	}
	if !created {
		out = append(out, updated...)
	}
	slices.SortFunc(out, func(a, b FieldConflict) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// ConflictError is a run that met conflicts: each named with its PBXs and the
// fields that differ.
type ConflictError struct {
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s (on %s and %s; differs in %s)", apiclient.Printable(c.Company), apiclient.Printable(c.From), apiclient.Printable(c.To),
			strings.Join(c.Names(), ", "))
	}
	return fmt.Sprintf("%s (a company on two servers that no move explains): %s; neither copy is written: delete the wrong one and run again",
		plural(len(parts), "conflict", "conflicts"), strings.Join(parts, "; "))
}
