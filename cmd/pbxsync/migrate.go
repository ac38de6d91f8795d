package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

type migrateOptions struct {
	from, to     string
	companies    []string
	match        string
	autoApprove  bool
	deleteSource bool
	maxDelete    int
	report       string
	parallelism  int
	json         bool
}

const (
	// migrateRounds bounds the repair rounds of the apply on the target, as apply's
	// default does.
	migrateRounds = 3
	// deleteGrace is how long the deletes of a container group that has started go
	// on after an interrupt, so that a group is not left half deleted.
	deleteGrace = 15 * time.Second
)

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
the outcome. An interrupted migration (Ctrl-C: changes in flight finish, nothing new
starts) is finished by running the same command again: its plan adopts what the first
run created.

Descriptions are not migrated (the API cannot read them), nor fields this pbxsync does
not know (a warning names them).

Credentials come from the environment, one set per side: PBX_FROM_API_KEY (or
PBX_FROM_USERNAME and PBX_FROM_PASSWORD) for --from, PBX_TO_API_KEY (or PBX_TO_USERNAME
and PBX_TO_PASSWORD) for --to. A sim:FILE side needs none.

Exit codes: 0 when the migration is verified (and, with --delete-source, the source's
copies deleted); 1 on an error, a failed change, a company not verified, an
interruption; 3 when refused before any write (too many deletes).`,
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
	f.StringSliceVar(&o.companies, "company", nil, "only this company `ID` and its container partners (repeatable)")
	f.StringVar(&o.match, "match", "", "only companies whose id matches `REGEX`, and their container partners")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "migrate without asking; needed when standard input is not a terminal")
	f.BoolVar(&o.deleteSource, "delete-source", false, "once the target is verified, delete the migrated companies from the source")
	f.IntVar(&o.maxDelete, "max-delete", 0, "refuse, before any write, to delete more than `N` companies from the source (exit 3)")
	f.StringVar(&o.report, "report", "", "also write the JSON migration report to `FILE`, even when the run fails")
	f.IntVar(&o.parallelism, "parallelism", 8, "at most `N` requests in flight on each server")
	f.BoolVar(&o.json, "json", false, "print the migration report as one JSON document")
	return cmd
}

// migration is what one run of migrate learnt, for its report.
type migration struct {
	from, to *server
	snap     *plan.Snapshot // the source, as read
	selected []string       // the companies migrated, sorted
	inv      *plan.Inventory
	plan     *plan.Plan   // on the target
	approved bool         // the plan was approved, or there was nothing to approve
	applied  *sync.Report // nil when nothing was applied on the target
	target   *plan.State  // the target, read back after the apply
	diffs    map[string]companyDiff
	compared bool                     // the target was read back and compared with the source
	source   map[string]sourceOutcome // what became of each company on the source
}

// sourceOutcome is what became of a company on the source.
type sourceOutcome struct {
	action string // deleted, kept or failed
	note   string
}

// verified reports whether the target was read back and holds every migrated company
// as the source does.
func (m *migration) verified() bool {
	return m.compared && len(m.diffs) == 0 && (m.applied == nil || m.applied.Verified)
}

func (a *app) checkMigrate(o migrateOptions) error {
	if err := a.checkSides(o.from, o.to); err != nil {
		return err
	}
	switch {
	case o.parallelism < 1:
		return fmt.Errorf("invalid --parallelism %d: at least 1", o.parallelism)
	case o.maxDelete < 0:
		return fmt.Errorf("invalid --max-delete %d: 0 or more", o.maxDelete)
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
	if err := a.checkMigrate(o); err != nil {
		return err
	}
	start := time.Now()
	m := &migration{source: map[string]sourceOutcome{}}
	err := a.runMigration(ctx, o, m)
	return a.finishMigration(ctx, o, m, err, start)
}

// runMigration runs the steps of a migration, recording in m what it learnt and did.
func (a *app) runMigration(ctx context.Context, o migrateOptions, m *migration) (err error) {
	re, _ := compileMatch(o.match) // checked by checkMigrate
	if m.from, err = connectSide(ctx, o.from, "--from", "PBX_FROM", a.opts, a.lookupEnv, a.logger); err != nil {
		return err
	}
	defer func() { err = closeServer(m.from, err) }()
	pacer := apiclient.NewPacer(0)
	if m.to, err = connectSide(ctx, o.to, "--to", "PBX_TO", a.opts, a.lookupEnv, a.logger, apiclient.WithPacer(pacer)); err != nil {
		return err
	}
	defer func() { err = closeServer(m.to, err) }()
	defer a.logSlowdowns(ctx, pacer)

	if m.snap, err = plan.ReadSnapshot(ctx, m.from, o.parallelism); err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	selected, missing := selectCompanies(m.snap, o.companies, re)
	if err := a.skipMigrated(ctx, m.to, missing); err != nil {
		return err
	}
	m.selected = selected
	if len(selected) == 0 {
		fmt.Fprintln(a.stderr, "Nothing to migrate: no company of the source is selected.")
		m.approved, m.compared = true, true
		return nil
	}
	if m.inv, err = a.migrationInventory(ctx, m.snap, selected, m.from.url); err != nil {
		return err
	}
	st, err := plan.ReadState(ctx, m.to, m.inv, o.parallelism)
	if err != nil {
		return fmt.Errorf("read the target: %w", err)
	}
	if m.plan, err = plan.Diff(m.inv, st, plan.Options{}); err != nil {
		return err
	}
	if err := a.showMigrationPlan(ctx, m, o); err != nil {
		return err
	}
	if o.deleteSource && len(selected) > o.maxDelete {
		return fmt.Errorf("%w: the migration deletes %s from the source, more than --max-delete allows (%d)",
			errRefused, plural(len(selected), "company", "companies"), o.maxDelete)
	}
	if (!m.plan.Empty() || o.deleteSource) && !o.autoApprove {
		if err := a.confirm(ctx); err != nil {
			return err
		}
	}
	m.approved = true

	if !m.plan.Empty() {
		m.applied = a.applyPlan(ctx, m.to, m.inv, m.plan, applyOptions{parallelism: o.parallelism, rounds: migrateRounds}, pacer)
	}
	if ctx.Err() != nil {
		return m.interrupted()
	}
	if m.target, err = plan.ReadState(ctx, m.to, m.inv, o.parallelism); err != nil {
		return fmt.Errorf("read back the target: %w", err)
	}
	m.diffs = map[string]companyDiff{}
	for _, d := range compare(snapshotView(m.snap), stateView(m.target), selected) {
		m.diffs[d.company] = d
	}
	m.compared = true
	if !m.verified() {
		return m.notVerified(o.deleteSource)
	}
	if o.deleteSource {
		return a.deleteFromSource(ctx, m, o.parallelism)
	}
	return nil
}

// skipMigrated handles the companies named with --company that the source does not
// have: one that the target has was migrated by an earlier run, which then deleted it
// from the source, and is left out with a warning; one on neither side is an error.
func (a *app) skipMigrated(ctx context.Context, target *server, missing []string) error {
	var nowhere []string
	for _, id := range missing {
		_, exists, err := target.Lookup(ctx, id)
		if err != nil {
			return fmt.Errorf("look for %q on the target: %w", id, err)
		}
		if !exists {
			nowhere = append(nowhere, id)
			continue
		}
		a.logger.LogAttrs(ctx, slog.LevelWarn, "not on the source, but on the target: migrated already, left out", slog.String("company", id))
	}
	if len(nowhere) > 0 {
		return notOn(nowhere, "on the source (nor on the target)")
	}
	return nil
}

// migrationInventory builds the inventory of the selected companies of the source:
// the export's bytes, loaded with the secrets of the snapshot, never from the
// environment, never written anywhere.
func (a *app) migrationInventory(ctx context.Context, snap *plan.Snapshot, selected []string, from string) (*plan.Inventory, error) {
	if _, err := secretVariables(snap, selected); err != nil {
		return nil, err
	}
	chosen := map[string]bool{}
	for _, id := range selected {
		chosen[id] = true
	}
	for _, c := range snap.Companies {
		var unknown []string
		for _, name := range c.Settings.Names() {
			if _, known := apiclient.LookupField(name); !known && chosen[c.ID] {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "fields this pbxsync does not know are not migrated",
				slog.String("company", c.ID), slog.String("fields", strings.Join(unknown, ",")))
		}
	}
	data, err := snap.Export(plan.ExportOptions{Companies: selected})
	if err != nil {
		return nil, fmt.Errorf("export the source: %w", err)
	}
	secrets := snap.Secrets(selected)
	name := "<export of " + from + ">"
	inv, warnings, err := plan.Load(name, data, func(k string) (string, bool) { v, ok := secrets[k]; return v, ok })
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, w)
	}
	var invErr *plan.InventoryError
	if errors.As(err, &invErr) {
		for _, d := range invErr.Diagnostics {
			fmt.Fprintln(a.stderr, d)
		}
		return nil, fmt.Errorf("the source's companies are not a valid inventory: %s: nothing was written", plural(len(invErr.Diagnostics), "error", "errors"))
	}
	return inv, err
}

// showMigrationPlan shows on stderr what the migration will do on each side.
func (a *app) showMigrationPlan(ctx context.Context, m *migration, o migrateOptions) error {
	var deletes plan.Plan
	if o.deleteSource {
		for _, id := range m.selected {
			deletes.Changes = append(deletes.Changes, plan.Change{Action: plan.Delete, Company: id})
		}
	}
	others := len(m.snap.Companies) - len(m.selected)
	if a.opts.logFormat == "json" {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "migration", slog.String("from", m.from.url), slog.String("to", m.to.url),
			slog.Int("companies", len(m.selected)))
		if err := a.showPlan(ctx, m.plan); err != nil {
			return err
		}
		a.logger.LogAttrs(ctx, slog.LevelInfo, "plan on the source", slog.Int("delete", len(deletes.Changes)), slog.Int("untouched", others))
		return nil
	}
	color := colorful(a.stderr, a.lookupEnv)
	fmt.Fprintf(a.stderr, "Migration of %s from %s to %s.\n\nOn the target, %s:\n", plural(len(m.selected), "company", "companies"),
		m.from.url, m.to.url, m.to.url)
	if err := m.plan.WriteText(a.stderr, color); err != nil {
		return err
	}
	if !o.deleteSource {
		_, err := fmt.Fprintf(a.stderr, "\nOn the source, %s: no change (--delete-source deletes the migrated companies once the target is verified).\n", m.from.url)
		return err
	}
	fmt.Fprintf(a.stderr, "\nOn the source, %s, once every migrated company is verified on the target:\n", m.from.url)
	if err := deletes.WriteText(a.stderr, color); err != nil {
		return err
	}
	_, err := fmt.Fprintf(a.stderr, "\n%s not touched.\n", plural(others, "other company of the source is", "other companies of the source are"))
	return err
}

// interrupted is the error of a migration stopped by an interrupt (or a cancelled
// context) before it was verified.
func (m *migration) interrupted() error {
	if m.applied == nil {
		return errors.New("interrupted: nothing was changed; run migrate again to finish")
	}
	n := m.applied.Counts()
	return fmt.Errorf("interrupted: %d of %d changes made on the target, none on the source; run migrate again to finish",
		n.OK, len(m.applied.Outcomes()))
}

// notVerified is the error of a migration whose target does not hold what the source
// does.
func (m *migration) notVerified(deleteSource bool) error {
	var parts []string
	if m.applied != nil && !m.applied.Verified {
		parts = append(parts, "on the target, "+m.applied.Err().Error())
	}
	if len(m.diffs) > 0 {
		ids := slices.Sorted(maps.Keys(m.diffs))
		shown := ids[:min(len(ids), 5)]
		more := ""
		if len(ids) > len(shown) {
			more = ", ..."
		}
		parts = append(parts, fmt.Sprintf("%s on the target from the source (%s%s)",
			plural(len(ids), "company differs", "companies differ"), strings.Join(shown, ", "), more))
	}
	msg := "the migration was not verified: " + strings.Join(parts, "; ")
	if deleteSource {
		msg += "; nothing was deleted from the source"
	}
	return errors.New(msg)
}

// deleteFromSource deletes the migrated companies from the source, one container
// group at a time, at most parallelism groups at once. It reads the source again
// first: a group in which a company changed since the migration read it is kept,
// since its change would be lost. A group whose deletes started is finished (within
// deleteGrace) after an interrupt, and stops at its first failure: a group half
// deleted would be migrated apart by a later run.
func (a *app) deleteFromSource(ctx context.Context, m *migration, parallelism int) error {
	fresh, err := plan.ReadState(ctx, m.from, m.inv, parallelism)
	if err != nil {
		return fmt.Errorf("read the source again before deleting: %w", err)
	}
	changed := map[string]string{}
	for _, d := range compare(snapshotView(m.snap), stateView(fresh), m.selected) {
		switch d.kind {
		case onlyFrom:
			changed[d.company] = "is no longer on the source"
		default:
			changed[d.company] = "changed on the source since it was read (" + strings.Join(d.what(), ", ") + ")"
		}
	}

	view := snapshotView(m.snap)
	var groups [][]string
	grouped := map[string]bool{}
	for _, id := range m.selected {
		if grouped[id] {
			continue
		}
		members := view.mates[id]
		if members == nil {
			members = []string{id}
		}
		for _, member := range members {
			grouped[member] = true
		}
		groups = append(groups, members)
	}

	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(deleteGrace, cancel) })
	defer stopGrace()

	var mu stdsync.Mutex
	record := func(id, action, note string) {
		mu.Lock()
		defer mu.Unlock()
		m.source[id] = sourceOutcome{action: action, note: note}
	}
	var g errgroup.Group
	g.SetLimit(parallelism)
	for _, members := range groups {
		why := ""
		for _, id := range members {
			if changed[id] != "" {
				why = fmt.Sprintf("kept with its container: %s %s; migrate again", id, changed[id])
				break
			}
		}
		if why != "" {
			for _, id := range members {
				record(id, "kept", why)
			}
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil { // interrupted while it waited for a slot
				for _, id := range members {
					record(id, "kept", "interrupted before its container was deleted")
				}
				return nil
			}
			failed := ""
			for _, id := range members {
				if failed != "" {
					record(id, "kept", "not deleted: the delete of "+failed+" failed")
					continue
				}
				err := m.from.DeleteConfirmed(work, id)
				attrs := []slog.Attr{slog.String("action", "delete"), slog.String("company", id), slog.String("side", "source")}
				if err != nil {
					failed = id
					record(id, "failed", err.Error())
					a.logger.LogAttrs(ctx, slog.LevelWarn, "change", append(attrs, slog.String("status", string(sync.Failed)), slog.String("error", err.Error()))...)
					continue
				}
				record(id, "deleted", "")
				a.logger.LogAttrs(ctx, slog.LevelInfo, "change", append(attrs, slog.String("status", string(sync.OK)))...)
			}
			return nil
		})
	}
	_ = g.Wait()

	var kept, failed int
	for _, id := range m.selected {
		switch m.source[id].action {
		case "kept":
			kept++
		case "failed":
			failed++
		}
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: the target is verified, %s kept on the source; run migrate again to finish",
			plural(kept+failed, "company", "companies"))
	case kept+failed > 0:
		return fmt.Errorf("the target is verified, but %s not deleted from the source (%d failed, %d kept): see the report",
			plural(kept+failed, "company was", "companies were"), failed, kept)
	}
	return nil
}

// migrationReport is the report of a migration, printed by --json and written by
// --report. Secret values never appear in it.
type migrationReport struct {
	FormatVersion int               `json:"format_version"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	Companies     []migratedCompany `json:"companies"`
	// Verified is true when every migrated company was read back on the target and
	// holds what the source held.
	Verified     bool `json:"verified"`
	DeleteSource bool `json:"delete_source"`
	Interrupted  bool `json:"interrupted"`
	// TargetApply is the result of the apply on the target, as apply --json prints
	// it; null when nothing was applied.
	TargetApply     *sync.JSONResult `json:"target_apply"`
	DurationSeconds float64          `json:"duration_seconds"`
	Error           string           `json:"error,omitempty"`
}

