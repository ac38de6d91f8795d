package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// Source is what a migration needs from the server it copies from.
type Source interface {
	state.Reader
	DeleteConfirmed(ctx context.Context, id string) error
}

// MigrateOptions tune a migration.
type MigrateOptions struct {
	Companies    []string       // only these companies and their container partners; all when empty with no Match
	Match        *regexp.Regexp // only companies whose id matches, and their container partners
	DeleteSource bool           // once the target is verified, delete the migrated companies from the source
	MaxDelete    int            // with DeleteSource, more deletes than this refuse the migration (Budget)
	Parallelism  int            // requests in flight on each server
	// SourceName names the source in the inventory built from it; SourceName and
	// TargetName (their URLs) name the two in a refusal of one server under two names.
	SourceName, TargetName string
	// Logger gets the warnings and a line for each delete on the source.
	Logger *slog.Logger
	// OnDiagnostic is called with each warning, and each error, of the inventory built
	// from the source.
	OnDiagnostic func(inventory.Diagnostic)
}

// ApplyFunc applies a plan on the target, as Apply does.
type ApplyFunc func(ctx context.Context, p *plan.Plan) *Report

// Migration copies companies from one server to another: Prepare reads both sides
// and plans on the target; once the plan is approved, Execute applies it, verifies
// the target against the source and deletes from the source. It records what it
// learnt and did, for its report, whatever step failed.
type Migration struct {
	opts     MigrateOptions
	from     Source
	to       Client       // the server it copies to
	snap     *state.State // the source, read whole
	selected []string     // the companies migrated, sorted
	inv      *inventory.Inventory
	plan     *plan.Plan   // on the target
	applied  *Report      // nil when nothing was applied on the target
	target   *state.State // the target, read back after the apply
	diffs    map[string]state.CompanyDiff
	compared bool                     // the target was read back and compared with the source
	source   map[string]sourceOutcome // what became of each company on the source
}

// NewMigration returns a migration, not started: its report says so.
func NewMigration(opts MigrateOptions) *Migration {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnDiagnostic == nil {
		opts.OnDiagnostic = func(inventory.Diagnostic) {}
	}
	return &Migration{opts: opts, source: map[string]sourceOutcome{}}
}

// Selected returns the companies migrated, sorted.
func (m *Migration) Selected() []string { return m.selected }

// Plan returns the plan on the target; nil before Prepare planned.
func (m *Migration) Plan() *plan.Plan { return m.plan }

// SourcePlan returns the deletes on the source: one per migrated company with
// DeleteSource, else none.
func (m *Migration) SourcePlan() *plan.Plan {
	var deletes plan.Plan
	if m.opts.DeleteSource {
		for _, id := range m.selected {
			deletes.Changes = append(deletes.Changes, plan.Change{Action: plan.Delete, Company: id})
		}
	}
	return &deletes
}

// SourceDeleteBudgetError refuses, before any write, a migration that would delete
// more companies from the source than MigrateOptions.MaxDelete allows.
type SourceDeleteBudgetError struct {
	Deletes, Max int
}

func (e *SourceDeleteBudgetError) Error() string {
	return fmt.Sprintf("the migration deletes %s from the source, more than --max-delete allows (%d)",
		countOf(e.Deletes, "company", "companies"), e.Max)
}

// RefusedBeforeAnyWrite makes the error a plan.Refusal: exit 3.
func (*SourceDeleteBudgetError) RefusedBeforeAnyWrite() {}

// Budget returns a *SourceDeleteBudgetError when the prepared migration would delete
// more companies from the source than MaxDelete allows, nil otherwise.
func (m *Migration) Budget() error {
	if n := len(m.SourcePlan().Changes); n > m.opts.MaxDelete {
		return &SourceDeleteBudgetError{Deletes: n, Max: m.opts.MaxDelete}
	}
	return nil
}

// Untouched returns how many companies of the source are not migrated.
func (m *Migration) Untouched() int { return len(m.snap.Companies) - len(m.selected) }

// Verified reports whether the target was read back and holds every migrated company
// as the source does.
func (m *Migration) Verified() bool {
	return m.compared && len(m.diffs) == 0 && (m.applied == nil || m.applied.Verified)
}

// Prepare reads the source from, selects the companies, builds their inventory in memory
// (with the secrets' values, never written anywhere), reads the target to and plans
// on it. With no company selected, there is nothing to do: Selected is empty and the
// migration is verified.
func (m *Migration) Prepare(ctx context.Context, from Source, to Client) (err error) {
	m.from, m.to = from, to
	if m.snap, err = state.ReadSnapshot(ctx, m.from, m.opts.Parallelism); err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	selected, missing := m.snap.SelectPresent(m.opts.Companies, m.opts.Match)
	if err := m.skipMigrated(ctx, missing); err != nil {
		return err
	}
	m.selected = selected
	if len(selected) == 0 {
		m.compared = true
		return nil
	}
	if m.inv, err = m.inventory(ctx); err != nil {
		return err
	}
	st, err := state.Read(ctx, m.to, m.inv, m.opts.Parallelism)
	if err != nil {
		return fmt.Errorf("read the target: %w", err)
	}
	if why, same := apiclient.SameCompanies(m.opts.SourceName, m.opts.TargetName, m.snap.Companies, st.Companies); same {
		return &apiclient.OneServerError{A: "the source " + m.opts.SourceName, B: "the target " + m.opts.TargetName, Why: why}
	}
	if m.plan, err = plan.Diff(m.inv, st, plan.Options{}); err != nil {
		return err
	}
	return nil
}

