package sync_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// The PIN the reports below must never show.
const pin = "73195"

var (
	createGamma = plan.Change{Action: plan.Create, Company: "gamma", Name: "Gamma", Fields: map[string]plan.FieldChange{
		"nm_password": {After: apiclient.String(pin)},
		"zone":        {After: apiclient.String("US/Pacific")},
	}}
	updateBeta = plan.Change{Action: plan.Update, Company: "beta", Fields: map[string]plan.FieldChange{
		"zone": {Before: apiclient.String("Europe/London"), After: apiclient.String("Mars/Olympus")},
	}}
	updateAcme = plan.Change{Action: plan.Update, Company: "acme_hq", Fields: map[string]plan.FieldChange{
		"nm_password": {Before: apiclient.String("11111"), After: apiclient.String(pin)},
	}}
	updateAcmeTwice = plan.Change{Action: plan.Update, Company: "acme_hq", Fields: map[string]plan.FieldChange{
		"nm_password": {Before: apiclient.String("11111"), After: apiclient.String(pin)},
		"zone":        {Before: apiclient.String("Europe/London"), After: apiclient.String("US/Pacific")},
	}}
	ungroupDelta = plan.Change{Action: plan.Ungroup, Company: "delta"}
	groupEpsilon = plan.Change{Action: plan.Group, Company: "epsilon", Target: "delta"}
	deleteOld    = plan.Change{Action: plan.Delete, Company: "cust_old"}
)

func refused(verb, company, message string) error {
	return &apiclient.APIError{Verb: verb, Company: company, Message: message}
}

var errDependency = errors.New("a change it depends on did not succeed")

// The reports of the tests, as Apply would make them.
var (
	okReport = &sync.Report{
		Results: []sync.Result{
			{Change: createGamma, Status: sync.OK},
			{Change: ungroupDelta, Status: sync.OK},
			{Change: groupEpsilon, Status: sync.OK},
		},
		Verified: true,
		Duration: 1500 * time.Millisecond,
	}
	failedReport = &sync.Report{
		Results: []sync.Result{
			{Change: deleteOld, Status: sync.OK},
			{Change: updateBeta, Status: sync.Failed, Err: refused("update", "beta", "invalid value for zone: allowed: a time-zone name")},
			{Change: ungroupDelta, Status: sync.Failed, Err: fmt.Errorf("ungroup of %q: %w", "delta", errors.New("connection reset by peer"))},
			{Change: groupEpsilon, Status: sync.Skipped, Err: errDependency},
		},
		Unresolved: []plan.Change{updateBeta},
		Duration:   2 * time.Second,
	}
	// A change that failed in the plan's round and was made in a repair round, and a
	// grouping the first round did not foresee.
	repairedReport = &sync.Report{
		Results: []sync.Result{
			{Change: updateAcmeTwice, Status: sync.Failed, Err: refused("update", "acme_hq", "temporarily unavailable, try again")},
			{Change: groupEpsilon, Status: sync.OK},
			{Change: updateAcme, Status: sync.OK, Round: 1}, // what was left to write of it
			{Change: plan.Change{Action: plan.Group, Company: "zeta", Target: "delta"}, Status: sync.OK, Round: 1},
		},
		Verified: true,
		Rounds:   1,
		Duration: 3 * time.Second,
	}
	driftReport = &sync.Report{
		Results: []sync.Result{
			{Change: updateAcme, Status: sync.OK},
		},
		Drift: []sync.Drift{
			{Company: "acme_hq", Field: "nm_password", Want: pin, Got: "11111"}, // even if raw values came in
			{Company: "acme_hq", Field: "nocallrec", Want: "true", Got: "null"},
		},
		Duration: time.Second,
	}
	interruptedReport = &sync.Report{
		Results: []sync.Result{
			{Change: createGamma, Status: sync.OK},
			{Change: updateBeta, Status: sync.NotRun},
			{Change: ungroupDelta, Status: sync.NotRun},
		},
		Interrupted: true,
		Duration:    500 * time.Millisecond,
	}
	unreadableReport = &sync.Report{
		Results:     []sync.Result{{Change: ungroupDelta, Status: sync.OK}},
		VerifyError: errors.New(`read back the container of "delta": connection refused`),
	}
	emptyReport = &sync.Report{Verified: true}
)

