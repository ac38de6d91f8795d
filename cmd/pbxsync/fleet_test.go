package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

const (
	londonPIN = "4821"
	londonKey = "london-key-0123456789abcdef"
	parisKey  = "paris-key-0123456789abcdef"
	berlinKey = "berlin-key-0123456789abcdef"
)

// fleetFixture is three PBXs over HTTP, each with a key of its own, and a fleet
// file in a temporary directory whose inventories a test writes.
type fleetFixture struct {
	dir                   string
	london, paris, berlin *simtest.Server
	env                   map[string]string
}

// newFleet starts london (acme_hq and acme_west in one container, with a PIN, a
// field no inventory manages, and beta), paris (gamma) and berlin (delta); their
// inventories list what each holds.
func newFleet(t *testing.T, opts ...pbxtest.Option) *fleetFixture {
	t.Helper()
	london := simtest.NewServer(t, append([]pbxtest.Option{pbxtest.WithAPIKey(londonKey, pbxtest.SystemAdmin()), pbxtest.WithState(pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "Europe/London", "nm_password", londonPIN, "vm_silent", "yes"),
			co("acme_west", "Acme West", "q_ringtime", "25"),
			co("beta", "Beta"),
		},
		Containers: map[string][]string{"acme": {"acme_hq", "acme_west"}},
	})}, opts...)...)
	paris := simtest.NewServer(t, append([]pbxtest.Option{pbxtest.WithAPIKey(parisKey, pbxtest.SystemAdmin()),
		pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("gamma", "Gamma")}})}, opts...)...)
	berlin := simtest.NewServer(t, append([]pbxtest.Option{pbxtest.WithAPIKey(berlinKey, pbxtest.SystemAdmin()),
		pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("delta", "Delta")}})}, opts...)...)
	f := &fleetFixture{dir: t.TempDir(), london: london, paris: paris, berlin: berlin, env: map[string]string{
		"PBX_LONDON_API_KEY": londonKey, "PBX_PARIS_API_KEY": parisKey, "PBX_BERLIN_API_KEY": berlinKey,
		"ACME_PIN": londonPIN,
	}}
	f.write(t, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+london.URL+", inventory: london/}\n"+
		"  paris: {url: "+paris.URL+", inventory: paris/}\n"+
		"  berlin: {url: "+berlin.URL+", inventory: berlin.yaml}\n")
	f.write(t, "london/acme.yaml", "version: 1\ncompanies:\n"+
		"  acme_hq: {name: Acme HQ, settings: {zone: Europe/London, nm_password: \"${ACME_PIN}\"}}\n"+
		"  acme_west: {name: Acme West}\ncontainers:\n  acme: [acme_hq, acme_west]\n")
	f.write(t, "london/beta.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n")
	f.write(t, "paris/gamma.yaml", "version: 1\ncompanies:\n  gamma: {name: Gamma}\n")
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta}\n")
	return f
}

