package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// ResultFormatVersion is the version of apply's JSON result (spec/cli.md).
const ResultFormatVersion = 1

// JSONResult is the result of apply as one JSON document, the contract that scripts
// and monitoring rely on. Secret values read "(sensitive)".
type JSONResult struct {
	FormatVersion int           `json:"format_version"`
	Changes       []JSONOutcome `json:"changes"`
	Summary       JSONCounts    `json:"summary"`
	Verified      bool          `json:"verified"`
	Drift         []JSONDrift   `json:"drift"`
	// Unresolved are the changes still found after the last repair round.
	Unresolved []plan.JSONChange `json:"unresolved"`
	// VerificationError is why the server could not be read back, if it could not.
	VerificationError string `json:"verification_error,omitempty"`
	// NotPlanned are the companies the plan left out, since the server could not be
	// read for them.
	NotPlanned []plan.JSONNotPlanned `json:"not_planned,omitempty"`
	Rounds     int                   `json:"rounds"`
	Retries    int                   `json:"retries"`
	// ParallelismLimit is the limit on requests in flight the run settled on.
	ParallelismLimit int     `json:"parallelism_limit,omitempty"`
	Interrupted      bool    `json:"interrupted"`
	DurationSeconds  float64 `json:"duration_seconds"`
	// Error is why the run did not succeed, as pbxsync printed it; the command sets it.
	Error string `json:"error,omitempty"`
}

// JSONOutcome is one change of the plan, or of a repair round, with what became of it.
type JSONOutcome struct {
	plan.JSONChange
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"` // for failed and skipped changes
	Round  int    `json:"round"`           // the round of its last attempt: 0 for the plan
}

