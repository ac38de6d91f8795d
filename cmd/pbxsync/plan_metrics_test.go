package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
)

// planSummary is what the metrics of a plan must agree with: its JSON document's
// summary and unmanaged count.
type planSummary struct {
	Summary   map[string]int
	Unmanaged int
}

// planMetricValues returns the samples of a plan's metrics file whose labels hold
// labels, by family, and for pbxsync_plan_changes by action ("pbxsync_plan_changes/create").
func planMetricValues(t *testing.T, path string, labels map[string]string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, samples := range readMetrics(t, path) {
		for _, s := range samples {
			matches := true
			for k, v := range labels {
				matches = matches && s.labels[k] == v
			}
			if !matches {
				continue
			}
			key := name
			if a, ok := s.labels["action"]; ok {
				key += "/" + a
			}
			_, seen := out[key]
			require.False(t, seen, "%s twice for %v", key, labels)
			out[key] = s.value
		}
	}
	return out
}

// requirePlanMetrics checks the metrics of a plan made with the server read whole
// against the plan's JSON summary: one pbxsync_plan_changes sample per action.
func requirePlanMetrics(t *testing.T, got map[string]float64, doc planSummary) {
	t.Helper()
	require.Len(t, doc.Summary, len(plan.Actions))
	for _, a := range plan.Actions {
		n, ok := doc.Summary[string(a)]
		require.True(t, ok, "the summary counts %s", a)
		require.Equal(t, float64(n), got["pbxsync_plan_changes/"+string(a)], "%s: the metrics count as the plan's summary does", a)
	}
	require.Equal(t, float64(doc.Unmanaged), got["pbxsync_plan_unmanaged"])
	require.Equal(t, 0.0, got["pbxsync_plan_not_planned"])
	require.Equal(t, 1.0, got["pbxsync_plan_success"])
	require.InDelta(t, float64(time.Now().Unix()), got["pbxsync_plan_last_run_timestamp_seconds"], 600)
	require.Len(t, got, len(plan.Actions)+4, "no other family: %v", got)
}

// plan --metrics-file writes the drift the plan found, read by Prometheus' parser:
// the changes by action as the plan's summary counts them, with --detailed-exitcode
// and without drift too, and writes nothing to the server.
func TestPlanMetricsFile(t *testing.T) {
	tests := []struct {
		name     string
		state    pbxtest.State
		inv      string
		wantCode int
	}{
		{"drift", mixedState(), mixedInventory, 2},
		{"no drift", equalState(), equalInventory, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tt.state))
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", tt.inv)
			metrics := writeFile(t, dir, "pbxsync-drift.prom", "stale content, replaced\n")
			got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--json", "--detailed-exitcode", "--metrics-file", metrics)
			require.Equal(t, tt.wantCode, got.code, got.stderr)
			require.Empty(t, got.stderr)
			var doc planSummary
			require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
			requirePlanMetrics(t, planMetricValues(t, metrics, map[string]string{"server": apiclient.ServerLabel(srv.URL)}), doc)
			require.Zero(t, srv.Stats().TotalWrites())
			data, err := os.ReadFile(metrics)
			require.NoError(t, err)
			for _, secret := range []string{acmePIN, gammaPIN, serverPIN, pbxtest.AdminKey} {
				require.NotContains(t, string(data), secret)
			}
		})
	}
}

// A plan that is not made still writes its metrics: success 0, and no counts that
// would claim there is no drift.
func TestPlanMetricsFileFailed(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close()
	tests := []struct {
		name string
		url  string
		inv  string
	}{
		{"server down", down.URL, equalInventory},
		{"inventory not valid", down.URL, "version: 1\ncompanies:\n  acme_hq: {name: Acme HQ, settings: {zonee: x}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", tt.inv)
			metrics := filepath.Join(dir, "pbxsync-drift.prom")
			got := invoke(t, "", map[string]string{"PBX_URL": tt.url, "PBX_API_KEY": pbxtest.AdminKey},
				"plan", "-f", inv, "--detailed-exitcode", "--metrics-file", metrics)
			require.Equal(t, 1, got.code, got.stderr)
			values := planMetricValues(t, metrics, map[string]string{"server": apiclient.ServerLabel(tt.url)})
			require.Equal(t, 0.0, values["pbxsync_plan_success"])
			require.InDelta(t, float64(time.Now().Unix()), values["pbxsync_plan_last_run_timestamp_seconds"], 600)
			require.Len(t, values, 2, "success and the time only: %v", values)
		})
	}
}

// A metrics file that cannot be written fails the plan, with changes too: exit 1,
// not 2, naming the flag.
func TestPlanMetricsFileNotWritten(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	metrics := filepath.Join(dir, "missing", "pbxsync-drift.prom")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--detailed-exitcode", "--metrics-file", metrics)
	require.Equal(t, 1, got.code, got.stderr)
	require.Contains(t, got.stderr, "--metrics-file")
	require.Contains(t, got.stdout, "Plan: 1 to create", "the plan is shown all the same")
}

