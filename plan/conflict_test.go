package plan_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/state"
)

// fresh is a company as a create leaves it: named, every field of the table as a new
// company has it.
func fresh(id, name string) apiclient.Company {
	c := apiclient.Company{ID: id, Name: name}
	for _, f := range apiclient.Fields() {
		c.Settings.Set(f.Name, f.Zero())
	}
	return c
}

// with returns c with the settings of kv over its own.
func with(c apiclient.Company, kv ...string) apiclient.Company {
	c.Settings = c.Settings.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		c.Settings.Set(kv[i], apiclient.String(kv[i+1]))
	}
	return c
}

// What a move could have written on its new PBX, and what it could not: each field
// as a new company has it, as the old PBX holds it, or as the new inventory asks.
func TestAdoptionConflicts(t *testing.T) {
	want, ok := inv(t, "paris.yaml", "version: 1\ncompanies:\n  acme: {name: Acme Paris, settings: {zone: Europe/Paris, barge_pin: \"${PIN}\"}}\n", "PIN", "2468").Company("acme")
	require.True(t, ok)
	from := with(fresh("acme", "Acme"), "zone", "Europe/London", "barge_pin", "1357", "callerid", "0666", "phonebook", "3")
	future := with(fresh("acme", "Acme Paris"), "x_future", "9")
	off := fresh("acme", "Acme Paris")
	off.Settings.Set("nobarge", apiclient.Bool(false))

	for _, tc := range []struct {
		name string
		to   apiclient.Company
		want []string
	}{
		{"created, nothing more", fresh("acme", "Acme Paris"), nil},
		{"created and updated: carried, the inventory's values over them", with(fresh("acme", "Acme Paris"), "zone", "Europe/Paris", "barge_pin", "2468", "callerid", "0666", "phonebook", "3"), nil},
		{"carried without the inventory's values: no update writes that", with(fresh("acme", "Acme"), "zone", "Europe/London", "barge_pin", "1357", "callerid", "0666", "phonebook", "3"), []string{"barge_pin", "zone"}},
		{"a mix of the three, each field alone possible", with(fresh("acme", "Acme"), "zone", "Europe/Paris", "callerid", "0666"), []string{"barge_pin", "phonebook"}},
		{"paris's tenant as its inventory has it, its PIN and caller id empty", with(fresh("acme", "Acme Paris"), "zone", "Europe/Paris"), []string{"barge_pin", "callerid", "phonebook"}},
		{"a switch off is a switch unset", off, nil},
		{"a field no move writes", future, nil},
		{"a tenant of its own", with(fresh("acme", "Acme Paris"), "barge_pin", "8080", "callerid", "0123", "phonebook", "1"), []string{"barge_pin", "callerid", "phonebook", "zone"}},
		{"another name", fresh("acme", "Acme Elsewhere"), []string{"name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan.AdoptionConflicts(tc.to, from, want)
			var names []string
			for _, f := range got {
				names = append(names, f.Field)
				if f.Field == "barge_pin" {
					require.True(t, f.To.IsSensitive() && f.From.IsSensitive(), "a secret's values are marked")
				}
			}
			require.Equal(t, tc.want, names)
		})
	}
}