func (f *fleetFixture) write(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(f.dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

// moveAcme is the change in git that moves acme's two companies from london to
// paris, where they join gamma's container and acme_hq gets Paris' zone.
func (f *fleetFixture) moveAcme(t *testing.T) {
	t.Helper()
	require.NoError(t, os.Remove(filepath.Join(f.dir, "london/acme.yaml")))
	f.write(t, "paris/acme.yaml", "version: 1\ncompanies:\n"+
		"  acme_hq: {name: Acme HQ, settings: {zone: Europe/Paris, nm_password: \"${ACME_PIN}\"}}\n"+
		"  acme_west: {name: Acme West}\ncontainers:\n  acme: [acme_hq, acme_west, gamma]\n")
	require.NoError(t, os.Remove(filepath.Join(f.dir, "paris/gamma.yaml")))
	f.write(t, "paris/gamma.yaml", "version: 1\ncompanies:\n  gamma: {name: Gamma}\n")
}

func (f *fleetFixture) fleetFile() string { return filepath.Join(f.dir, "fleet.yaml") }

// A tenant moved in git: the plan shows the move first, --max-move 0 refuses it
// before any write, and with a budget it is created on paris with every setting
// london held (its PIN, a field no inventory manages) under paris' values, grouped
// as paris says, and only then deleted from london; a second run has nothing to do.
func TestFleetMove(t *testing.T) {
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFleet(t, pbxtest.WithMode(mode))
			got := invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve")
			require.Equal(t, 0, got.code, got.stderr)
			require.Contains(t, got.stdout, "No changes on any PBX.")

			f.moveAcme(t)
			got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--json")
			require.Equal(t, 3, got.code, got.stderr)
			var doc struct {
				Kind  string
				Moves []struct{ Company, From, To string }
				PBXs  map[string]struct {
					Changes []struct{ Action, Company string }
				}
				Summary struct{ Moves, Create int }
			}
			require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
			require.Equal(t, "fleet", doc.Kind)
			require.Len(t, doc.Moves, 2)
			require.Equal(t, "acme_hq", doc.Moves[0].Company)
			require.Equal(t, "london", doc.Moves[0].From)
			require.Equal(t, "paris", doc.Moves[0].To)
			require.Equal(t, 2, doc.Summary.Create)
			require.Empty(t, doc.PBXs["london"].Changes, "london's plan neither deletes nor ungroups what moves")
			require.NotContains(t, got.stdout, londonPIN)
			require.Equal(t, "pbxsync: apply would refuse: the fleet plan moves 2 companies, more than --max-move allows (0)\n", got.stderr,
				"plan writes nothing: it says what apply would do")

			got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve")
			require.Equal(t, 3, got.code, got.stderr)
			require.Zero(t, f.paris.Stats().TotalWrites()+f.london.Stats().TotalWrites(), "refused before any write")

			report := filepath.Join(f.dir, "report.json")
			metrics := filepath.Join(f.dir, "fleet.prom")
			got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "2", "--report", report, "--metrics-file", metrics)
			require.Equal(t, 0, got.code, got.stderr)
			require.Contains(t, got.stdout, "move acme_hq from london to paris: moved\n")
			require.Contains(t, got.stdout, "move acme_west from london to paris: moved\n")
			require.NotContains(t, got.stdout+got.stderr, londonPIN)

			hq := mustCompany(t, f.paris, "acme_hq")
			require.Equal(t, londonPIN, hq.Settings.Get("nm_password").Text(), "the secret came along")
			require.Equal(t, "yes", hq.Settings.Get("vm_silent").Text(), "a field no inventory manages came along")
			require.Equal(t, "Europe/Paris", hq.Settings.Get("zone").Text(), "paris' inventory wins")
			require.Equal(t, `"25"`, mustCompany(t, f.paris, "acme_west").Settings.Get("q_ringtime").JSON())
			_, members, _ := f.paris.ContainerOf("acme_hq")
			require.ElementsMatch(t, []string{"acme_hq", "acme_west", "gamma"}, members)
			for _, id := range []string{"acme_hq", "acme_west"} {
				_, still := f.london.Company(id)
				require.False(t, still, "%s is deleted from london", id)
			}
			_, ok := f.london.Company("beta")
			require.True(t, ok)
			require.Equal(t, 2, f.paris.Stats().Writes["create"])
			require.Equal(t, 2, f.london.Stats().Writes["delete"])

			data, err := os.ReadFile(report)
			require.NoError(t, err)
			require.NotContains(t, string(data), londonPIN)
			var rep struct {
				Kind  string
				Moves []struct{ Company, Status string }
			}
			require.NoError(t, json.Unmarshal(data, &rep))
			require.Equal(t, "fleet", rep.Kind)
			require.Equal(t, "moved", rep.Moves[0].Status)
			m := readMetrics(t, metrics)
			success := map[string]float64{}
			for _, s := range m["pbxsync_last_run_success"] {
				require.Equal(t, apiclient.ServerLabel(map[string]string{"london": f.london.URL, "paris": f.paris.URL, "berlin": f.berlin.URL}[s.labels["pbx"]]), s.labels["server"])
				success[s.labels["pbx"]] = s.value
			}
			require.Equal(t, map[string]float64{"london": 1, "paris": 1, "berlin": 1}, success, "every PBX has its samples, also without changes")
			require.Len(t, m["pbxsync_fleet_moves"], 6, "two statuses for each of three PBXs")
			for _, s := range m["pbxsync_fleet_moves"] {
				want := map[string]float64{"paris/moved": 2}[s.labels["pbx"]+"/"+s.labels["status"]]
				require.Equal(t, want, s.value, "%v", s.labels)
			}

			got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--detailed-exitcode")
			require.Equal(t, 0, got.code, got.stdout+got.stderr)
			require.True(t, strings.HasPrefix(got.stdout, "Fleet: 3 PBXs; 0 moves.\n"), got.stdout)
		})
	}
}

