package plan

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Options change what a plan may contain.
type Options struct {
	Prune     bool // plan deletes of absent companies that prune.match selects
	MaxDelete int  // more deletes than this make Diff return a *DeleteBudgetError
	// Companies and Match (a regular expression over company-ids) make a partial
	// plan, like terraform's -target: only the changes of these companies and of
	// their container partners, in the inventory and on the server.
	Companies []string
	Match     string
}

// Partial reports whether the options choose companies.
func (o Options) Partial() bool { return len(o.Companies) > 0 || o.Match != "" }

// chosen returns the companies a partial plan keeps: those named or matched, in the
// inventory or on the server, and their container partners, transitively.
func (o Options) chosen(inv *Inventory, st *State) (map[string]bool, error) {
	var re *regexp.Regexp
	if o.Match != "" {
		var err error
		if re, err = regexp.Compile(o.Match); err != nil {
			return nil, fmt.Errorf("--match: %w", err)
		}
	}
	chosen := map[string]bool{}
	for _, id := range o.Companies {
		_, inInventory := inv.Company(id)
		_, onServer := st.Companies[id]
		if !inInventory && !onServer {
			return nil, fmt.Errorf("company %q is neither in the inventory nor on the server", id)
		}
		chosen[id] = true
	}
	if re != nil {
		for _, c := range inv.Companies {
			chosen[c.ID] = chosen[c.ID] || re.MatchString(c.ID)
		}
		for id := range st.Companies {
			chosen[id] = chosen[id] || re.MatchString(id)
		}
	}
	var groups [][]string
	for _, c := range inv.Containers {
		groups = append(groups, c.Members)
	}
	for _, members := range st.Containers {
		groups = append(groups, members)
	}
	for grew := true; grew; { // partners of partners
		grew = false
		for _, members := range groups {
			if !slices.ContainsFunc(members, func(id string) bool { return chosen[id] }) {
				continue
			}
			for _, id := range members {
				if !chosen[id] {
					chosen[id], grew = true, true
				}
			}
		}
	}
	for id, yes := range chosen {
		if !yes {
			delete(chosen, id)
		}
	}
	return chosen, nil
}

// DeleteBudgetError refuses a plan with more deletes than allowed, before any write.
type DeleteBudgetError struct {
	Deletes, Max int
}

func (e *DeleteBudgetError) Error() string {
	return fmt.Sprintf("the plan deletes %s, more than --max-delete allows (%d)", plural(e.Deletes, "company", "companies"), e.Max)
}

// newContainer is the key of the container a planned create makes; real container
// names cannot start with it.
const newContainer = "+new:"

