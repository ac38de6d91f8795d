package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

type applyOptions struct {
	companies        []string
	match            string
	files            []string
	planFile         string // the positional PLANFILE, instead of -f
	autoApprove      bool
	json             bool
	parallelism      int
	rounds           int
	rate             float64
	forceDescription bool
	prune            bool
	maxDelete        int
	report           string
	metricsFile      string
	lockFile         string
	fleet            fleetOptions
}

func (a *app) newApplyCmd() *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE] (-f FILE | --fleet FILE)",
		Short: "Apply the inventory, or a saved plan, to the server and verify the result",
		Long: `Make the server match the inventory: read it, plan, show the plan on standard error,
apply the changes (each once those it depends on are done, at most --parallelism at
once; a failed change never stops the others), verify what the server kept (an
update's answer shows it; only the containers that grouping touched are read back),
and repair failed changes and grouping side effects, for at most --rounds rounds.

  apply -f FILE    plans now, then asks on the terminal: only the answer "yes" applies.
                   Where standard input is not a terminal (cron, CI), --auto-approve is
                   required, and without it nothing is read or written.
  apply PLANFILE -f FILE
                   applies a plan saved by "plan --out PLANFILE" without asking: the
                   saved plan is what was reviewed and approved (--auto-approve changes
                   nothing). It plans again from the inventory you name with -f and the
                   server you name with --url or PBX_URL, both required: what the plan
                   file records is only compared, never used. It is refused with exit
                   3 before any connection when the inventory or the server is not the
                   plan's, and before any write when a company it touches changed on
                   the server, or when it deletes more than your --max-delete (default
                   0: a plan file brings no budget of its own).
  apply --fleet F  every PBX of a fleet file, and the companies moved between them
                   (at most --max-move): see pbxsync help fleet. A plan saved by
                   plan --fleet F -o PLANFILE is applied with apply PLANFILE --fleet F.

Standard output carries the result: a summary of what succeeded, failed and was
skipped, what the server did not keep, and whether it was verified; with --json one
JSON document instead (format_version 1). On a terminal, standard error shows a
progress line; elsewhere a log line for each finished change. --report and
--metrics-file are written whatever the outcome, each replaced atomically; only when
another run holds --lock-file is nothing read or written. On Ctrl-C, the changes in
flight finish, nothing new starts, and the summary is still written.`,
		Example: `  # By hand: review the plan, then type yes.
  pbxsync apply -f inventory.yaml

  # Nightly from cron: no question, JSON logs, a report and metrics for monitoring,
  # and never two runs at once.
  pbxsync apply -f /etc/pbxsync/inventory.yaml --auto-approve --log-format json \
    --rate 20 --report /var/lib/pbxsync/last-run.json \
    --metrics-file /var/lib/node_exporter/textfile/pbxsync.prom \
    --lock-file /run/lock/pbxsync.lock

  # Review now, apply later exactly what was reviewed (refused if anything changed).
  pbxsync plan -f inventory.yaml --out changes.plan
  pbxsync apply changes.plan -f inventory.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.planFile = args[0]
			}
			return a.apply(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, fileFlagUsage+" (with --auto-approve)")
	completeFiles(cmd, "file", "yaml", "yml")
	selectionFlags(cmd, &o.companies, &o.match, "; the plan says it is partial")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking; needed when standard input is not a terminal")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON document")
	formatFlag(cmd, &o.json)
	a.parallelismFlag(cmd, &o.parallelism)
	f.IntVar(&o.rounds, "rounds", 3, "at most `N` repair rounds after verification (0 for none)")
	f.Float64Var(&o.rate, "rate", 0, "at most `N` requests a second (0: no cap); the pace halves whenever the server asks to slow down")
	f.BoolVar(&o.forceDescription, "force-description", false, "also write each updated company's description from the inventory")
	f.BoolVar(&o.prune, "prune", false, "also delete absent companies that prune.match selects (not with PLANFILE)")
	f.IntVar(&o.maxDelete, "max-delete", 0, "refuse a plan with more than `N` deletes, before any write (exit 3); a saved plan's deletes too")
	f.StringVar(&o.report, "report", "", "also write the JSON result to `FILE`, even when the run fails")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write Prometheus metrics of the run to `FILE` (node_exporter textfile), even when it fails")
	f.StringVar(&o.lockFile, "lock-file", "", "hold a lock on `FILE` for the whole run; exit 1 at once when another run holds it")
	fleetFlags(cmd, &o.fleet, true)
	return cmd
}

// checkApply rejects what cannot work before anything is read: flags out of range,
// no inventory or two, and, without --auto-approve, no terminal to ask on.
func (a *app) checkApply(cmd *cobra.Command, o applyOptions) error {
	if _, err := compileMatch(o.match); err != nil {
		return err
	}
	switch {
	case len(o.files) == 0 && o.planFile == "":
		return errors.New("no inventory: pass -f FILE, or a PLANFILE saved by plan --out")
	case o.planFile != "" && (cmd.Flags().Changed("prune") || cmd.Flags().Changed("company") || cmd.Flags().Changed("match")):
		return errors.New("--prune, --company and --match are part of a saved plan: plan again to change them")
	case o.rounds < 0:
		return fmt.Errorf("invalid --rounds %d: 0 or more", o.rounds)
	case o.rate < 0:
		return fmt.Errorf("invalid --rate %g: 0 (no cap) or more", o.rate)
	case o.maxDelete < 0:
		return fmt.Errorf("invalid --max-delete %d: 0 or more", o.maxDelete)
	case o.planFile != "" || o.autoApprove:
		return nil
	case slices.Contains(o.files, "-"):
		return errors.New("-f - reads the inventory from standard input, where no answer can be read: pass --auto-approve to apply without confirmation")
	case !terminal(a.stdin):
		return errors.New("standard input is not a terminal, so no one can confirm: pass --auto-approve to apply without confirmation")
	}
	return nil
}

// checkAndLock checks apply's flags (checkApply) and takes --lock-file.
func (a *app) checkAndLock(cmd *cobra.Command, o applyOptions) (unlock func(), err error) {
	if err := a.checkApply(cmd, o); err != nil {
		return nil, err
	}
	return sync.LockFile(o.lockFile)
}

func (a *app) apply(cmd *cobra.Command, o applyOptions) error {
	switch {
	case o.planFile != "":
		return a.applyPlanFile(cmd, o)
	case o.fleet.file != "":
		return a.applyFleetCmd(cmd, o)
	}
	unlock, err := a.checkAndLock(cmd, o)
	if err != nil {
		return err
	}
	defer unlock()
	ctx := cmd.Context()
	start := time.Now()
	rep, err := a.applyInventory(ctx, o)
	return a.finishApply(ctx, o, rep, err, start)
}

// applyPlanFile is apply PLANFILE: the plan file is read, and then only compared
// with what the operator names (planfile.Given): without -f (a fleet plan: --fleet)
// or without --url and PBX_URL it refuses before anything else is read.
func (a *app) applyPlanFile(cmd *cobra.Command, o applyOptions) error {
	if cmd.Flags().Changed("pbx") {
		return errors.New("--pbx is part of a saved fleet plan: plan again to change it")
	}
	if err := a.checkApply(cmd, o); err != nil {
		return err
	}
	single, fleet, err := planfile.Read(o.planFile)
	if err != nil {
		if inventoryLike(o.planFile) {
			return fmt.Errorf("%s is not a plan saved by plan --out: to apply an inventory, pass -f %s", o.planFile, o.planFile)
		}
		return err
	}
	server, _ := serverURL(a.opts, a.lookupEnv)
	given := planfile.Given{Files: o.files, Fleet: o.fleet.file, Server: server}
	if fleet != nil {
		if err := fleet.CheckGiven(o.planFile, given); err != nil {
			return err
		}
		if err := a.checkFleet(o.fleet, nil); err != nil {
			return err
		}
	} else if err := single.CheckGiven(o.planFile, given); err != nil {
		return err
	}
	unlock, err := sync.LockFile(o.lockFile)
	if err != nil {
		return err
	}
	defer unlock()
	ctx := cmd.Context()
	if fleet != nil {
		return a.applySavedFleet(ctx, o, fleet)
	}
	start := time.Now()
	rep, err := a.applySaved(ctx, o, single)
	return a.finishApply(ctx, o, rep, err, start)
}

// applyInventory plans the inventory of -f and applies it once approved. The report
// is nil when nothing was applied (an error, a refusal, no approval).
func (a *app) applyInventory(ctx context.Context, o applyOptions) (*sync.Report, error) {
	inv, err := a.loadInventory(o.files)
	if err != nil {
		return nil, err
	}
	return a.planAndApply(ctx, o, !o.autoApprove, func(ctx context.Context, srv *server) (*plan.Plan, error) {
		st, err := state.Read(ctx, srv, inv, o.parallelism)
		if err != nil {
			return nil, err
		}
		return plan.Diff(inv, st, plan.Options{Prune: o.prune, MaxDelete: o.maxDelete, Companies: o.companies, Match: o.match})
	})
}

// planAndApply connects to the server to write, plans there (makePlan: a plan, and
// beside it a refusal to show it with), shows the plan, asks when ask, and applies
// it. The report is nil when nothing was applied.
func (a *app) planAndApply(ctx context.Context, o applyOptions, ask bool, makePlan func(context.Context, *server) (*plan.Plan, error)) (rep *sync.Report, err error) {
	srv, pacer, err := a.connectToWrite(ctx, o.rate)
	if err != nil {
		return nil, err
	}
	defer func() { err = closeServer(srv, err) }()
	defer a.logSlowdowns(ctx, pacer)
	p, planErr := makePlan(ctx, srv)
	if p == nil {
		return nil, planErr
	}
	if err := a.showPlan(ctx, p); err != nil {
		return nil, err
	}
	if planErr != nil {
		return nil, planErr
	}
	if p.Empty() {
		return &sync.Report{Verified: true, NotPlanned: p.NotPlanned}, nil
	}
	if ask {
		if err := a.confirm(ctx); err != nil {
			return nil, err
		}
	}
	return a.applyPlan(ctx, srv, p, o, pacer), nil
}

// applySaved applies a plan saved by plan --out to the server the operator named,
// checked against the inventory the operator named: refused before any connection
// when the plan was made for another server or from another inventory, and before
// any write when a fresh plan differs from it (planfile.SavedPlan.Check).
func (a *app) applySaved(ctx context.Context, o applyOptions, sp *planfile.SavedPlan) (*sync.Report, error) {
	given, _ := serverURL(a.opts, a.lookupEnv)
	if err := sp.CheckServer(ctx, o.planFile, given, a.resolver); err != nil {
		return nil, err
	}
	files, err := inventory.ReadFiles(o.files, a.input)
	if err != nil {
		return nil, err
	}
	if err := sp.CheckInventory(files, o.files); err != nil { // before it is loaded: it may no longer be valid
		return nil, fmt.Errorf("%s: %w", o.planFile, err)
	}
	inv, err := a.loadFiles(o.files, files, inventory.LoadOptions{Lookup: a.lookupEnv}) // the bytes just checked, not read again
	if err != nil {
		return nil, err
	}
	// No question: the saved plan is what was reviewed and approved.
	return a.planAndApply(ctx, o, false, func(ctx context.Context, srv *server) (*plan.Plan, error) {
		p, err := sp.Check(ctx, srv, inv, o.parallelism, o.maxDelete)
		if refused(err) {
			return nil, fmt.Errorf("%s: %w", o.planFile, err)
		}
		return p, err
	})
}

// connectToWrite connects to the server of the flags for a command that writes, at
// most rate requests a second (--rate; 0 for no cap).
func (a *app) connectToWrite(ctx context.Context, rate float64) (*server, *apiclient.Pacer, error) {
	pacer := apiclient.NewPacer(rate)
	srv, err := connect(ctx, a.opts, true, a.lookupEnv, a.logger, apiclient.WithPacer(pacer))
	return srv, pacer, err
}

// serverLabel names the server for metrics: its URL's host, or sim:PATH.
func (a *app) serverLabel() string {
	raw, _ := serverURL(a.opts, a.lookupEnv)
	return apiclient.ServerLabel(raw)
}

// closeServer closes srv, and returns err, or the error of closing when there is
// no other.
func closeServer(srv *server, err error) error {
	if cerr := srv.close(); cerr != nil && err == nil {
		return cerr
	}
	return err
}

// showPlan shows the plan on stderr, since stdout carries the result: as text, or
// as log lines where the logs are JSON.
func (a *app) showPlan(ctx context.Context, p *plan.Plan) error {
	if a.opts.logFormat != "json" {
		return render.PlanText(a.stderr, p, a.colorful(a.stderr))
	}
	n := p.Count()
	a.logger.LogAttrs(ctx, slog.LevelInfo, "plan", slog.String("summary", p.Summary()),
		slog.Int("create", n[plan.Create]), slog.Int("update", n[plan.Update]), slog.Int("ungroup", n[plan.Ungroup]),
		slog.Int("group", n[plan.Group]), slog.Int("delete", n[plan.Delete]), slog.Int("unmanaged", len(p.Unmanaged)))
	for _, w := range p.Warnings {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "plan", slog.String("warning", w))
	}
	for _, id := range p.NotPlannedIDs() {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "not planned", slog.String("company", id), slog.String("reason", p.NotPlanned[id]))
	}
	return nil
}

// confirm asks on the terminal; only the exact answer "yes" goes on. An interrupt
// while waiting cancels as well.
func (a *app) confirm(ctx context.Context) error {
	fmt.Fprint(a.stderr, "\nDo you want to apply these changes? Only 'yes' applies.\n  Enter a value: ")
	type reply struct {
		line string
		err  error
	}
	answer := make(chan reply, 1)
	go func() { // ends with the input, or with the process when ctx ends first
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		answer <- reply{strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err}
	}()
	select {
	case r := <-answer:
		switch {
		case r.line == "yes":
			return nil
		case r.line == "" && r.err != nil: // such as /dev/null, a character device too
			fmt.Fprintln(a.stderr, "\nApply cancelled.")
			return errors.New("nothing was changed: no answer on standard input: pass --auto-approve to apply without confirmation")
		}
	case <-ctx.Done():
		fmt.Fprintln(a.stderr)
	}
	fmt.Fprintln(a.stderr, "Apply cancelled.")
	return errors.New("nothing was changed: only the answer yes applies")
}

// applyPlan applies p, showing progress on a terminal and a log line per change
// elsewhere.
func (a *app) applyPlan(ctx context.Context, srv *server, p *plan.Plan, o applyOptions, pacer *apiclient.Pacer) *sync.Report {
	opts := sync.Options{Parallelism: o.parallelism, Rounds: o.rounds, ForceDescription: o.forceDescription}
	var pr *progress
	if terminal(a.stderr) {
		pr = startProgress(a.logOut, len(p.Changes), pacer, srv.Limiter())
		opts.OnResult = pr.record
	} else {
		opts.OnResult = func(r sync.Result) { logResult(ctx, a.logger, r) }
	}
	rep := sync.Apply(ctx, srv, p, opts)
	rep.Retries = srv.Retries()                           // the whole run's, its reads included
	rep.ParallelismLimit = a.logLimit(ctx, a.logger, srv) // above the last progress line
	if pr != nil {
		pr.end()
	}
	return rep
}

// logLimit logs the limit on requests in flight that the run settled on for srv, and
// returns it (0 without a limiter).
func (a *app) logLimit(ctx context.Context, logger *slog.Logger, srv *server) int {
	l := srv.Limiter()
	if l == nil {
		return 0
	}
	mode := "auto"
	if l.Fixed() {
		mode = "pinned"
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "parallelism", slog.String("server", apiclient.ServerLabel(srv.url)),
		slog.Int("limit", l.Settled()), slog.String("mode", mode))
	return l.Settled()
}

// logSlowdowns warns when the server asked to slow down: a sign that --rate is
// higher than it can take.
func (a *app) logSlowdowns(ctx context.Context, pacer *apiclient.Pacer) {
	if n := pacer.Slowdowns(); n > 0 {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "the server asked to slow down", slog.Int("times", n))
	}
}

// logResult logs a finished change: info when it succeeded, a warning with its
// error when not.
func logResult(ctx context.Context, logger *slog.Logger, r sync.Result) {
	attrs := []slog.Attr{slog.String("action", string(r.Action)), slog.String("company", r.Company)}
	if r.Target != "" {
		attrs = append(attrs, slog.String("target", r.Target))
	}
	attrs = append(attrs, slog.String("status", string(r.Status)))
	if r.Round > 0 {
		attrs = append(attrs, slog.Int("round", r.Round))
	}
	level := slog.LevelInfo
	if r.Status != sync.OK {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", r.Message()))
	}
	logger.LogAttrs(ctx, level, "change", attrs...)
}

// finishApply writes the result (stdout when a plan was applied or found empty; the
// report and metrics files whatever happened) and returns the run's error: err, or
// why the report is not a success.
func (a *app) finishApply(ctx context.Context, o applyOptions, rep *sync.Report, err error, start time.Time) error {
	applied := rep != nil
	if !applied {
		rep = &sync.Report{Interrupted: ctx.Err() != nil}
	}
	rep.Started, rep.Duration = start, time.Since(start) // the whole run, reads included
	if err == nil {
		err = rep.Err()
	}
	return a.outputs(o.json, o.report, o.metricsFile).Write(ctx, rep.Outcome(a.serverLabel(), shown(err)), applied, err)
}

// outputs are where a run's result goes: stdout, --report and --metrics-file.
func (a *app) outputs(json bool, report, metrics string) sync.Outputs {
	return sync.Outputs{Stdout: a.stdout, JSON: json, Report: report, Metrics: metrics, Logger: a.logger}
}

// terminal reports whether f is a terminal: for a file, whether its descriptor answers
// the terminal ioctl (/dev/null is a character device but no terminal).
func terminal(f any) bool {
	if file, ok := f.(*os.File); ok {
		return term.IsTerminal(int(file.Fd())) // /dev/null is a character device, not a terminal
	}
	s, ok := f.(interface{ Stat() (os.FileInfo, error) }) // the tests' stand-ins for a terminal
	if !ok {
		return false
	}
	fi, err := s.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws one line on a terminal while a plan is applied, at most ten times
// a second: changes done of all, failures, the pace, the time so far and an estimate
// of the time left; for a fleet, also the PBXs done. Logs go above it (logLines).
type progress struct {
	out     *logLines
	total   int
	started time.Time
	done    atomic.Int64 // changes of the plan that finished
	repairs atomic.Int64 // changes of repair rounds that finished
	failed  atomic.Int64
	pacer   *apiclient.Pacer // counts the requests; nil for a fleet, paced in changes
	sent    int              // requests before the progress started
	// inFlight is the limit on requests in flight, of every server added up; nil
	// for none.
	inFlight func() int
	pbxs     int          // a fleet's PBXs to apply; 0 for one server
	pbxsDone atomic.Int64 // of those, the PBXs applied
	stop     chan struct{}
	stopped  chan struct{}
}

func startProgress(out *logLines, total int, pacer *apiclient.Pacer, limiter *apiclient.Limiter) *progress {
	p := &progress{out: out, total: total, pacer: pacer, sent: pacer.Requests()}
	if limiter != nil {
		p.inFlight = limiter.Limit
	}
	return p.start()
}

// startFleetProgress is startProgress for the total changes of a fleet's pbxs PBXs,
// whose limits on requests in flight inFlight adds up.
func startFleetProgress(out *logLines, total, pbxs int, inFlight func() int) *progress {
	p := &progress{out: out, total: total, pbxs: pbxs, inFlight: inFlight}
	return p.start()
}

// start starts redrawing the line, until end.
func (p *progress) start() *progress {
	p.started, p.stop, p.stopped = time.Now(), make(chan struct{}), make(chan struct{})
	go p.run()
	return p
}

// record counts a finished change; sync.Apply calls it from its workers.
func (p *progress) record(r sync.Result) {
	if r.Round > 0 {
		p.repairs.Add(1)
	} else {
		p.done.Add(1)
	}
	if r.Status == sync.Failed {
		p.failed.Add(1)
	}
}

func (p *progress) run() {
	defer close(p.stopped)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.out.show(p.line, false)
		case <-p.stop:
			p.out.show(p.line, true)
			return
		}
	}
}

// end draws the last line and stops redrawing.
func (p *progress) end() {
	close(p.stop)
	<-p.stopped
}

// line is the progress line, from the start of the terminal's line.
func (p *progress) line() string {
	done, repairs := p.done.Load(), p.repairs.Load()
	elapsed := time.Since(p.started)
	line := fmt.Sprintf("Applying: %d/%d done, %d failed", done, p.total, p.failed.Load())
	if p.pbxs > 0 {
		line += fmt.Sprintf(", %d/%d PBXs done", p.pbxsDone.Load(), p.pbxs)
	}
	pace, unit := float64(done+repairs), "changes/s"
	if p.pacer != nil {
		pace, unit = float64(p.pacer.Requests()-p.sent), "requests/s"
	}
	if elapsed > 0 {
		pace /= elapsed.Seconds()
	}
	line += fmt.Sprintf(", %.1f %s", pace, unit)
	if p.inFlight != nil {
		line += fmt.Sprintf(" (%d in flight at most)", p.inFlight())
	}
	line += ", " + elapsed.Round(time.Second).String()
	if done > 0 && int(done) < p.total {
		left := time.Duration(float64(elapsed) / float64(done) * float64(p.total-int(done)))
		line += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	if repairs > 0 {
		line += fmt.Sprintf(", %d in repair rounds", repairs)
	}
	return "\r" + line + "\x1b[K" // \x1b[K clears what a longer line left
}