// One PBX down: the others are applied, the run ends with exit 1 naming it, and a
// company that could be a move from it is not created empty.
func TestFleetOnePBXDown(t *testing.T) {
	f := newFleet(t)
	down := httptest.NewServer(nil)
	down.Close()
	f.write(t, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+down.URL+", inventory: london/}\n"+
		"  paris: {url: "+f.paris.URL+", inventory: paris/}\n"+
		"  berlin: {url: "+f.berlin.URL+", inventory: berlin.yaml}\n")
	f.moveAcme(t)
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zone: Europe/Berlin}}\n")
	report := filepath.Join(f.dir, "report.json")
	got := invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--report", report)
	require.Equal(t, 1, got.code, got.stderr)
	require.Contains(t, got.stderr, "london: ")
	require.Equal(t, `"Europe/Berlin"`, mustCompany(t, f.berlin, "delta").Settings.Get("zone").JSON(), "berlin was applied")
	_, created := f.paris.Company("acme_hq")
	require.False(t, created, "acme_hq may be on london, which could not be read: never created empty on paris")
	require.Contains(t, got.stderr, "acme_hq: not created: it may be on london, which could not be read")
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	var rep struct{ Failed map[string]string }
	require.NoError(t, json.Unmarshal(data, &rep))
	require.Contains(t, rep.Failed, "london")
}

// The flags of a fleet run: no -f or --url beside --fleet, PBX_URL and PBX_API_KEY
// of the environment ignored, a --pbx the fleet lacks named with a suggestion, and a
// move from a PBX the run leaves out held, not made.
func TestFleetFlags(t *testing.T) {
	f := newFleet(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--fleet", f.fleetFile(), "-f", "x.yaml"}, "--fleet names each PBX's inventory: -f cannot be given too"},
		{[]string{"plan", "--fleet", f.fleetFile(), "--url", "sim:x.yaml"}, "--fleet names each PBX's url: --url cannot be given too"},
		{[]string{"plan", "--fleet", f.fleetFile(), "--pbx", "londn"}, "--pbx londn: the fleet " + f.fleetFile() + " has no such PBX (it has berlin, london, paris): did you mean london?"},
		{[]string{"apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "-1"}, "invalid --max-move -1"},
		{[]string{"export", "--fleet", f.fleetFile(), "--include-secrets"}, "secrets stay ${VAR} references"},
	} {
		got := invoke(t, "", f.env, tc.args...)
		require.Equal(t, 1, got.code, "%v", tc.args)
		require.Contains(t, got.stderr, tc.want, "%v", tc.args)
	}

	env := map[string]string{"PBX_URL": "sim:" + filepath.Join(f.dir, "nowhere.yaml"), "PBX_API_KEY": "not-this-one"}
	for k, v := range f.env {
		env[k] = v
	}
	got := invoke(t, "", env, "plan", "--fleet", f.fleetFile())
	require.Equal(t, 0, got.code, "PBX_URL and PBX_API_KEY are ignored with --fleet: %s", got.stderr)

	// A run of some PBXs needs only their secrets: london's ${ACME_PIN} may be unset.
	noPIN := map[string]string{}
	for k, v := range f.env {
		if k != "ACME_PIN" {
			noPIN[k] = v
		}
	}
	got = invoke(t, "", noPIN, "plan", "--fleet", f.fleetFile(), "--pbx", "berlin")
	require.Equal(t, 0, got.code, got.stderr)
	require.Empty(t, got.stderr, "no warning about the inventories of PBXs left out")
	got = invoke(t, "", noPIN, "plan", "--fleet", f.fleetFile(), "--pbx", "london")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "ACME_PIN")

	f.moveAcme(t)
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--pbx", "paris", "--max-move", "5")
	require.Equal(t, 1, got.code, got.stdout)
	require.Contains(t, got.stdout, "acme_hq: not moved: it is on london, which this run leaves out (--pbx): name both PBXs to move it")
	require.Contains(t, got.stdout, "Fleet: 1 PBX; 0 moves")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--pbx", "paris", "--pbx", "london", "--max-move", "5", "--explain")
	require.Equal(t, 0, got.code, got.stderr)
	require.Contains(t, got.stdout, "Fleet: 2 PBXs; 2 moves")
	require.Contains(t, got.stdout, `"Europe/Paris"   (set at `+filepath.Join(f.dir, "paris", "acme.yaml")+":3)", "--explain names the file and line of paris' own value")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--company", "acme_hq")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "narrow a fleet run with --pbx")
}

// A saved fleet plan applies what was reviewed, and refuses (exit 3, nothing
// written) once a moved company changed on its old PBX.
func TestFleetSavedPlan(t *testing.T) {
	f := newFleet(t)
	f.moveAcme(t)
	saved := filepath.Join(f.dir, "reviewed.plan")
	got := invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--max-move", "2", "-o", saved)
	require.Equal(t, 0, got.code, got.stderr)
	data, err := os.ReadFile(saved)
	require.NoError(t, err)
	require.NotContains(t, string(data), londonPIN)
	require.Contains(t, string(data), `"file": "fleet.yaml"`, "the fleet is named relative to the plan")

	// acme_west changes on london after the review.
	c, err := apiclient.New(f.london.URL, apiclient.WithAPIKey(londonKey))
	require.NoError(t, err)
	_, err = c.Update(t.Context(), "acme_west", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"q_ringtime": apiclient.String("30")})})
	require.NoError(t, err)
	f.london.ResetStats()
	got = invoke(t, "", f.env, "apply", saved, "--fleet", f.fleetFile(), "--max-move", "2")
	require.Equal(t, 3, got.code, got.stderr)
	require.Contains(t, got.stderr, "london:acme_west")
	require.Zero(t, f.paris.Stats().TotalWrites()+f.london.Stats().TotalWrites())

	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--max-move", "2", "-o", saved)
	require.Equal(t, 0, got.code, got.stderr)
	got = invoke(t, "", f.env, "apply", saved, "--fleet", f.fleetFile(), "--max-move", "2")
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, `"30"`, mustCompany(t, f.paris, "acme_west").Settings.Get("q_ringtime").JSON(), "what london held when it was planned again")
	got = invoke(t, "", f.env, "apply", saved, "--fleet", f.fleetFile(), "--max-move", "2")
	require.Equal(t, 3, got.code, "a plan applied is stale: %s", got.stderr)
	require.Contains(t, got.stderr, "the saved plan is stale: companies changed on their PBX since it was made "+
		"(london:acme_hq: deleted; london:acme_west: deleted; paris:acme_hq: created; paris:acme_west: created; paris:gamma: container): plan again",
		"the servers changed, not the file")
}