// migratedCompany is what became of one company.
type migratedCompany struct {
	Company  string `json:"company"`
	SourceID *int64 `json:"source_id"` // the numeric id on the source, as read before the migration
	TargetID *int64 `json:"target_id"` // on the target, read back after the apply; null when unknown
	Source   string `json:"source"`    // deleted, kept or failed
	// Target is created, updated, adopted-unchanged, failed, skipped or not run.
	Target   string `json:"target"`
	Verified bool   `json:"verified"`
	// Differences name what the target holds differently: fields, "container",
	// "missing on the target"; never values.
	Differences []string `json:"differences,omitempty"`
	Note        string   `json:"note,omitempty"` // why the source kept it, or why its delete failed
}

// report builds the migration report.
func (m *migration) report(o migrateOptions, interrupted bool, duration time.Duration, err error) migrationReport {
	r := migrationReport{
		FormatVersion: 1, From: o.from, To: o.to, Companies: []migratedCompany{}, Verified: m.verified(),
		DeleteSource: o.deleteSource, Interrupted: interrupted, DurationSeconds: math.Round(duration.Seconds()*1000) / 1000,
	}
	if m.from != nil {
		r.From = m.from.url
	}
	if m.to != nil {
		r.To = m.to.url
	}
	if err != nil {
		r.Error = strings.Join(strings.Fields(err.Error()), " ")
	}
	if m.applied != nil {
		res := m.applied.JSON()
		r.TargetApply = &res
	}
	sourceNums := map[string]int64{}
	if m.snap != nil {
		for _, c := range m.snap.Companies {
			sourceNums[c.ID] = c.Num
		}
	}
	for _, id := range m.selected {
		c := migratedCompany{Company: id, Source: "kept", Target: m.targetAction(id)}
		if n, ok := sourceNums[id]; ok {
			c.SourceID = &n
		}
		if m.target != nil {
			if tc, ok := m.target.Companies[id]; ok {
				n := tc.Num
				c.TargetID = &n
			}
		}
		if s, ok := m.source[id]; ok {
			c.Source, c.Note = s.action, s.note
		}
		if m.compared {
			d, differs := m.diffs[id]
			c.Verified = !differs
			if differs {
				c.Differences = d.what()
			}
		}
		r.Companies = append(r.Companies, c)
	}
	return r
}

