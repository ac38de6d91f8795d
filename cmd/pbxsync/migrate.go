package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/sync"
)

type migrateOptions struct {
	rounds       int
	rate         float64
	lockFile     string
	from, to     string
	companies    []string
	match        string
	autoApprove  bool
	deleteSource bool
	maxDelete    int
	report       string
	metricsFile  string
	parallelism  int
	json         bool
}

func (a *app) newMigrateCmd() *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate --from URL --to URL",
		Short: "Copy companies from one server to another, and verify the copy",
		Long: `Copy companies, with their settings, secrets and grouping, from one server (--from)
to another (--to), verify the copy, and with --delete-source delete them from the
first:

  1. Read the source and select the companies: all of them, or those --company names
     and --match matches, with the companies that share their containers.
  2. Build the inventory of the selection in memory, as export would write it, with
     the secrets' values: they are carried in memory and never written anywhere.
  3. Plan on the target. A company the target already has is adopted and updated,
     not created again; the target's other companies are not touched (no prune).
  4. Show the plan of both sides on standard error and ask, as apply does: only the
     answer "yes" on a terminal goes on, or --auto-approve (needed without a terminal).
  5. Apply on the target, read it back and compare it with the source, company by
     company, as diff does: names, known settings, secrets, who shares a container.
  6. With --delete-source, and only when every migrated company was verified, delete
     them from the source, one container group at a time. More deletes than
     --max-delete (default 0) refuse the whole migration before any write (exit 3).
     A group in which a company changed on the source since it was read is kept.

Standard output carries the migration report: each company with its numeric id on the
source and on the target, what was done on each side (created, updated,
adopted-unchanged; deleted, kept) and whether it was verified; with --json one JSON
document instead (format_version 1). --report FILE writes that document too, whatever
the outcome, and --metrics-file FILE the run's metrics for node_exporter (families
pbxsync_migrate_..., labelled from and to). An interrupted migration (Ctrl-C: changes in flight finish, nothing new
starts) is finished by running the same command again: its plan adopts what the first
run created.

Descriptions are not migrated (the API cannot read them), nor fields this pbxsync does
not know (a warning names them).

Credentials come from the environment, one set per side: PBX_FROM_API_KEY (or
PBX_FROM_USERNAME and PBX_FROM_PASSWORD) for --from, PBX_TO_API_KEY (or PBX_TO_USERNAME
and PBX_TO_PASSWORD) for --to. A sim:FILE side needs none.

--from and --to must be two servers: two spellings of one URL, or host names that
resolve to a common address on one port, are refused before any request; a source
and a target that hold the same companies with the same numeric ids, before any
write (exit 1). Two servers whose every company was created in the same order look
the same: run again after it created every company on an empty target, a whole
migration is refused so, and the source's copies are left for apply --prune.`,
		Example: `  # Rehearse on a copy of the target first: the plan and the calls, nothing real written.
  PBX_URL=https://new-pbx.example.com pbxsync export -o target-copy.yaml --include-secrets
  pbxsync migrate --from https://old-pbx.example.com --to sim:target-copy.yaml --match '^acme_'

  # Then for real: review the plan, type yes.
  pbxsync migrate --from https://old-pbx.example.com --to https://new-pbx.example.com \
    --match '^acme_' --report migration.json

  # Move two customers and remove them from the old server once verified.
  pbxsync migrate --from https://old-pbx.example.com --to https://new-pbx.example.com \
    --company acme_hq --company beta --delete-source --max-delete 10 --auto-approve --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.migrate(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "the source server's `URL`, or sim:FILE")
	f.StringVar(&o.to, "to", "", "the target server's `URL`, or sim:FILE")
	selectionFlags(cmd, &o.companies, &o.match, "")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "migrate without asking; needed when standard input is not a terminal")
	f.BoolVar(&o.deleteSource, "delete-source", false, "once the target is verified, delete the migrated companies from the source")
	f.IntVar(&o.maxDelete, "max-delete", 0, "refuse, before any write, to delete more than `N` companies from the source (exit 3)")
	f.StringVar(&o.report, "report", "", "also write the JSON migration report to `FILE`, even when the run fails")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write Prometheus metrics of the run to `FILE` (node_exporter textfile; pbxsync_migrate_... with from and to labels), even when it fails")
	a.parallelismFlag(cmd, &o.parallelism)
	f.IntVar(&o.rounds, "rounds", 3, "at most `N` repair rounds after verifying the target (0 for none)")
	f.Float64Var(&o.rate, "rate", 0, "at most `N` requests a second to the target (0: no cap); the pace halves whenever it asks to slow down")
	f.StringVar(&o.lockFile, "lock-file", "", "hold a lock on `FILE` for the whole run; exit 1 at once when another run holds it")
	f.BoolVar(&o.json, "json", false, "print the migration report as one JSON document")
	formatFlag(cmd, &o.json)
	return cmd
}

// migrateRun is what one run of migrate knows, for its report.
type migrateRun struct {
	from, to  *server
	migration *sync.Migration
	approved  bool // the plan was approved, or there was nothing to approve
}

func (a *app) checkMigrate(ctx context.Context, o migrateOptions) error {
	if err := a.checkSides(ctx, o.from, o.to); err != nil {
		return err
	}
	switch {
	case o.maxDelete < 0:
		return fmt.Errorf("invalid --max-delete %d: 0 or more", o.maxDelete)
	case o.rounds < 0:
		return fmt.Errorf("invalid --rounds %d: 0 or more", o.rounds)
	case o.rate < 0:
		return fmt.Errorf("invalid --rate %g: 0 (no cap) or more", o.rate)
	}
	if _, err := compileMatch(o.match); err != nil {
		return err
	}
	if !o.autoApprove && !terminal(a.stdin) {
		return errors.New("standard input is not a terminal, so no one can confirm: pass --auto-approve to migrate without confirmation")
	}
	return nil
}

func (a *app) migrate(ctx context.Context, o migrateOptions) error {
	if err := a.checkMigrate(ctx, o); err != nil {
		return err
	}
	unlock, err := sync.LockFile(o.lockFile)
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	re, _ := compileMatch(o.match) // checked by checkMigrate
	r := &migrateRun{migration: sync.NewMigration(sync.MigrateOptions{
		Companies: o.companies, Match: re, DeleteSource: o.deleteSource, MaxDelete: o.maxDelete, Parallelism: o.parallelism,
		SourceName: o.from, TargetName: o.to, Logger: a.logger,
		OnDiagnostic: a.diagnostic,
	})}
	err = a.runMigration(ctx, o, r)
	return a.finishMigration(ctx, o, r, err, start)
}

// runMigration connects both sides, prepares the migration, shows its plan, asks,
// and executes it.
func (a *app) runMigration(ctx context.Context, o migrateOptions, r *migrateRun) (err error) {
	if r.from, err = connectSide(ctx, o.from, "--from", "PBX_FROM", a.opts, false, a.lookupEnv, a.logger); err != nil {
		return err
	}
	defer func() { err = closeServer(r.from, err) }()
	pacer := apiclient.NewPacer(o.rate)
	if r.to, err = connectSide(ctx, o.to, "--to", "PBX_TO", a.opts, true, a.lookupEnv, a.logger, apiclient.WithPacer(pacer)); err != nil {
		return err
	}
	defer func() { err = closeServer(r.to, err) }()
	defer a.logSlowdowns(ctx, pacer)

	m := r.migration
	if err := m.Prepare(ctx, r.from, r.to); err != nil {
		return err
	}
	selected := m.Selected()
	if len(selected) == 0 {
		fmt.Fprintln(a.stderr, "Nothing to migrate: no company of the source is selected.")
		r.approved = true
		return nil
	}
	if err := a.showMigrationPlan(ctx, r, o); err != nil {
		return err
	}
	if err := m.Budget(); err != nil {
		return err
	}
	if (!m.Plan().Empty() || o.deleteSource) && !o.autoApprove {
		if err := a.confirm(ctx); err != nil {
			return err
		}
	}
	r.approved = true
	return m.Execute(ctx, func(ctx context.Context, p *plan.Plan) *sync.Report {
		return a.applyPlan(ctx, r.to, p, applyOptions{parallelism: o.parallelism, rounds: o.rounds}, pacer)
	})
}

// showMigrationPlan shows on stderr what the migration will do on each side.
func (a *app) showMigrationPlan(ctx context.Context, r *migrateRun, o migrateOptions) error {
	m := r.migration
	deletes, selected, others := m.SourcePlan(), m.Selected(), m.Untouched()
	if a.opts.logFormat == "json" {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "migration", slog.String("from", r.from.url), slog.String("to", r.to.url),
			slog.Int("companies", len(selected)))
		if err := a.showPlan(ctx, m.Plan()); err != nil {
			return err
		}
		a.logger.LogAttrs(ctx, slog.LevelInfo, "plan on the source", slog.Int("delete", len(deletes.Changes)), slog.Int("untouched", others))
		return nil
	}
	color := a.colorful(a.stderr)
	fmt.Fprintf(a.stderr, "Migration of %s from %s to %s.\n\nOn the target, %s:\n", plural(len(selected), "company", "companies"),
		r.from.url, r.to.url, r.to.url)
	if err := render.PlanText(a.stderr, m.Plan(), color); err != nil {
		return err
	}
	if !o.deleteSource {
		_, err := fmt.Fprintf(a.stderr, "\nOn the source, %s: no change (--delete-source deletes the migrated companies once the target is verified).\n", r.from.url)
		return err
	}
	fmt.Fprintf(a.stderr, "\nOn the source, %s, once every migrated company is verified on the target:\n", r.from.url)
	if err := render.PlanText(a.stderr, deletes, color); err != nil {
		return err
	}
	_, err := fmt.Fprintf(a.stderr, "\n%s not touched.\n", plural(others, "other company of the source is", "other companies of the source are"))
	return err
}

// finishMigration writes the report (stdout once the migration was approved; the
// --report file whatever happened) and returns the run's error.
func (a *app) finishMigration(ctx context.Context, o migrateOptions, r *migrateRun, err error, start time.Time) error {
	from, to := o.from, o.to
	if r.from != nil {
		from = r.from.url
	}
	if r.to != nil {
		to = r.to.url
	}
	rep := r.migration.Report(from, to, ctx.Err() != nil, time.Since(start), shown(err))
	out := r.migration.Outcome(rep, apiclient.ServerLabel(o.from), apiclient.ServerLabel(o.to))
	return a.outputs(o.json, o.report, o.metricsFile).Write(ctx, out, r.approved, err)
}
