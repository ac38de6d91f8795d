package planfile

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// StalePlanError refuses a saved plan that is not what a fresh plan would do: the
// inventory changed, a company it touches changed on the server, or its changes are
// not the fresh plan's (a hand edit). Nothing was written.
type StalePlanError struct {
	Reason    string   // what differs, for a person
	Companies []string // the companies concerned, sorted; none when the inventory changed
	// Changed says, for a company that changed on the server, what differs in its
	// changes (whatChanged); none when only what the plan leaves alone changed.
	Changed map[string][]string
}

func (e *StalePlanError) Error() string {
	if len(e.Companies) == 0 {
		return "the saved plan is stale: " + e.Reason + ": plan again"
	}
	sep, shown := ", ", e.Companies[:min(len(e.Companies), 10)]
	list := make([]string, len(shown))
	for i, id := range shown {
		list[i] = apiclient.Printable(id)
		if what := e.Changed[id]; len(what) > 0 {
			list[i] += ": " + plan.FirstOf(what, 5, apiclient.Printable)
			sep = "; "
		}
	}
	text := strings.Join(list, sep)
	if more := len(e.Companies) - len(shown); more > 0 {
		text += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("the saved plan is stale: %s (%s): plan again", e.Reason, text)
}

// RefusedBeforeAnyWrite makes the error a plan.Refusal: exit 3.
func (*StalePlanError) RefusedBeforeAnyWrite() {}

// staleness is what differs between a saved plan and a fresh one, by company.
type staleness struct {
	// edited are the companies of saved changes that no server could have led to:
	// a change of a company without a fingerprint, twice the same change, or one
	// that no plan of the inventory holds (possible).
	edited []string
	// changed are the companies that read otherwise now than when the plan was
	// made (their fingerprint differs), or that the fresh plan alone touches, with
	// what differs in their changes.
	changed map[string][]string
	// differ are the companies whose changes are not the fresh plan's.
	differ []string
}

// err returns the refusal that fits, nil when nothing differs: an edit when a
// saved change could come from no server, else a change on server (its name for
// a person) when a company reads otherwise now, else an edit: the changes differ
// while every company reads as it did.
func (s staleness) err(server string) *StalePlanError {
	switch {
	case len(s.edited) > 0:
		return &StalePlanError{Reason: "the file was edited: it holds changes no plan of this inventory makes", Companies: sortedSet(s.edited)}
	case len(s.changed) > 0:
		return &StalePlanError{Reason: "companies changed on " + server + " since it was made", Companies: slices.Sorted(maps.Keys(s.changed)), Changed: s.changed}
	case len(s.differ) > 0:
		return &StalePlanError{Reason: "the file was edited: its changes are not those a fresh plan makes, while the companies read as they did", Companies: sortedSet(s.differ)}
	}
	return nil
}

// add adds o's companies to s, each as prefix+company.
func (s *staleness) add(prefix string, o staleness) {
	for _, id := range o.edited {
		s.edited = append(s.edited, prefix+id)
	}
	for _, id := range o.differ {
		s.differ = append(s.differ, prefix+id)
	}
	for id, what := range o.changed {
		if s.changed == nil {
			s.changed = map[string][]string{}
		}
		s.changed[prefix+id] = what
	}
}

// compare compares saved changes, and the fingerprints saved with them, with a
// fresh plan; now holds the fingerprints, as the companies read now, of every
// company either touches, and possible says whether a plan of the inventory could
// hold a change at all.
func compare(changes []plan.JSONChange, saved map[string]string, fresh *plan.Plan, now map[string]string, possible func(plan.JSONChange) bool) staleness {
	var s staleness
	byKey := map[string]string{}
	for _, c := range changes {
		k := changeKey(c)
		if _, dup := byKey[k]; dup || !possible(c) {
			s.edited = append(s.edited, c.Company)
		}
		byKey[k] = canonical(c)
		for _, id := range []string{c.Company, c.Target} {
			if _, ok := saved[id]; id != "" && !ok {
				s.edited = append(s.edited, id)
			}
		}
	}
	freshChanges := fresh.JSON().Changes
	for _, c := range freshChanges {
		if got, ok := byKey[changeKey(c)]; !ok || got != canonical(c) {
			s.differ = append(s.differ, c.Company)
		}
		delete(byKey, changeKey(c))
	}
	for _, c := range changes {
		if _, left := byKey[changeKey(c)]; left {
			s.differ = append(s.differ, c.Company)
		}
	}
	s.changed = map[string][]string{}
	for id, was := range saved {
		if now[id] != was {
			s.changed[id] = whatChanged(id, was, now[id], changes, freshChanges)
		}
	}
	for id, is := range fresh.Fingerprints {
		if _, ok := saved[id]; !ok {
			s.changed[id] = whatChanged(id, "", is, changes, freshChanges)
		}
	}
	return s
}

// whatChanged says what differs in the changes of company id, whose fingerprint
// was before and is now: "created" or "deleted" when it came or went meanwhile,
// else the fields whose change differs, and "container" when its ungroup or group
// does; none when only what the plan leaves alone changed.
func whatChanged(id, was, is string, saved, fresh []plan.JSONChange) []string {
	switch {
	case was == plan.Absent && is != plan.Absent:
		return []string{"created"}
	case was != plan.Absent && was != "" && is == plan.Absent:
		return []string{"deleted"}
	}
	before, after := changeParts(id, saved), changeParts(id, fresh)
	var out []string
	for _, part := range sortedSet(slices.Concat(slices.Collect(maps.Keys(before)), slices.Collect(maps.Keys(after)))) {
		if before[part] != after[part] {
			out = append(out, part)
		}
	}
	return out
}

// changeParts returns what the changes of company id say, by part: each field of
// its create or update, and "container" for its ungroup and group.
func changeParts(id string, changes []plan.JSONChange) map[string]string {
	parts := map[string]string{}
	for _, c := range changes {
		if c.Company != id {
			continue
		}
		for name, v := range c.Settings {
			parts[name] = string(v)
		}
		for name, f := range c.Fields {
			parts[name] = string(f.Before) + " -> " + string(f.After)
		}
		if c.Action == plan.Ungroup || c.Action == plan.Group {
			parts["container"] += string(c.Action) + " " + c.Target + ";"
		}
	}
	return parts
}

// possible returns whether a plan of inv, with prune as saved, could hold a change,
// whatever the server holds: a delete of a company inv does not manage and
// prune.match selects; a create or an update of one it manages, of fields the field
// table knows (and the name); an ungroup of one it manages; a group of one it
// manages into the container of one it puts in the same container.
func possible(inv *inventory.Inventory, prune bool) func(plan.JSONChange) bool {
	known := func(name string) bool { _, ok := apiclient.LookupField(name); return ok || name == "name" }
	return func(c plan.JSONChange) bool {
		_, managed := inv.Company(c.Company)
		switch c.Action {
		case plan.Delete:
			return !managed && prune && inv.Prune != nil && inv.Prune.MatchString(c.Company)
		case plan.Create, plan.Update:
			for name := range c.Settings {
				if !known(name) {
					return false
				}
			}
			for name := range c.Fields {
				if !known(name) {
					return false
				}
			}
			return managed
		case plan.Ungroup:
			return managed
		case plan.Group:
			return managed && slices.ContainsFunc(inv.Containers, func(box inventory.Container) bool {
				return slices.Contains(box.Members, c.Company) && slices.Contains(box.Members, c.Target)
			})
		}
		return false
	}
}

// changeKey names a change: its action, company and target.
func changeKey(c plan.JSONChange) string { return string(c.Action) + " " + c.Company + " " + c.Target }

// canonical is a change's JSON, compact, for comparing a saved change with a fresh one.
func canonical(c plan.JSONChange) string {
	b, err := json.Marshal(c)
	if err != nil {
		return "invalid: " + err.Error()
	}
	return string(b)
}

func sortedSet(ids []string) []string { return slices.Compact(slices.Sorted(slices.Values(ids))) }