func TestReportSummary(t *testing.T) {
	tests := []struct {
		name   string
		report *sync.Report
		want   string
	}{
		{"ok", okReport, "Apply: 3 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n"},
		{"failed and skipped", failedReport, `Apply: 1 ok, 2 failed, 1 skipped, 0 not run.
Failed:
  update beta: server refused: invalid value for zone: allowed: a time-zone name
  ungroup delta: ungroup of "delta": connection reset by peer
Skipped:
  group epsilon into the container of delta: a change it depends on did not succeed
Still different on the server:
  update beta
Verified: no
`},
		{"repaired", repairedReport, "Apply: 3 ok, 0 failed, 0 skipped, 0 not run, after 1 repair round.\nVerified: yes\n"},
		{"drift", driftReport, `Apply: 1 ok, 0 failed, 0 skipped, 0 not run.
Not kept by the server (written with success, read back different):
  acme_hq: nm_password: wanted (sensitive), kept (sensitive)
  acme_hq: nocallrec: wanted true, kept null
Verified: no
`},
		{"interrupted", interruptedReport, `Apply: 1 ok, 0 failed, 0 skipped, 2 not run.
Interrupted: 2 changes were not run; run apply again to finish.
Verified: no
`},
		{"not read back", unreadableReport, `Apply: 1 ok, 0 failed, 0 skipped, 0 not run.
Verification failed: read back the container of "delta": connection refused
Verified: no
`},
		{"no changes", emptyReport, "No changes.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, tt.report.WriteSummary(&b))
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReportErr(t *testing.T) {
	tests := []struct {
		name   string
		report *sync.Report
		want   string // "" for no error
	}{
		{"ok", okReport, ""},
		{"repaired", repairedReport, ""},
		{"no changes", emptyReport, ""},
		{"failed and skipped", failedReport, "apply did not succeed: 2 changes failed, 1 change skipped, 1 change still to make"},
		{"drift", driftReport, "apply did not succeed: the server did not keep 2 values"},
		{"interrupted", interruptedReport, "interrupted: 2 changes not run, run apply again to finish"},
		{"not read back", unreadableReport, `apply did not succeed: the server could not be read back: read back the container of "delta": connection refused`},
		{"not verified", &sync.Report{}, "apply did not succeed: the server was not verified"},
		{"interrupted before verification", &sync.Report{Verified: true, Interrupted: true}, "interrupted: run apply again to finish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.report.Err()
			require.Equal(t, tt.want == "", tt.report.Succeeded())
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestReportJSON(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name   string
		report *sync.Report
		want   sync.JSONResult
	}{
		{name: "failed and skipped", report: failedReport, want: sync.JSONResult{
			FormatVersion: 1,
			Changes: []sync.JSONOutcome{
				{JSONChange: plan.JSONChange{Action: plan.Delete, Company: "cust_old"}, Status: sync.OK},
				{JSONChange: plan.JSONChange{Action: plan.Update, Company: "beta",
					Fields: map[string]plan.JSONField{"zone": {Before: raw(`"Europe/London"`), After: raw(`"Mars/Olympus"`)}}},
					Status: sync.Failed, Error: "server refused: invalid value for zone: allowed: a time-zone name"},
				{JSONChange: plan.JSONChange{Action: plan.Ungroup, Company: "delta"},
					Status: sync.Failed, Error: `ungroup of "delta": connection reset by peer`},
				{JSONChange: plan.JSONChange{Action: plan.Group, Company: "epsilon", Target: "delta"},
					Status: sync.Skipped, Error: "a change it depends on did not succeed"},
			},
			Summary: sync.JSONCounts{OK: 1, Failed: 2, Skipped: 1},
			Drift:   []sync.JSONDrift{},
			Unresolved: []plan.JSONChange{{Action: plan.Update, Company: "beta",
				Fields: map[string]plan.JSONField{"zone": {Before: raw(`"Europe/London"`), After: raw(`"Mars/Olympus"`)}}}},
			DurationSeconds: 2,
		}},
		{name: "repaired", report: repairedReport, want: sync.JSONResult{
			FormatVersion: 1,
			Changes: []sync.JSONOutcome{
				{JSONChange: plan.JSONChange{Action: plan.Update, Company: "acme_hq", Fields: map[string]plan.JSONField{
					"nm_password": {Before: raw(`"(sensitive)"`), After: raw(`"(sensitive)"`)},
					"zone":        {Before: raw(`"Europe/London"`), After: raw(`"US/Pacific"`)},
				}},
					Status: sync.OK, Round: 1},
				{JSONChange: plan.JSONChange{Action: plan.Group, Company: "epsilon", Target: "delta"}, Status: sync.OK},
				{JSONChange: plan.JSONChange{Action: plan.Group, Company: "zeta", Target: "delta"}, Status: sync.OK, Round: 1},
			},
			Summary:         sync.JSONCounts{OK: 3},
			Verified:        true,
			Drift:           []sync.JSONDrift{},
			Unresolved:      []plan.JSONChange{},
			Rounds:          1,
			DurationSeconds: 3,
		}},
		{name: "drift", report: driftReport, want: sync.JSONResult{
			FormatVersion: 1,
			Changes: []sync.JSONOutcome{
				{JSONChange: plan.JSONChange{Action: plan.Update, Company: "acme_hq",
					Fields: map[string]plan.JSONField{"nm_password": {Before: raw(`"(sensitive)"`), After: raw(`"(sensitive)"`)}}},
					Status: sync.OK},
			},
			Summary: sync.JSONCounts{OK: 1},
			Drift: []sync.JSONDrift{
				{Company: "acme_hq", Field: "nm_password", Want: "(sensitive)", Got: "(sensitive)"},
				{Company: "acme_hq", Field: "nocallrec", Want: "true", Got: "null"},
			},
			Unresolved:      []plan.JSONChange{},
			DurationSeconds: 1,
		}},
		{name: "interrupted", report: interruptedReport, want: sync.JSONResult{
			FormatVersion: 1,
			Changes: []sync.JSONOutcome{
				{JSONChange: plan.JSONChange{Action: plan.Create, Company: "gamma", Name: "Gamma",
					Settings: map[string]json.RawMessage{"nm_password": raw(`"(sensitive)"`), "zone": raw(`"US/Pacific"`)}},
					Status: sync.OK},
				{JSONChange: plan.JSONChange{Action: plan.Update, Company: "beta",
					Fields: map[string]plan.JSONField{"zone": {Before: raw(`"Europe/London"`), After: raw(`"Mars/Olympus"`)}}},
					Status: sync.NotRun},
				{JSONChange: plan.JSONChange{Action: plan.Ungroup, Company: "delta"}, Status: sync.NotRun},
			},
			Summary:         sync.JSONCounts{OK: 1, NotRun: 2},
			Drift:           []sync.JSONDrift{},
			Unresolved:      []plan.JSONChange{},
			Interrupted:     true,
			DurationSeconds: 0.5,
		}},
		{name: "not read back", report: unreadableReport, want: sync.JSONResult{
			FormatVersion:     1,
			Changes:           []sync.JSONOutcome{{JSONChange: plan.JSONChange{Action: plan.Ungroup, Company: "delta"}, Status: sync.OK}},
			Summary:           sync.JSONCounts{OK: 1},
			Drift:             []sync.JSONDrift{},
			Unresolved:        []plan.JSONChange{},
			VerificationError: `read back the container of "delta": connection refused`,
		}},
		{name: "no changes", report: emptyReport, want: sync.JSONResult{
			FormatVersion: 1,
			Changes:       []sync.JSONOutcome{},
			Verified:      true,
			Drift:         []sync.JSONDrift{},
			Unresolved:    []plan.JSONChange{},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.report.JSON()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var b bytes.Buffer
			require.NoError(t, got.WriteJSON(&b))
			require.NotContains(t, b.String(), pin)
			require.NotContains(t, b.String(), "11111")
		})
	}
}

// TestReportJSONDocument pins the document's keys, as scripts read them.
func TestReportJSONDocument(t *testing.T) {
	res := failedReport.JSON()
	res.Error = "apply did not succeed: 2 changes failed"
	var b bytes.Buffer
	require.NoError(t, res.WriteJSON(&b))
	want := `{
  "format_version": 1,
  "changes": [
    {
      "action": "delete",
      "company": "cust_old",
      "status": "ok",
      "round": 0
    },
    {
      "action": "update",
      "company": "beta",
      "fields": {
        "zone": {
          "before": "Europe/London",
          "after": "Mars/Olympus"
        }
      },
      "status": "failed",
      "error": "server refused: invalid value for zone: allowed: a time-zone name",
      "round": 0
    },
    {
      "action": "ungroup",
      "company": "delta",
      "status": "failed",
      "error": "ungroup of \"delta\": connection reset by peer",
      "round": 0
    },
    {
      "action": "group",
      "company": "epsilon",
      "target": "delta",
      "status": "skipped",
      "error": "a change it depends on did not succeed",
      "round": 0
    }
  ],
  "summary": {
    "ok": 1,
    "failed": 2,
    "skipped": 1,
    "not_run": 0
  },
  "verified": false,
  "drift": [],
  "unresolved": [
    {
      "action": "update",
      "company": "beta",
      "fields": {
        "zone": {
          "before": "Europe/London",
          "after": "Mars/Olympus"
        }
      }
    }
  ],
  "rounds": 0,
  "retries": 0,
  "interrupted": false,
  "duration_seconds": 2,
  "error": "apply did not succeed: 2 changes failed"
}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReportMetrics(t *testing.T) {
	now := time.Date(2025, 3, 1, 2, 30, 0, 250_000_000, time.UTC)
	var b strings.Builder
	require.NoError(t, failedReport.WriteMetrics(&b, now, "pbx.example.test", failedReport.Err()))
	want := `# HELP pbxsync_last_run_timestamp_seconds When the last pbxsync apply ended, in seconds since 1970.
# TYPE pbxsync_last_run_timestamp_seconds gauge
pbxsync_last_run_timestamp_seconds{server="pbx.example.test"} 1740796200.25
# HELP pbxsync_last_run_duration_seconds How long the last pbxsync apply took.
# TYPE pbxsync_last_run_duration_seconds gauge
pbxsync_last_run_duration_seconds{server="pbx.example.test"} 2
# HELP pbxsync_last_run_success 1 when every change of the last apply succeeded and the server was verified, else 0.
# TYPE pbxsync_last_run_success gauge
pbxsync_last_run_success{server="pbx.example.test"} 0
# HELP pbxsync_changes Changes of the last apply, by action and how they ended.
# TYPE pbxsync_changes gauge
pbxsync_changes{server="pbx.example.test",action="delete",status="ok"} 1
pbxsync_changes{server="pbx.example.test",action="delete",status="failed"} 0
pbxsync_changes{server="pbx.example.test",action="delete",status="skipped"} 0
pbxsync_changes{server="pbx.example.test",action="delete",status="not_run"} 0
pbxsync_changes{server="pbx.example.test",action="create",status="ok"} 0
pbxsync_changes{server="pbx.example.test",action="create",status="failed"} 0
pbxsync_changes{server="pbx.example.test",action="create",status="skipped"} 0
pbxsync_changes{server="pbx.example.test",action="create",status="not_run"} 0
pbxsync_changes{server="pbx.example.test",action="update",status="ok"} 0
pbxsync_changes{server="pbx.example.test",action="update",status="failed"} 1
pbxsync_changes{server="pbx.example.test",action="update",status="skipped"} 0
pbxsync_changes{server="pbx.example.test",action="update",status="not_run"} 0
pbxsync_changes{server="pbx.example.test",action="ungroup",status="ok"} 0
pbxsync_changes{server="pbx.example.test",action="ungroup",status="failed"} 1
pbxsync_changes{server="pbx.example.test",action="ungroup",status="skipped"} 0
pbxsync_changes{server="pbx.example.test",action="ungroup",status="not_run"} 0
pbxsync_changes{server="pbx.example.test",action="group",status="ok"} 0
pbxsync_changes{server="pbx.example.test",action="group",status="failed"} 0
pbxsync_changes{server="pbx.example.test",action="group",status="skipped"} 1
pbxsync_changes{server="pbx.example.test",action="group",status="not_run"} 0
# HELP pbxsync_drift_fields Values the server did not keep although they were written with success.
# TYPE pbxsync_drift_fields gauge
pbxsync_drift_fields{server="pbx.example.test"} 0
# HELP pbxsync_errors Problems of the last run: failed changes, values the server did not keep, companies not planned; at least 1 whenever the run failed.
# TYPE pbxsync_errors gauge
pbxsync_errors{server="pbx.example.test"} 2
# HELP pbxsync_interrupted 1 when the last apply was interrupted, else 0.
# TYPE pbxsync_interrupted gauge
pbxsync_interrupted{server="pbx.example.test"} 0
# HELP pbxsync_parallelism_limit The limit on requests in flight the last apply settled on for the server (--parallelism auto finds it); 0 when it applied nothing.
# TYPE pbxsync_parallelism_limit gauge
pbxsync_parallelism_limit{server="pbx.example.test"} 0
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReportMetricsValues(t *testing.T) {
	tests := []struct {
		name   string
		report *sync.Report
		want   map[string]string // series -> value, for the series named
	}{
		{"ok", okReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "1", `pbxsync_interrupted{server="pbx.example.test"}`: "0", `pbxsync_errors{server="pbx.example.test"}`: "0", `pbxsync_drift_fields{server="pbx.example.test"}`: "0",
			`pbxsync_last_run_duration_seconds{server="pbx.example.test"}`:            "1.5",
			`pbxsync_changes{server="pbx.example.test",action="create",status="ok"}`:  "1",
			`pbxsync_changes{server="pbx.example.test",action="ungroup",status="ok"}`: "1",
			`pbxsync_changes{server="pbx.example.test",action="group",status="ok"}`:   "1",
		}},
		{"repaired", repairedReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "1", `pbxsync_errors{server="pbx.example.test"}`: "0",
			`pbxsync_changes{server="pbx.example.test",action="update",status="ok"}`:     "1",
			`pbxsync_changes{server="pbx.example.test",action="update",status="failed"}`: "0",
			`pbxsync_changes{server="pbx.example.test",action="group",status="ok"}`:      "2",
		}},
		{"drift", driftReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "0", `pbxsync_drift_fields{server="pbx.example.test"}`: "2", `pbxsync_errors{server="pbx.example.test"}`: "2", // values not kept are problems too
		}},
		{"interrupted", interruptedReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "0", `pbxsync_interrupted{server="pbx.example.test"}`: "1",
			`pbxsync_changes{server="pbx.example.test",action="update",status="not_run"}`:  "1",
			`pbxsync_changes{server="pbx.example.test",action="ungroup",status="not_run"}`: "1",
		}},
		{"not read back", unreadableReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "0", `pbxsync_drift_fields{server="pbx.example.test"}`: "0",
		}},
		{"no changes", emptyReport, map[string]string{
			`pbxsync_last_run_success{server="pbx.example.test"}`: "1", `pbxsync_changes{server="pbx.example.test",action="update",status="ok"}`: "0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, tt.report.WriteMetrics(&b, time.Unix(1_700_000_000, 0), "pbx.example.test", tt.report.Err()))
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				if strings.HasPrefix(l, "#") {
					continue
				}
				i := strings.LastIndexByte(l, ' ')
				if _, asked := tt.want[l[:i]]; asked {
					got[l[:i]] = l[i+1:]
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			require.Contains(t, b.String(), "\npbxsync_last_run_timestamp_seconds{server=\"pbx.example.test\"} 1700000000\n")
		})
	}
}

// ---- the metrics as Prometheus reads them

// metricNames are the families WriteMetrics writes, each a gauge.
var metricNames = []string{
	"pbxsync_last_run_timestamp_seconds", "pbxsync_last_run_duration_seconds", "pbxsync_last_run_success",
	"pbxsync_changes", "pbxsync_drift_fields", "pbxsync_errors", "pbxsync_interrupted", "pbxsync_parallelism_limit",
}

// promFamily is a metric family as Prometheus' text parser read it.
type promFamily struct {
	Type    string
	Help    string
	Samples []promSample
}

type promSample struct {
	Labels map[string]string
	Value  float64
}

// parseMetrics parses text with Prometheus' own text-format parser, the one
// node_exporter's textfile collector reads a .prom file with, under the legacy (the
// strictest) rules for names. Beyond the parser it requires what the collector
// requires: no sample with a timestamp; and what the format requires but the parser
// leaves to its callers: no series twice.
func parseMetrics(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	require.True(t, strings.HasSuffix(text, "\n"), "the last line ends")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, "Prometheus' text parser:\n%s", text)
	for name, f := range families {
		seen := map[string]bool{}
		for _, m := range f.GetMetric() {
			require.Nil(t, m.TimestampMs, "%s: node_exporter's textfile collector refuses timestamps", name)
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			series := strings.Join(labels, "\x00")
			require.False(t, seen[series], "%s: the series %q twice", name, labels)
			seen[series] = true
		}
	}
	return families
}

// simplify turns parsed families into values cmp compares.
func simplify(families map[string]*dto.MetricFamily) map[string]promFamily {
	out := map[string]promFamily{}
	for name, f := range families {
		pf := promFamily{Type: f.GetType().String(), Help: f.GetHelp()}
		for _, m := range f.GetMetric() {
			s := promSample{Labels: map[string]string{}, Value: m.GetGauge().GetValue()}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			pf.Samples = append(pf.Samples, s)
		}
		out[name] = pf
	}
	return out
}

// TestReportMetricsParse reads WriteMetrics' output with Prometheus' parser: the
// families, their labels, and values that match the report.
func TestReportMetricsParse(t *testing.T) {
	now := time.Date(2025, 3, 1, 2, 30, 0, 250_000_000, time.UTC)
	tests := []struct {
		name   string
		report *sync.Report
		runErr error
	}{
		{"ok", okReport, nil},
		{"failed and skipped", failedReport, failedReport.Err()},
		{"interrupted", interruptedReport, interruptedReport.Err()},
		{"repaired", repairedReport, nil},
		{"drift", driftReport, driftReport.Err()},
		{"not read back", unreadableReport, unreadableReport.Err()},
		{"no changes", emptyReport, nil},
		{"an error outside the changes", emptyReport, errors.New("read the server: connection refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, tt.report.WriteMetrics(&b, now, "pbx.example.test:8443", tt.runErr))
			families := simplify(parseMetrics(t, b.String()))
			require.ElementsMatch(t, metricNames, slices.Collect(maps.Keys(families)))
			for name, f := range families {
				require.Equal(t, "GAUGE", f.Type, name)
				require.NotEmpty(t, f.Help, name)
				require.NotEmpty(t, f.Samples, name)
				for _, s := range f.Samples {
					want := []string{"server"}
					if name == "pbxsync_changes" {
						want = []string{"action", "server", "status"}
					}
					require.Equal(t, want, slices.Sorted(maps.Keys(s.Labels)), name)
					require.Equal(t, "pbx.example.test:8443", s.Labels["server"], name)
				}
			}
			single := func(name string) float64 {
				t.Helper()
				require.Len(t, families[name].Samples, 1, name)
				return families[name].Samples[0].Value
			}
			flag := func(b bool) float64 {
				if b {
					return 1
				}
				return 0
			}

			res := tt.report.JSON()
			require.Equal(t, 1740796200.25, single("pbxsync_last_run_timestamp_seconds"))
			require.Equal(t, res.DurationSeconds, single("pbxsync_last_run_duration_seconds"))
			require.Equal(t, flag(tt.runErr == nil && tt.report.Succeeded()), single("pbxsync_last_run_success"))
			require.Equal(t, flag(res.Interrupted), single("pbxsync_interrupted"))
			require.Equal(t, float64(len(res.Drift)), single("pbxsync_drift_fields"))
			problems := res.Summary.Failed + len(res.Drift) + len(res.NotPlanned)
			if tt.runErr != nil {
				problems = max(problems, 1)
			}
			require.Equal(t, float64(problems), single("pbxsync_errors"))

			// pbxsync_changes: one series for each action and status, each the count of
			// the result's changes, as the JSON result counts them.
			want := map[string]float64{}
			for _, a := range plan.Actions {
				for _, s := range []string{"ok", "failed", "skipped", "not_run"} {
					want[string(a)+" "+s] = 0
				}
			}
			for _, c := range res.Changes {
				want[string(c.Action)+" "+strings.ReplaceAll(string(c.Status), " ", "_")]++
			}
			got := map[string]float64{}
			byStatus := map[string]float64{}
			for _, s := range families["pbxsync_changes"].Samples {
				got[s.Labels["action"]+" "+s.Labels["status"]] = s.Value
				byStatus[s.Labels["status"]] += s.Value
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pbxsync_changes by action and status (-want +got):\n%s", diff)
			}
			n := res.Summary
			require.Equal(t, map[string]float64{"ok": float64(n.OK), "failed": float64(n.Failed), "skipped": float64(n.Skipped), "not_run": float64(n.NotRun)}, byStatus)
		})
	}
}

// TestReportMetricsServerLabel: any server name, quotes, backslashes and newlines
// included, is one label value that Prometheus reads back as it was, and the families
// survive a round trip through Prometheus' own writer.
func TestReportMetricsServerLabel(t *testing.T) {
	for _, server := range []string{
		`pbx "east"`,
		`sim:C:\pbx\state.yaml`,
		`\n is not a newline`,
		"pbx\nsecond line} 1\npbxsync_last_run_success{server=\"forged\"} 1",
		"sim:/var/lib/pbx/zürich.yaml",
		`\"`,
	} {
		t.Run(server, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, failedReport.WriteMetrics(&b, time.Unix(1_700_000_000, 0), server, failedReport.Err()))
			parsed := parseMetrics(t, b.String())
			families := simplify(parsed)
			require.ElementsMatch(t, metricNames, slices.Collect(maps.Keys(families)))
			for name, f := range families {
				for _, s := range f.Samples {
					require.Equal(t, server, s.Labels["server"], name)
				}
			}
			require.Equal(t, []promSample{{Labels: map[string]string{"server": server}, Value: 0}}, families["pbxsync_last_run_success"].Samples)

			var again strings.Builder
			for _, name := range slices.Sorted(maps.Keys(parsed)) {
				_, err := expfmt.MetricFamilyToText(&again, parsed[name])
				require.NoError(t, err)
			}
			if diff := cmp.Diff(families, simplify(parseMetrics(t, again.String()))); diff != "" {
				t.Errorf("written by Prometheus' writer and read again (-ours +round trip):\n%s", diff)
			}
		})
	}
}

