package plan_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// inv loads a one-file inventory from YAML text, secrets from vars.
func inv(t *testing.T, name, text string, vars ...string) *inventory.Inventory {
	t.Helper()
	env := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		env[vars[i]] = vars[i+1]
	}
	got, _, err := inventory.Load(name, []byte(text), inventory.LoadOptions{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	return got
}

func company(id, name string, kv ...string) apiclient.Company {
	s := apiclient.Settings{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Set(kv[i], apiclient.String(kv[i+1]))
	}
	return apiclient.Company{ID: id, Name: name, Settings: s}
}

func member(t *testing.T, name, src string, companies ...apiclient.Company) plan.FleetMember {
	return plan.FleetMember{Name: name, Inv: inv(t, name+".yaml", src), State: state.New(companies, nil)}
}

// The moves of a fleet: what one inventory lists and another PBX's server holds
// unlisted, created where it is listed with what it held under the new values; the
// old PBX's plan neither deletes it (--prune) nor counts it unmanaged.
func TestDiffFleetMoves(t *testing.T) {
	london := member(t, "london", "version: 1\ncompanies:\n  beta: {name: Beta}\nprune: {match: .}\n",
		company("acme", "Acme", "zone", "Europe/London", "nm_password", "1234", "vm_silent", "yes"),
		company("beta", "Beta"), company("stray", "Stray"))
	paris := member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme, settings: {zone: Europe/Paris}}\n")
	fp, err := plan.DiffFleet([]plan.FleetMember{london, paris}, plan.FleetOptions{Options: plan.Options{Prune: true, MaxDelete: 1}, MaxMove: 1})
	require.NoError(t, err)
	require.Len(t, fp.Moves, 1)
	mv := fp.Moves[0]
	require.Equal(t, "acme", mv.Company)
	require.Equal(t, "london", mv.From)
	require.Equal(t, "paris", mv.To)
	require.False(t, mv.Adopt)
	require.Equal(t, "1234", mv.Carried.Get("nm_password").Text())

	create := fp.PBXs["paris"].Changes[0]
	require.Equal(t, plan.Create, create.Action)
	require.Equal(t, "Europe/Paris", create.Fields["zone"].After.Text(), "the new inventory's value wins")
	require.Equal(t, "yes", create.Fields["vm_silent"].After.Text(), "what it held comes along")
	require.Equal(t, "1234", create.Fields["nm_password"].After.Text())

	var deletes []string
	for _, c := range fp.PBXs["london"].Changes {
		deletes = append(deletes, string(c.Action)+" "+c.Company)
	}
	require.Equal(t, []string{"delete stray"}, deletes, "prune deletes the stray, not the moved company")
	require.Empty(t, fp.PBXs["london"].Unmanaged)
	require.Equal(t, "Fleet: 2 PBXs; 1 move; london: 1 to delete; paris: 1 to create.", fp.Summary())

	_, err = plan.DiffFleet([]plan.FleetMember{london, paris}, plan.FleetOptions{Options: plan.Options{Prune: true, MaxDelete: 1}})
	var moves *plan.MoveBudgetError
	require.True(t, errors.As(err, &moves), "%v", err)
	require.Equal(t, "the fleet plan moves 1 company, more than --max-move allows (0)", err.Error())
	_, err = plan.DiffFleet([]plan.FleetMember{london, paris}, plan.FleetOptions{Options: plan.Options{Prune: true}, MaxMove: 1})
	var deletesErr *plan.FleetDeleteBudgetError
	require.True(t, errors.As(err, &deletesErr), "%v", err)
	require.Equal(t, "london: the plan deletes 1 company, more than --max-delete allows (0)", err.Error())
}

