package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// editPlanFile rewrites fields of a saved plan, as whoever holds the file can.
func editPlanFile(t *testing.T, path string, edit func(saved map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var saved map[string]any
	require.NoError(t, json.Unmarshal(data, &saved))
	edit(saved)
	data, err = json.Marshal(saved)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// TestPlanArtifactCannotDeleteProduction: a CI artifact holds a plan and its own
// inventory (prune every company), planned with --prune against a copy of
// production, its recorded server edited to production's. Applied with the
// operator's inventory and PBX_URL set to production, it is refused (exit 3) before
// any connection: the plan file does not pick the inventory it is checked against.
func TestPlanArtifactCannotDeleteProduction(t *testing.T) {
	production := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	staging := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	artifact := t.TempDir()
	evilInv := writeFile(t, artifact, "inventory.yaml", "version: 1\nprune: {match: \".*\"}\ncompanies:\n  acme_hq: {name: Acme HQ}\n")
	planFile := filepath.Join(artifact, "plan.json")
	got := invoke(t, "", adminEnv(staging), "plan", "-f", evilInv, "--prune", "--max-delete", "10", "--out", planFile)
	require.Equal(t, 0, got.code, got.stderr)
	require.Contains(t, got.stdout, "- delete partner", "the artifact deletes")
	editPlanFile(t, planFile, func(saved map[string]any) { saved["server"] = production.URL })

	operatorInv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	got = invoke(t, "", adminEnv(production, mixedEnv...), "apply", planFile, "-f", operatorInv)
	require.Equal(t, 3, got.code, "%s", got.stderr)
	requireOneErrorLine(t, got.stderr, "is not the one the plan was made from")
	require.Zero(t, production.Stats().TotalRequests(), "refused before any connection")
	require.Len(t, production.Snapshot().Companies, len(mixedState().Companies), "nothing deleted")

	// Without -f, the artifact's inventory is only a hint: nothing is read or sent.
	got = invoke(t, "", adminEnv(production, mixedEnv...), "apply", planFile)
	require.Equal(t, 1, got.code, "%s", got.stderr)
	requireOneErrorLine(t, got.stderr, `pass -f with the inventory it was made from (the plan records "`+evilInv+`")`)
	require.Zero(t, production.Stats().TotalRequests())
}

// TestPlanFileSendsNoKeyWhereItSays: a plan file whose recorded server is an
// attacker's never makes pbxsync connect there: without --url and PBX_URL it is
// refused before anything else is read; with the operator's server it is another
// server, refused (exit 3) before any connection; a recorded sim: path is never
// written.
func TestPlanFileSendsNoKeyWhereItSays(t *testing.T) {
	production := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	attacker := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	planFile := filepath.Join(dir, "changes.plan")
	got := invoke(t, "", adminEnv(production, mixedEnv...), "plan", "-f", inv, "--out", planFile)
	require.Equal(t, 0, got.code, got.stderr)
	production.ResetStats()

	drop := filepath.Join(t.TempDir(), "pins.yaml")
	for _, recorded := range []string{attacker.URL, "sim:" + drop} {
		editPlanFile(t, planFile, func(saved map[string]any) { saved["server"] = recorded })
		keyOnly := map[string]string{"PBX_API_KEY": pbxtest.AdminKey, "ACME_PIN": acmePIN, "GAMMA_PIN": gammaPIN}

		got = invoke(t, "", keyOnly, "apply", planFile, "-f", inv)
		require.Equal(t, 1, got.code, "%s", got.stderr)
		requireOneErrorLine(t, got.stderr, `pass --url URL or set PBX_URL (the plan records "`+recorded+`")`)

		got = invoke(t, "", adminEnv(production, mixedEnv...), "apply", planFile, "-f", inv)
		require.Equal(t, 3, got.code, "%s", got.stderr)
		requireOneErrorLine(t, got.stderr, `was made for "`+recorded+`", not "`+production.URL+`"`)

		require.Zero(t, attacker.Stats().TotalRequests(), "no key sent to the recorded server")
		require.Zero(t, production.Stats().TotalRequests(), "refused before any connection")
		require.NoFileExists(t, drop, "no sim: state written where the plan file says")
		requireNoSecrets(t, got.stdout, got.stderr)
	}
}

// TestSavedFleetPlanChoosesNothing: a saved fleet plan whose recorded fleet file
// names an attacker's URLs connects nowhere: without --fleet it is refused before
// anything else is read, and with the operator's fleet file its hash differs, which
// is refused (exit 3) before any PBX is connected to.
func TestSavedFleetPlanChoosesNothing(t *testing.T) {
	f := newFleet(t)
	f.moveAcme(t)
	// The attacker's servers take whatever key they are sent.
	attacker := simtest.NewServer(t, pbxtest.WithAPIKey(londonKey, pbxtest.SystemAdmin()))
	accomplice := simtest.NewServer(t, pbxtest.WithAPIKey(parisKey, pbxtest.SystemAdmin()))
	evil := filepath.Join(t.TempDir(), "fleet.yaml")
	data, err := os.ReadFile(f.fleetFile())
	require.NoError(t, err)
	evilFleet := strings.NewReplacer(f.london.URL, attacker.URL, f.paris.URL, accomplice.URL, "london/", filepath.Join(f.dir, "london")+"/",
		"paris/", filepath.Join(f.dir, "paris")+"/", "berlin.yaml", filepath.Join(f.dir, "berlin.yaml")).Replace(string(data))
	require.NoError(t, os.WriteFile(evil, []byte(evilFleet), 0o600))
	// The attacker's fleet's own hash, as a plan of it would record.
	evilPlan := filepath.Join(t.TempDir(), "evil.plan")
	got := invoke(t, "", f.env, "plan", "--fleet", evil, "--max-move", "10", "-o", evilPlan)
	require.Equal(t, 0, got.code, got.stderr)
	var evilSaved map[string]any
	raw, err := os.ReadFile(evilPlan)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &evilSaved))

	saved := filepath.Join(f.dir, "reviewed.plan")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--max-move", "2", "-o", saved)
	require.Equal(t, 0, got.code, got.stderr)
	editPlanFile(t, saved, func(sp map[string]any) { sp["fleet"] = evilSaved["fleet"] })
	f.london.ResetStats()
	f.paris.ResetStats()
	f.berlin.ResetStats()
	attacker.ResetStats()
	accomplice.ResetStats()

	got = invoke(t, "", f.env, "apply", saved)
	require.Equal(t, 1, got.code, "%s", got.stderr)
	requireOneErrorLine(t, got.stderr, "pass --fleet with the fleet file it was made from (the plan records")
	got = invoke(t, "", f.env, "apply", saved, "--fleet", f.fleetFile())
	require.Equal(t, 3, got.code, "%s", got.stderr)
	requireOneErrorLine(t, got.stderr, "the fleet file, or an inventory it names, is not the one the plan was made from")
	for name, srv := range map[string]*simtest.Server{"attacker": attacker, "accomplice": accomplice, "london": f.london, "paris": f.paris, "berlin": f.berlin} {
		require.Zero(t, srv.Stats().TotalRequests(), "%s was connected to", name)
	}
}