// targetAction says what was done to the company on the target: the worst status of
// its changes when one did not succeed, else created, updated (settings, name or
// grouping), or adopted-unchanged when the target held it as the source does.
func (m *migration) targetAction(id string) string {
	if m.plan == nil {
		return "not run"
	}
	var planned, create bool
	for _, c := range m.plan.Changes {
		if c.Company == id {
			planned = true
			create = create || c.Action == plan.Create
		}
	}
	if m.applied == nil {
		if planned {
			return "not run"
		}
		return "adopted-unchanged"
	}
	statuses := map[sync.Status]bool{}
	for _, res := range m.applied.Outcomes() {
		if res.Company == id {
			statuses[res.Status] = true
		}
	}
	switch {
	case statuses[sync.Failed]:
		return "failed"
	case statuses[sync.Skipped]:
		return "skipped"
	case statuses[sync.NotRun]:
		return "not run"
	case create:
		return "created"
	case len(statuses) > 0:
		return "updated"
	}
	return "adopted-unchanged"
}

// finishMigration writes the report (stdout once the migration was approved; the
// --report file whatever happened) and returns the run's error.
func (a *app) finishMigration(ctx context.Context, o migrateOptions, m *migration, err error, start time.Time) error {
	interrupted := ctx.Err() != nil
	rep := m.report(o, interrupted, time.Since(start), err)
	var outErrs []error
	if m.approved {
		if o.json {
			outErrs = append(outErrs, writeJSONDoc(a.stdout, rep))
		} else {
			outErrs = append(outErrs, m.writeSummary(a.stdout, rep))
		}
	}
	if o.report != "" {
		write := func(w io.Writer) error { return writeJSONDoc(w, rep) }
		if werr := writeFileAtomic(o.report, write); werr != nil {
			outErrs = append(outErrs, fmt.Errorf("--report: %w", werr))
		}
	}
	outErr := errors.Join(outErrs...)
	if err == nil {
		return outErr
	}
	if outErr != nil {
		a.logger.LogAttrs(ctx, slog.LevelError, "writing the result", slog.String("error", outErr.Error()))
	}
	return err
}