// A PBX's inventory may list folder trees and files: london's is two resellers'
// trees, each with _defaults.yaml files at two depths, and a file of profiles. The
// fleet validates, applies and then plans nothing; a fleet whose every inventory is
// empty fails before any request.
func TestFleetInventoryList(t *testing.T) {
	f := newFleet(t)
	require.NoError(t, os.RemoveAll(filepath.Join(f.dir, "london")))
	f.write(t, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london:\n    url: "+f.london.URL+"\n    inventory: [resellers/acme/, resellers/beta, shared/profiles.yaml]\n"+
		"  paris: {url: "+f.paris.URL+", inventory: paris/}\n"+
		"  berlin: {url: "+f.berlin.URL+", inventory: berlin.yaml}\n")
	f.write(t, "resellers/acme/_defaults.yaml", "version: 1\ndefaults: {zone: Europe/London}\n")
	f.write(t, "resellers/acme/hq/_defaults.yaml", "version: 1\ndefaults: {vm_silent: \"yes\"}\n")
	f.write(t, "resellers/acme/hq/acme.yaml", "version: 1\ncompanies:\n"+
		"  acme_hq: {name: Acme HQ, profiles: [queues], settings: {nm_password: \"${ACME_PIN}\"}}\n"+
		"  acme_west: {name: Acme West, settings: {zone: US/Pacific}}\ncontainers:\n  acme: [acme_hq, acme_west]\n")
	f.write(t, "resellers/acme/.archive/old.yaml", "version: 1\ncompanies:\n  acme_old: {name: Acme Old}\n")
	f.write(t, "resellers/beta/_defaults.yaml", "version: 1\ndefaults: {zone: Europe/Dublin}\n")
	f.write(t, "resellers/beta/customers/b/beta.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n  beta_two: {name: Beta Two}\n")
	f.write(t, "shared/profiles.yaml", "version: 1\nprofiles:\n  queues: {q_ringtime: 20}\n")

	got := invoke(t, "", f.env, "validate", "--fleet", f.fleetFile())
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, f.fleetFile()+": valid: 3 PBXs, 6 companies\n", got.stdout)
	got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve")
	require.Equal(t, 0, got.code, got.stderr)
	hq := mustCompany(t, f.london, "acme_hq")
	require.Equal(t, map[string]string{"zone": "Europe/London", "vm_silent": "yes", "q_ringtime": "20"},
		map[string]string{"zone": hq.Settings.Get("zone").Text(), "vm_silent": hq.Settings.Get("vm_silent").Text(), "q_ringtime": hq.Settings.Get("q_ringtime").Text()})
	require.Equal(t, "US/Pacific", mustCompany(t, f.london, "acme_west").Settings.Get("zone").Text())
	require.Equal(t, "Europe/Dublin", mustCompany(t, f.london, "beta_two").Settings.Get("zone").Text())
	_, ok := f.london.Company("acme_old")
	require.False(t, ok, "a folder whose name starts with . is skipped")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--detailed-exitcode")
	require.Equal(t, 0, got.code, got.stdout+got.stderr)

	// export --fleet writes one file per PBX, and never where an inventory is, at
	// any depth.
	got = invoke(t, "", f.env, "export", "--fleet", f.fleetFile(), "--pbx", "london")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "london: its inventory is a list of 3 paths: export --fleet writes one file")
	f.write(t, "tree.yaml", "version: 1\npbxs:\n  london: {url: "+f.london.URL+", inventory: resellers}\n")
	got = invoke(t, "", f.env, "export", "--fleet", filepath.Join(f.dir, "tree.yaml"))
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "london: "+filepath.Join(f.dir, "resellers")+" already holds an inventory ("+filepath.Join(f.dir, "resellers/acme/_defaults.yaml")+")")
	require.NoFileExists(t, filepath.Join(f.dir, "resellers/companies.yaml"))

	f.write(t, "empty.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+f.london.URL+", inventory: [resellers/acme/hq/_defaults.yaml, shared/]}\n")
	f.london.ResetStats()
	for _, args := range [][]string{{"validate"}, {"plan"}, {"apply", "--auto-approve"}} {
		got = invoke(t, "", f.env, append(args, "--fleet", filepath.Join(f.dir, "empty.yaml"))...)
		require.Equal(t, 1, got.code, got.stderr)
		require.Regexp(t, `empty\.yaml:3:\d+: PBX london: inventory \[resellers/acme/hq/_defaults\.yaml, shared/\]: no companies in the files they name\n`, got.stderr)
	}
	require.Zero(t, f.london.Stats().TotalRequests(), "nothing is sent")
}

