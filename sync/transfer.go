package sync

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	stdsync "sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// A transfer is the end of "create on B, verify, delete on A", which migrate and a
// fleet's moves share: companies were copied from a server A, the source, to others,
// and each is deleted from A once it is verified where it went, unless it changed on
// A since A was read. Deleting a company that changed would lose its change.
type transfer struct {
	source   Source
	snapshot *state.State // the source as read when the copies were planned
	// reread is what the source is read again with before the deletes
	// (state.Read): with carryContainers, the copies' inventory, so that their
	// containers are read.
	reread *inventory.Inventory
	copies []string // the companies copied from the source
	// unverified says why a copy is not held as it should be where it was copied to,
	// as the caller verified it (migrate compares the target read back with the
	// snapshot; a fleet plans each target again and requires nothing left); a copy
	// it does not name is verified.
	unverified  map[string]string
	containers  containerPolicy
	parallelism int          // requests in flight on the source, and groups deleted at once
	logger      *slog.Logger // a line for each delete
}

// containerPolicy says whether companies copied from the source carry its
// containers: it decides which companies are deleted together, and whether a
// company whose container changed on the source since it was read is kept.
type containerPolicy int

const (
	// carryContainers: a container is copied whole, its members with it (migrate
	// copies the companies selected with their container partners). A container's
	// members are deleted together, or kept together; a company whose container
	// changed on the source is kept, since its copy does not hold the change.
	carryContainers containerPolicy = iota
	// leaveContainers: the source's containers are its own inventory's business (a
	// fleet's moves: the partners a company leaves are ungrouped or kept as the
	// source's inventory says). Each company is deleted alone, and a change of its
	// container alone is no change: the source's own plan, applied in the same run
	// before the deletes, may have regrouped it.
	leaveContainers
)

// deleteGrace is how long the deletes of a group that has started go on after an
// interrupt, so that a group is not left half deleted.
const deleteGrace = 15 * time.Second

// What became of a copied company on its source.
const (
	sourceDeleted = "deleted"
	sourceKept    = "kept"
	sourceFailed  = "failed" // its delete failed
)

// sourceOutcome is what became of a copied company on its source.
type sourceOutcome struct {
	action   string // sourceDeleted, sourceKept or sourceFailed
	verified bool   // it was verified where it was copied to; when not, note says why
	note     string // why it was kept, or why its delete failed
}

// run finishes the transfer, one group at a time (a container's members with
// carryContainers, each company alone with leaveContainers): it keeps every group
// with a company not verified; reads the source again, unless no group is left,
// and keeps every group with a company that changed there since the snapshot; and
// deletes the rest (deleteGroups). It returns what became of each copy, and the
// error of the read when the source could not be read again: then nothing was
// deleted.
func (t *transfer) run(ctx context.Context) (map[string]sourceOutcome, error) {
	out := map[string]sourceOutcome{}
	var verified [][]string
	var ids []string
	for _, group := range t.groups() {
		if id, why := firstNamed(group, t.unverified); why != "" {
			if len(group) > 1 {
				why = "kept with its container: " + id + " is not verified: " + why
			}
			keep(out, group, false, why)
			continue
		}
		verified = append(verified, group)
		ids = append(ids, group...)
	}
	if len(verified) == 0 {
		return out, nil
	}
	fresh, err := state.Read(ctx, t.source, t.reread, t.parallelism)
	if err != nil {
		for _, group := range verified {
			keep(out, group, true, "not deleted: the source could not be read again: "+err.Error())
		}
		return out, err
	}
	changed := t.changedSince(fresh, ids)
	var toDelete [][]string
	for _, group := range verified {
		id, why := firstNamed(group, changed)
		switch {
		case why == "":
			toDelete = append(toDelete, group)
		case len(group) > 1:
			keep(out, group, true, fmt.Sprintf("kept with its container: %s %s; run again", id, why))
		default:
			keep(out, group, true, fmt.Sprintf("kept: %s %s; run again", id, why))
		}
	}
	t.deleteGroups(ctx, toDelete, out)
	return out, nil
}

// groups returns the copies as they are deleted, together or alone, in the order
// of the copies. A group holds copies only.
func (t *transfer) groups() [][]string {
	copied := map[string]bool{}
	for _, id := range t.copies {
		copied[id] = true
	}
	together := func(id string) []string { return []string{id} }
	if t.containers == carryContainers {
		together = state.SideOf(t.snapshot).Mates
	}
	var groups [][]string
	grouped := map[string]bool{}
	for _, id := range t.copies {
		if grouped[id] {
			continue
		}
		var group []string
		for _, member := range together(id) {
			if copied[member] {
				group = append(group, member)
				grouped[member] = true
			}
		}
		groups = append(groups, group)
	}
	return groups
}

