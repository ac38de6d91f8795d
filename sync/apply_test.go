package sync_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

func noEnv(string) (string, bool) { return "", false }

// planFor loads an inventory and plans it against the server.
func planFor(t *testing.T, c *apiclient.Client, inventory string) (*plan.Inventory, *plan.Plan) {
	t.Helper()
	inv, _, err := plan.Load("inventory.yaml", []byte(inventory), noEnv)
	require.NoError(t, err)
	st, err := plan.ReadState(t.Context(), c, inv, 4)
	require.NoError(t, err)
	p, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	return inv, p
}

func TestApplyQuickstartConverges(t *testing.T) {
	inventory, err := os.ReadFile("../examples/quickstart/inventory.yaml")
	require.NoError(t, err)
	state, err := pbxtest.ReadStateFile("../examples/quickstart/pbx.yaml")
	require.NoError(t, err)
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			srv := pbxtest.NewServer(t, pbxtest.WithState(state), pbxtest.WithMode(mode))
			c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
			require.NoError(t, err)
			before := srv.Snapshot()

			inv, p := planFor(t, c, string(inventory))
			require.False(t, p.Empty())
			report := sync.Apply(t.Context(), c, inv, p, sync.Options{Parallelism: 4, Rounds: 3})
			for _, r := range report.Results {
				require.Equal(t, sync.OK, r.Status, "%s %s: %v", r.Action, r.Company, r.Err)
			}
			require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)

			_, again := planFor(t, c, string(inventory))
			require.True(t, again.Empty(), "a second plan is empty: %v", again.Changes)

			after := srv.Snapshot()
			legacy := func(s pbxtest.State) apiclient.Company {
				for _, co := range s.Companies {
					if co.ID == "legacy_co" {
						return co
					}
				}
				return apiclient.Company{}
			}
			jsonOf := cmp.Transformer("json", func(v apiclient.Value) string { return v.JSON() })
			require.Empty(t, cmp.Diff(legacy(before), legacy(after), jsonOf), "the unmanaged company is untouched")
		})
	}
}
