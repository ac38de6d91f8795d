package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/state"
)

// Client is what applying a plan needs from a PBX client.
type Client interface {
	state.Reader
	CreateConfirmed(ctx context.Context, id, name, description string) (apiclient.Company, error)
	Update(ctx context.Context, id string, ch apiclient.Changes) (apiclient.Company, error)
	DeleteConfirmed(ctx context.Context, id string) error
	Lookup(ctx context.Context, id string) (apiclient.Company, bool, error)
	Group(ctx context.Context, mover, target string) (int, error)
	Ungroup(ctx context.Context, id string) (int, error)
}

// Status is how a change ended.
type Status string

// The statuses of a change (spec/cli.md), and "not run" for one an interruption
// kept from starting.
const (
	OK      Status = "ok"
	Failed  Status = "failed"
	Skipped Status = "skipped"
	NotRun  Status = "not run"
)

// Result is what became of one change.
type Result struct {
	plan.Change
	Status Status
	Err    error // for Failed: the server's message or the transport error
	Round  int   // 0 for the plan, 1 and on for repair rounds
	// kept is, for an update or a create that succeeded, the company as the server
	// answered after the change: what verification checks the fields against.
	kept *apiclient.Company
}

// Drift is a field, or a grouping, that the server did not keep although the change
// that wrote it succeeded.
type Drift struct {
	Company string
	Field   string // a setting, "name", "container" or "exists"
	Want    string // as a person reads it; secrets as (sensitive)
	Got     string
}

// Report is the outcome of Apply.
type Report struct {
	Results     []Result
	Verified    bool    // the server holds what the plan wrote, as read back
	Drift       []Drift // what the server did not keep
	VerifyError error   // why the server could not be read back, if it could not
	Unresolved  []plan.Change
	Rounds      int // repair rounds run
	Retries     int // requests sent again after a passing failure (the command counts them)
	// ParallelismLimit is the limit on requests in flight the run settled on for the
	// server (apiclient.Limiter.Settled; the command sets it); 0 when unknown.
	ParallelismLimit int
	Interrupted      bool
	// Cause is why the run was interrupted: context.Cause of its context (an
	// interrupt, or the deadline of --timeout).
	Cause error
	// Fatal is the error that stopped the run: credentials the server refused
	// (apiclient.IsFatal). Nothing was sent after it.
	Fatal error
	// NotPlanned are the companies the plan left out, with the reason
	// (plan.Plan.NotPlanned): a run that left any out did not succeed.
	NotPlanned map[string]string
	Started    time.Time
	Duration   time.Duration
}

// Options tune Apply.
type Options struct {
	Parallelism      int  // changes in flight at once
	Rounds           int  // repair rounds after verification (grouping side effects, failed changes)
	ForceDescription bool // also send the description with every update
	// OnResult is called once for each finished change, from the goroutine that ran
	// it; it must be safe for concurrent use and quick.
	OnResult func(Result)
	// Grace is how long changes in flight may go on after ctx is cancelled.
	Grace time.Duration
}