// skipMigrated handles the companies named with --company that the source does not
// have: one that the target has was migrated by an earlier run, which then deleted it
// from the source, and is left out with a warning; one on neither side is an error.
func (m *Migration) skipMigrated(ctx context.Context, missing []string) error {
	var nowhere []string
	for _, id := range missing {
		_, exists, err := m.to.Lookup(ctx, id)
		if err != nil {
			return fmt.Errorf("look for %q on the target: %w", id, err)
		}
		if !exists {
			nowhere = append(nowhere, id)
			continue
		}
		m.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "not on the source, but on the target: migrated already, left out", slog.String("company", id))
	}
	if len(nowhere) > 0 {
		return state.NotFound(nowhere, "on the source (nor on the target)")
	}
	return nil
}

// inventory builds the inventory of the selected companies of the source: the
// export's bytes, loaded with the secrets of the snapshot, never from the
// environment, never written anywhere.
func (m *Migration) inventory(ctx context.Context) (*inventory.Inventory, error) {
	snap, selected := m.snap, m.selected
	if _, err := snap.SecretVariables(selected); err != nil {
		return nil, err
	}
	for _, id := range selected {
		c := snap.Companies[id]
		var unknown []string
		for _, name := range c.Settings.Names() {
			if _, known := apiclient.LookupField(name); !known {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			m.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "fields this pbxsync does not know are not migrated",
				slog.String("company", c.ID), slog.String("fields", strings.Join(unknown, ",")))
		}
	}
	data, err := snap.Export(state.ExportOptions{Companies: selected})
	if err != nil {
		return nil, fmt.Errorf("export the source: %w", err)
	}
	secrets := snap.Secrets(selected)
	name := "<export of " + m.opts.SourceName + ">"
	inv, warnings, err := inventory.Load(name, data, inventory.LoadOptions{Lookup: func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }})
	for _, w := range warnings {
		m.opts.OnDiagnostic(w)
	}
	var invErr *inventory.InventoryError
	if errors.As(err, &invErr) {
		for _, d := range invErr.Diagnostics {
			m.opts.OnDiagnostic(d)
		}
		return nil, fmt.Errorf("the source's companies are not a valid inventory: %s: nothing was written", countOf(len(invErr.Diagnostics), "error", "errors"))
	}
	return inv, err
}

// Execute runs a prepared and approved migration: apply applies the plan on the target (when it
// is not empty), then the target is read back and compared with the source, and with
// DeleteSource, once every migrated company is verified, they are deleted from the
// source.
func (m *Migration) Execute(ctx context.Context, apply ApplyFunc) (err error) {
	if !m.plan.Empty() {
		m.applied = apply(ctx, m.plan)
	}
	if ctx.Err() != nil {
		return m.interrupted()
	}
	if m.target, err = state.Read(ctx, m.to, m.inv, m.opts.Parallelism); err != nil {
		return fmt.Errorf("read back the target: %w", err)
	}
	m.diffs = map[string]state.CompanyDiff{}
	for _, d := range state.Compare(state.SideOf(m.snap), state.SideOf(m.target), m.selected) {
		m.diffs[d.Company] = d
	}
	m.compared = true
	if !m.Verified() {
		return m.notVerified()
	}
	if m.opts.DeleteSource {
		return m.deleteFromSource(ctx)
	}
	return nil
}

// interrupted is the error of a migration stopped by an interrupt (or a cancelled
// context) before it was verified.
func (m *Migration) interrupted() error {
	if m.applied == nil {
		return errors.New("interrupted: nothing was changed; run migrate again to finish")
	}
	n := m.applied.Counts()
	return fmt.Errorf("interrupted: %d of %d changes made on the target, none on the source; run migrate again to finish",
		n.OK, len(m.applied.Outcomes()))
}

// notVerified is the error of a migration whose target does not hold what the source
// does.
func (m *Migration) notVerified() error {
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
			countOf(len(ids), "company differs", "companies differ"), strings.Join(shown, ", "), more))
	}
	msg := "the migration was not verified: " + strings.Join(parts, "; ")
	if m.opts.DeleteSource {
		msg += "; nothing was deleted from the source"
	}
	return errors.New(msg)
}

// deleteFromSource deletes the migrated companies from the source, one container
// group at a time (a transfer that carries containers), and says what was kept.
func (m *Migration) deleteFromSource(ctx context.Context) error {
	// No company is unverified: Execute comes here only once the target, read back,
	// holds every migrated company as the source's snapshot does.
	t := transfer{
		source: m.from, snapshot: m.snap, reread: m.inv, copies: m.selected,
		containers: carryContainers, parallelism: m.opts.Parallelism, logger: m.opts.Logger,
	}
	outcomes, err := t.run(ctx)
	if err != nil {
		return fmt.Errorf("read the source again before deleting: %w", err)
	}
	maps.Copy(m.source, outcomes)

	var kept, failed int
	for _, id := range m.selected {
		switch m.source[id].action {
		case sourceKept:
			kept++
		case sourceFailed:
			failed++
		}
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: the target is verified, %s kept on the source; run migrate again to finish",
			countOf(kept+failed, "company", "companies"))
	case kept+failed > 0:
		return fmt.Errorf("the target is verified, but %s not deleted from the source (%d failed, %d kept): see the report",
			countOf(kept+failed, "company was", "companies were"), failed, kept)
	}
	return nil
}