// A move half done (on both servers) is adopted on its new PBX and finished; a
// company on two other servers, or possibly on a PBX not read or left out, is held.
func TestDiffFleetHolds(t *testing.T) {
	listed := "version: 1\ncompanies:\n  acme: {name: Acme}\n"
	t.Run("adopt", func(t *testing.T) {
		fp, err := plan.DiffFleet([]plan.FleetMember{
			member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme", "zone", "Europe/London")),
			member(t, "paris", listed, company("acme", "Acme")),
		}, plan.FleetOptions{MaxMove: 1})
		require.NoError(t, err)
		require.Len(t, fp.Moves, 1)
		require.True(t, fp.Moves[0].Adopt)
		require.Equal(t, plan.Update, fp.PBXs["paris"].Changes[0].Action)
		require.Equal(t, "Europe/London", fp.PBXs["paris"].Changes[0].Fields["zone"].After.Text())
	})
	for _, tc := range []struct {
		name    string
		members func() []plan.FleetMember
		want    string
	}{
		{"on two servers", func() []plan.FleetMember {
			return []plan.FleetMember{
				member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme")),
				member(t, "berlin", "version: 1\ncompanies: {}\n", company("acme", "Acme")),
				member(t, "paris", listed),
			}
		}, "not moved: the servers of london and berlin both hold it; delete it from all but one"},
		{"a PBX not read", func() []plan.FleetMember {
			down := member(t, "london", "version: 1\ncompanies: {}\n")
			down.State, down.Err = nil, errors.New("connection refused")
			return []plan.FleetMember{down, member(t, "paris", listed)}
		}, "not created: it may be on london, which could not be read (a move); run again"},
		{"a PBX left out", func() []plan.FleetMember {
			left := member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme"))
			left.Left = true
			return []plan.FleetMember{left, member(t, "paris", listed)}
		}, "not moved: it is on london, which this run leaves out (--pbx): name both PBXs to move it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp, err := plan.DiffFleet(tc.members(), plan.FleetOptions{MaxMove: 5})
			require.NoError(t, err)
			require.Empty(t, fp.Moves)
			require.Empty(t, fp.PBXs["paris"].Changes, "nothing created")
			require.Equal(t, map[string]string{"acme": tc.want}, fp.PBXs["paris"].NotPlanned)
		})
	}
}

// A run that leaves out the PBX whose inventory lists a company never prunes it
// where it is: it is waiting to move there.
func TestDiffFleetNeverPrunesWhatMoves(t *testing.T) {
	berlin := member(t, "berlin", "version: 1\ncompanies: {}\nprune: {match: .}\n", company("gamma", "Gamma", "nm_password", "1111"), company("stray", "Stray"))
	london := member(t, "london", "version: 1\ncompanies:\n  gamma: {name: Gamma}\n")
	london.Left = true
	fp, err := plan.DiffFleet([]plan.FleetMember{berlin, london}, plan.FleetOptions{Options: plan.Options{Prune: true, MaxDelete: 5}})
	require.NoError(t, err)
	require.Empty(t, fp.Moves)
	require.Equal(t, []plan.Change{{Action: plan.Delete, Company: "stray"}}, fp.PBXs["berlin"].Changes)
	require.Empty(t, fp.PBXs["berlin"].Unmanaged)
	require.Contains(t, fp.PBXs["berlin"].Warnings, "gamma is listed by the inventory of london: not moved by this run; a run that names both PBXs moves it")
}

// A field this pbxsync does not know cannot be carried: the new PBX's plan says so.
func TestDiffFleetWarnsOfFieldsLeftBehind(t *testing.T) {
	held := company("acme", "Acme", "zone", "Europe/London")
	held.Settings.Set("x_future", apiclient.String("42"))
	fp, err := plan.DiffFleet([]plan.FleetMember{
		member(t, "london", "version: 1\ncompanies: {}\n", held),
		member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme}\n"),
	}, plan.FleetOptions{MaxMove: 1})
	require.NoError(t, err)
	require.False(t, fp.Moves[0].Carried.Has("x_future"))
	require.Equal(t, []string{"acme: fields this pbxsync does not know are not carried from london: x_future"}, fp.PBXs["paris"].Warnings)
}