// Diff computes the changes that make the server's state match the inventory: creates,
// updates of managed fields, ungroups and groups, and with opts.Prune deletes. When
// there are more deletes than opts.MaxDelete it returns the plan and a
// *DeleteBudgetError.
func Diff(inv *Inventory, st *State, opts Options) (*Plan, error) {
	p := &Plan{NotPlanned: notPlanned(inv, st)}
	managed := make(map[string]bool, len(inv.Companies))
	for _, want := range inv.Companies {
		managed[want.ID] = true
		if _, held := p.NotPlanned[want.ID]; held {
			continue
		}
		have, exists := st.Companies[want.ID]
		if !exists {
			fields := make(map[string]FieldChange, want.Settings.Len())
			for name, v := range want.Settings.All() {
				fields[name] = FieldChange{Before: apiclient.Null(), After: v, Origin: want.Origin[name]}
			}
			p.Changes = append(p.Changes, Change{Action: Create, Company: want.ID, Name: want.Name, Description: want.Description, Fields: fields})
			continue
		}
		if fields := fieldChanges(want, have); len(fields) > 0 {
			p.Changes = append(p.Changes, Change{Action: Update, Company: want.ID, Fields: fields})
		}
	}

	for _, id := range slices.Sorted(maps.Keys(st.Companies)) {
		if managed[id] {
			continue
		}
		if opts.Prune && inv.Prune != nil && inv.Prune.MatchString(id) {
			p.Changes = append(p.Changes, Change{Action: Delete, Company: id})
			continue // deleted, not left alone
		}
		p.Unmanaged = append(p.Unmanaged, id)
	}
	if opts.Prune && inv.Prune == nil {
		p.Warnings = append(p.Warnings, "--prune deletes nothing: the inventory has no prune.match")
	}

	if st.Grouping {
		current := maps.Clone(st.Containers)
		var desired [][]string
		grouped := map[string]bool{}
		for _, c := range inv.Containers {
			for _, id := range c.Members {
				grouped[id] = true
			}
			if _, held := p.NotPlanned[c.Members[0]]; !held { // a held company's partners are held too
				desired = append(desired, c.Members)
			}
		}
		for _, want := range inv.Companies {
			if _, held := p.NotPlanned[want.ID]; held {
				continue // in no desired group: never moved
			}
			if _, exists := st.Companies[want.ID]; !exists {
				current[newContainer+want.ID] = []string{want.ID}
			}
			if !grouped[want.ID] {
				desired = append(desired, []string{want.ID})
			}
		}
		changes, warnings := planGrouping(current, desired, func(id string) bool { return managed[id] })
		p.Changes = append(p.Changes, changes...)
		p.Warnings = append(p.Warnings, warnings...)
	} else {
		p.Warnings = append(p.Warnings, "containers not checked: these credentials may not read them (a company administrator's)")
		if n := p.Count()[Create]; n > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s planned, but a company administrator cannot tell an absent company from one it may not read, and may not create companies", plural(n, "create", "creates")))
		}
	}

	if opts.Partial() {
		chosen, err := opts.chosen(inv, st)
		if err != nil {
			return nil, err
		}
		p.Partial = true
		p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return !chosen[c.Company] || c.Target != "" && !chosen[c.Target] })
		maps.DeleteFunc(p.NotPlanned, func(id, _ string) bool { return !chosen[id] })
	}
	SortChanges(p.Changes)
	containerOf := map[string][]string{}
	for _, members := range st.Containers {
		for _, id := range members {
			containerOf[id] = members
		}
	}
	if st.Grouping {
		p.ContainerOf = containerOf
	}
	p.Fingerprints = map[string]string{}
	for _, id := range p.Touched() {
		have, exists := st.Companies[id]
		if !exists {
			p.Fingerprints[id] = Absent
			continue
		}
		want, _ := inv.Company(id)
		p.Fingerprints[id] = Fingerprint(have, containerOf[id], want)
	}
	if n := p.Count()[Delete]; n > opts.MaxDelete {
		return p, &DeleteBudgetError{Deletes: n, Max: opts.MaxDelete}
	}
	return p, nil
}

// SortChanges puts changes in plan order: by action as Actions lists them (deletes on
// top), then by company.
func SortChanges(changes []Change) {
	slices.SortStableFunc(changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(slices.Index(Actions, a.Action), slices.Index(Actions, b.Action)), strings.Compare(a.Company, b.Company))
	})
}

// notPlanned returns the companies of the inventory that a plan must leave alone,
// with the reason: those whose container could not be read, and the companies the
// inventory groups with them (their grouping cannot be planned without it).
func notPlanned(inv *Inventory, st *State) map[string]string {
	if len(st.Unread) == 0 {
		return nil
	}
	held := map[string]string{}
	for id, err := range st.Unread {
		held[id] = "its container could not be read: " + err.Error()
	}
	for _, c := range inv.Containers {
		for _, id := range c.Members {
			if _, unread := st.Unread[id]; unread {
				for _, mate := range c.Members {
					if _, done := held[mate]; !done {
						held[mate] = fmt.Sprintf("the container of %s, which the inventory groups it with, could not be read", id)
					}
				}
				break
			}
		}
	}
	return held
}

// fieldChanges compares the managed fields and the name, through the field table.
func fieldChanges(want Company, have apiclient.Company) map[string]FieldChange {
	fields := map[string]FieldChange{}
	if have.Name != want.Name {
		fields["name"] = FieldChange{Before: apiclient.String(have.Name), After: apiclient.String(want.Name)}
	}
	for name, after := range want.Settings.All() {
		before := have.Settings.Get(name) // a field this server lacks reads as null
		if !apiclient.Equal(name, before, after) {
			fields[name] = FieldChange{Before: before, After: after, Origin: want.Origin[name]}
		}
	}
	return fields
}
