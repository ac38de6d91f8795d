package sync_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// The impostor of issue 18: someone who may create companies on london creates
// acme there, the id of a tenant that paris holds and lists, with a barge PIN and
// a caller-id of their own. Paris's copy is no move's work: a conflict. Nothing is
// written to either copy (paris's tenant keeps its PIN and caller-id, london's
// impostor stays), paris's other change is applied, and the run fails naming the
// conflict, its secret field as (sensitive), never its value.
func TestFleetConflictWritesNeitherCopy(t *testing.T) {
	london, londonLog := logged(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("acme", "Acme", "barge_pin", "6666", "callerid", "0666", "phonebook", "3"),
	}}))
	paris, parisLog := logged(t, pbxtest.WithState(pbxtest.State{
		Companies: []apiclient.Company{
			company("acme", "Acme", "barge_pin", "1234", "callerid", "0123", "zone", "Europe/Paris"),
			company("gamma", "Gamma"),
		},
		Containers: map[string][]string{"acme": {"acme", "gamma"}},
	}))
	londonInv := load(t, "version: 1\ncompanies: {}\nprune: {match: .}\n", noEnv)
	parisInv := load(t, "version: 1\ncompanies:\n  acme: {name: Acme, settings: {zone: Europe/Berlin}}\n"+
		"  gamma: {name: Gamma}\n  delta: {name: Delta}\ncontainers:\n  acme: [acme, gamma]\n", noEnv)
	pbxs := []fleetPBX{
		{name: "london", client: newClient(t, london.URL, pbxtest.AdminKey), inv: londonInv},
		{name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: parisInv},
	}
	before := paris.Snapshot()
	run := runFleetRound(t, t.Context(), pbxs, plan.Options{Prune: true, MaxDelete: 5}) // london's prune.match matches the impostor

	require.Empty(t, run.plan.Moves)
	require.Len(t, run.report.Conflicts, 1)
	require.Equal(t, []string{"barge_pin", "callerid", "phonebook", "zone"}, run.report.Conflicts[0].Names(), "each field not as a move's update writes it")
	require.Zero(t, london.Stats().TotalWrites(), "london's impostor is neither deleted nor changed: %s", londonLog)
	for _, verb := range []string{"update", "group", "ungroup", "delete"} {
		handled, _ := parisLog.writes(verb)
		require.Zero(t, handled["acme"], "%s of paris's acme: %s", verb, parisLog)
		require.Zero(t, handled["gamma"], "%s of gamma, held with it: %s", verb, parisLog)
	}
	tenant := companiesOf(before)["acme"]
	tenant.Num = 0
	requireHolds(t, paris, "paris", tenant)
	_, created := paris.Company("delta")
	require.True(t, created, "the rest of paris is applied")
	require.True(t, run.report.PBXs["paris"].Verified)

	err := run.report.Err()
	require.ErrorContains(t, err, "1 conflict")
	require.ErrorContains(t, err, "acme (on london and paris; differs in barge_pin, callerid, phonebook, zone)")
	var summary, doc bytes.Buffer
	require.NoError(t, run.report.WriteSummary(&summary))
	require.Contains(t, summary.String(), "conflict acme on london and paris: not a move, nothing written to either copy; barge_pin, callerid, phonebook, zone differ")
	out := run.report.Outcome(time.Second, err)
	require.NoError(t, out.JSON(&doc))
	var got struct {
		Conflicts []struct {
			Company, From, To string
			Fields            []struct{ Field, From, To string }
			Held              []string
		}
	}
	require.NoError(t, json.Unmarshal(doc.Bytes(), &got), doc.String())
	require.Len(t, got.Conflicts, 1)
	require.Equal(t, []string{"acme", "gamma"}, got.Conflicts[0].Held)
	require.Equal(t, struct{ Field, From, To string }{"barge_pin", "(sensitive)", "(sensitive)"}, got.Conflicts[0].Fields[0])
	require.Equal(t, struct{ Field, From, To string }{"callerid", "0666", "0123"}, got.Conflicts[0].Fields[1])
	for _, text := range []string{summary.String(), doc.String(), err.Error()} {
		require.NotContains(t, text, "6666")
		require.NotContains(t, text, "1234")
	}
}

