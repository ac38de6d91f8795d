package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	stdsync "sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/sync"
)

// fleetOptions are the flags of a fleet run (fleet.md).
type fleetOptions struct {
	file           string   // --fleet
	pbxs           []string // --pbx
	maxMove        int      // --max-move
	pbxParallelism int      // --pbx-parallelism
	explain        bool     // plan --explain: where each value was set
}

// fleetFlags gives cmd --fleet and --pbx, and for plan and apply (run) --max-move
// and --pbx-parallelism.
func fleetFlags(cmd *cobra.Command, o *fleetOptions, run bool) {
	f := cmd.Flags()
	f.StringVar(&o.file, "fleet", "", "a fleet `FILE`: many PBXs, each with its url, credentials and inventory (pbxsync help fleet); instead of -f and --url")
	completeFiles(cmd, "fleet", "yaml", "yml")
	f.StringArrayVar(&o.pbxs, "pbx", nil, "with --fleet: only this PBX `NAME` (repeatable)")
	if run {
		f.IntVar(&o.maxMove, "max-move", 0, "with --fleet: refuse a plan with more than `N` moves between PBXs (exit 3): apply before any write, plan once it is printed")
		f.IntVar(&o.pbxParallelism, "pbx-parallelism", 0, "with --fleet: at most `M` PBXs worked on at once (default: all of the run's, each with its own --parallelism)")
	}
}

// checkFleet refuses what a fleet run cannot take: -f or --url beside --fleet, a
// --pbx the fleet does not have (checked once loaded), bad numbers.
func (a *app) checkFleet(o fleetOptions, files []string) error {
	switch {
	case len(files) > 0:
		return errors.New("--fleet names each PBX's inventory: -f cannot be given too")
	case a.opts.url != "":
		return errors.New("--fleet names each PBX's url: --url cannot be given too")
	case o.maxMove < 0:
		return fmt.Errorf("invalid --max-move %d: 0 or more", o.maxMove)
	case o.pbxParallelism < 1 && o.pbxParallelism != 0:
		return fmt.Errorf("invalid --pbx-parallelism %d: at least 1", o.pbxParallelism)
	}
	return nil
}

// loadFleet reads and checks the fleet file and every inventory it names; problems
// go to stderr as an inventory's do, and nothing is sent anywhere.
func (a *app) loadFleet(o fleetOptions, offline bool) (*inventory.Fleet, error) {
	data, err := apiclient.ReadFile(o.file, apiclient.MaxInventoryFile)
	if err != nil {
		return nil, fmt.Errorf("read the fleet: %w", err)
	}
	fleet, warnings, err := inventory.LoadFleetFor(o.file, data, inventory.LoadOptions{Lookup: a.lookupEnv, Offline: offline, Explain: o.explain}, o.chosen)
	if err := a.inventoryProblems([]string{o.file}, warnings, err); err != nil {
		return nil, err
	}
	return fleet, inventory.CheckPBXs(o.file, fleet.PBXs, o.pbxs)
}

// chosen reports whether a PBX is in this run (--pbx, or every PBX).
func (o fleetOptions) chosen(name string) bool {
	return len(o.pbxs) == 0 || slices.Contains(o.pbxs, name)
}

// validateFleet is validate --fleet.
func (a *app) validateFleet(o fleetOptions) error {
	fleet, err := a.loadFleet(o, true)
	if err != nil {
		return err
	}
	companies := 0
	for _, p := range fleet.PBXs {
		if o.chosen(p.Name) {
			companies += len(p.Inv.Companies)
		}
	}
	_, err = fmt.Fprintf(a.stdout, "%s: valid: %s, %s\n", apiclient.Printable(o.file), plural(len(fleet.PBXs), "PBX", "PBXs"), plural(companies, "company", "companies"))
	return err
}

// fleetRun is one run over a fleet: what sync.ReadFleet read, and the servers it
// connected to, which close closes.
type fleetRun struct {
	*sync.FleetRun
	mu      stdsync.Mutex
	servers map[string]*server
}