// Apply executes p against c: each change once its dependencies are done, at most
// opts.Parallelism at a time, with the values it carries; then it verifies what the
// server kept against what the plan wrote (from the answers of the writes, and the
// containers that grouping touched: see verify), and repairs what can be repaired
// (grouping side effects, failed changes) for at most opts.Rounds rounds. When ctx
// is cancelled it starts nothing new, lets the changes in flight finish (within
// opts.Grace, none past a deadline) and reports.
func Apply(ctx context.Context, c Client, p *plan.Plan, opts Options) *Report {
	opts.Parallelism = max(opts.Parallelism, 1)
	if opts.Grace <= 0 {
		opts.Grace = 15 * time.Second
	}
	r := &Report{Started: time.Now(), NotPlanned: p.NotPlanned}
	defer func() {
		r.Duration = time.Since(r.Started)
		if ctx.Err() != nil && !r.Verified { // also when the interrupt came during verification
			r.Interrupted, r.Cause = true, context.Cause(ctx)
		}
	}()

	changes, containerOf := p.Changes, p.ContainerOf
	for round := 0; ; round++ {
		results := run(ctx, c, changes, containerOf, opts, round)
		r.Results = append(r.Results, results...)
		for _, res := range results {
			if apiclient.IsFatal(res.Err) && r.Fatal == nil {
				r.Fatal = res.Err
			}
		}
		if ctx.Err() != nil || r.Fatal != nil { // the deferred func marks the interruption
			return r
		}
		v, err := verify(ctx, c, p, r.Results, opts.Parallelism)
		if ctx.Err() != nil {
			return r
		}
		if apiclient.IsFatal(err) {
			r.Fatal = err
			return r
		}
		if err != nil && round < opts.Rounds {
			r.Rounds++
			changes = v.retry // what is known to repair; then read back again
			continue
		}
		if err != nil {
			r.VerifyError = err
			return r
		}
		r.Drift = v.drift
		if len(v.retry) == 0 || round >= opts.Rounds {
			r.Unresolved = v.retry
			r.Verified = len(v.retry) == 0 && len(v.drift) == 0
			return r
		}
		r.Rounds++
		changes = v.retry
		if v.containerOf != nil {
			containerOf = v.containerOf
		}
	}
}

func key(c plan.Change) string { return string(c.Action) + " " + c.Company + " " + c.Target }

// run executes changes in dependency order and returns their results in order.
func run(ctx context.Context, c Client, changes []plan.Change, containerOf map[string][]string, opts Options, round int) []Result {
	n := len(changes)
	results := make([]Result, n)
	deps := dependencies(changes, containerOf)
	pending := make([]int, n)
	dependents := make([][]int, n)
	for i, ds := range deps {
		pending[i] = len(ds)
		for _, d := range ds {
			dependents[d] = append(dependents[d], i)
		}
	}
	// A delete waits for every other change, to come last, but it does not depend on
	// them: their failure does not skip it.
	orderOnly := func(i int) bool { return changes[i].Action == plan.Delete }
	var ready []int
	for i := range changes {
		results[i] = Result{Change: changes[i], Status: NotRun, Round: round}
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}

	work, stopWork := graceful(ctx, opts.Grace)
	defer stopWork()

	finished := make(chan int, n) // never blocks a worker
	var stopped atomic.Bool       // a worker met refused credentials: those waiting for a slot do not start
	var g errgroup.Group
	g.SetLimit(opts.Parallelism)
	inFlight, left := 0, n
	blocked := make([]bool, n) // a dependency failed or was skipped
	fatal := false             // the server refused the credentials: nothing more is sent
	for left > 0 {
		for len(ready) > 0 && ctx.Err() == nil && !fatal {
			i := ready[0]
			ready = ready[1:]
			if blocked[i] {
				results[i].Status = Skipped
				results[i].Err = errors.New("a change it depends on did not succeed")
				left--
				release(i, results, dependents, pending, blocked, orderOnly, &ready)
				report(opts, results[i])
				continue
			}
			inFlight++
			g.Go(func() error {
				if ctx.Err() != nil || stopped.Load() { // cancelled or stopped while it waited for a slot
					finished <- i
					return nil
				}
				results[i].Status, results[i].kept, results[i].Err = execute(work, c, changes[i], opts)
				if apiclient.IsFatal(results[i].Err) {
					stopped.Store(true)
				}
				report(opts, results[i])
				finished <- i
				return nil
			})
		}
		if inFlight == 0 {
			break // interrupted, stopped, or nothing can run: the rest stays NotRun
		}
		i := <-finished
		inFlight--
		left--
		fatal = fatal || apiclient.IsFatal(results[i].Err)
		release(i, results, dependents, pending, blocked, orderOnly, &ready)
	}
	_ = g.Wait()
	return results
}

func report(opts Options, r Result) {
	if opts.OnResult != nil {
		opts.OnResult(r)
	}
}

