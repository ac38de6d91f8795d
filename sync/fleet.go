package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	stdsync "sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// FleetApplyOptions tune ApplyFleet.
type FleetApplyOptions struct {
	Parallelism    int // requests in flight on each PBX
	PBXParallelism int // PBXs worked on at once; 0 for all of them
	// Apply applies a PBX's plan, as Apply does (the command adds its progress and
	// logs); it is called at most once for each PBX, from PBXParallelism goroutines.
	Apply  func(ctx context.Context, pbx string, p *plan.Plan) *Report
	Logger *slog.Logger
}

// MoveResult is what became of a move.
type MoveResult struct {
	plan.Move
	Status string // moved or unfinished
	Note   string // why it is unfinished
}

// The statuses of a move.
const (
	Moved      = "moved"
	Unfinished = "unfinished"
)

// FleetReport is the outcome of ApplyFleet: each PBX's apply, each move, and each
// conflict.
type FleetReport struct {
	PBXs   map[string]*Report // the apply of each PBX whose plan had changes
	Failed map[string]error   // the PBXs that could not be read, or whose apply failed: why
	Moves  []MoveResult
	// Conflicts are the plan's conflicts, and the adoptions found to be conflicts
	// when checked again before their write: neither copy was written.
	Conflicts []plan.Conflict
	// Servers names each PBX's server for metrics (the URL's host); set by the caller.
	Servers map[string]string
}

// ApplyFleet applies a fleet plan: each PBX's plan, at most PBXParallelism PBXs at
// once, a PBX's failure leaving the others alone, and none whose adoptions fail
// their check before the write (checkAdoptions); then each move whose new PBX
// holds the company as planned (read back: its name, its settings and its
// container as the new PBX's inventory says) is finished by deleting the company
// from its old PBX, unless it changed there since it was read. A move whose new PBX did not
// apply it, or could not verify it, stays unfinished: the company stays on its old
// PBX, and the next run finishes the move.
func ApplyFleet(ctx context.Context, servers map[string]Client, fp *plan.FleetPlan, snaps map[string]*state.State, opts FleetApplyOptions) *FleetReport {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &FleetReport{PBXs: map[string]*Report{}, Failed: maps.Clone(fp.Failed), Conflicts: slices.Clone(fp.Conflicts)}
	var mu stdsync.Mutex
	var g errgroup.Group
	g.SetLimit(pbxLimit(opts.PBXParallelism))
	for _, name := range fp.Names {
		p := withoutConflicts(name, fp.PBXs[name], fp.Conflicts)
		if p == nil {
			continue
		}
		if p.Empty() && len(p.NotPlanned) == 0 {
			mu.Lock()
			rep.PBXs[name] = &Report{Verified: true} // nothing to do: listed all the same
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			conflicts, err := checkAdoptions(ctx, servers, name, fp.Moves)
			if len(conflicts) > 0 {
				err = errors.New("a company it was to adopt changed since the plan and is now a conflict")
			}
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				rep.Failed[name] = fmt.Errorf("not applied, nothing was written: %w", err)
				rep.Conflicts = append(rep.Conflicts, conflicts...)
				return nil
			}
			r := opts.Apply(ctx, name, p)
			mu.Lock()
			defer mu.Unlock()
			rep.PBXs[name] = r
			if err := r.Err(); err != nil {
				rep.Failed[name] = err
			}
			return nil
		})
	}
	_ = g.Wait()

	// The moves, by the PBX they leave: a transfer from each (finishMoves) reads it
	// again once and deletes its companies one at a time.
	bySource := map[string][]plan.Move{}
	for _, mv := range fp.Moves {
		bySource[mv.From] = append(bySource[mv.From], mv)
	}
	notVerified := verifyMoves(ctx, servers, fp, rep, opts)
	results := map[string]MoveResult{}
	var wg errgroup.Group
	wg.SetLimit(pbxLimit(opts.PBXParallelism))
	for _, from := range slices.Sorted(maps.Keys(bySource)) {
		moves := bySource[from]
		one := opts
		one.Logger = opts.Logger.With("pbx", from)
		wg.Go(func() error {
			done := finishMoves(ctx, servers[from], snaps[from], moves, notVerified, one)
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(results, done)
			return nil
		})
	}
	_ = wg.Wait()
	for _, mv := range fp.Moves {
		rep.Moves = append(rep.Moves, results[mv.Company])
	}
	return rep
}