// A move half done is adopted and finished however far it got on paris: created
// only (every field as a new company has it), or created and updated with london's
// settings and paris's inventory's over them (the one update a move sends), also when
// the server did not keep a feature switch of it.
func TestFleetAdoptsAMoveHalfDone(t *testing.T) {
	held := company("acme", "Acme", "barge_pin", "1357", "callerid", "0666", "zone", "Europe/London", "q_ringtime", "15")
	held.Settings.Set("nocallrec", apiclient.Bool(true))
	parisInv := load(t, "version: 1\ncompanies:\n  acme: {name: Acme Paris, settings: {zone: Europe/Paris}}\n", noEnv)
	switchLost := wantCompany(held, parisInv)
	switchLost.Settings.Set("nocallrec", apiclient.Null())
	for name, copied := range map[string]apiclient.Company{
		"created":                company("acme", "Acme Paris"),
		"updated":                wantCompany(held, parisInv),
		"updated, a switch lost": switchLost,
	} {
		t.Run(name, func(t *testing.T) {
			london := simtestServer(t, held)
			paris := simtestServer(t, copied)
			pbxs := []fleetPBX{
				{name: "london", client: newClient(t, london.URL, pbxtest.AdminKey), inv: load(t, "version: 1\ncompanies: {}\n", noEnv)},
				{name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: parisInv},
			}
			whole := companiesOf(london.Snapshot())["acme"] // every field, as london holds it
			run := runFleetRound(t, t.Context(), pbxs)
			require.Empty(t, run.report.Conflicts)
			require.NoError(t, run.report.Err())
			require.Equal(t, map[string]string{"acme": sync.Moved}, moveStatuses(run.report))
			requireHolds(t, paris, "paris", wantCompany(whole, parisInv))
			require.Empty(t, london.Snapshot().Companies, "finished: deleted from london")
			require.Zero(t, paris.Stats().Writes["create"])
			requireFleetQuiet(t, runFleetRound(t, t.Context(), pbxs))
		})
	}
}

// The adoption is checked again just before it is written, on both servers: when
// paris's copy changes after the plan (a caller-id set there), it is a conflict;
// when london's does, the move would carry what london no longer holds. Either way
// paris is not written at all in this run, and london keeps its copy.
func TestFleetAdoptionCheckedAgainBeforeItsWrite(t *testing.T) {
	callerID := apiclient.SettingsOf(map[string]apiclient.Value{"callerid": apiclient.String("0123")})
	for _, tc := range []struct {
		name      string
		changed   string // the PBX whose copy changes
		conflicts []string
		failure   string
	}{
		{"on paris", "paris", []string{"barge_pin", "callerid", "zone"}, "not applied, nothing was written: a company it was to adopt changed since the plan and is now a conflict"},
		{"on london", "london", nil, "not applied, nothing was written: acme changed on london since the plan: its adoption waits for the next run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := company("acme", "Acme", "barge_pin", "1357", "zone", "Europe/London")
			london, paris := simtestServer(t, held), simtestServer(t, company("acme", "Acme"))
			lc, pc := newClient(t, london.URL, pbxtest.AdminKey), newClient(t, paris.URL, pbxtest.AdminKey)
			changed := map[string]*apiclient.Client{"london": lc, "paris": pc}[tc.changed]
			var changeErr error
			w := &tripwire{
				cut: func(pbx, op string, n, _ int) bool { return pbx == "paris" && op == "Lookup" && n == 1 },
				act: func() { _, changeErr = changed.Update(t.Context(), "acme", apiclient.Changes{Settings: callerID}) },
			}
			run := runFleetRound(t, t.Context(), []fleetPBX{
				{name: "london", client: wiredClient{lc, "london", w}, inv: load(t, "version: 1\ncompanies: {}\n", noEnv)},
				{name: "paris", client: wiredClient{pc, "paris", w}, inv: load(t, "version: 1\ncompanies:\n  acme: {name: Acme}\n", noEnv)},
			})
			require.NotEmpty(t, w.firedAt(), "a copy was changed before the adoption's write")
			require.NoError(t, changeErr)
			require.Len(t, run.plan.Moves, 1, "planned as an adoption")
			var conflicts []string
			for _, c := range run.report.Conflicts {
				conflicts = append(conflicts, c.Names()...)
			}
			require.Equal(t, tc.conflicts, conflicts)
			require.EqualError(t, run.report.Failed["paris"], tc.failure)
			require.Equal(t, map[string]string{"acme": sync.Unfinished}, moveStatuses(run.report))
			writes := map[string]int{tc.changed: 1} // the test's own change
			require.Equal(t, writes["london"], london.Stats().TotalWrites(), "nothing written on london")
			require.Equal(t, writes["paris"], paris.Stats().TotalWrites(), "nothing written on paris")
			kept, _ := paris.Company("acme")
			require.Equal(t, "", kept.Settings.Get("barge_pin").Text(), "london's PIN was not carried")
			_, onLondon := london.Company("acme")
			require.True(t, onLondon)
		})
	}
}

// simtestServer starts a simulator that holds the companies.
func simtestServer(t *testing.T, companies ...apiclient.Company) *simtest.Server {
	t.Helper()
	srv, _ := logged(t, pbxtest.WithState(pbxtest.State{Companies: companies}))
	return srv
}