// A company someone created on london with the id of a tenant paris holds is a
// conflict, not a move: no change on either PBX names it or its container partner,
// london's --prune leaves it, --max-move 0 does not refuse the plan, and the rest of
// paris is planned as usual.
func TestDiffFleetConflict(t *testing.T) {
	impostor := with(fresh("acme", "Acme"), "barge_pin", "1357", "callerid", "0666", "phonebook", "3")
	tenant := with(fresh("acme", "Acme"), "barge_pin", "8080", "callerid", "0123", "zone", "Europe/Paris")
	london := member(t, "london", "version: 1\ncompanies: {}\nprune: {match: .}\n", impostor)
	paris := member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme, settings: {zone: Europe/Paris, q_ringtime: 20}}\n"+
		"  gamma: {name: Gamma}\n  delta: {name: Delta}\ncontainers:\n  acme: [acme, gamma]\n", tenant, fresh("gamma", "Gamma"))
	fp, err := plan.DiffFleet([]plan.FleetMember{london, paris}, plan.FleetOptions{Options: plan.Options{Prune: true}})
	require.NoError(t, err, "a conflict is no move: --max-move 0 allows it")
	require.Empty(t, fp.Moves)
	require.Len(t, fp.Conflicts, 1)
	c := fp.Conflicts[0]
	require.Equal(t, "acme", c.Company)
	require.Equal(t, "london", c.From)
	require.Equal(t, "paris", c.To)
	require.Equal(t, []string{"barge_pin", "callerid", "phonebook", "q_ringtime"}, c.Names(), "every field that differs from what a move's update writes")
	require.Equal(t, []string{"acme", "gamma"}, c.Held)

	require.Empty(t, fp.PBXs["london"].Changes, "london's prune leaves it")
	require.Empty(t, fp.PBXs["london"].Unmanaged)
	require.Empty(t, fp.PBXs["london"].Warnings)
	for _, ch := range fp.PBXs["paris"].Changes {
		require.NotContains(t, []string{"acme", "gamma"}, ch.Company, "%v", ch)
		require.NotContains(t, []string{"acme", "gamma"}, ch.Target, "%v", ch)
	}
	require.Equal(t, []plan.Change{{Action: plan.Create, Company: "delta", Name: "Delta", Fields: map[string]plan.FieldChange{}}}, fp.PBXs["paris"].Changes, "the rest of paris is planned")
	require.Equal(t, []string{"acme", "gamma"}, fp.PBXs["paris"].NotPlannedIDs())
	require.Contains(t, fp.PBXs["paris"].NotPlanned["acme"], "a conflict, not a move")
	require.NotContains(t, fp.PBXs["paris"].Desired, "acme", "verification never regroups it")
	require.Equal(t, "Fleet: 2 PBXs; 0 moves; 1 conflict; paris: 1 to create.", fp.Summary())

	var conflicts *plan.ConflictError
	require.True(t, errors.As(fp.Incomplete(), &conflicts), "%v", fp.Incomplete())
	require.Equal(t, "1 conflict (a company on two servers that no move explains): acme (on london and paris; differs in barge_pin, callerid, phonebook, q_ringtime); "+
		"neither copy is written: delete the wrong one and run again", conflicts.Error())

	doc := fp.JSON()
	require.Equal(t, 1, doc.Summary.Conflicts)
	require.Len(t, doc.Conflicts, 1)
	require.Equal(t, `"(sensitive)"`, string(doc.Conflicts[0].Fields[0].To))
	require.Equal(t, `"0123"`, string(doc.Conflicts[0].Fields[1].To))
	require.Equal(t, `"0666"`, string(doc.Conflicts[0].Fields[1].From))
}

// A move half done is adopted however far it got: created only, or created and
// updated with what it carries and paris's values over them (a feature switch the
// server did not keep included); then paris's plan writes what is left.
func TestDiffFleetAdoptsAMoveHalfDone(t *testing.T) {
	held := with(fresh("acme", "Acme"), "barge_pin", "1357", "callerid", "0666", "zone", "Europe/London")
	held.Settings.Set("nocallrec", apiclient.Bool(true))
	parisInv := "version: 1\ncompanies:\n  acme: {name: Acme Paris, settings: {zone: Europe/Paris}}\n"
	switchLost := with(held, "zone", "Europe/Paris")
	switchLost.Settings.Set("nocallrec", apiclient.Null())
	for name, copied := range map[string]apiclient.Company{
		"created":                fresh("acme", "Acme Paris"),
		"updated":                with(held, "zone", "Europe/Paris"),
		"updated, a switch lost": switchLost,
	} {
		t.Run(name, func(t *testing.T) {
			london := member(t, "london", "version: 1\ncompanies: {}\n", held)
			paris := plan.FleetMember{Name: "paris", Inv: inv(t, "paris.yaml", parisInv), State: state.New([]apiclient.Company{copied}, nil)}
			fp, err := plan.DiffFleet([]plan.FleetMember{london, paris}, plan.FleetOptions{MaxMove: 1})
			require.NoError(t, err)
			require.Empty(t, fp.Conflicts)
			require.Len(t, fp.Moves, 1)
			require.True(t, fp.Moves[0].Adopt)
			require.NoError(t, fp.Incomplete())
		})
	}
}
