package planfile_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/plan/state"
)

const savedInventory = `version: 1
companies:
  a:
    name: A
    settings:
      zone: US/Pacific
      nm_password: ${PIN}
  b: {name: B}
  new: {name: New}
containers:
  ab: [a, b]
`

// pin looks up the one variable savedInventory names, PIN.
func pin(name string) (string, bool) {
	if name != "PIN" {
		return "", false
	}
	return "47110815", true
}

func savedPlan(t *testing.T) (*simtest.Server, *apiclient.Client, *inventory.Inventory, *planfile.SavedPlan) {
	t.Helper()
	srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		{ID: "a", Name: "A", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String("11112222")})},
		{ID: "b", Name: "B"}, {ID: "other", Name: "Other"},
	}}))
	c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)
	inv, _, err := inventory.Load("inv.yaml", []byte(savedInventory), inventory.LoadOptions{Lookup: pin})
	require.NoError(t, err)
	st, err := state.Read(t.Context(), c, inv, 2)
	require.NoError(t, err)
	p, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, planfile.Save(&buf, p, srv.URL, inv, []string{"inventory.yaml"}, plan.Options{}))
	require.NotContains(t, buf.String(), "47110815")
	require.NotContains(t, buf.String(), "11112222")
	sp, err := planfile.ReadSaved(&buf)
	require.NoError(t, err)
	return srv, c, inv, sp
}

func TestSavedPlanFresh(t *testing.T) {
	srv, c, inv, sp := savedPlan(t)
	srv.ResetStats()
	p, err := sp.Check(t.Context(), c, inv, 2, 10)
	require.NoError(t, err)
	require.Zero(t, srv.Stats().TotalWrites())
	require.Equal(t, "Plan: 1 to create, 1 to update, 1 to group.", p.Summary())
	for _, ch := range p.Changes {
		if ch.Action == plan.Update {
			require.Equal(t, `"47110815"`, ch.Fields["nm_password"].After.Reveal().JSON(), "secrets come from the inventory again")
		}
	}
}

func TestSavedPlanStale(t *testing.T) {
	srv, c, inv, sp := savedPlan(t)
	_, err := c.Update(t.Context(), "b", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("Europe/Paris")})})
	require.NoError(t, err)
	_, err = c.Create(t.Context(), "new", "Someone Else", "")
	require.NoError(t, err)
	srv.ResetStats()

	_, err = sp.Check(t.Context(), c, inv, 2, 10)
	var stale *planfile.StalePlanError
	require.ErrorAs(t, err, &stale)
	require.Equal(t, []string{"b", "new"}, stale.Companies, "a field changed on one, the other was created meanwhile")
	require.Zero(t, srv.Stats().TotalWrites())
}

// A saved plan is safe to carry through CI artifacts: whatever is edited in it, it
// can only refuse.
func TestSavedPlanTampered(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(sp *planfile.SavedPlan)
		wants []string // the companies the refusal names
	}{
		{"a delete added", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = append(sp.Plan.Changes, plan.JSONChange{Action: plan.Delete, Company: "other"})
			sp.Fingerprints["other"] = "forged"
		}, []string{"other"}},
		{"a delete added, with prune and a budget", func(sp *planfile.SavedPlan) {
			sp.Options = planfile.SavedOptions{Prune: true, MaxDelete: 5}
			sp.Plan.Changes = append(sp.Plan.Changes, plan.JSONChange{Action: plan.Delete, Company: "other"})
		}, []string{"other"}},
		{"a value changed", func(sp *planfile.SavedPlan) {
			for i, c := range sp.Plan.Changes {
				if c.Action == plan.Create {
					sp.Plan.Changes[i].Name = "Forged"
				}
			}
		}, []string{"new"}},
		{"a change removed", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = slices.DeleteFunc(sp.Plan.Changes, func(c plan.JSONChange) bool { return c.Action == plan.Update })
		}, []string{"a"}},
		{"a group retargeted", func(sp *planfile.SavedPlan) {
			for i, c := range sp.Plan.Changes {
				if c.Action == plan.Group {
					sp.Plan.Changes[i].Target = "other"
				}
			}
		}, []string{"b", "other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, inv, sp := savedPlan(t)
			tt.edit(sp)
			srv.ResetStats()
			p, err := sp.Check(t.Context(), c, inv, 2, 10)
			require.Nil(t, p)
			var stale *planfile.StalePlanError
			require.ErrorAs(t, err, &stale)
			require.Equal(t, tt.wants, stale.Companies)
			require.Zero(t, srv.Stats().TotalWrites())
		})
	}
}

func TestSavedPlanOtherInventory(t *testing.T) {
	_, c, _, sp := savedPlan(t)
	other, _, err := inventory.Load("inv.yaml", []byte(savedInventory+"\n"), inventory.LoadOptions{Lookup: pin})
	require.NoError(t, err)
	_, err = sp.Check(t.Context(), c, other, 2, 10)
	var stale *planfile.StalePlanError
	require.ErrorAs(t, err, &stale)
	require.ErrorContains(t, err, "is not the one the plan was made from")
}
