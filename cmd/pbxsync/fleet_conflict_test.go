package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

const (
	tenantPIN     = "2468"
	impostorPIN   = "6666"
	gammaCallerID = "0123"
)

// put makes srv hold company c, through the API with key: created when it is not
// there, then its settings written.
func put(t *testing.T, srv *simtest.Server, key string, c apiclient.Company) {
	t.Helper()
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(key))
	require.NoError(t, err)
	if _, there := srv.Company(c.ID); !there {
		_, err := client.Create(t.Context(), c.ID, c.Name, "")
		require.NoError(t, err)
	}
	if c.Settings.Len() > 0 {
		_, err = client.Update(t.Context(), c.ID, apiclient.Changes{Settings: c.Settings})
		require.NoError(t, err)
	}
}

// The impostor of issue 18: whoever may create companies on london creates gamma
// there, the id of the tenant paris holds and lists, with a barge PIN, caller-id and
// phonebook of their own. It is a conflict, not a move: the plan (text and JSON) and
// the report name it with the fields that differ, secrets as (sensitive); the
// nightly (--max-move 0) is not refused for it, a budget for moves does not make it
// one; neither copy is written, the rest of the fleet is applied, and the run ends
// with exit 1.
func TestFleetImpostorIsAConflict(t *testing.T) {
	f := newFleet(t)
	put(t, f.paris, parisKey, co("gamma", "Gamma", "barge_pin", tenantPIN, "callerid", gammaCallerID, "phonebook", "1"))
	put(t, f.london, londonKey, co("gamma", "Gamma", "barge_pin", impostorPIN, "callerid", "0666", "phonebook", "3"))
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zone: Europe/Berlin}}\n")
	londonWrites, parisWrites := f.london.Stats().TotalWrites(), f.paris.Stats().TotalWrites()
	secret := func(t *testing.T, got outcome) {
		t.Helper()
		for _, pin := range []string{tenantPIN, impostorPIN, londonPIN} {
			require.NotContains(t, got.stdout+got.stderr, pin)
		}
	}

	got := invoke(t, "", f.env, "plan", "--fleet", f.fleetFile())
	require.Equal(t, 1, got.code, got.stderr)
	secret(t, got)
	require.True(t, strings.HasPrefix(got.stdout, "Fleet: 3 PBXs; 0 moves; 1 conflict; berlin: 1 to update.\n"), got.stdout)
	require.Contains(t, got.stdout, "  !! conflict gamma on london and paris: not a move; neither copy is written, delete the wrong one\n"+
		"      barge_pin:  (sensitive)\n"+
		`      callerid:   "0123" on paris, "0666" on london`+"\n"+
		`      phonebook:  "1" on paris, "3" on london`+"\n")
	require.Contains(t, got.stderr, "1 conflict (a company on two servers that no move explains): gamma (on london and paris; differs in barge_pin, callerid, phonebook)")

	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--json")
	require.Equal(t, 1, got.code, got.stderr)
	secret(t, got)
	var doc struct {
		Moves     []any
		Conflicts []struct {
			Company, From, To string
			Fields            []struct{ Field, From, To string }
		}
		Summary struct{ Moves, Conflicts int }
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc), got.stdout)
	require.Empty(t, doc.Moves)
	require.Equal(t, 1, doc.Summary.Conflicts)
	require.Len(t, doc.Conflicts, 1)
	require.Equal(t, "london", doc.Conflicts[0].From)
	require.Equal(t, "paris", doc.Conflicts[0].To)
	require.Equal(t, []struct{ Field, From, To string }{
		{"barge_pin", "(sensitive)", "(sensitive)"}, {"callerid", "0666", gammaCallerID}, {"phonebook", "3", "1"},
	}, doc.Conflicts[0].Fields)

	got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--log-format", "json")
	require.Equal(t, 1, got.code, got.stderr)
	secret(t, got)
	require.Contains(t, got.stderr, `"msg":"conflict","company":"gamma","from":"london","to":"paris","fields":"barge_pin,callerid,phonebook"`)

	for _, budget := range []string{"0", "1"} {
		report, metrics := filepath.Join(f.dir, "report-"+budget+".json"), filepath.Join(f.dir, "fleet-"+budget+".prom")
		got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", budget, "--report", report, "--metrics-file", metrics)
		require.Equal(t, 1, got.code, "--max-move %s: a conflict is no move, and fails the run: %s", budget, got.stderr)
		secret(t, got)
		require.NotContains(t, got.stderr, "--max-move allows")
		require.Contains(t, got.stdout, "conflict gamma on london and paris: not a move, nothing written to either copy; barge_pin, callerid, phonebook differ")
		require.Equal(t, `"Europe/Berlin"`, mustCompany(t, f.berlin, "delta").Settings.Get("zone").JSON(), "the rest of the fleet is applied")

		tenant := mustCompany(t, f.paris, "gamma")
		require.Equal(t, tenantPIN, tenant.Settings.Get("barge_pin").Text(), "paris's tenant keeps its PIN")
		require.Equal(t, gammaCallerID, tenant.Settings.Get("callerid").Text(), "and its caller-id")
		impostor := mustCompany(t, f.london, "gamma")
		require.Equal(t, impostorPIN, impostor.Settings.Get("barge_pin").Text(), "london's copy is left as it is")
		require.Equal(t, londonWrites, f.london.Stats().TotalWrites(), "nothing written to london")
		require.Equal(t, parisWrites, f.paris.Stats().TotalWrites(), "nothing written to paris")

		data, err := os.ReadFile(report)
		require.NoError(t, err)
		for _, pin := range []string{tenantPIN, impostorPIN} {
			require.NotContains(t, string(data), pin)
		}
		var rep struct {
			Conflicts []struct {
				Company string
				Fields  []struct{ Field, From, To string }
			}
			Error string
		}
		require.NoError(t, json.Unmarshal(data, &rep))
		require.Len(t, rep.Conflicts, 1)
		require.Equal(t, "gamma", rep.Conflicts[0].Company)
		require.Equal(t, "(sensitive)", rep.Conflicts[0].Fields[0].To)
		require.Contains(t, rep.Error, "1 conflict")
		failed := map[string]float64{}
		for _, s := range readMetrics(t, metrics)["pbxsync_fleet_pbx_failed"] {
			failed[s.labels["pbx"]] = s.value
		}
		require.Equal(t, map[string]float64{"london": 1, "paris": 1, "berlin": 0}, failed, "a conflict shows on both its PBXs")
	}
}