// verifyMoves reads back each PBX that moves come to, and returns for each move
// why it is not verified ("" when it is): its new PBX holds it as its inventory
// asks, with the settings it carried, and the applies of both its PBXs succeeded.
func verifyMoves(ctx context.Context, servers map[string]Client, fp *plan.FleetPlan, rep *FleetReport, opts FleetApplyOptions) map[string]string {
	byTarget := map[string][]plan.Move{}
	for _, mv := range fp.Moves {
		byTarget[mv.To] = append(byTarget[mv.To], mv)
	}
	why := map[string]string{}
	var mu stdsync.Mutex
	var g errgroup.Group
	g.SetLimit(pbxLimit(opts.PBXParallelism))
	for to, moves := range byTarget {
		g.Go(func() error {
			notes := verifyOn(ctx, servers[to], to, fp, rep.PBXs[to], moves, opts.Parallelism)
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(why, notes)
			return nil
		})
	}
	_ = g.Wait()
	// A PBX whose apply failed (a change failed, not verified, interrupted) keeps its
	// moves for a run where both succeed; companies held elsewhere in its plan do not
	// count against its moves.
	for _, mv := range fp.Moves {
		for _, name := range []string{mv.To, mv.From} {
			r := rep.PBXs[name]
			switch {
			case why[mv.Company] != "":
			case r != nil && (!r.Verified || r.Interrupted):
				why[mv.Company] = name + " did not succeed (" + r.Err().Error() + ")"
			case r == nil && rep.Failed[name] != nil: // not applied at all
				why[mv.Company] = name + " did not succeed (" + rep.Failed[name].Error() + ")"
			}
		}
	}
	return why
}

// verifyOn is verifyMoves for the moves to one PBX.
func verifyOn(ctx context.Context, c Client, to string, fp *plan.FleetPlan, applied *Report, moves []plan.Move, parallelism int) map[string]string {
	why := map[string]string{}
	all := func(note string) map[string]string {
		for _, mv := range moves {
			why[mv.Company] = note
		}
		return why
	}
	if ctx.Err() != nil {
		return all("interrupted before it was verified on " + to)
	}
	if applied != nil {
		bad := map[string]string{}
		for _, res := range applied.Outcomes() {
			if res.Status != OK {
				bad[res.Company] = fmt.Sprintf("its %s on %s %s", res.Action, to, res.Status)
				if res.Target != "" {
					bad[res.Target] = cmp.Or(bad[res.Target], fmt.Sprintf("a group into its container on %s %s", to, res.Status))
				}
			}
		}
		for _, mv := range moves {
			if b := bad[mv.Company]; b != "" {
				why[mv.Company] = b
			}
		}
	}
	inv := fp.Inventories[to]
	fresh, err := state.Read(ctx, c, inv, parallelism)
	if err != nil {
		return all(fmt.Sprintf("%s could not be read back: %v", to, err))
	}
	again, err := plan.Diff(inv, fresh, plan.Options{MaxDelete: len(fresh.Companies)})
	if err != nil {
		return all(fmt.Sprintf("%s could not be compared: %v", to, err))
	}
	left := map[string][]string{}
	for _, ch := range again.Changes {
		for _, id := range []string{ch.Company, ch.Target} {
			if id != "" {
				left[id] = append(left[id], string(ch.Action))
			}
		}
	}
	for _, mv := range moves {
		switch {
		case why[mv.Company] != "":
		case again.NotPlanned[mv.Company] != "":
			why[mv.Company] = fmt.Sprintf("not verified on %s: %s", to, again.NotPlanned[mv.Company])
		case len(left[mv.Company]) > 0:
			why[mv.Company] = fmt.Sprintf("%s does not hold it as planned yet (%s left to do)", to, strings.Join(slices.Compact(slices.Sorted(slices.Values(left[mv.Company]))), ", "))
		}
	}
	return why
}

// finishMoves deletes from their old PBX, c, the moved companies verified on their
// new one (a transfer that leaves containers to c's inventory), and says what
// became of each move.
func finishMoves(ctx context.Context, c Client, snap *state.State, moves []plan.Move, notVerified map[string]string, opts FleetApplyOptions) map[string]MoveResult {
	t := transfer{
		source: c, snapshot: snap,
		reread:     &inventory.Inventory{}, // its companies only: containers are left
		unverified: notVerified, containers: leaveContainers, parallelism: opts.Parallelism, logger: opts.Logger,
	}
	for _, mv := range moves {
		t.copies = append(t.copies, mv.Company)
	}
	done, err := t.run(ctx)
	out := map[string]MoveResult{}
	for _, mv := range moves {
		o := done[mv.Company]
		switch {
		case o.action == sourceDeleted:
			out[mv.Company] = MoveResult{Move: mv, Status: Moved}
		case !o.verified:
			out[mv.Company] = MoveResult{Move: mv, Status: Unfinished, Note: o.note + "; it stays on " + mv.From + " until a run verifies it on " + mv.To}
		case err != nil:
			out[mv.Company] = MoveResult{Move: mv, Status: Unfinished, Note: fmt.Sprintf("verified on %s, but %s could not be read again before the delete: %v", mv.To, mv.From, err)}
		default:
			out[mv.Company] = MoveResult{Move: mv, Status: Unfinished, Note: fmt.Sprintf("verified on %s, not deleted from %s: %s", mv.To, mv.From, o.note)}
		}
	}
	return out
}