// export --fleet writes each PBX's inventory where the fleet file says, which then
// plans to nothing; it never overwrites one.
func TestFleetExport(t *testing.T) {
	f := newFleet(t)
	for _, p := range []string{"london", "paris"} {
		require.NoError(t, os.RemoveAll(filepath.Join(f.dir, p)))
	}
	require.NoError(t, os.Remove(filepath.Join(f.dir, "berlin.yaml")))
	got := invoke(t, "", f.env, "export", "--fleet", f.fleetFile())
	require.Equal(t, 0, got.code, got.stderr)
	require.FileExists(t, filepath.Join(f.dir, "london", "companies.yaml"))
	require.FileExists(t, filepath.Join(f.dir, "berlin.yaml"))
	require.Contains(t, got.stderr, "ACME_HQ_NM_PASSWORD")
	env := map[string]string{"ACME_HQ_NM_PASSWORD": londonPIN}
	for k, v := range f.env {
		env[k] = v
	}
	got = invoke(t, "", env, "plan", "--fleet", f.fleetFile(), "--detailed-exitcode")
	require.Equal(t, 0, got.code, got.stdout+got.stderr)

	got = invoke(t, "", f.env, "export", "--fleet", f.fleetFile(), "--pbx", "berlin")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "berlin.yaml exists: export --fleet writes only new inventories")
}