// A move half done is adopted on paris and finished, however far it got there:
// created and nothing more, or created and updated once with london's settings and
// paris's values over them (the one update a move sends). Only acme_west is created;
// acme_hq ends as a move from the start would have left it, and leaves london.
func TestFleetAdoptsAMoveHalfDoneOverHTTP(t *testing.T) {
	for name, settings := range map[string][]string{
		"created": nil,
		"updated": {"zone", "Europe/Paris", "nm_password", londonPIN, "vm_silent", "yes"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFleet(t)
			f.moveAcme(t)
			put(t, f.paris, parisKey, co("acme_hq", "Acme HQ", settings...))
			creates := f.paris.Stats().Writes["create"]

			got := invoke(t, "", f.env, "plan", "--fleet", f.fleetFile())
			require.Equal(t, 3, got.code, "two moves, more than --max-move 0 allows: %s", got.stderr)
			require.Contains(t, got.stdout, "-> move acme_hq from london to paris (on both already: finished by the delete on london)")
			require.NotContains(t, got.stdout, "conflict")

			got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "2")
			require.Equal(t, 0, got.code, got.stderr)
			require.Contains(t, got.stdout, "move acme_hq from london to paris: moved\n")
			hq := mustCompany(t, f.paris, "acme_hq")
			require.Equal(t, londonPIN, hq.Settings.Get("nm_password").Text())
			require.Equal(t, "yes", hq.Settings.Get("vm_silent").Text())
			require.Equal(t, "Europe/Paris", hq.Settings.Get("zone").Text())
			_, still := f.london.Company("acme_hq")
			require.False(t, still, "deleted from london once verified on paris")
			require.Equal(t, creates+1, f.paris.Stats().Writes["create"], "acme_west only")

			got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--detailed-exitcode")
			require.Equal(t, 0, got.code, got.stdout+got.stderr)
		})
	}
}