// The values a plan file records are shown as a hint only, escaped: a recorded path
// with a terminal escape sequence does not reach the terminal raw.
func TestPlanFileHintEscaped(t *testing.T) {
	dir := t.TempDir()
	planFile := writeFile(t, dir, "saved.plan", strings.Replace(savedPlanJSON, `"inventory.yaml"`, `"inv\u001b[2J.yaml"`, 1))
	got := invoke(t, "", nil, "apply", planFile)
	require.Equal(t, 1, got.code, "%s", got.stderr)
	require.NotContains(t, got.stderr, "\x1b")
	require.Contains(t, got.stderr, `inv\\x1b[2J.yaml`)
}

// TestPlanFileBringsNoBudget: a plan file made with --prune --max-delete (by anyone,
// from the operator's own inventory) deletes nothing unless the operator budgets for
// the deletes at apply time too: the budget is the smaller of the file's and the
// operator's --max-delete (default 0), and more deletes are refused before any write.
// A saved fleet plan's moves likewise need the operator's --max-move.
func TestPlanFileBringsNoBudget(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory+"prune: {match: \"^partner$\"}\n")
	planFile := filepath.Join(dir, "changes.plan")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--prune", "--max-delete", "10", "--out", planFile)
	require.Equal(t, 0, got.code, got.stderr)
	require.Contains(t, got.stdout, "- delete partner")
	srv.ResetStats()

	got = invoke(t, "", adminEnv(srv, mixedEnv...), "apply", planFile, "-f", inv)
	require.Equal(t, 3, got.code, "%s", got.stderr)
	require.Contains(t, got.stderr, "the plan deletes 1 company, more than --max-delete allows (0)")
	require.Zero(t, srv.Stats().TotalWrites(), "refused before any write")

	got = invoke(t, "", adminEnv(srv, mixedEnv...), "apply", planFile, "-f", inv, "--max-delete", "1")
	require.Equal(t, 0, got.code, "%s", got.stderr)
	_, exists := srv.Company("partner")
	require.False(t, exists, "deleted once the operator budgeted for it")

	f := newFleet(t)
	f.moveAcme(t)
	saved := filepath.Join(f.dir, "reviewed.plan")
	got = invoke(t, "", f.env, "plan", "--fleet", f.fleetFile(), "--max-move", "2", "-o", saved)
	require.Equal(t, 0, got.code, got.stderr)
	f.london.ResetStats()
	got = invoke(t, "", f.env, "apply", saved, "--fleet", f.fleetFile())
	require.Equal(t, 3, got.code, "%s", got.stderr)
	require.Contains(t, got.stderr, "more than --max-move allows (0)")
	require.Zero(t, f.london.Stats().TotalWrites()+f.paris.Stats().TotalWrites())
}

// TestPlanFileServerByAddress: the plan-file check knows one server under two names
// as fleet files and migrate do (a name that resolves to the recorded address), and
// a recorded name that resolves elsewhere, or nowhere, is another server.
func TestPlanFileServerByAddress(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	planFile := filepath.Join(dir, "changes.plan")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--out", planFile)
	require.Equal(t, 0, got.code, got.stderr)

	vars := adminEnv(srv, mixedEnv...)
	vars["PBX_URL"] = strings.Replace(srv.URL, "127.0.0.1", "pbx.test", 1)
	got = runResolving(t, localhostIs127, vars, "apply", planFile, "-f", inv)
	require.Equal(t, 3, got.code, "%s", got.stderr)
	requireOneErrorLine(t, got.stderr, `was made for "`+srv.URL+`", not "`+vars["PBX_URL"]+`"`)
	require.Zero(t, srv.Stats().TotalWrites())

	vars["PBX_URL"] = localhostURL(srv)
	got = runResolving(t, localhostIs127, vars, "apply", planFile, "-f", inv)
	require.Equal(t, 0, got.code, "%s", got.stderr)
	require.Equal(t, "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", got.stdout)
}