// With --log-format json every line of a fleet run's stderr is JSON, the plan and
// the final error included, and each change names its PBX.
func TestFleetJSONLogs(t *testing.T) {
	f := newFleet(t)
	f.moveAcme(t)
	got := invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "2", "--log-format", "json")
	require.Equal(t, 0, got.code, got.stderr)
	changes := 0
	for _, line := range lines(got.stderr) {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), "not JSON: %s", line)
		if entry["msg"] == "change" && entry["side"] == nil {
			require.Equal(t, "paris", entry["pbx"], line)
			changes++
		}
	}
	require.Equal(t, 4, changes, "two creates and two groups on paris:\n%s", got.stderr)
	require.Contains(t, got.stderr, `"msg":"move","company":"acme_hq","from":"london","to":"paris"`)
}

// What a move leaves on its new PBX is the old PBX's copy: diff of the old PBX as it
// was (an export with its secrets) and the new one finds nothing, PINs, unmanaged
// fields and grouping included, when the new inventory adds no value of its own.
func TestFleetMoveDiffsClean(t *testing.T) {
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFleet(t, pbxtest.WithMode(mode))
			snap := filepath.Join(f.dir, "london-before.yaml")
			env := map[string]string{"PBX_URL": f.london.URL, "PBX_API_KEY": londonKey}
			got := invoke(t, "", env, "export", "--include-secrets", "-o", snap)
			require.Equal(t, 0, got.code, got.stderr)

			require.NoError(t, os.Remove(filepath.Join(f.dir, "london/acme.yaml")))
			f.write(t, "paris/acme.yaml", "version: 1\ncompanies:\n"+
				"  acme_hq: {name: Acme HQ, settings: {zone: Europe/London, nm_password: \"${ACME_PIN}\"}}\n"+
				"  acme_west: {name: Acme West}\ncontainers:\n  acme: [acme_hq, acme_west]\n")
			got = invoke(t, "", f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "2")
			require.Equal(t, 0, got.code, got.stderr)

			got = invoke(t, "", map[string]string{"PBX_TO_API_KEY": parisKey}, "diff", "--from", "sim:"+snap, "--to", f.paris.URL, "--match", "^acme_")
			require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			require.Equal(t, "No differences: 2 companies compared, the same on sim:"+snap+" and "+f.paris.URL+".\n", got.stdout)
			got = invoke(t, "", map[string]string{"PBX_TO_API_KEY": londonKey}, "diff", "--from", "sim:"+snap, "--to", f.london.URL, "--match", "^acme_")
			require.Equal(t, 2, got.code, "london no longer has them: %s", got.stdout)
			require.Contains(t, got.stdout, "2 only in --from")
		})
	}
}

// On a terminal, a fleet's apply draws one progress line for every PBX at once, with
// the PBXs done, not a log line per change; the limits' logs and the deletes that end
// moves go above it.
func TestFleetProgressOnTerminal(t *testing.T) {
	f := newFleet(t)
	f.moveAcme(t)
	f.write(t, "berlin.yaml", "version: 1\ncompanies:\n  delta: {name: Delta, settings: {zone: Europe/Berlin}}\n")
	stderr := ttyWriter{&lockedBuffer{}}
	code, stdout := invokeWith(t.Context(), strings.NewReader(""), stderr, f.env, "apply", "--fleet", f.fleetFile(), "--auto-approve", "--max-move", "2")
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	require.Contains(t, stdout, "move acme_hq from london to paris: moved\n")
	require.Regexp(t, `\rApplying: 5/5 done, 0 failed, 2/2 PBXs done, [0-9.]+ changes/s \([0-9]+ in flight at most\), [0-9]+s\x1b\[K\n$`, stderr.String())
	for _, line := range lines(stderr.String()) {
		if strings.Contains(line, "msg=change") {
			require.Contains(t, line, "side=source", "a terminal gets a progress line, not log lines; a move's delete is logged")
		}
	}
	require.Regexp(t, `msg=parallelism pbx=berlin server=127.0.0.1:[0-9]+ limit=[0-9]+ mode=auto\n`, stderr.String())
}

// validate --fleet has no JSON document: --json is refused, not ignored.
func TestFleetValidateJSONRefused(t *testing.T) {
	f := newFleet(t)
	got := invoke(t, "", nil, "validate", "--fleet", f.fleetFile(), "--json")
	require.Equal(t, 1, got.code, got.stderr)
	require.Empty(t, got.stdout)
	requireOneErrorLine(t, got.stderr, "validate --fleet prints text only: --json documents one inventory")
}
