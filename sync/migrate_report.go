package sync

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// MigrationReport is the report of a migration, printed by migrate --json and
// written by --report. Secret values never appear in it.
type MigrationReport struct {
	FormatVersion int               `json:"format_version"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	Companies     []MigratedCompany `json:"companies"`
	// Verified is true when every migrated company was read back on the target and
	// holds what the source held.
	Verified     bool `json:"verified"`
	DeleteSource bool `json:"delete_source"`
	Interrupted  bool `json:"interrupted"`
	// TargetApply is the result of the apply on the target, as apply --json prints
	// it; null when nothing was applied.
	TargetApply     *JSONResult `json:"target_apply"`
	DurationSeconds float64     `json:"duration_seconds"`
	Error           string      `json:"error,omitempty"`
}

// MigratedCompany is what became of one company.
type MigratedCompany struct {
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

// Report builds the migration report, from and to naming the servers, err being
// the run's error.
func (m *Migration) Report(from, to string, interrupted bool, duration time.Duration, err error) MigrationReport {
	r := MigrationReport{
		FormatVersion: 1, From: from, To: to, Companies: []MigratedCompany{}, Verified: m.Verified(),
		DeleteSource: m.opts.DeleteSource, Interrupted: interrupted, DurationSeconds: roundSeconds(duration),
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
		c := MigratedCompany{Company: id, Source: "kept", Target: m.targetAction(id)}
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
				c.Differences = d.What()
			}
		}
		r.Companies = append(r.Companies, c)
	}
	return r
}

// targetAction says what was done to the company on the target: the worst status of
// its changes when one did not succeed, else created, updated (settings, name or
// grouping), or adopted-unchanged when the target held it as the source does.
func (m *Migration) targetAction(id string) string {
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
	statuses := map[Status]bool{}
	for _, res := range m.applied.Outcomes() {
		if res.Company == id {
			statuses[res.Status] = true
		}
	}
	switch {
	case statuses[Failed]:
		return "failed"
	case statuses[Skipped]:
		return "skipped"
	case statuses[NotRun]:
		return "not run"
	case create:
		return "created"
	case len(statuses) > 0:
		return "updated"
	}
	return "adopted-unchanged"
}

// WriteJSON writes the report as one indented JSON document.
func (r MigrationReport) WriteJSON(w io.Writer) error {
	return apiclient.WriteJSON(w, r)
}

// WriteSummary writes the report r of the migration for a person: the apply on the
// target, then a table of the companies and what became of them, then the notes.
func (m *Migration) WriteSummary(w io.Writer, r MigrationReport) error {
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
	fmt.Fprintf(w, "Migration from %s to %s:\n", apiclient.Printable(r.From), apiclient.Printable(r.To))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COMPANY\tSOURCE ID\tTARGET ID\tON THE SOURCE\tON THE TARGET\tVERIFIED")
	id := func(n *int64) string {
		if n == nil {
			return "-"
		}
		return strconv.FormatInt(*n, 10)
	}
	for _, c := range r.Companies {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", apiclient.Printable(c.Company), id(c.SourceID), id(c.TargetID), c.Source, c.Target, yesNo(c.Verified))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Companies {
		if len(c.Differences) > 0 {
			fmt.Fprintf(w, "  %s differs on the target: %s\n", apiclient.Printable(c.Company), apiclient.Printable(strings.Join(c.Differences, ", ")))
		}
		if c.Note != "" {
			fmt.Fprintf(w, "  %s on the source: %s\n", apiclient.Printable(c.Company), apiclient.Printable(c.Note))
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

// migrationStates are the values of a migrated company's target, in the order the
// metrics list them.
var migrationStates = []string{"created", "updated", "adopted-unchanged", "failed", "skipped", "not run"}

// WriteMetrics writes the migration in the Prometheus text format, for
// node_exporter's textfile collector. Its families are its own (pbxsync_migrate_...),
// so that apply's file and migrate's can share a directory, and each sample is
// labelled with both sides (from and to: the URLs' hosts). now is when the run ended.
func (r MigrationReport) WriteMetrics(w io.Writer, now time.Time, from, to string) error {
	m := newMetrics(`from="` + promEscape(from) + `",to="` + promEscape(to) + `"`)
	byTarget := map[string]int{}
	var verified, deleted, problems int
	for _, c := range r.Companies {
		byTarget[c.Target]++
		if c.Verified {
			verified++
		} else {
			problems++
		}
		if c.Source == "deleted" {
			deleted++
		}
	}
	if r.Error != "" && problems == 0 {
		problems = 1
	}
	var targets []string
	for _, s := range migrationStates {
		targets = append(targets, m.with(fmt.Sprintf("target=%q", strings.ReplaceAll(s, " ", "_")), float64(byTarget[s])))
	}
	m.gauge("pbxsync_migrate_last_run_timestamp_seconds", "When the last pbxsync migrate ended, in seconds since 1970.",
		m.value(float64(now.UnixMilli())/1000))
	m.gauge("pbxsync_migrate_last_run_duration_seconds", "How long the last pbxsync migrate took.", m.value(r.DurationSeconds))
	m.gauge("pbxsync_migrate_last_run_success", "1 when the last migrate ended without an error and every company was verified on the target, else 0.",
		m.flag(r.Error == "" && r.Verified))
	m.gauge("pbxsync_migrate_companies", "Companies of the last migrate, by what was done on the target.", targets...)
	m.gauge("pbxsync_migrate_verified_companies", "Companies of the last migrate that the target holds as the source did.", m.value(float64(verified)))
	m.gauge("pbxsync_migrate_source_deleted_companies", "Companies of the last migrate deleted from the source (--delete-source).", m.value(float64(deleted)))
	m.gauge("pbxsync_migrate_errors", "Companies of the last migrate not verified on the target; at least 1 whenever the run failed.", m.value(float64(problems)))
	m.gauge("pbxsync_migrate_interrupted", "1 when the last migrate was interrupted, else 0.", m.flag(r.Interrupted))
	_, err := io.WriteString(w, m.String())
	return err
}