func writeJSONDoc(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSummary writes the report for a person: the apply on the target, then a
// table of the companies and what became of them, then the notes.
func (m *migration) writeSummary(w io.Writer, r migrationReport) error {
	if m.applied != nil {
		if err := m.applied.WriteSummary(w); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	if len(r.Companies) == 0 {
		_, err := io.WriteString(w, "Nothing migrated.\n")
		return err
	}
	fmt.Fprintf(w, "Migration from %s to %s:\n", r.From, r.To)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COMPANY\tSOURCE ID\tTARGET ID\tON THE SOURCE\tON THE TARGET\tVERIFIED")
	id := func(n *int64) string {
		if n == nil {
			return "-"
		}
		return strconv.FormatInt(*n, 10)
	}
	for _, c := range r.Companies {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Company, id(c.SourceID), id(c.TargetID), c.Source, c.Target, yesNo(c.Verified))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Companies {
		if len(c.Differences) > 0 {
			fmt.Fprintf(w, "  %s differs on the target: %s\n", c.Company, strings.Join(c.Differences, ", "))
		}
		if c.Note != "" {
			fmt.Fprintf(w, "  %s on the source: %s\n", c.Company, c.Note)
		}
	}
	_, err := fmt.Fprintf(w, "Verified: %s\n", yesNo(r.Verified))
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