// Err says in one line why the fleet run did not succeed, naming each PBX that
// failed, how many moves are unfinished, and each conflict; nil when it did.
func (r *FleetReport) Err() error {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(r.Failed)) {
		parts = append(parts, name+": "+r.Failed[name].Error())
	}
	if len(r.Conflicts) > 0 {
		parts = append(parts, (&plan.ConflictError{Conflicts: r.Conflicts}).Error())
	}
	var unfinished int
	for _, m := range r.Moves {
		if m.Status != Moved {
			unfinished++
		}
	}
	if unfinished > 0 {
		parts = append(parts, countOf(unfinished, "move", "moves")+" unfinished: the next run finishes them")
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// conflicted reports whether a conflict involves PBX pbx, on either side.
func (r *FleetReport) conflicted(pbx string) bool {
	return slices.ContainsFunc(r.Conflicts, func(c plan.Conflict) bool { return c.From == pbx || c.To == pbx })
}

// JSONFleetResult is the fleet run's report: what apply --fleet --json prints and
// --report writes.
type JSONFleetResult struct {
	FormatVersion   int                   `json:"format_version"`
	Kind            string                `json:"kind"` // "fleet"
	PBXs            map[string]JSONResult `json:"pbxs"` // the PBXs applied
	Failed          map[string]string     `json:"failed"`
	Moves           []JSONMoveResult      `json:"moves"`
	Conflicts       []plan.JSONConflict   `json:"conflicts"` // nothing was written to either copy
	DurationSeconds float64               `json:"duration_seconds"`
	Error           string                `json:"error,omitempty"`
}

// JSONMoveResult is what became of a move.
type JSONMoveResult struct {
	Company string `json:"company"`
	From    string `json:"from"`
	To      string `json:"to"`
	Status  string `json:"status"` // moved or unfinished
	Note    string `json:"note,omitempty"`
}

// JSON returns the report's JSON form; err is the run's error.
func (r *FleetReport) JSON(duration time.Duration, err error) JSONFleetResult {
	doc := JSONFleetResult{FormatVersion: ResultFormatVersion, Kind: "fleet", PBXs: map[string]JSONResult{}, Failed: map[string]string{},
		Moves: []JSONMoveResult{}, Conflicts: plan.JSONConflicts(r.Conflicts), DurationSeconds: roundSeconds(duration)}
	for name, rep := range r.PBXs {
		doc.PBXs[name] = rep.JSON()
	}
	for name, e := range r.Failed {
		doc.Failed[name] = apiclient.Printable(strings.Join(strings.Fields(e.Error()), " "))
	}
	for _, m := range r.Moves {
		doc.Moves = append(doc.Moves, JSONMoveResult{Company: m.Company, From: m.From, To: m.To,
			Status: strings.ReplaceAll(m.Status, " ", "_"), Note: apiclient.Printable(m.Note)})
	}
	if err != nil {
		doc.Error = apiclient.Printable(strings.Join(strings.Fields(err.Error()), " "))
	}
	return doc
}

// WriteSummary writes, for a person, each PBX's outcome and each move's.
func (r *FleetReport) WriteSummary(w io.Writer) error {
	b := &strings.Builder{}
	names := slices.Sorted(maps.Keys(r.PBXs))
	for _, name := range slices.Sorted(maps.Keys(r.Failed)) {
		if _, applied := r.PBXs[name]; !applied {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	quiet := len(r.Moves) == 0 && len(r.Conflicts) == 0
	for _, name := range names {
		rep, applied := r.PBXs[name]
		quiet = quiet && applied && len(rep.Results) == 0 && rep.Succeeded()
	}
	if quiet {
		_, err := io.WriteString(w, "No changes on any PBX.\n")
		return err
	}
	for _, name := range names {
		rep, applied := r.PBXs[name]
		switch {
		case applied && len(rep.Results) == 0 && rep.Succeeded():
			fmt.Fprintf(b, "%s: no changes.\n", apiclient.Printable(name))
		case applied:
			n := rep.Counts()
			verified := "verified"
			if !rep.Succeeded() {
				verified = "not verified"
			}
			fmt.Fprintf(b, "%s: %d ok, %d failed, %d skipped, %d not run; %s.\n", apiclient.Printable(name), n.OK, n.Failed, n.Skipped, n.NotRun, verified)
		default:
			fmt.Fprintf(b, "%s: failed: %s\n", apiclient.Printable(name), apiclient.Printable(r.Failed[name].Error()))
		}
	}
	for _, m := range r.Moves {
		line := fmt.Sprintf("move %s from %s to %s: %s", apiclient.Printable(m.Company), apiclient.Printable(m.From), apiclient.Printable(m.To), m.Status)
		if m.Note != "" {
			line += ": " + apiclient.Printable(m.Note)
		}
		b.WriteString(line + "\n")
	}
	for _, c := range r.Conflicts {
		fmt.Fprintf(b, "conflict %s on %s and %s: not a move, nothing written to either copy; %s differ: delete the wrong copy\n",
			apiclient.Printable(c.Company), apiclient.Printable(c.From), apiclient.Printable(c.To), apiclient.Printable(strings.Join(c.Names(), ", ")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMetrics writes the fleet run in the Prometheus text format, every sample
// labelled with its PBX and server (so that the files of two runs over other PBXs
// share a directory): each PBX's metrics as apply writes them (a PBX not read
// counts as a failed run), whether it failed, and the moves to it by status.
func (r *FleetReport) WriteMetrics(w io.Writer, now time.Time, runErr error) error {
	m := newMetrics("")
	names := slices.Sorted(maps.Keys(r.Servers))
	for _, name := range slices.Sorted(maps.Keys(r.PBXs)) {
		if _, ok := r.Servers[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		m.labels = pbxLabels(name, r.Servers[name])
		rep, failure := r.PBXs[name], r.Failed[name]
		if failure == nil && r.conflicted(name) {
			failure = &plan.ConflictError{Conflicts: r.Conflicts}
		}
		if rep == nil {
			rep = &Report{} // not read, or the run stopped before it: no change, not verified
			failure = cmp.Or(failure, runErr)
		}
		rep.addMetrics(m, now, failure)
	}
	byTarget := map[string]int{}
	for _, mv := range r.Moves {
		byTarget[mv.To+"/"+mv.Status]++
	}
	for _, name := range names {
		m.labels = pbxLabels(name, r.Servers[name])
		m.gauge("pbxsync_fleet_pbx_failed", "1 when the PBX's part of the last fleet run failed (not read, a change failed, not verified, a conflict), else 0.",
			m.flag(r.Failed[name] != nil || r.conflicted(name) || r.PBXs[name] == nil && runErr != nil))
		var moves []string
		for _, s := range []string{Moved, Unfinished} {
			moves = append(moves, m.with(fmt.Sprintf("status=%q", s), float64(byTarget[name+"/"+s])))
		}
		m.gauge("pbxsync_fleet_moves", "Moves to the PBX in the last fleet run, by how they ended: unfinished ones are finished by the next run.", moves...)
	}
	_, err := io.WriteString(w, m.String())
	return err
}

// FleetDialer connects to one PBX of a fleet; writes says whether the run may write
// to it. It returns a nil Client with its error.
type FleetDialer func(ctx context.Context, p *inventory.FleetPBX, writes bool) (Client, error)

// FleetReadOptions tune ReadFleet.
type FleetReadOptions struct {
	Chosen         func(pbx string) bool // the PBXs of this run (--pbx); nil for every PBX
	Parallelism    int                   // requests in flight on each PBX
	PBXParallelism int                   // PBXs read at once; 0 for all of them
	Writes         bool                  // the run may write to its chosen PBXs
	Logger         *slog.Logger
}

// FleetRun is a fleet as one run read it: each PBX's client, what was read of it,
// and why a PBX could not be reached or read.
type FleetRun struct {
	Fleet   *inventory.Fleet
	Clients map[string]Client
	States  map[string]*state.State
	Errs    map[string]error
	chosen  func(string) bool
}

// ReadFleet connects to every PBX of the fleet and reads it, at most PBXParallelism
// at once. A PBX that cannot be reached or read is recorded as failed; the others go
// on. PBXs left out of the run are read too, but only which companies they hold (one
// request): a move from one of them is held, never created empty; they are never
// planned or written. It returns the run, and the context's cause when interrupted,
// or an *apiclient.OneServerError when two PBXs hold the same companies with the same
// numeric ids.
func ReadFleet(ctx context.Context, fleet *inventory.Fleet, dial FleetDialer, opts FleetReadOptions) (*FleetRun, error) {
	chosen := opts.Chosen
	if chosen == nil {
		chosen = func(string) bool { return true }
	}
	r := &FleetRun{Fleet: fleet, Clients: map[string]Client{}, States: map[string]*state.State{}, Errs: map[string]error{}, chosen: chosen}
	var mu stdsync.Mutex
	var g errgroup.Group
	g.SetLimit(pbxLimit(opts.PBXParallelism))
	for _, p := range fleet.PBXs {
		g.Go(func() error {
			c, st, err := readPBX(ctx, p, dial, opts.Writes && chosen(p.Name), chosen(p.Name), opts.Parallelism)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				r.Clients[p.Name] = c
			}
			if err != nil {
				r.Errs[p.Name] = err
			} else {
				r.States[p.Name] = st
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, p := range fleet.PBXs {
		if err := r.Errs[p.Name]; err != nil && !chosen(p.Name) && opts.Logger != nil {
			opts.Logger.LogAttrs(ctx, slog.LevelWarn, "a PBX left out by --pbx could not be read: what may be a move from it is held",
				slog.String("pbx", p.Name), slog.String("error", err.Error()))
		}
	}
	if ctx.Err() != nil {
		return r, context.Cause(ctx)
	}
	return r, oneServer(fleet, r.States)
}

// oneServer refuses two PBXs of a fleet that hold the same companies with the same
// numeric ids (apiclient.SameCompanies): one server under two names.
func oneServer(fleet *inventory.Fleet, states map[string]*state.State) error {
	for i, a := range fleet.PBXs {
		for _, b := range fleet.PBXs[i+1:] {
			if states[a.Name] == nil || states[b.Name] == nil {
				continue
			}
			if why, same := apiclient.SameCompanies(a.URL, b.URL, states[a.Name].Companies, states[b.Name].Companies); same {
				return &apiclient.OneServerError{A: fmt.Sprintf("PBX %s (line %d)", a.Name, a.Line), B: fmt.Sprintf("PBX %s (line %d)", b.Name, b.Line), Why: why}
			}
		}
	}
	return nil
}

// readPBX connects to one PBX and reads what its inventory names, or for a PBX left
// out of the run only which companies it holds.
func readPBX(ctx context.Context, p *inventory.FleetPBX, dial FleetDialer, writes, chosen bool, parallelism int) (Client, *state.State, error) {
	c, err := dial(ctx, p, writes)
	if err != nil {
		return nil, nil, err
	}
	inv := p.Inv
	if !chosen {
		inv = &inventory.Inventory{}
	}
	st, err := state.Read(ctx, c, inv, parallelism)
	return c, st, err
}

// Plan plans the fleet as read (plan.DiffFleet). A budget exceeded comes back as a
// plan.Refusal beside the plan, so that the plan can be shown first.
func (r *FleetRun) Plan(opts plan.FleetOptions) (*plan.FleetPlan, error) {
	var members []plan.FleetMember
	for _, p := range r.Fleet.PBXs {
		members = append(members, plan.FleetMember{Name: p.Name, Inv: p.Inv, State: r.States[p.Name], Err: r.Errs[p.Name], Left: !r.chosen(p.Name)})
	}
	return plan.DiffFleet(members, opts)
}

// Servers names each PBX of the run by the host of its URL, for metrics.
func (r *FleetRun) Servers(label func(url string) string) map[string]string {
	servers := map[string]string{}
	for _, p := range r.Fleet.PBXs {
		if r.chosen(p.Name) {
			servers[p.Name] = label(p.URL)
		}
	}
	return servers
}

// withoutConflicts returns p for its apply: without the companies it holds for the
// fleet's conflicts among those it leaves out, which the fleet's report names;
// p itself when it holds none.
func withoutConflicts(pbx string, p *plan.Plan, conflicts []plan.Conflict) *plan.Plan {
	if p == nil || len(p.NotPlanned) == 0 {
		return p
	}
	out := *p
	out.NotPlanned = maps.Clone(p.NotPlanned)
	for _, c := range conflicts {
		if c.To == pbx {
			for _, id := range c.Held {
				delete(out.NotPlanned, id)
			}
		}
	}
	return &out
}

// pbxLimit is the limit of an errgroup that works on PBXs, n at once: every one of
// them at once for 0 (fleet.md v0.3: a fleet run takes about as long as its
// slowest PBX, each PBX held to its own limit of requests in flight).
func pbxLimit(n int) int {
	if n < 1 {
		return -1
	}
	return n
}
