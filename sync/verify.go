package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/state"
)

// verification is what verify found: what to try again, and what the server did not
// keep.
type verification struct {
	retry       []plan.Change       // for a repair round, in plan order
	drift       []Drift             // values written with success that the server does not show
	containerOf map[string][]string // the containers read, by company; nil when none may be read
}

// verify checks what the changes of every round so far did, and returns what is left
// to do. When it cannot read back what it must, it returns the error with what it
// knows is left to do all the same (the changes that failed). It reads no more than it must (every request earns its place):
//   - fields: the answer of an update (and of a create's settings) is the company as
//     the server holds it after the change, so a field written with success that the
//     answer does not show is drift (a feature switch the server ignored), found
//     without a read; writing it again would change nothing;
//   - grouping: only the containers that a group, ungroup or create touched are read
//     back: those of the companies of such changes and of their desired mates, and of
//     every managed company found in a container read on the way (a server that moves
//     whole containers may have moved it); grouping is then planned again over them;
//   - deletes: each company deleted with success is looked up once;
//   - a change that failed, was skipped or did not run is tried again as it was,
//     except groups and ungroups, which are planned again from what was read.
//
// Deletes are never planned again from what was read: a repair round deletes only
// what the reviewed plan named (spec/cli.md, "Saved plans").
func verify(ctx context.Context, c Client, p *plan.Plan, results []Result, parallelism int) (verification, error) {
	outcomes := (&Report{Results: results}).Outcomes()
	var v verification
	created := map[string]bool{} // companies created with success in some round
	deleted := map[string]bool{}
	done := map[string]bool{} // the changes that ended ok, by key
	for _, res := range outcomes {
		if res.Status == OK {
			done[key(res.Change)] = true
		}
	}
	var failedCreates []Result
	for _, res := range outcomes {
		switch {
		case res.Status == Failed && res.Action == plan.Create:
			failedCreates = append(failedCreates, res)
		case res.Status != OK && res.Action != plan.Group && res.Action != plan.Ungroup:
			v.retry = append(v.retry, res.Change)
		case res.Status == OK && res.Action == plan.Create:
			created[res.Company] = true
		case res.Status == OK && res.Action == plan.Delete:
			deleted[res.Company] = true
		}
	}
	v.drift = drift(results)

	retried, exist, err := settleCreates(ctx, c, failedCreates, done, parallelism)
	if err != nil {
		return v, err
	}
	v.retry = append(v.retry, retried...)
	for _, id := range exist {
		created[id] = true
	}
	// A group that waited for a create tried again goes with it, as it was, so that
	// no round is lost between the two.
	recreated := map[string]bool{}
	for _, ch := range retried {
		if ch.Action == plan.Create {
			recreated[ch.Company] = true
		}
	}
	for _, res := range outcomes {
		if res.Action == plan.Group && res.Status != OK && (recreated[res.Company] || recreated[res.Target]) {
			v.retry = append(v.retry, res.Change)
		}
	}

	again, err := lookUpDeleted(ctx, c, p, deleted, parallelism)
	if err != nil {
		return v, err
	}
	v.retry = append(v.retry, again...)

	if p.ContainerOf != nil {
		absent := func(id string) bool { return deleted[id] || (p.Fingerprints[id] == plan.Absent && !created[id]) }
		groups, containerOf, err := regroup(ctx, c, p.Desired, outcomes, absent, parallelism)
		if err != nil {
			return v, err
		}
		v.retry, v.containerOf = append(v.retry, groups...), containerOf
	}
	plan.SortChanges(v.retry)
	return v, nil
}

// drift compares the last answer of each company's successful writes with what
// they wrote: a field (or the name) that the answer does not show was not kept.
func drift(results []Result) []Drift {
	kept := map[string]Result{} // company -> its last successful write with an answer
	var order []string
	written := map[string]map[string]apiclient.Value{} // company -> fields written with success
	for _, res := range results {
		if res.Status != OK {
			continue
		}
		if res.kept != nil {
			if _, seen := kept[res.Company]; !seen {
				order = append(order, res.Company)
			}
			kept[res.Company] = res
		}
		if res.Action == plan.Update || res.Action == plan.Create {
			if written[res.Company] == nil {
				written[res.Company] = map[string]apiclient.Value{}
			}
			for name, f := range res.Fields {
				written[res.Company][name] = f.After
			}
		}
	}
	var out []Drift
	for _, id := range order {
		got := *kept[id].kept
		for _, name := range slices.Sorted(maps.Keys(written[id])) {
			want := written[id][name]
			switch {
			case name == "name" && got.Name != want.Text():
				out = append(out, Drift{Company: id, Field: name, Want: want.JSON(), Got: apiclient.String(got.Name).JSON()})
			case name != "name" && !apiclient.Equal(name, got.Settings.Get(name), want):
				out = append(out, Drift{Company: id, Field: name,
					Want: apiclient.Display(name, want), Got: apiclient.Display(name, got.Settings.Get(name))})
			}
		}
	}
	return out
}