// TestReportMetricsParserRefuses makes sure parseMetrics would see a broken file.
func TestReportMetricsParserRefuses(t *testing.T) {
	var b strings.Builder
	require.NoError(t, okReport.WriteMetrics(&b, time.Unix(1_700_000_000, 0), "pbx.example.test", nil))
	good := b.String()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	for name, broken := range map[string]string{
		"an unescaped quote":        strings.Replace(good, `server="pbx.example.test"`, `server="pbx"x"`, 1),
		"a second TYPE line":        good + "# TYPE pbxsync_errors gauge\n",
		"a value that is no number": strings.Replace(good, "} 1\n", "} yes\n", 1),
		"a name with a dash":        strings.Replace(good, "pbxsync_errors{", "pbxsync-errors{", 1),
	} {
		_, err := parser.TextToMetricFamilies(strings.NewReader(broken))
		require.Error(t, err, name)
	}
}

// A server name that is not UTF-8 (a sim: path of other bytes) still gives a file
// that Prometheus reads: its bytes that are not UTF-8 become U+FFFD.
func TestReportMetricsServerNotUTF8(t *testing.T) {
	var b strings.Builder
	require.NoError(t, failedReport.WriteMetrics(&b, time.Unix(1_700_000_000, 0), "sim:/var/lib/z\xfcrich.yaml", failedReport.Err()))
	families := simplify(parseMetrics(t, b.String()))
	require.Equal(t, "sim:/var/lib/z\uFFFDrich.yaml", families["pbxsync_last_run_success"].Samples[0].Labels["server"])
}
