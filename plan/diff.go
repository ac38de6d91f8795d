package plan

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
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
// inventory or on the server, and their container partners, transitively; and for
// each partner, the companies named or matched that brought it in, sorted.
func (o Options) chosen(inv *inventory.Inventory, st *state.State) (chosen map[string]bool, partnerOf map[string][]string, err error) {
	var re *regexp.Regexp
	if o.Match != "" {
		if re, err = regexp.Compile(o.Match); err != nil {
			return nil, nil, fmt.Errorf("--match: %w", err)
		}
	}
	chosen = map[string]bool{}
	for _, id := range o.Companies {
		_, inInventory := inv.Company(id)
		_, onServer := st.Companies[id]
		if !inInventory && !onServer {
			return nil, nil, fmt.Errorf("company %q is neither in the inventory nor on the server", id)
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
	maps.DeleteFunc(chosen, func(_ string, yes bool) bool { return !yes })
	var groups [][]string
	for _, c := range inv.Containers {
		groups = append(groups, c.Members)
	}
	for _, members := range st.Containers {
		groups = append(groups, members)
	}
	set := partnerSets(groups)
	brought := map[string][]string{} // by partner set: the companies chosen in it
	for _, id := range slices.Sorted(maps.Keys(chosen)) {
		if first, grouped := set[id]; grouped {
			brought[first] = append(brought[first], id)
		}
	}
	partnerOf = map[string][]string{}
	for id, first := range set {
		if by := brought[first]; len(by) > 0 && !chosen[id] {
			partnerOf[id] = by
		}
	}
	for id := range partnerOf {
		chosen[id] = true
	}
	return chosen, partnerOf, nil
}

// partnerSets returns, for each company in one of groups, the first company (in
// name order) of its partner set: the companies that share a group with it, and
// those that share one with them, and so on.
func partnerSets(groups [][]string) map[string]string {
	in := map[string][]int{} // company -> the groups it is in
	for i, members := range groups {
		for _, id := range members {
			in[id] = append(in[id], i)
		}
	}
	set := map[string]string{}
	done := make([]bool, len(groups))
	for _, first := range slices.Sorted(maps.Keys(in)) {
		if _, seen := set[first]; seen {
			continue
		}
		set[first] = first
		for queue := []string{first}; len(queue) > 0; queue = queue[1:] {
			for _, g := range in[queue[0]] {
				if done[g] {
					continue
				}
				done[g] = true
				for _, id := range groups[g] {
					if _, seen := set[id]; !seen {
						set[id] = first
						queue = append(queue, id)
					}
				}
			}
		}
	}
	return set
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
// *DeleteBudgetError. The plan carries what apply writes, and what verification
// compares with, so that neither reads the inventory again.
func Diff(inv *inventory.Inventory, st *state.State, opts Options) (*Plan, error) {
	return diff(inv, st, opts, nil)
}

// diff is Diff, leaving alone the companies held (with why; a fleet's conflicts)
// and those the inventory groups them with (NotPlanned).
func diff(inv *inventory.Inventory, st *state.State, opts Options, held map[string]string) (*Plan, error) {
	p := &Plan{NotPlanned: notPlanned(inv, st, held)}
	p.diffCompanies(inv, st)
	p.diffUnmanaged(inv, st, opts.Prune)
	var mates map[string][]string
	if st.Grouping {
		mates = p.diffGrouping(inv, st)
	} else {
		p.Warnings = append(p.Warnings, "containers not checked: these credentials may not read them (a company administrator's)")
		if n := p.Count()[Create]; n > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s planned, but a company administrator cannot tell an absent company from one it may not read, and may not create companies", plural(n, "create", "creates")))
		}
	}

	if opts.Partial() {
		chosen, partnerOf, err := opts.chosen(inv, st)
		if err != nil {
			return nil, err
		}
		p.Partial = true
		p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return !chosen[c.Company] || c.Target != "" && !chosen[c.Target] })
		for i, c := range p.Changes {
			p.Changes[i].PartnerOf = partnerOf[c.Company]
		}
		maps.DeleteFunc(p.NotPlanned, func(id, _ string) bool { return !chosen[id] })
	}
	SortChanges(p.Changes)
	if st.Grouping {
		p.ContainerOf = containersByCompany(st.Containers)
		p.Desired = desiredGrouping(inv, mates, p.ContainerOf, p.Changes, p.NotPlanned)
	}
	p.Fingerprints = Fingerprints(inv, st, p.Touched())
	if n := p.Count()[Delete]; n > opts.MaxDelete {
		return p, &DeleteBudgetError{Deletes: n, Max: opts.MaxDelete}
	}
	return p, nil
}

// diffCompanies plans the creates of the inventory's companies the server lacks, and
// the updates of those it holds otherwise; not those of companies not planned.
func (p *Plan) diffCompanies(inv *inventory.Inventory, st *state.State) {
	for _, want := range inv.Companies {
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
			p.Changes = append(p.Changes, Change{Action: Update, Company: want.ID, ForcedDescription: want.Description, Fields: fields})
		}
	}
}

// diffUnmanaged lists the server's companies that the inventory does not name, and
// with prune plans the deletes of those prune.match selects instead.
func (p *Plan) diffUnmanaged(inv *inventory.Inventory, st *state.State, prune bool) {
	for _, id := range slices.Sorted(maps.Keys(st.Companies)) {
		if _, managed := inv.Company(id); managed {
			continue
		}
		if prune && inv.Prune != nil && inv.Prune.MatchString(id) {
			p.Changes = append(p.Changes, Change{Action: Delete, Company: id})
			continue // deleted, not left alone
		}
		p.Unmanaged = append(p.Unmanaged, id)
	}
	if prune && inv.Prune == nil {
		p.Warnings = append(p.Warnings, "--prune deletes nothing: the inventory has no prune.match")
	}
}