// settleCreates decides what to try again for each create that failed: the create,
// when the company is not there; else an update of its settings (a create whose
// settings were not written, or whose answer was lost), unless one succeeded already.
// It reads back only the companies whose failure leaves that unknown, and returns
// the companies that exist.
func settleCreates(ctx context.Context, c Client, failed []Result, done map[string]bool, parallelism int) ([]plan.Change, []string, error) {
	var mu sync.Mutex
	var retry []plan.Change
	var exist []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, res := range failed {
		g.Go(func() error {
			there := res.kept != nil // created, its settings not written
			if !there {
				var err error
				if _, there, err = c.Lookup(gctx, res.Company); err != nil {
					return fmt.Errorf("read back %q: %w", res.Company, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			update := plan.Change{Action: plan.Update, Company: res.Company, ForcedDescription: res.Description, Fields: res.Fields}
			switch {
			case !there:
				retry = append(retry, res.Change)
			case len(res.Fields) > 0 && !done[key(update)]:
				retry = append(retry, update)
				exist = append(exist, res.Company)
			default:
				exist = append(exist, res.Company)
			}
			return nil
		})
	}
	return retry, exist, g.Wait()
}

// lookUpDeleted reads each company deleted with success, and returns a delete of the
// plan again for each one that is still there.
func lookUpDeleted(ctx context.Context, c Client, p *plan.Plan, deleted map[string]bool, parallelism int) ([]plan.Change, error) {
	var mu sync.Mutex
	var again []plan.Change
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, ch := range p.Changes {
		if ch.Action != plan.Delete || !deleted[ch.Company] {
			continue
		}
		g.Go(func() error {
			_, exists, err := c.Lookup(gctx, ch.Company)
			if err != nil {
				return fmt.Errorf("read back %q: %w", ch.Company, err)
			}
			if exists {
				mu.Lock()
				defer mu.Unlock()
				again = append(again, ch)
			}
			return nil
		})
	}
	return again, g.Wait()
}

// regroup reads back the containers that the grouping changes touched and plans
// their grouping again, from the plan's desired grouping. It returns the groups and
// ungroups still to make, and the containers read, by company.
func regroup(ctx context.Context, c Client, desired plan.DesiredGrouping, outcomes []Result, absent func(string) bool, parallelism int) ([]plan.Change, map[string][]string, error) {
	rb := &readBack{desired: desired, absent: absent, scope: map[string]bool{}}
	for _, res := range outcomes {
		if res.Action == plan.Group || res.Action == plan.Ungroup || res.Action == plan.Create {
			for _, id := range []string{res.Target, res.Company} {
				if id != "" {
					rb.add(id)
				}
			}
		}
	}
	st, err := rb.read(ctx, c, parallelism)
	if err != nil {
		return nil, nil, err
	}
	again, containerOf := desired.Replan(st, rb.scope)
	var groups []plan.Change
	for _, ch := range again {
		_, moverRead := st.Companies[ch.Company]
		_, targetRead := st.Companies[ch.Target]
		if moverRead && (ch.Target == "" || targetRead) {
			groups = append(groups, ch)
		}
	}
	return groups, containerOf, nil
}

// readBack is what regroup reads: the companies whose grouping it plans again
// (scope), and those of them whose containers are still to read (queue).
type readBack struct {
	desired plan.DesiredGrouping
	absent  func(string) bool // deleted, or never created
	scope   map[string]bool
	queue   []string
}

// add puts id and its desired mates in scope, so that a desired group keeps all its
// members, and queues those that are there to read.
func (rb *readBack) add(id string) {
	for _, m := range append([]string{id}, rb.desired[id]...) {
		if rb.scope[m] {
			continue
		}
		rb.scope[m] = true
		if !rb.absent(m) {
			rb.queue = append(rb.queue, m)
		}
	}
}

// read reads the containers of the companies queued, then of the managed companies
// found in them, until it finds no new one, and returns what it read: the companies
// read (each by its id alone) and their containers.
func (rb *readBack) read(ctx context.Context, c Client, parallelism int) (*state.State, error) {
	// The companies to read exist (they are not absent): what ReadContainers needs to
	// know of them before their containers tell the rest.
	st := state.New(nil, nil)
	for id := range rb.scope {
		if !rb.absent(id) {
			st.Companies[id] = apiclient.Company{ID: id}
		}
	}
	waves := rb.firstWaves()
	for len(waves) > 0 {
		if err := readContainers(ctx, c, st, parallelism, waves); err != nil {
			return nil, err
		}
		// A server that moves whole containers may have moved a managed company into
		// a container read: its own desired mates are read next.
		rb.queue = nil
		for _, members := range st.Containers {
			for _, id := range members {
				if _, managed := rb.desired[id]; managed {
					rb.add(id)
				}
			}
		}
		for _, id := range rb.queue {
			if _, known := st.Companies[id]; !known {
				st.Companies[id] = apiclient.Company{ID: id}
			}
		}
		waves = nil
		if len(rb.queue) > 0 {
			waves = [][]string{rb.queue}
		}
	}
	return st, nil
}

// firstWaves splits the queue in two: one company of each desired group first (a
// group's target, where its mover should now be), the others once those answers are
// in: most are covered by then.
func (rb *readBack) firstWaves() [][]string {
	var first, rest []string
	for _, id := range rb.queue {
		lead := id
		if ms := rb.desired[id]; len(ms) > 0 {
			lead = ms[slices.IndexFunc(ms, func(m string) bool { return rb.scope[m] && !rb.absent(m) })]
		}
		if lead == id {
			first = append(first, id)
		} else {
			rest = append(rest, id)
		}
	}
	return [][]string{first, rest}
}

// readContainers reads the containers of waves into st. The companies read exist
// (they were just written, or read): a container that could not be read is asked
// for again, twice, before verification gives up.
func readContainers(ctx context.Context, c Client, st *state.State, parallelism int, waves [][]string) error {
	if err := state.ReadContainers(ctx, c, st, parallelism, waves...); err != nil {
		return err
	}
	for try := 0; try < 2 && len(st.Unread) > 0; try++ {
		unread := slices.Sorted(maps.Keys(st.Unread))
		clear(st.Unread)
		if err := state.ReadContainers(ctx, c, st, parallelism, unread); err != nil {
			return err
		}
	}
	if len(st.Unread) > 0 {
		id := slices.Min(slices.Collect(maps.Keys(st.Unread)))
		return fmt.Errorf("read back the container of %q: %w", id, st.Unread[id])
	}
	return nil
}
