package sync

import (
	"context"
	"log/slog"
	stdsync "sync"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/plan"
)

// FleetDialer connects to one PBX of a fleet; writes says whether the run may write
// to it. It returns a nil Client with its error.
type FleetDialer func(ctx context.Context, p *plan.FleetPBX, writes bool) (Client, error)

// FleetReadOptions tune ReadFleet.
type FleetReadOptions struct {
	Chosen         func(pbx string) bool // the PBXs of this run (--pbx); nil for every PBX
	Parallelism    int                   // requests in flight on each PBX
	PBXParallelism int                   // PBXs read at once
	Writes         bool                  // the run may write to its chosen PBXs
	Logger         *slog.Logger
}

// FleetRun is a fleet as one run read it: each PBX's client, what was read of it,
// and why a PBX could not be reached or read.
type FleetRun struct {
	Fleet   *plan.Fleet
	Clients map[string]Client
	States  map[string]*plan.State
	Errs    map[string]error
	chosen  func(string) bool
}

// ReadFleet connects to every PBX of the fleet and reads it, at most PBXParallelism
// at once. A PBX that cannot be reached or read is recorded as failed; the others go
// on. PBXs left out of the run are read too, but only which companies they hold (one
// request): a move from one of them is held, never created empty; they are never
// planned or written. It returns the run, and the context's cause when interrupted.
func ReadFleet(ctx context.Context, fleet *plan.Fleet, dial FleetDialer, opts FleetReadOptions) (*FleetRun, error) {
	chosen := opts.Chosen
	if chosen == nil {
		chosen = func(string) bool { return true }
	}
	r := &FleetRun{Fleet: fleet, Clients: map[string]Client{}, States: map[string]*plan.State{}, Errs: map[string]error{}, chosen: chosen}
	var mu stdsync.Mutex
	var g errgroup.Group
	g.SetLimit(max(opts.PBXParallelism, 1))
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
	return r, nil
}

// readPBX connects to one PBX and reads what its inventory names, or for a PBX left
// out of the run only which companies it holds.
func readPBX(ctx context.Context, p *plan.FleetPBX, dial FleetDialer, writes, chosen bool, parallelism int) (Client, *plan.State, error) {
	c, err := dial(ctx, p, writes)
	if err != nil {
		return nil, nil, err
	}
	inv := p.Inv
	if !chosen {
		inv = &plan.Inventory{}
	}
	st, err := plan.ReadState(ctx, c, inv, parallelism)
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