// JSONCounts count the changes by how they ended.
type JSONCounts struct {
	OK      int `json:"ok"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	NotRun  int `json:"not_run"`
}

// JSONDrift is a value the server did not keep, as a person reads it.
type JSONDrift struct {
	Company string `json:"company"`
	Field   string `json:"field"`
	Want    string `json:"want"`
	Got     string `json:"got"`
}

// Outcomes returns what became of each change: its last result, in the order the
// changes were first tried. A change that failed and was repaired in a later round
// ends ok; the Change is the first one tried, with all its fields.
func (r *Report) Outcomes() []Result {
	index := map[string]int{}
	var out []Result
	for _, res := range r.Results {
		k := key(res.Change)
		i, seen := index[k]
		if !seen {
			index[k] = len(out)
			out = append(out, res)
			continue
		}
		first := out[i].Change
		out[i] = res
		out[i].Change = first
	}
	return out
}

// Counts counts the outcomes by status.
func (r *Report) Counts() JSONCounts {
	var n JSONCounts
	for _, res := range r.Outcomes() {
		switch res.Status {
		case OK:
			n.OK++
		case Failed:
			n.Failed++
		case Skipped:
			n.Skipped++
		case NotRun:
			n.NotRun++
		}
	}
	return n
}

// drift returns the values the server did not keep, secrets redacted, and the error
// that kept the server from being read back.
func (r *Report) drift() ([]Drift, string) {
	var kept []Drift
	for _, d := range r.Drift {
		d.Want, d.Got = displayValue(d.Field, d.Want), displayValue(d.Field, d.Got)
		kept = append(kept, d)
	}
	var verification string
	if r.VerifyError != nil {
		verification = r.VerifyError.Error()
	}
	return kept, verification
}

// displayValue shows a secret field's value as (sensitive), whatever it holds.
func displayValue(field, s string) string {
	if apiclient.IsSecret(field) {
		return apiclient.Redacted
	}
	return s
}

// Succeeded reports whether every change is ok and the server, read back, holds what
// the inventory asks.
func (r *Report) Succeeded() bool { return r.wholeVerified() && !r.Interrupted }

// wholeVerified reports whether the server holds the whole inventory: verified, and
// no company left out of the plan.
func (r *Report) wholeVerified() bool { return r.Verified && len(r.NotPlanned) == 0 }

// Err says in one line why the run did not succeed; nil when it did.
func (r *Report) Err() error {
	if r.Succeeded() {
		return nil
	}
	n := r.Counts()
	drift, verification := r.drift()
	var parts []string
	if n.Failed > 0 {
		parts = append(parts, countOf(n.Failed, "change failed", "changes failed"))
	}
	if n.Skipped > 0 {
		parts = append(parts, countOf(n.Skipped, "change skipped", "changes skipped"))
	}
	if n.NotRun > 0 {
		parts = append(parts, countOf(n.NotRun, "change not run", "changes not run"))
	}
	if len(drift) > 0 {
		parts = append(parts, "the server did not keep "+countOf(len(drift), "value", "values"))
	}
	if len(r.Unresolved) > 0 {
		parts = append(parts, countOf(len(r.Unresolved), "change", "changes")+" still to make")
	}
	if verification != "" {
		parts = append(parts, "the server could not be read back: "+verification)
	}
	if len(r.NotPlanned) > 0 {
		parts = append(parts, (&plan.NotPlannedError{Companies: slices.Sorted(maps.Keys(r.NotPlanned))}).Error())
	}
	if r.Fatal != nil {
		return fmt.Errorf("stopped, nothing more was sent: %w; %s", r.Fatal, strings.Join(append(parts, "fix the credentials and run apply again"), ", "))
	}
	if r.Interrupted && r.Cause != nil && !errors.Is(r.Cause, context.Canceled) {
		return fmt.Errorf("interrupted: %w: %s", r.Cause, strings.Join(append(parts, "run apply again to finish"), ", "))
	}
	if r.Interrupted {
		return fmt.Errorf("interrupted: %s", strings.Join(append(parts, "run apply again to finish"), ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "the server was not verified")
	}
	return errors.New("apply did not succeed: " + strings.Join(parts, ", "))
}

// interruption says what interrupted the run: an interrupt, or the cause of its
// context's end when that says more (the deadline of --timeout).
func (r *Report) interruption() string {
	if r.Cause == nil || errors.Is(r.Cause, context.Canceled) {
		return "interrupted"
	}
	return "interrupted: " + r.Cause.Error()
}

// Message is the error of a failed or skipped change as a person should read it: the
// server's message when it refused. The client has removed from that message every
// credential and secret value it sent (apiclient), whatever the server echoed.
func (res Result) Message() string {
	if res.Err == nil {
		return ""
	}
	msg := res.Err.Error()
	var refused *apiclient.APIError
	if errors.As(res.Err, &refused) && msg == refused.Error() {
		msg = "server refused: " + refused.Message // the change names verb and company
	}
	return msg
}

// describeChange names a change as the summary lists it.
func describeChange(c plan.Change) string {
	if c.Action == plan.Group {
		return fmt.Sprintf("group %s into the container of %s", apiclient.Printable(c.Company), apiclient.Printable(c.Target))
	}
	return string(c.Action) + " " + apiclient.Printable(c.Company)
}

// JSON returns the result's JSON form: each change with its status, the counts,
// and what verification found.
func (r *Report) JSON() JSONResult {
	outcomes := r.Outcomes()
	changes := make([]plan.Change, len(outcomes))
	for i, res := range outcomes {
		changes[i] = res.Change
	}
	jsonChanges := (&plan.Plan{Changes: changes}).JSON().Changes
	drift, verification := r.drift()
	out := JSONResult{
		FormatVersion:     ResultFormatVersion,
		Changes:           make([]JSONOutcome, len(outcomes)),
		Summary:           r.Counts(),
		Verified:          r.wholeVerified(),
		Drift:             make([]JSONDrift, len(drift)),
		Unresolved:        (&plan.Plan{Changes: r.Unresolved}).JSON().Changes,
		VerificationError: verification,
		Rounds:            r.Rounds,
		Retries:           r.Retries,
		ParallelismLimit:  r.ParallelismLimit,
		Interrupted:       r.Interrupted,
		DurationSeconds:   roundSeconds(r.Duration),
	}
	out.NotPlanned = (&plan.Plan{NotPlanned: r.NotPlanned}).JSON().NotPlanned
	for i, res := range outcomes {
		out.Changes[i] = JSONOutcome{JSONChange: jsonChanges[i], Status: res.Status, Error: res.Message(), Round: res.Round}
	}
	for i, d := range drift {
		out.Drift[i] = JSONDrift(d)
	}
	return out
}

// WriteJSON writes the result as one indented JSON document.
func (res JSONResult) WriteJSON(w io.Writer) error {
	return apiclient.WriteJSON(w, res)
}

// WriteSummary writes what a person reads after an apply: the counts, each failed
// and skipped change with its message, the values the server did not keep, and
// whether the server was verified.
func (r *Report) WriteSummary(w io.Writer) error {
	b := &strings.Builder{}
	outcomes := r.Outcomes()
	drift, verification := r.drift()
	if len(outcomes) == 0 && r.Succeeded() {
		_, err := io.WriteString(w, "No changes.\n")
		return err
	}
	n := r.Counts()
	fmt.Fprintf(b, "Apply: %d ok, %d failed, %d skipped, %d not run", n.OK, n.Failed, n.Skipped, n.NotRun)
	if r.Rounds > 0 {
		fmt.Fprintf(b, ", after %s", countOf(r.Rounds, "repair round", "repair rounds"))
	}
	if r.Retries > 0 {
		fmt.Fprintf(b, "; %s", countOf(r.Retries, "request retried", "requests retried"))
	}
	b.WriteString(".\n")
	for _, status := range []Status{Failed, Skipped} {
		head := "Failed:"
		if status == Skipped {
			head = "Skipped:"
		}
		for _, res := range outcomes {
			if res.Status != status {
				continue
			}
			if head != "" {
				fmt.Fprintf(b, "%s\n", head)
				head = ""
			}
			fmt.Fprintf(b, "  %s: %s\n", describeChange(res.Change), apiclient.Printable(res.Message()))
		}
	}
	if len(drift) > 0 {
		b.WriteString("Not kept by the server (written with success, read back different):\n")
		for _, d := range drift {
			fmt.Fprintf(b, "  %s: %s: wanted %s, kept %s\n", apiclient.Printable(d.Company), apiclient.Printable(d.Field),
				apiclient.Printable(d.Want), apiclient.Printable(d.Got))
		}
	}
	if len(r.Unresolved) > 0 {
		b.WriteString("Still different on the server:\n")
		for _, c := range r.Unresolved {
			fmt.Fprintf(b, "  %s\n", describeChange(c))
		}
	}
	if verification != "" {
		fmt.Fprintf(b, "Verification failed: %s\n", apiclient.Printable(verification))
	}
	if len(r.NotPlanned) > 0 {
		b.WriteString("Not planned (the server could not be read for them; run again):\n")
		for _, id := range slices.Sorted(maps.Keys(r.NotPlanned)) {
			fmt.Fprintf(b, "  %s: %s\n", apiclient.Printable(id), apiclient.Printable(r.NotPlanned[id]))
		}
	}
	if r.Fatal != nil {
		fmt.Fprintf(b, "Stopped: %s; %s not run, nothing more was sent.\n", apiclient.Printable(r.Fatal.Error()), countOf(n.NotRun, "change was", "changes were"))
	}
	if r.Interrupted {
		fmt.Fprintf(b, "%s%s: %s not run; run apply again to finish.\n", strings.ToUpper(r.interruption()[:1]), r.interruption()[1:],
			countOf(n.NotRun, "change was", "changes were"))
	}
	verified := "no"
	if r.wholeVerified() {
		verified = "yes"
	}
	fmt.Fprintf(b, "Verified: %s\n", verified)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMetrics writes the run in the Prometheus text exposition format, for
// node_exporter's textfile collector: gauges only, since each run replaces the file,
// in a fixed order; now is when the run ended. Each sample is labelled with the
// server (the URL's host), so that the files of two PBXs can share one directory. runErr is the run's error, the report's own
// (Err) or one that ended the run before or outside its changes: success is 0 and
// pbxsync_errors at least 1 whenever the JSON result has an error.
func (r *Report) WriteMetrics(w io.Writer, now time.Time, server string, runErr error) error {
	m := newMetrics(`server="` + promEscape(server) + `"`)
	r.addMetrics(m, now, runErr)
	_, err := io.WriteString(w, m.String())
	return err
}

// addMetrics adds the run's samples to m, with m's labels.
func (r *Report) addMetrics(m *metrics, now time.Time, runErr error) {
	drift, _ := r.drift()
	n := r.Counts()
	problems := n.Failed + len(drift) + len(r.NotPlanned)
	if runErr != nil && problems == 0 {
		problems = 1
	}
	m.gauge("pbxsync_last_run_timestamp_seconds", "When the last pbxsync apply ended, in seconds since 1970.",
		m.value(float64(now.UnixMilli())/1000))
	m.gauge("pbxsync_last_run_duration_seconds", "How long the last pbxsync apply took.", m.value(roundSeconds(r.Duration)))
	m.gauge("pbxsync_last_run_success", "1 when every change of the last apply succeeded and the server was verified, else 0.",
		m.flag(runErr == nil && r.Succeeded()))
	byKind := map[string]int{}
	for _, res := range r.Outcomes() {
		byKind[string(res.Action)+"/"+string(res.Status)]++
	}
	var changes []string
	for _, a := range plan.Actions {
		for _, s := range []Status{OK, Failed, Skipped, NotRun} {
			status := strings.ReplaceAll(string(s), " ", "_") // as the JSON result writes it
			changes = append(changes, m.with(fmt.Sprintf("action=%q,status=%q", a, status), float64(byKind[string(a)+"/"+string(s)])))
		}
	}
	m.gauge("pbxsync_changes", "Changes of the last apply, by action and how they ended.", changes...)
	m.gauge("pbxsync_drift_fields", "Values the server did not keep although they were written with success.", m.value(float64(len(drift))))
	m.gauge("pbxsync_errors", "Problems of the last run: failed changes, values the server did not keep, companies not planned; at least 1 whenever the run failed.", m.value(float64(problems)))
	m.gauge("pbxsync_interrupted", "1 when the last apply was interrupted, else 0.", m.flag(r.Interrupted))
	m.gauge("pbxsync_parallelism_limit", "The limit on requests in flight the last apply settled on for the server (--parallelism auto finds it); 0 when it applied nothing.",
		m.value(float64(r.ParallelismLimit)))
}

// metrics builds a file of the Prometheus text format: gauges only, since each run
// replaces the file, each family once, in the order first added, every sample with
// the current labels first.
type metrics struct {
	labels   string // name="value" pairs, escaped
	order    []string
	help     map[string]string
	families map[string][]string
}

func newMetrics(labels string) *metrics {
	return &metrics{labels: labels, help: map[string]string{}, families: map[string][]string{}}
}

// gauge adds samples to a gauge, first declared with its help.
func (m *metrics) gauge(name, help string, samples ...string) {
	if _, seen := m.help[name]; !seen {
		m.order = append(m.order, name)
		m.help[name] = help
	}
	m.families[name] = append(m.families[name], samples...)
}

// String is the file: each gauge's HELP and TYPE lines, then its samples.
func (m *metrics) String() string {
	b := &strings.Builder{}
	for _, name := range m.order {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, m.help[name], name)
		for _, s := range m.families[name] {
			fmt.Fprintf(b, "%s%s\n", name, s)
		}
	}
	return b.String()
}

// value is a sample with the current labels.
func (m *metrics) value(v float64) string { return m.with("", v) }

// with is a sample with the current labels and extra ones (name="value" pairs).
func (m *metrics) with(extra string, v float64) string {
	labels := m.labels
	if extra != "" {
		labels += "," + extra
	}
	return "{" + labels + "} " + strconv.FormatFloat(v, 'f', -1, 64)
}

// flag is a sample of 1 for true, 0 for false.
func (m *metrics) flag(b bool) string {
	if b {
		return m.value(1)
	}
	return m.value(0)
}

// promEscape escapes a label value as Prometheus' text format wants it.
func promEscape(s string) string {
	// A label value must be UTF-8, or Prometheus refuses the whole file: a sim:PATH
	// or a host of other bytes keeps its readable part.
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// pbxLabels are the labels of a fleet's samples: the PBX, and its server.
func pbxLabels(pbx, server string) string {
	return `pbx="` + promEscape(pbx) + `",server="` + promEscape(server) + `"`
}

// roundSeconds rounds d to milliseconds.
func roundSeconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