// diffGrouping plans the ungroups and groups that put the inventory's companies in
// the containers it asks for. A company not planned is in no desired group: it is
// never moved. It returns the members of each desired container, by company.
func (p *Plan) diffGrouping(inv *inventory.Inventory, st *state.State) (mates map[string][]string) {
	current := maps.Clone(st.Containers)
	var desired [][]string
	mates = map[string][]string{}
	for _, c := range inv.Containers {
		for _, id := range c.Members {
			mates[id] = c.Members
		}
		if _, held := p.NotPlanned[c.Members[0]]; !held { // a held company's partners are held too
			desired = append(desired, c.Members)
		}
	}
	for _, want := range inv.Companies {
		if _, held := p.NotPlanned[want.ID]; held {
			continue
		}
		if _, exists := st.Companies[want.ID]; !exists {
			current[newContainer+want.ID] = []string{want.ID}
		}
		if mates[want.ID] == nil {
			desired = append(desired, []string{want.ID})
		}
	}
	changes, warnings := planGrouping(current, desired, func(id string) bool { _, managed := inv.Company(id); return managed })
	p.Changes = append(p.Changes, changes...)
	p.Warnings = append(p.Warnings, warnings...)
	return mates
}

// containersByCompany returns the members of each container, by company.
func containersByCompany(containers map[string][]string) map[string][]string {
	of := map[string][]string{}
	for _, members := range containers {
		for _, id := range members {
			of[id] = members
		}
	}
	return of
}

// desiredGrouping returns the inventory's grouping of the companies whose
// containers changes may touch: the companies that a group, an ungroup or a create
// names, and, transitively, the members of their desired containers and of their
// containers as read (containerOf), whom a server that moves whole containers
// moves along. Verification reads back no company beyond these, and regroups none
// that is held (not planned).
func desiredGrouping(inv *inventory.Inventory, mates, containerOf map[string][]string, changes []Change, held map[string]string) DesiredGrouping {
	desired := DesiredGrouping{}
	seen := map[string]bool{}
	var queue []string
	visit := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			queue = append(queue, id)
		}
	}
	for _, ch := range changes {
		if ch.Action == Group || ch.Action == Ungroup || ch.Action == Create {
			visit(ch.Company)
			visit(ch.Target)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if _, managed := inv.Company(id); managed && held[id] == "" {
			desired[id] = mates[id]
		}
		for _, m := range mates[id] {
			visit(m)
		}
		for _, m := range containerOf[id] {
			visit(m)
		}
	}
	copies := map[string][]string{} // by first member: the plan's own, unchanged by changes to the inventory
	for id, members := range desired {
		if len(members) > 0 {
			if copies[members[0]] == nil {
				copies[members[0]] = slices.Clone(members)
			}
			desired[id] = copies[members[0]]
		}
	}
	return desired
}

// Replan plans again the ungroups and groups that give the companies of scope that
// d holds their desired containers, from st: their containers as read back, where a
// company st lacks is absent and would be created alone. It returns the changes in
// plan order, and the members of each container read, by company.
func (d DesiredGrouping) Replan(st *state.State, scope map[string]bool) ([]Change, map[string][]string) {
	current := maps.Clone(st.Containers)
	var desired [][]string
	first := map[string]bool{} // the desired containers listed, by their first member
	for _, id := range slices.Sorted(maps.Keys(scope)) {
		members, managed := d[id]
		if !managed {
			continue
		}
		if _, exists := st.Companies[id]; !exists {
			current[newContainer+id] = []string{id}
		}
		switch {
		case len(members) == 0:
			desired = append(desired, []string{id})
		case !first[members[0]]:
			first[members[0]] = true
			desired = append(desired, members)
		}
	}
	changes, _ := planGrouping(current, desired, func(id string) bool { _, managed := d[id]; return managed && scope[id] })
	SortChanges(changes)
	return changes, containersByCompany(st.Containers)
}

// SortChanges puts changes in plan order: by action as Actions lists them (deletes on
// top), then by company.
func SortChanges(changes []Change) {
	slices.SortStableFunc(changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(slices.Index(Actions, a.Action), slices.Index(Actions, b.Action)), strings.Compare(a.Company, b.Company))
	})
}

// notPlanned returns the companies of the inventory that a plan must leave alone,
// with the reason: those whose container could not be read, those held (diff),
// and the companies the inventory groups with them (their grouping cannot be
// planned without them).
func notPlanned(inv *inventory.Inventory, st *state.State, held map[string]string) map[string]string {
	if len(st.Unread) == 0 && len(held) == 0 {
		return nil
	}
	out := maps.Clone(held)
	if out == nil {
		out = map[string]string{}
	}
	for id, err := range st.Unread {
		out[id] = "its container could not be read: " + err.Error()
	}
	for _, c := range inv.Containers {
		for _, id := range c.Members {
			why := ""
			if _, unread := st.Unread[id]; unread {
				why = fmt.Sprintf("the container of %s, which the inventory groups it with, could not be read", id)
			} else if held[id] != "" {
				why = fmt.Sprintf("held with %s, which the inventory groups it with and the plan leaves alone", id)
			}
			if why == "" {
				continue
			}
			for _, mate := range c.Members {
				if _, done := out[mate]; !done {
					out[mate] = why
				}
			}
			break
		}
	}
	return out
}

// fieldChanges compares the managed fields and the name, through the field table.
func fieldChanges(want inventory.Company, have apiclient.Company) map[string]FieldChange {
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