// close stops the embedded simulators of the run, writing their state back.
func (r *fleetRun) close(err error) error {
	for _, srv := range r.servers {
		err = closeServer(srv, err)
	}
	return err
}

// fleetDialer connects to a PBX of a fleet with its own credentials
// (PBX_<NAME>_...), and keeps each server it connects to in r, for r.close.
func (a *app) fleetDialer(r *fleetRun) sync.FleetDialer {
	return func(ctx context.Context, p *inventory.FleetPBX, writes bool) (sync.Client, error) {
		srv, err := dial(ctx, p.URL, "", "PBX_"+p.Credentials, a.opts, writes, a.lookupEnv, a.logger.With("pbx", p.Name))
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.servers[p.Name] = srv
		return srv, nil
	}
}

// readFleet loads the fleet, connects to every PBX and reads it (sync.ReadFleet).
func (a *app) readFleet(ctx context.Context, o fleetOptions, parallelism int, writes bool) (*fleetRun, error) {
	fleet, err := a.loadFleet(o, false)
	if err != nil {
		return nil, err
	}
	return a.readLoadedFleet(ctx, fleet, o, parallelism, writes)
}

// readLoadedFleet checks that no two PBXs of a loaded fleet resolve to one server,
// connects to every PBX and reads it. The run is never nil, so that its servers are
// closed.
func (a *app) readLoadedFleet(ctx context.Context, fleet *inventory.Fleet, o fleetOptions, parallelism int, writes bool) (*fleetRun, error) {
	r := &fleetRun{servers: map[string]*server{}}
	if err := a.inventoryProblems([]string{o.file}, nil, inventory.CheckServers(ctx, fleet.PBXs, a.resolver)); err != nil {
		return r, err
	}
	var err error
	r.FleetRun, err = sync.ReadFleet(ctx, fleet, a.fleetDialer(r), sync.FleetReadOptions{Chosen: o.chosen, Parallelism: parallelism,
		PBXParallelism: o.pbxParallelism, Writes: writes, Logger: a.logger})
	return r, err
}

// planFleet is plan --fleet.
func (a *app) planFleet(ctx context.Context, po planOptions, o fleetOptions) (err error) {
	r, err := a.readFleet(ctx, o, po.parallelism, false)
	if r != nil {
		defer func() { err = r.close(err) }()
	}
	fp, err := a.printFleetPlan(r, err, po, o)
	servers := a.fleetServers(r, o)
	return a.finishPlan(ctx, po.metricsFile, func(w io.Writer, now time.Time) error { return sync.WriteFleetPlanMetrics(w, now, fp, servers) }, err)
}

// printFleetPlan plans the fleet that readFleet read (or could not: readErr), prints
// the plan and saves it (--out). The plan is nil when none was made.
func (a *app) printFleetPlan(r *fleetRun, readErr error, po planOptions, o fleetOptions) (*plan.FleetPlan, error) {
	fp, diffErr := fleetPlan(r, readErr, po.prune, po.maxDelete, o)
	if fp == nil {
		return nil, diffErr
	}
	if err := writePlan(a, fp, po, render.FleetJSON, render.FleetMarkdown, render.FleetText); err != nil {
		return fp, err
	}
	if diffErr != nil {
		return fp, plan.ApplyWouldRefuse(diffErr)
	}
	if err := fp.Incomplete(); err != nil {
		return fp, err // not saved either: apply would refuse it
	}
	if po.out != "" {
		if err := a.saveFleetPlan(po.out, fp, r.Fleet, o, po); err != nil {
			return fp, err
		}
	}
	if po.detailedExitcode && !fp.Empty() {
		return fp, errChanges
	}
	return fp, nil
}

