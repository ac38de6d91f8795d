package plan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/state"
)

// Long and odd, so that finding one in output cannot be chance.
const (
	wantPIN = "31415926"
	havePIN = "27182818"
)

// sensitivePlan is a plan whose changes carry PINs: an update of acme's, from the
// server's to the inventory's, and a create of beta with one.
func sensitivePlan(t *testing.T) (*plan.Plan, *state.State) {
	t.Helper()
	in := inv(t, "inventory.yaml", `version: 1
companies:
  acme: {name: Acme, settings: {nm_password: "${ACME_PIN}", zone: UTC}}
  beta: {name: Beta, settings: {ivr_password: "${ACME_PIN}"}}
`, "ACME_PIN", wantPIN)
	st := state.New([]apiclient.Company{company("acme", "Acme", "nm_password", havePIN, "zone", "Europe/London")}, nil)
	p, err := plan.Diff(in, st, plan.Options{})
	require.NoError(t, err)
	return p, st
}

// TestPlanValuesAreMarked: a plan made by Diff holds the PINs it writes, marked, so
// that apply has them and nothing shows them.
func TestPlanValuesAreMarked(t *testing.T) {
	p, _ := sensitivePlan(t)
	var seen int
	for _, c := range p.Changes {
		for name, f := range c.Fields {
			if name != "nm_password" && name != "ivr_password" {
				continue
			}
			seen++
			require.True(t, f.After.IsSensitive(), "%s %s", c.Company, name)
			require.Equal(t, wantPIN, f.After.Text(), "the plan carries what apply writes")
			if c.Action == plan.Update {
				require.True(t, f.Before.IsSensitive())
				require.Equal(t, havePIN, f.Before.Text())
			}
		}
	}
	require.Equal(t, 2, seen)
}

func TestRenderStructuresKeepSecrets(t *testing.T) {
	p, st := sensitivePlan(t)
	other := state.New([]apiclient.Company{company("acme", "Acme", "nm_password", wantPIN)}, nil)
	comparison, _ := state.CompareSnapshots(st, other, state.CompareOptions{})
	require.Len(t, comparison.Diffs, 1)
	fp, err := plan.DiffFleet([]plan.FleetMember{
		member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme", "nm_password", havePIN)),
		member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme}\n"),
	}, plan.FleetOptions{MaxMove: 1})
	require.NoError(t, err)
	require.Len(t, fp.Moves, 1)

	for name, doc := range map[string]any{
		"plan":       p.JSON(),
		"plan data":  p,
		"comparison": comparison.JSON("a", "b"),
		"diffs":      comparison.Diffs,
		"fleet":      fp.JSON(),
		"moves":      fp.Moves,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(doc)
			require.NoError(t, err)
			require.NotContains(t, string(b), wantPIN)
			require.NotContains(t, string(b), havePIN)
			require.Contains(t, string(b), `"`+apiclient.Redacted+`"`)

			var out bytes.Buffer
			for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				fmt.Fprintf(&out, format+"\n", doc)
			}
			slog.New(slog.NewTextHandler(&out, nil)).Info("doc", "doc", doc)
			slog.New(slog.NewJSONHandler(&out, nil)).Info("doc", "doc", doc)
			require.NotContains(t, out.String(), wantPIN)
			require.NotContains(t, out.String(), havePIN)
		})
	}
}
