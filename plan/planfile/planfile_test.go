package planfile_test

import (
	"bytes"
	"encoding/json"
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

// A saved plan whose companies changed on the server since says so, and where: the
// companies, and what differs in their changes; never that the file was edited.
func TestSavedPlanStale(t *testing.T) {
	set := func(kv ...string) apiclient.Changes {
		s := apiclient.Settings{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Set(kv[i], apiclient.String(kv[i+1]))
		}
		return apiclient.Changes{Settings: s}
	}
	tests := []struct {
		name   string
		change func(t *testing.T, c *apiclient.Client) error
		want   string // the companies the refusal names, and what changed
	}{
		{"a field the plan changes", func(t *testing.T, c *apiclient.Client) error {
			_, err := c.Update(t.Context(), "a", set("zone", "US/Pacific"))
			return err
		}, "a: zone"},
		{"a PIN the plan changes", func(t *testing.T, c *apiclient.Client) error {
			_, err := c.Update(t.Context(), "a", set("nm_password", "47110815"))
			return err
		}, "a: nm_password"},
		{"a field the plan leaves alone", func(t *testing.T, c *apiclient.Client) error {
			_, err := c.Update(t.Context(), "a", set("phonebook", "3"))
			return err
		}, "a"},
		{"a company created meanwhile, and one deleted", func(t *testing.T, c *apiclient.Client) error {
			if _, err := c.Create(t.Context(), "new", "Someone Else", ""); err != nil {
				return err
			}
			return c.Delete(t.Context(), "b")
		}, "b: deleted; new: created"},
		{"a field of one, and one created", func(t *testing.T, c *apiclient.Client) error {
			if _, err := c.Update(t.Context(), "b", set("zone", "Europe/Paris")); err != nil {
				return err
			}
			_, err := c.Create(t.Context(), "new", "Someone Else", "")
			return err
		}, "b; new: created"},
		{"the plan applied meanwhile", func(t *testing.T, c *apiclient.Client) error {
			if _, err := c.Update(t.Context(), "a", set("zone", "US/Pacific", "nm_password", "47110815")); err != nil {
				return err
			}
			if _, err := c.Create(t.Context(), "new", "New", ""); err != nil {
				return err
			}
			_, err := c.Group(t.Context(), "b", "a")
			return err
		}, "a: nm_password, zone; b: container; new: created"},
		{"a company joined a container", func(t *testing.T, c *apiclient.Client) error {
			_, err := c.Group(t.Context(), "other", "a")
			return err
		}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, inv, sp := savedPlan(t)
			require.NoError(t, tt.change(t, c))
			srv.ResetStats()
			_, err := sp.Check(t.Context(), c, inv, 2, 10)
			var stale *planfile.StalePlanError
			require.ErrorAs(t, err, &stale)
			require.Equal(t, "the saved plan is stale: companies changed on the server since it was made ("+tt.want+"): plan again", err.Error())
			require.Zero(t, srv.Stats().TotalWrites())
		})
	}
}

// A saved plan is safe to carry through CI artifacts: whatever is edited in it, it
// can only refuse; and an edit that no server could explain is called one.
func TestSavedPlanTampered(t *testing.T) {
	const (
		impossible = "the file was edited: it holds changes no plan of this inventory makes"
		differs    = "the file was edited: its changes are not those a fresh plan makes, while the companies read as they did"
		server     = "companies changed on the server since it was made"
	)
	tests := []struct {
		name   string
		edit   func(sp *planfile.SavedPlan)
		reason string
		wants  []string // the companies the refusal names
	}{
		{"a delete added, a fingerprint forged", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = append(sp.Plan.Changes, plan.JSONChange{Action: plan.Delete, Company: "other"})
			sp.Fingerprints["other"] = "forged"
		}, impossible, []string{"other"}},
		{"a delete added, with prune and a budget", func(sp *planfile.SavedPlan) {
			sp.Options = planfile.SavedOptions{Prune: true, MaxDelete: 5}
			sp.Plan.Changes = append(sp.Plan.Changes, plan.JSONChange{Action: plan.Delete, Company: "other"})
		}, impossible, []string{"other"}},
		{"a delete of a managed company, its fingerprint forged", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = append(sp.Plan.Changes, plan.JSONChange{Action: plan.Delete, Company: "a"})
			sp.Fingerprints["a"] = "forged"
		}, impossible, []string{"a"}},
		{"a value changed", func(sp *planfile.SavedPlan) {
			for i, c := range sp.Plan.Changes {
				if c.Action == plan.Create {
					sp.Plan.Changes[i].Name = "Forged"
				}
			}
		}, differs, []string{"new"}},
		{"a change removed", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = slices.DeleteFunc(sp.Plan.Changes, func(c plan.JSONChange) bool { return c.Action == plan.Update })
		}, differs, []string{"a"}},
		{"a change twice", func(sp *planfile.SavedPlan) {
			sp.Plan.Changes = append(sp.Plan.Changes, sp.Plan.Changes[0])
		}, impossible, []string{"new"}},
		{"a group retargeted", func(sp *planfile.SavedPlan) {
			for i, c := range sp.Plan.Changes {
				if c.Action == plan.Group {
					sp.Plan.Changes[i].Target = "other"
				}
			}
		}, impossible, []string{"b", "other"}},
		{"a field no table knows, a fingerprint forged", func(sp *planfile.SavedPlan) {
			for i, c := range sp.Plan.Changes {
				if c.Action == plan.Update {
					sp.Plan.Changes[i].Fields["\x1b[31mforged"] = plan.JSONField{Before: json.RawMessage("1"), After: json.RawMessage("2")}
				}
			}
			sp.Fingerprints["a"] = "forged"
		}, impossible, []string{"a"}},
		// A fingerprint alone cannot tell an edit from a change on the server: the
		// plan is refused all the same.
		{"a fingerprint forged", func(sp *planfile.SavedPlan) {
			sp.Fingerprints["a"] = "forged"
		}, server, []string{"a"}},
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
			require.Equal(t, tt.reason, stale.Reason)
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