// fleetServers names each PBX of a fleet run for metrics: those of the run read,
// or, when the run ended before (an inventory of the fleet is not valid), those the
// fleet file lists, so that each of them still gets its samples of a failed run.
func (a *app) fleetServers(r *fleetRun, o fleetOptions) map[string]string {
	if r != nil && r.FleetRun != nil {
		return r.Servers(apiclient.ServerLabel)
	}
	pbxs, err := inventory.OpenFleetFile(o.file)
	if err != nil {
		return nil
	}
	servers := map[string]string{}
	for _, p := range pbxs {
		if o.chosen(p.Name) {
			servers[p.Name] = apiclient.ServerLabel(p.URL)
		}
	}
	return servers
}

// fleetPlan plans a fleet that readFleet read; a budget exceeded comes back as a
// refusal beside the plan, to show it first.
func fleetPlan(r *fleetRun, readErr error, prune bool, maxDelete int, o fleetOptions) (*plan.FleetPlan, error) {
	if readErr != nil {
		return nil, readErr
	}
	return r.Plan(plan.FleetOptions{Options: plan.Options{Prune: prune, MaxDelete: maxDelete}, MaxMove: o.maxMove})
}

// applyFleetCmd checks apply --fleet's flags, takes the lock, and runs it.
func (a *app) applyFleetCmd(cmd *cobra.Command, o applyOptions) error {
	if err := a.checkFleet(o.fleet, o.files); err != nil {
		return err
	}
	fo := o.fleet
	o.fleet, o.files = fleetOptions{}, []string{"--fleet"} // the rest is apply -f's
	if len(o.companies) > 0 || o.match != "" {
		return errors.New("--fleet does not take --company or --match: narrow a fleet run with --pbx, or apply one PBX's inventory with -f and --url")
	}
	unlock, err := a.checkAndLock(cmd, o)
	if err != nil {
		return err
	}
	defer unlock()
	return a.applyFleet(cmd.Context(), o, fo)
}

// applyFleet is apply --fleet: plan, show, confirm, then executeFleet.
func (a *app) applyFleet(ctx context.Context, ao applyOptions, o fleetOptions) (err error) {
	start := time.Now()
	r, err := a.readFleet(ctx, o, ao.parallelism, true)
	if r != nil {
		defer func() { err = r.close(err) }()
	}
	fp, err := fleetPlan(r, err, ao.prune, ao.maxDelete, o)
	if fp == nil {
		return a.finishFleet(ctx, ao, o, r, nil, err, start)
	}
	if werr := a.showFleetPlan(ctx, fp); werr != nil {
		return werr
	}
	if err != nil {
		return a.finishFleet(ctx, ao, o, r, nil, err, start)
	}
	if !fp.Empty() && !ao.autoApprove {
		if err := a.confirm(ctx); err != nil {
			return a.finishFleet(ctx, ao, o, r, nil, err, start)
		}
	}
	return a.executeFleet(ctx, ao, o, r, fp, start)
}