// changedSince says, for each of ids that changed on the source since the snapshot
// (fresh is the source read again), what changed: its name, its settings, whether
// it is there at all, and with carryContainers its container.
func (t *transfer) changedSince(fresh *state.State, ids []string) map[string]string {
	changed := map[string]string{}
	for _, d := range state.Compare(state.SideOf(t.snapshot), state.SideOf(fresh), ids) {
		switch {
		case d.Kind == state.OnlyFrom:
			changed[d.Company] = "is no longer on the source"
		case t.containers == leaveContainers && len(d.Fields) == 0:
			// only its container differs: the source's own plan may have regrouped it
		default:
			changed[d.Company] = "changed on the source since it was read (" + strings.Join(d.What(), ", ") + ")"
		}
	}
	return changed
}

// firstNamed returns the first company of group that reasons names, with its reason.
func firstNamed(group []string, reasons map[string]string) (id, why string) {
	for _, id := range group {
		if reasons[id] != "" {
			return id, reasons[id]
		}
	}
	return "", ""
}

// keep records every company of group as kept on the source.
func keep(out map[string]sourceOutcome, group []string, verified bool, note string) {
	for _, id := range group {
		out[id] = sourceOutcome{action: sourceKept, verified: verified, note: note}
	}
}

// deleteGroups deletes the groups from the source, at most parallelism groups at
// once, each group's companies one after the other, and records what became of
// them in out. A group whose deletes started is finished (within deleteGrace)
// after an interrupt, and stops at its first failure: a group half deleted would
// be copied apart by a later run.
func (t *transfer) deleteGroups(ctx context.Context, groups [][]string, out map[string]sourceOutcome) {
	work, stopWork := graceful(ctx, deleteGrace) // a deadline (--timeout) ends them at once
	defer stopWork()

	var mu stdsync.Mutex
	record := func(id, action, note string) {
		mu.Lock()
		defer mu.Unlock()
		out[id] = sourceOutcome{action: action, verified: true, note: note}
	}
	var g errgroup.Group
	g.SetLimit(max(t.parallelism, 1))
	for _, group := range groups {
		g.Go(func() error {
			if ctx.Err() != nil { // interrupted while it waited for a slot
				for _, id := range group {
					record(id, sourceKept, "interrupted before it was deleted")
				}
				return nil
			}
			failed := ""
			for _, id := range group {
				if failed != "" {
					record(id, sourceKept, "not deleted: the delete of "+failed+" failed")
					continue
				}
				err := t.source.DeleteConfirmed(work, id)
				attrs := []slog.Attr{slog.String("action", "delete"), slog.String("company", id), slog.String("side", "source")}
				if err != nil {
					failed = id
					record(id, sourceFailed, err.Error())
					t.logger.LogAttrs(ctx, slog.LevelWarn, "change", append(attrs, slog.String("status", string(Failed)), slog.String("error", err.Error()))...)
					continue
				}
				record(id, sourceDeleted, "")
				t.logger.LogAttrs(ctx, slog.LevelInfo, "change", append(attrs, slog.String("status", string(OK)))...)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// checkAdoptions reads again, on both servers, each company that a move adopts on
// PBX to (one held by both, a move half done), just before to's plan writes to it:
// the servers may have changed since the plan. It returns the conflicts of the
// copies that are no longer what a move could have written
// (plan.AdoptionConflicts), or why a copy could not be read, is gone, or no longer
// holds on the old PBX what the move carries. Either way, to must not be written.
func checkAdoptions(ctx context.Context, servers map[string]Client, to string, moves []plan.Move) ([]plan.Conflict, error) {
	var conflicts []plan.Conflict
	for _, mv := range moves {
		if mv.To != to || !mv.Adopt {
			continue
		}
		there, err := lookUp(ctx, servers[mv.To], mv.To, mv.Company)
		if err != nil {
			return nil, err
		}
		held, err := lookUp(ctx, servers[mv.From], mv.From, mv.Company)
		if err != nil {
			return nil, err
		}
		if !carries(mv, held) {
			return nil, fmt.Errorf("%s changed on %s since the plan: its adoption waits for the next run", mv.Company, mv.From)
		}
		if fields := plan.AdoptionConflicts(there, held, mv.Want); len(fields) > 0 {
			conflicts = append(conflicts, plan.Conflict{Company: mv.Company, From: mv.From, To: mv.To, Fields: fields})
		}
	}
	return conflicts, nil
}

// lookUp reads company id on PBX pbx, for checkAdoptions: an error when it is gone.
func lookUp(ctx context.Context, c Client, pbx, id string) (apiclient.Company, error) {
	got, exists, err := c.Lookup(ctx, id)
	switch {
	case err != nil:
		return got, fmt.Errorf("%s could not be read again on %s before its adoption: %w", id, pbx, err)
	case !exists:
		return got, fmt.Errorf("%s is no longer on %s: its adoption is planned again by the next run", id, pbx)
	}
	return got, nil
}

// carries reports whether held, the company on the move's old PBX as read now,
// still holds what the move carries: every field of the table as the plan read it.
func carries(mv plan.Move, held apiclient.Company) bool {
	for name, v := range held.Settings.All() {
		if _, known := apiclient.LookupField(name); known && !apiclient.Equal(name, v, mv.Carried.Get(name)) {
			return false
		}
	}
	return true
}