// plan --fleet --metrics-file: every sample names its PBX and server; each PBX's
// changes are its plan's summary, the moves count on the PBX they go to; a PBX not
// read fails without counts, one whose companies may be on it is not planned whole,
// and a fleet whose inventory is not valid fails on every PBX of the run.
func TestPlanMetricsFileFleet(t *testing.T) {
	f := newFleet(t)
	f.moveAcme(t)
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zone: Europe/Berlin}}\n  epsilon: {name: Epsilon}\n")
	metrics := filepath.Join(f.dir, "fleet-drift.prom")
	got := invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--json", "--max-move", "2", "--metrics-file", metrics)
	require.Equal(t, 0, got.code, got.stderr)
	var doc struct {
		PBXs    map[string]planSummary
		Summary struct{ Moves, Conflicts int }
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	urls := map[string]string{"london": f.london.URL, "paris": f.paris.URL, "berlin": f.berlin.URL}
	moves := 0.0
	for pbx, url := range urls {
		values := planMetricValues(t, metrics, map[string]string{"pbx": pbx, "server": apiclient.ServerLabel(url)})
		moves += values["pbxsync_plan_moves"]
		require.Equal(t, 0.0, values["pbxsync_plan_conflicts"], pbx)
		delete(values, "pbxsync_plan_moves")
		delete(values, "pbxsync_plan_conflicts")
		requirePlanMetrics(t, values, doc.PBXs[pbx])
	}
	require.Equal(t, 2, doc.Summary.Moves)
	require.Equal(t, float64(doc.Summary.Moves), moves)
	require.Equal(t, 2.0, planMetricValues(t, metrics, map[string]string{"pbx": "paris"})["pbxsync_plan_moves"], "both move to paris")
	require.Equal(t, map[string]int{"create": 1, "update": 1, "ungroup": 0, "group": 0, "delete": 0}, doc.PBXs["berlin"].Summary, "berlin's drift of its own")
	for _, srv := range []*simtest.Server{f.london, f.paris, f.berlin} {
		require.Zero(t, srv.Stats().TotalWrites())
	}

	// london down: it fails alone, without counts; the others are planned.
	down := httptest.NewServer(nil)
	down.Close()
	f.write(t, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+down.URL+", inventory: london/}\n"+
		"  paris: {url: "+f.paris.URL+", inventory: paris/}\n"+
		"  berlin: {url: "+f.berlin.URL+", inventory: berlin.yaml}\n")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--metrics-file", metrics)
	require.Equal(t, 1, got.code, got.stderr)
	london := planMetricValues(t, metrics, map[string]string{"pbx": "london", "server": apiclient.ServerLabel(down.URL)})
	require.Equal(t, 0.0, london["pbxsync_plan_success"])
	require.Len(t, london, 2, "success and the time only: %v", london)
	berlin := planMetricValues(t, metrics, map[string]string{"pbx": "berlin"})
	require.Equal(t, 1.0, berlin["pbxsync_plan_changes/update"], "delta's zone, read on berlin")
	require.Equal(t, 0.0, berlin["pbxsync_plan_changes/create"])
	require.Equal(t, 1.0, berlin["pbxsync_plan_not_planned"], "epsilon may be on london: not planned")
	require.Equal(t, 0.0, berlin["pbxsync_plan_success"], "berlin was not planned whole")

	// An inventory that is not valid: nothing is read, and every PBX of the run fails.
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zonee: Europe/Berlin}}\n")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--pbx", "paris", "--pbx", "berlin", "--metrics-file", metrics)
	require.Equal(t, 1, got.code, got.stderr)
	success := map[string]float64{}
	for _, s := range readMetrics(t, metrics)["pbxsync_plan_success"] {
		success[s.labels["pbx"]] = s.value
	}
	require.Equal(t, map[string]float64{"paris": 0, "berlin": 0}, success, "the PBXs of the run, as the fleet file lists them")
}

// apply --fleet whose fleet cannot be loaded (an inventory is not valid) still
// writes every PBX of the run into --metrics-file, each failed: a nightly run that
// broke on a bad commit alerts as a failed run, not as silence.
func TestApplyFleetMetricsWhenTheFleetFailsToLoad(t *testing.T) {
	f := newFleet(t)
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zonee: Europe/Berlin}}\n")
	metrics := filepath.Join(f.dir, "fleet.prom")
	got := invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--metrics-file", metrics)
	require.Equal(t, 1, got.code, got.stderr)
	success, failed := map[string]float64{}, map[string]float64{}
	for _, s := range readMetrics(t, metrics)["pbxsync_last_run_success"] {
		success[s.labels["pbx"]] = s.value
	}
	for _, s := range readMetrics(t, metrics)["pbxsync_fleet_pbx_failed"] {
		failed[s.labels["pbx"]] = s.value
	}
	require.Equal(t, map[string]float64{"london": 0, "paris": 0, "berlin": 0}, success)
	require.Equal(t, map[string]float64{"london": 1, "paris": 1, "berlin": 1}, failed)
	for _, srv := range []*simtest.Server{f.london, f.paris, f.berlin} {
		require.Zero(t, srv.Stats().TotalRequests())
	}
}