// showFleetPlan shows the fleet plan on stderr, as text, or as log lines where the
// logs are JSON: the summary, each move and conflict, then each PBX's plan (showPlan).
func (a *app) showFleetPlan(ctx context.Context, fp *plan.FleetPlan) error {
	if a.opts.logFormat != "json" {
		return render.FleetText(a.stderr, fp, a.colorful(a.stderr))
	}
	a.logger.LogAttrs(ctx, slog.LevelInfo, "fleet plan", slog.String("summary", fp.Summary()), slog.Int("moves", len(fp.Moves)))
	for _, mv := range fp.Moves {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "move", slog.String("company", mv.Company), slog.String("from", mv.From), slog.String("to", mv.To), slog.Bool("adopt", mv.Adopt))
	}
	for _, c := range fp.Conflicts {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "conflict", slog.String("company", c.Company), slog.String("from", c.From), slog.String("to", c.To),
			slog.String("fields", strings.Join(c.Names(), ",")))
	}
	for _, name := range fp.Names {
		if p := fp.PBXs[name]; p != nil {
			one := *a
			one.logger = a.logger.With("pbx", name)
			if err := one.showPlan(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// executeFleet applies an approved fleet plan: every PBX's plan, then the moves'
// deletes (sync.ApplyFleet), and reports. A terminal gets one progress line for the
// whole fleet; elsewhere each change is a log line named by its PBX.
func (a *app) executeFleet(ctx context.Context, ao applyOptions, o fleetOptions, r *fleetRun, fp *plan.FleetPlan, start time.Time) error {
	var pr *progress
	if terminal(a.stderr) {
		pr = startFleetProgress(a.logOut, fleetChanges(fp), len(fleetApplied(fp)), r.inFlight)
	}
	rep := sync.ApplyFleet(ctx, r.Clients, fp, r.States, sync.FleetApplyOptions{
		Parallelism: ao.parallelism, PBXParallelism: o.pbxParallelism, Logger: a.logger,
		Apply: func(ctx context.Context, pbx string, p *plan.Plan) *sync.Report {
			r.mu.Lock()
			srv := r.servers[pbx]
			r.mu.Unlock()
			logger := a.logger.With("pbx", pbx)
			opts := sync.Options{Parallelism: ao.parallelism, Rounds: ao.rounds, ForceDescription: ao.forceDescription,
				OnResult: func(res sync.Result) { logResult(ctx, logger, res) }}
			if pr != nil {
				opts.OnResult = pr.record
				defer pr.pbxsDone.Add(1)
			}
			rep := sync.Apply(ctx, srv, p, opts)
			rep.Retries = srv.Retries()
			rep.ParallelismLimit = a.logLimit(ctx, logger, srv)
			return rep
		},
	})
	if pr != nil {
		pr.end()
	}
	runErr := rep.Err()
	if runErr == nil {
		runErr = fp.Incomplete()
	}
	return a.finishFleet(ctx, ao, o, r, rep, runErr, start)
}

// fleetApplied names the PBXs of fp whose plan sync.ApplyFleet applies: those with a
// change, or with a company it leaves out.
func fleetApplied(fp *plan.FleetPlan) []string {
	var names []string
	for _, name := range fp.Names {
		if p := fp.PBXs[name]; p != nil && (!p.Empty() || len(p.NotPlanned) > 0) {
			names = append(names, name)
		}
	}
	return names
}

// fleetChanges counts the changes of every PBX's plan.
func fleetChanges(fp *plan.FleetPlan) int {
	n := 0
	for _, name := range fleetApplied(fp) {
		n += len(fp.PBXs[name].Changes)
	}
	return n
}

// inFlight adds up the limits on requests in flight of the servers of the run.
func (r *fleetRun) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, srv := range r.servers {
		if l := srv.Limiter(); l != nil {
			n += l.Limit()
		}
	}
	return n
}

// saveFleetPlan writes the fleet plan for apply PLANFILE, the fleet file named
// relative to the plan file's folder.
func (a *app) saveFleetPlan(path string, fp *plan.FleetPlan, fleet *inventory.Fleet, o fleetOptions, po planOptions) error {
	rel, err := planfile.RelativeTo(path, o.file)
	if err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	opts := plan.FleetOptions{Options: plan.Options{Prune: po.prune, MaxDelete: po.maxDelete}, MaxMove: o.maxMove}
	if err := sync.WriteFileAtomic(path, func(w io.Writer) error { return planfile.SaveFleet(w, fp, rel, fleet.Hash, o.pbxs, opts) }); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	fmt.Fprintf(a.stderr, "Saved the fleet plan to %[1]s: apply it with pbxsync apply %[1]s --fleet %[2]s\n", apiclient.Printable(path), apiclient.Printable(o.file))
	return nil
}

// applySavedFleet applies a fleet plan saved by plan --fleet --out, unless a fresh
// plan of the same fleet, made with the saved options, differs from it (exit 3).
func (a *app) applySavedFleet(ctx context.Context, ao applyOptions, sp *planfile.SavedFleetPlan) (err error) {
	start := time.Now()
	// The budgets are the smaller of the saved ones and the operator's: a plan file
	// never brings deletes or moves that the operator did not budget for now.
	o := fleetOptions{file: ao.fleet.file, pbxs: sp.PBXs, maxMove: min(sp.Options.MaxMove, ao.fleet.maxMove), pbxParallelism: ao.fleet.pbxParallelism}
	ao.prune, ao.maxDelete = sp.Options.Prune, min(sp.Options.MaxDelete, ao.maxDelete)
	fleet, err := a.loadFleet(o, false)
	if err == nil {
		if stale := sp.CheckFleet(fleet.Hash); stale != nil { // before any connection
			err = fmt.Errorf("%s: %w", ao.planFile, stale)
		}
	}
	if err != nil {
		return a.finishFleet(ctx, ao, o, nil, nil, err, start)
	}
	r, err := a.readLoadedFleet(ctx, fleet, o, ao.parallelism, true)
	defer func() { err = r.close(err) }()
	fp, err := fleetPlan(r, err, ao.prune, ao.maxDelete, o)
	if fp == nil || err != nil {
		return a.finishFleet(ctx, ao, o, r, nil, err, start)
	}
	if err := sp.Check(r.Fleet.Hash, fp, r.States); err != nil {
		return a.finishFleet(ctx, ao, o, r, nil, fmt.Errorf("%s: %w", ao.planFile, err), start)
	}
	if werr := a.showFleetPlan(ctx, fp); werr != nil {
		return werr
	}
	return a.executeFleet(ctx, ao, o, r, fp, start)
}

// finishFleet writes the fleet's report: a summary on stdout (or JSON), --report
// and --metrics-file whatever happened, and returns the run's error.
func (a *app) finishFleet(ctx context.Context, ao applyOptions, o fleetOptions, r *fleetRun, rep *sync.FleetReport, err error, start time.Time) error {
	if rep == nil {
		rep = &sync.FleetReport{}
	}
	rep.Servers = a.fleetServers(r, o) // the metrics name every PBX of the run, applied, read or not
	show := ao.json || rep.PBXs != nil
	return a.outputs(ao.json, ao.report, ao.metricsFile).Write(ctx, rep.Outcome(time.Since(start), shown(err)), show, err)
}

// exportFleet is export --fleet: each chosen PBX's companies written as an inventory
// where the fleet file says its inventory is, for adopting a running fleet. A path
// that holds an inventory already is refused; one PBX's failure leaves the others.
func (a *app) exportFleet(ctx context.Context, o exportOptions) (err error) {
	switch {
	case o.out != "":
		return errors.New("--fleet writes each PBX's inventory where the fleet file says: -o cannot be given too")
	case len(o.companies) > 0 || o.match != "":
		return errors.New("--fleet exports whole PBXs: --company and --match cannot be given too")
	case o.includeSecrets:
		return errors.New("--fleet writes inventories meant for git: secrets stay ${VAR} references (--include-secrets refused)")
	}
	if err := a.checkFleet(o.fleet, nil); err != nil {
		return err
	}
	pbxs, err := inventory.OpenFleetFile(o.fleet.file)
	if err := a.inventoryProblems([]string{o.fleet.file}, nil, err); err != nil {
		return err
	}
	if err := inventory.CheckPBXs(o.fleet.file, pbxs, o.fleet.pbxs); err != nil {
		return err
	}
	if err := a.inventoryProblems([]string{o.fleet.file}, nil, inventory.CheckServers(ctx, pbxs, a.resolver)); err != nil {
		return err
	}
	r := &fleetRun{servers: map[string]*server{}}
	defer func() { err = r.close(err) }()
	return sync.ExportFleet(ctx, pbxs, a.fleetDialer(r), sync.FleetExportOptions{Chosen: o.fleet.chosen, Parallelism: o.parallelism, Compact: o.compact,
		Exported: func(ctx context.Context, _, path string, e *sync.Exported) { a.reportExport(ctx, path, false, e) }})
}
