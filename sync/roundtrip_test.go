package sync_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

// randomState makes a server state of up to 12 companies with random settings (known
// fields, secrets, and one field this pbxsync does not know) and random containers.
func randomState(r *rand.Rand) pbxtest.State {
	values := map[string][]apiclient.Value{
		"zone":        {apiclient.String(""), apiclient.String("US/Pacific"), apiclient.String("Europe/London")},
		"q_ringtime":  {apiclient.String(""), apiclient.String("5"), apiclient.String("30")},
		"record":      {apiclient.Int(0), apiclient.Int(7)},
		"nocallrec":   {apiclient.Null(), apiclient.Bool(true), apiclient.Bool(false)},
		"noext":       {apiclient.String(""), apiclient.String("qh")},
		"nm_password": {apiclient.String(""), apiclient.String("0042"), apiclient.String("9999")},
		"vm_callback": {apiclient.Int(-1), apiclient.Int(1)},
		"hs_access":   {apiclient.String("external"), apiclient.String("a: b # not a comment")},
	}
	n := 1 + r.IntN(12)
	st := pbxtest.State{Containers: map[string][]string{}}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("t%02d", i)
		ids = append(ids, id)
		settings := apiclient.Settings{}
		for _, field := range slices.Sorted(maps.Keys(values)) {
			if r.IntN(2) == 0 {
				settings.Set(field, values[field][r.IntN(len(values[field]))])
			}
		}
		if r.IntN(4) == 0 {
			settings.Set("future_field", apiclient.String("newer server"))
		}
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: fmt.Sprintf("Tenant %d", i), Settings: settings})
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for len(ids) > 1 && r.IntN(3) > 0 {
		size := min(2+r.IntN(3), len(ids))
		st.Containers[ids[0]] = slices.Clone(ids[:size])
		ids = ids[size:]
	}
	return st
}

// view is what an export must carry over: names, known settings, and the grouping as
// sets of members.
func view(t *testing.T, srv *simtest.Server) (map[string]string, map[string]map[string]string, [][]string) {
	t.Helper()
	snap := srv.Snapshot()
	names, settings := map[string]string{}, map[string]map[string]string{}
	for _, c := range snap.Companies {
		names[c.ID] = c.Name
		settings[c.ID] = map[string]string{}
		for name, v := range c.Settings.All() {
			if _, known := apiclient.LookupField(name); known {
				f, _ := apiclient.LookupField(name)
				n, err := f.Normalize(v)
				require.NoError(t, err)
				if f.Type == apiclient.TypeSwitch && !n.Bool() {
					n = apiclient.Null() // null and false are one value
				}
				settings[c.ID][name] = n.JSON()
			}
		}
	}
	var groups [][]string
	for _, members := range snap.Containers {
		if len(members) > 1 {
			groups = append(groups, members)
		}
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return names, settings, groups
}

func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			source := simtest.NewServer(t, pbxtest.WithState(randomState(rand.New(rand.NewPCG(seed, 7)))))
			sc := newClient(t, source.URL, pbxtest.AdminKey)
			snap, err := state.ReadSnapshot(t.Context(), sc, 4)
			require.NoError(t, err)
			data, err := snap.Export(state.ExportOptions{})
			require.NoError(t, err)
			again, err := snap.Export(state.ExportOptions{})
			require.NoError(t, err)
			require.Equal(t, string(data), string(again), "exporting twice gives the same bytes")
			for _, c := range snap.Companies {
				if pin := c.Settings.Get("nm_password").Text(); len(pin) > 0 {
					require.NotContains(t, string(data), pin, "secrets are ${VAR} references")
				}
			}

			allIDs, err := snap.Select(state.ExportOptions{})
			require.NoError(t, err)
			secrets := snap.Secrets(allIDs)
			env := func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }
			inv, _, err := inventory.Load("export.yaml", data, inventory.LoadOptions{Lookup: env})
			require.NoError(t, err, "the export is a valid inventory:\n%s", data)

			st, err := state.Read(t.Context(), sc, inv, 4)
			require.NoError(t, err)
			p, err := plan.Diff(inv, st, plan.Options{})
			require.NoError(t, err)
			require.True(t, p.Empty(), "planning an export against its server plans nothing: %v\n%s", p.Changes, data)

			target := simtest.NewServer(t)
			tc := newClient(t, target.URL, pbxtest.AdminKey)
			tst, err := state.Read(t.Context(), tc, inv, 4)
			require.NoError(t, err)
			tp, err := plan.Diff(inv, tst, plan.Options{})
			require.NoError(t, err)
			report := sync.Apply(t.Context(), tc, tp, sync.Options{Parallelism: 4, Rounds: 2})
			require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)

			wantNames, wantSettings, wantGroups := view(t, source)
			gotNames, gotSettings, gotGroups := view(t, target)
			require.Empty(t, cmp.Diff(wantNames, gotNames), "names")
			require.Empty(t, cmp.Diff(wantSettings, gotSettings), "settings")
			require.Empty(t, cmp.Diff(wantGroups, gotGroups), "groupings")
		})
	}
}
