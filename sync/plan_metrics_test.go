package sync_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// driftPlan is a plan with a change of most actions, companies not managed and one
// not planned.
var driftPlan = &plan.Plan{
	Changes: []plan.Change{
		{Action: plan.Create, Company: "gamma"}, {Action: plan.Create, Company: "delta"},
		{Action: plan.Update, Company: "acme_hq"},
		{Action: plan.Group, Company: "acme_west", Target: "acme_hq"},
	},
	Unmanaged:  []string{"legacy_co", "old_co", "other_co"},
	NotPlanned: map[string]string{"beta": "its container could not be read"},
}

func TestPlanMetrics(t *testing.T) {
	now := time.Date(2025, 3, 1, 2, 30, 0, 250_000_000, time.UTC)
	var b strings.Builder
	require.NoError(t, sync.WritePlanMetrics(&b, now, driftPlan, `pbx.example.test:8443`))
	want := `# HELP pbxsync_plan_last_run_timestamp_seconds When the last pbxsync plan ended, in seconds since 1970.
# TYPE pbxsync_plan_last_run_timestamp_seconds gauge
pbxsync_plan_last_run_timestamp_seconds{server="pbx.example.test:8443"} 1740796200.25
# HELP pbxsync_plan_success 1 when the last plan was made with the server read whole (every company planned), else 0.
# TYPE pbxsync_plan_success gauge
pbxsync_plan_success{server="pbx.example.test:8443"} 0
# HELP pbxsync_plan_changes Changes the last plan found, by action: what apply would change to make the server match the inventory.
# TYPE pbxsync_plan_changes gauge
pbxsync_plan_changes{server="pbx.example.test:8443",action="delete"} 0
pbxsync_plan_changes{server="pbx.example.test:8443",action="create"} 2
pbxsync_plan_changes{server="pbx.example.test:8443",action="update"} 1
pbxsync_plan_changes{server="pbx.example.test:8443",action="ungroup"} 0
pbxsync_plan_changes{server="pbx.example.test:8443",action="group"} 1
# HELP pbxsync_plan_unmanaged Companies on the server that the inventory does not name, as the last plan found them.
# TYPE pbxsync_plan_unmanaged gauge
pbxsync_plan_unmanaged{server="pbx.example.test:8443"} 3
# HELP pbxsync_plan_not_planned Companies of the inventory left out of the last plan, since the server could not be read for them.
# TYPE pbxsync_plan_not_planned gauge
pbxsync_plan_not_planned{server="pbx.example.test:8443"} 1
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestPlanMetricsParse reads WritePlanMetrics' output with Prometheus' parser: the
// changes by action are the plan's summary, and a plan not made is a failure that
// claims no drift.
func TestPlanMetricsParse(t *testing.T) {
	tests := []struct {
		name    string
		plan    *plan.Plan
		success float64
	}{
		{"drift, a company not planned", driftPlan, 0},
		{"drift", &plan.Plan{Changes: driftPlan.Changes[:3], Unmanaged: []string{"legacy_co"}}, 1},
		{"no changes", &plan.Plan{}, 1},
		{"no plan", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			server := "sim:/tmp/a \"quoted\"\\path\n\xff"
			require.NoError(t, sync.WritePlanMetrics(&b, time.Unix(1_700_000_000, 0), tt.plan, server))
			families := simplify(parseMetrics(t, b.String()))
			names := []string{"pbxsync_plan_last_run_timestamp_seconds", "pbxsync_plan_success"}
			if tt.plan != nil {
				names = append(names, "pbxsync_plan_changes", "pbxsync_plan_unmanaged", "pbxsync_plan_not_planned")
			}
			require.ElementsMatch(t, names, slices.Collect(maps.Keys(families)))
			for name, f := range families {
				require.Equal(t, "GAUGE", f.Type, name)
				require.NotEmpty(t, f.Help, name)
				for _, s := range f.Samples {
					require.Equal(t, strings.ToValidUTF8(server, "\uFFFD"), s.Labels["server"], name)
				}
			}
			require.Equal(t, []promSample{{Labels: map[string]string{"server": strings.ToValidUTF8(server, "\uFFFD")}, Value: tt.success}},
				families["pbxsync_plan_success"].Samples)
			require.Equal(t, 1_700_000_000.0, families["pbxsync_plan_last_run_timestamp_seconds"].Samples[0].Value)
			if tt.plan == nil {
				return
			}
			summary := tt.plan.JSON().Summary
			want := map[string]float64{"create": float64(summary.Create), "update": float64(summary.Update),
				"ungroup": float64(summary.Ungroup), "group": float64(summary.Group), "delete": float64(summary.Delete)}
			got := map[string]float64{}
			for _, s := range families["pbxsync_plan_changes"].Samples {
				require.Equal(t, []string{"action", "server"}, slices.Sorted(maps.Keys(s.Labels)))
				got[s.Labels["action"]] = s.Value
			}
			require.Equal(t, want, got, "one sample per action, as the plan's summary counts them")
			require.Equal(t, float64(len(tt.plan.Unmanaged)), families["pbxsync_plan_unmanaged"].Samples[0].Value)
			require.Equal(t, float64(len(tt.plan.NotPlanned)), families["pbxsync_plan_not_planned"].Samples[0].Value)
		})
	}
}

// TestFleetPlanMetrics: every sample of a fleet plan's metrics names its PBX and
// server; a PBX not read fails and claims no drift; moves and conflicts count on
// the PBX they go to, and add up to the fleet's.
func TestFleetPlanMetrics(t *testing.T) {
	fp := &plan.FleetPlan{
		Names: []string{"berlin", "london", "paris"},
		PBXs: map[string]*plan.Plan{
			"london": {Changes: []plan.Change{{Action: plan.Update, Company: "beta"}}, Unmanaged: []string{"legacy_co"}},
			"paris": {Changes: []plan.Change{{Action: plan.Create, Company: "acme_hq"}, {Action: plan.Create, Company: "acme_west"}},
				NotPlanned: map[string]string{"omega": "a conflict"}},
		},
		Failed:    map[string]error{"berlin": errors.New("connection refused")},
		Moves:     []plan.Move{{Company: "acme_hq", From: "london", To: "paris"}, {Company: "acme_west", From: "london", To: "paris"}},
		Conflicts: []plan.Conflict{{Company: "omega", From: "london", To: "paris"}},
	}
	servers := map[string]string{"berlin": "pbx-ber.example.test", "london": "pbx-lon.example.test", "paris": "pbx-par.example.test"}
	var b strings.Builder
	require.NoError(t, sync.WriteFleetPlanMetrics(&b, time.Unix(1_700_000_000, 0), fp, servers))
	families := simplify(parseMetrics(t, b.String()))
	values := map[string]float64{} // family/pbx[/action] -> value
	for name, f := range families {
		for _, s := range f.Samples {
			require.Equal(t, servers[s.Labels["pbx"]], s.Labels["server"], "%s %v", name, s.Labels)
			key := name + "/" + s.Labels["pbx"]
			if a := s.Labels["action"]; a != "" {
				key += "/" + a
			}
			values[key] = s.Value
		}
	}
	want := map[string]float64{}
	for _, pbx := range []string{"berlin", "london", "paris"} {
		want["pbxsync_plan_last_run_timestamp_seconds/"+pbx] = 1_700_000_000
	}
	maps.Copy(want, map[string]float64{
		"pbxsync_plan_success/berlin": 0, "pbxsync_plan_success/london": 1, "pbxsync_plan_success/paris": 0,
		"pbxsync_plan_unmanaged/london": 1, "pbxsync_plan_unmanaged/paris": 0,
		"pbxsync_plan_not_planned/london": 0, "pbxsync_plan_not_planned/paris": 1,
		"pbxsync_plan_moves/london": 0, "pbxsync_plan_moves/paris": 2,
		"pbxsync_plan_conflicts/london": 0, "pbxsync_plan_conflicts/paris": 1,
	})
	for _, pbx := range []string{"london", "paris"} {
		n := fp.PBXs[pbx].Count()
		for _, a := range plan.Actions {
			want["pbxsync_plan_changes/"+pbx+"/"+string(a)] = float64(n[a])
		}
	}
	if diff := cmp.Diff(want, values); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// No plan at all (the fleet could not be read): each PBX of the run fails.
	b.Reset()
	require.NoError(t, sync.WriteFleetPlanMetrics(&b, time.Unix(1_700_000_000, 0), nil, servers))
	families = simplify(parseMetrics(t, b.String()))
	require.ElementsMatch(t, []string{"pbxsync_plan_last_run_timestamp_seconds", "pbxsync_plan_success"}, slices.Collect(maps.Keys(families)))
	require.Len(t, families["pbxsync_plan_success"].Samples, 3)
	for _, s := range families["pbxsync_plan_success"].Samples {
		require.Zero(t, s.Value, "%v", s.Labels)
	}
}