// release marks change i done for its dependents, blocking those that depend on it
// when it did not succeed, and queues those that have nothing left to wait for.
func release(i int, results []Result, dependents [][]int, pending []int, blocked []bool, orderOnly func(int) bool, ready *[]int) {
	for _, d := range dependents[i] {
		if results[i].Status != OK && !orderOnly(d) {
			blocked[d] = true
		}
		pending[d]--
		if pending[d] == 0 {
			*ready = append(*ready, d)
		}
	}
}

// dependencies lists, for each change, the changes that must succeed before it: a
// group waits for the creates of mover and target, the ungroups of the mover, the
// target and the mover's container-mates (so that a server that moves the whole
// container moves no one who should stay); deletes come after everything else
// (an order, not a dependency: see run).
// Independent changes wait for nothing.
func dependencies(changes []plan.Change, containerOf map[string][]string) [][]int {
	created, ungrouped := map[string]int{}, map[string]int{}
	var others []int
	for i, ch := range changes {
		switch ch.Action {
		case plan.Create:
			created[ch.Company] = i
		case plan.Ungroup:
			ungrouped[ch.Company] = i
		}
		if ch.Action != plan.Delete {
			others = append(others, i)
		}
	}
	deps := make([][]int, len(changes))
	for i, ch := range changes {
		switch ch.Action {
		case plan.Group:
			set := map[int]bool{}
			for _, id := range []string{ch.Company, ch.Target} {
				if j, ok := created[id]; ok {
					set[j] = true
				}
				if j, ok := ungrouped[id]; ok {
					set[j] = true
				}
			}
			if containerOf == nil {
				for _, j := range ungrouped { // no container was read: every ungroup first
					set[j] = true
				}
			}
			for _, id := range containerOf[ch.Company] {
				if j, ok := ungrouped[id]; ok {
					set[j] = true
				}
			}
			deps[i] = slices.Sorted(maps.Keys(set))
		case plan.Delete:
			deps[i] = others
		}
	}
	return deps
}

// execute makes one change, with the values it carries. For an update, and a
// create with settings, it returns the company as the server answered after the
// change.
func execute(ctx context.Context, c Client, ch plan.Change, opts Options) (Status, *apiclient.Company, error) {
	var err error
	var kept apiclient.Company
	switch ch.Action {
	case plan.Create:
		if kept, err = c.CreateConfirmed(ctx, ch.Company, ch.Name, ch.Description); err == nil && len(ch.Fields) > 0 {
			var settled apiclient.Company
			if settled, err = c.Update(ctx, ch.Company, apiclient.Changes{Settings: ch.Settings()}); err != nil {
				// It exists: a repair round updates its settings instead of creating it.
				return Failed, &kept, fmt.Errorf("created, but its settings were not written: %w", err)
			}
			kept = settled
		}
	case plan.Update:
		changes := apiclient.Changes{Name: ch.NewName(), Settings: ch.Settings()}
		if opts.ForceDescription {
			changes.Description = &ch.ForcedDescription
		}
		kept, err = c.Update(ctx, ch.Company, changes)
	case plan.Ungroup:
		_, err = c.Ungroup(ctx, ch.Company)
	case plan.Group:
		_, err = c.Group(ctx, ch.Company, ch.Target)
	case plan.Delete:
		err = c.DeleteConfirmed(ctx, ch.Company)
	default:
		err = fmt.Errorf("unknown action %q", ch.Action)
	}
	switch {
	case err != nil:
		return Failed, nil, err
	case ch.Action == plan.Create || ch.Action == plan.Update:
		return OK, &kept, nil
	}
	return OK, nil, nil
}

// graceful returns a context for changes in flight that outlives ctx by grace, so
// that an interruption lets them finish; stop ends it and its goroutine. A deadline
// (--timeout) is no interruption to be lenient with: the changes in flight end at
// once.
func graceful(ctx context.Context, grace time.Duration) (context.Context, func()) {
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel(context.Cause(ctx))
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel(context.Cause(ctx))
		case <-done:
		}
	}()
	return work, func() {
		close(done)
		<-ended
		cancel(nil)
	}
}
