package main

// Attack tests of what a tenant or a server does to a run: text that looks like a
// template, companies that appear while a run deletes, a password rotated under a
// running job, sessions that expire while many requests are in flight.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// TestTenantTemplateStaysLiteral: a company administrator writes ${PBX_API_KEY} and
// ${OTHER_NM_PASSWORD} into its own free-text settings. Export keeps the text; plan,
// apply and migrate treat it as a value, never as a template, so that neither the key
// nor a PIN from the environment of the run lands in a tenant's setting.
func TestTenantTemplateStaysLiteral(t *testing.T) {
	const (
		keyRef   = "${PBX_API_KEY}"
		pinRef   = "${OTHER_NM_PASSWORD}"
		mixedRef = "before ${PBX_API_KEY} after"
		otherPIN = "24681357"
	)
	str := apiclient.String
	st := pbxtest.State{Companies: []apiclient.Company{
		{ID: "tenant_a", Name: "Tenant A", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": str(keyRef), "hs_access_nm": str(mixedRef)})},
		{ID: "tenant_b", Name: "Tenant B", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": str(pinRef)})},
	}}
	want := map[string]map[string]string{
		"tenant_a": {"hs_access": keyRef, "hs_access_nm": mixedRef},
		"tenant_b": {"hs_access": pinRef},
	}
	srv := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithAPIKey(hostileKey, pbxtest.SystemAdmin()))
	vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": hostileKey, "OTHER_NM_PASSWORD": otherPIN}
	dir := t.TempDir()
	requireLiteral := func(t *testing.T, srv *simtest.Server) {
		t.Helper()
		for id, fields := range want {
			c, ok := srv.Company(id)
			require.True(t, ok, "%s is missing", id)
			for field, text := range fields {
				require.Equal(t, text, c.Settings.Get(field).Text(), "%s %s", id, field)
			}
		}
		for _, c := range srv.Snapshot().Companies {
			require.NotContains(t, fmt.Sprint(c.Settings.Names(), c.Name, settingTexts(c)), hostileKey)
			require.NotContains(t, settingTexts(c), otherPIN)
		}
	}
	noSecrets := func(t *testing.T, r hostileRun) {
		t.Helper()
		for name, out := range r.outputs {
			require.NotContains(t, out, hostileKey, name)
			require.NotContains(t, out, otherPIN, name)
		}
	}

	// Export writes the text as it is.
	exported := filepath.Join(dir, "export.yaml")
	r := runHostile(t, vars, map[string]string{"export": exported}, "export", "-o", exported)
	require.Equal(t, 0, r.code, "%s", r)
	noSecrets(t, r)
	for _, text := range []string{keyRef, pinRef, mixedRef} {
		require.Contains(t, r.outputs["export"], text)
	}

	// A plan of the export finds nothing to do: the text is the value the server holds.
	r = runHostile(t, vars, nil, "plan", "-f", exported, "--detailed-exitcode")
	require.Equal(t, 0, r.code, "the export plans no change: %s", r)
	noSecrets(t, r)

	// The tenant changes its settings; apply of the export writes the text back,
	// literally.
	admin, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)
	for id, fields := range want {
		ch := apiclient.Changes{Settings: apiclient.Settings{}}
		for field := range fields {
			ch.Settings.Set(field, str("changed"))
		}
		_, err := admin.Update(t.Context(), id, ch)
		require.NoError(t, err)
	}
	r = runHostile(t, vars, nil, "plan", "-f", exported, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	noSecrets(t, r)
	require.Contains(t, r.outputs["stdout"], `"after": "${PBX_API_KEY}"`)
	require.Contains(t, r.outputs["stdout"], `"after": "${OTHER_NM_PASSWORD}"`)

	srv.ResetStats()
	report := filepath.Join(dir, "report.json")
	r = runHostile(t, vars, map[string]string{"report": report}, "apply", "-f", exported, "--auto-approve", "--report", report)
	require.Equal(t, 0, r.code, "%s", r)
	noSecrets(t, r)
	require.Equal(t, 2, srv.Stats().Writes["update"], "one update per tenant: %v", srv.Stats().Writes)
	requireLiteral(t, srv)

	// A migration of that server keeps the text on the target.
	dst := simtest.NewServer(t, pbxtest.WithAPIKey(hostileKey, pbxtest.SystemAdmin()))
	mvars := map[string]string{"PBX_FROM_API_KEY": hostileKey, "PBX_TO_API_KEY": hostileKey,
		"PBX_API_KEY": hostileKey, "OTHER_NM_PASSWORD": otherPIN}
	r = runHostile(t, mvars, nil, "migrate", "--from", srv.URL, "--to", dst.URL, "--auto-approve")
	require.Equal(t, 0, r.code, "%s", r)
	noSecrets(t, r)
	requireLiteral(t, dst)
}

// settingTexts returns the text of every setting of c, for a search.
func settingTexts(c apiclient.Company) string {
	var b strings.Builder
	for _, name := range c.Settings.Names() {
		b.WriteString(c.Settings.Get(name).JSON())
		b.WriteString(" ")
	}
	return b.String()
}

// TestRepairNeverDeletesUnplanned: while apply --prune runs, another operator creates
// companies that prune.match selects, one of them in the container of a managed
// company. The first update and the first delete fail, so that verification reads
// the grown server and a repair round runs; it deletes only what the plan shown named
// (spec/cli.md, "Saved plans").
func TestRepairNeverDeletesUnplanned(t *testing.T) {
	const inventory = `version: 1
companies:
  acme:
    name: Acme
    settings:
      zone: Europe/London
prune:
  match: "^cust_"
`
	tests := []struct {
		name        string
		companies   []apiclient.Company
		maxDelete   string
		wantDeletes int
		wantGone    []string
	}{
		{name: "a delete planned", companies: []apiclient.Company{{ID: "acme", Name: "Acme"}, {ID: "cust_a", Name: "Cust A"}},
			maxDelete: "1", wantDeletes: 1, wantGone: []string{"cust_a"}},
		{name: "no delete planned", companies: []apiclient.Company{{ID: "acme", Name: "Acme"}},
			maxDelete: "0", wantDeletes: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grown := false
			failFirst := map[string]int{"update": 1, "delete": 1}
			h := newHostileServer(t, hostileOptions{failFirst: failFirst, hook: func(h *hostileServer, _ int, verb string) {
				if grown || !isWrite(verb) {
					return
				}
				grown = true
				h.create("cust_new")
				h.create("cust_mate")
				h.group("cust_mate", "acme")
			}}, pbxtest.WithState(pbxtest.State{Companies: tt.companies}))
			inv := writeHostileFile(t, t.TempDir(), "inventory.yaml", inventory)
			r := runHostile(t, hostileEnv(h), nil, "apply", "-f", inv, "--auto-approve", "--prune", "--max-delete", tt.maxDelete)
			h.mu.Lock()
			didGrow := grown
			h.mu.Unlock()
			require.True(t, didGrow, "the server did not grow during the run: %s", r)

			require.Equal(t, 0, r.code, "repaired: %s", r)
			require.Contains(t, r.outputs["stdout"], "after 1 repair round", "%s", r)
			stats := h.sim.Stats()
			require.Equal(t, tt.wantDeletes, stats.Writes["delete"], "deletes: %s", r)
			require.Equal(t, tt.wantDeletes, stats.Requests["delete"], "delete requests: %s", r)
			for _, id := range []string{"acme", "cust_new", "cust_mate"} {
				_, ok := h.sim.Company(id)
				require.True(t, ok, "%s was deleted: %s", id, r)
			}
			for _, id := range tt.wantGone {
				_, ok := h.sim.Company(id)
				require.False(t, ok, "%s was not deleted: %s", id, r)
			}
			c, _ := h.sim.Company("acme")
			require.Equal(t, "Europe/London", c.Settings.Get("zone").Text(), "the update was made: %s", r)
			require.NotContains(t, r.outputs["stdout"], "delete cust_new")
			require.NotContains(t, r.outputs["stdout"], "delete cust_mate")
		})
	}
}

func isWrite(verb string) bool {
	switch verb {
	case "create", "update", "delete", "group", "ungroup":
		return true
	}
	return false
}

// fiftyCreates is an inventory of 50 companies that the server lacks.
func fiftyCreates() string {
	var b strings.Builder
	b.WriteString("version: 1\ncompanies:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  co_%02d:\n    name: Company %02d\n", i, i)
	}
	return b.String()
}

// TestRotatedPasswordOneLogin: the password of the account a job logs in with was
// rotated. Each run makes at most one failed login, so that no job locks the account,
// sends nothing more with those credentials, ends with exit 1, and never shows the
// password that the server echoes back.
func TestRotatedPasswordOneLogin(t *testing.T) {
	const wrong = "wrong-Passw0rd-9f8e7d6c"
	tests := []struct {
		name       string
		args       func(h, other *hostileServer, inv string) []string
		wantLogins [2]int // on h, and on other; at most, for diff, which stops reading both at the first refusal
	}{
		{name: "plan", args: func(_, _ *hostileServer, inv string) []string { return []string{"plan", "-f", inv} },
			wantLogins: [2]int{1, 0}},
		{name: "apply", args: func(_, _ *hostileServer, inv string) []string {
			return []string{"apply", "-f", inv, "--auto-approve", "--parallelism", "8"}
		}, wantLogins: [2]int{1, 0}},
		{name: "apply json logs", args: func(_, _ *hostileServer, inv string) []string {
			return []string{"--log-format", "json", "apply", "-f", inv, "--auto-approve", "--json"}
		}, wantLogins: [2]int{1, 0}},
		{name: "export", args: func(_, _ *hostileServer, _ string) []string { return []string{"export"} },
			wantLogins: [2]int{1, 0}},
		{name: "diff", args: func(h, other *hostileServer, _ string) []string {
			return []string{"diff", "--from", h.URL, "--to", other.URL}
		}, wantLogins: [2]int{1, 1}},
		{name: "migrate", args: func(h, other *hostileServer, _ string) []string {
			return []string{"migrate", "--from", h.URL, "--to", other.URL, "--auto-approve"}
		}, wantLogins: [2]int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := hostileOptions{echo: true} // every fail answer echoes the request, password included
			user := pbxtest.WithUser("ops", "right", pbxtest.SystemAdmin())
			h := newHostileServer(t, opts, user, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{{ID: "acme", Name: "Acme"}}}))
			other := newHostileServer(t, opts, user)
			inv := writeHostileFile(t, t.TempDir(), "inventory.yaml", fiftyCreates())
			vars := map[string]string{"PBX_URL": h.URL, "PBX_USERNAME": "ops", "PBX_PASSWORD": wrong,
				"PBX_FROM_USERNAME": "ops", "PBX_FROM_PASSWORD": wrong, "PBX_TO_USERNAME": "ops", "PBX_TO_PASSWORD": wrong}
			r := runHostile(t, vars, nil, tt.args(h, other, inv)...)
			require.Equal(t, 1, r.code, "%s", r)
			total := 0
			for i, srv := range []*hostileServer{h, other} {
				stats := srv.sim.Stats()
				total += stats.Requests["login"]
				if tt.name == "diff" {
					require.LessOrEqual(t, stats.Requests["login"], tt.wantLogins[i], "logins on server %d: %s", i, r)
				} else {
					require.Equal(t, tt.wantLogins[i], stats.Requests["login"], "logins on server %d: %s", i, r)
				}
				require.Equal(t, stats.Requests["login"], stats.TotalRequests(), "nothing but the login was sent: %v", stats.Requests)
			}
			require.GreaterOrEqual(t, total, 1, "a login was tried: %s", r)
			for name, out := range r.outputs {
				require.NotContains(t, out, wrong, name)
			}
			require.Contains(t, r.outputs["stderr"], "login refused")
		})
	}
}

// TestPasswordRotatedMidRun: the session of a running apply expires and the password
// was rotated meanwhile: the one login that would renew it is refused, and the run
// stops with exit 1 without trying again.
func TestPasswordRotatedMidRun(t *testing.T) {
	h := newHostileServer(t, hostileOptions{echo: true, hook: func(h *hostileServer, n int, _ string) {
		if n == 10 {
			h.sim.ExpireSessions()
			h.refuseLogins = true
		}
	}}, pbxtest.WithUser("ops", "right-Passw0rd-1a2b3c", pbxtest.SystemAdmin()))
	inv := writeHostileFile(t, t.TempDir(), "inventory.yaml", fiftyCreates())
	vars := map[string]string{"PBX_URL": h.URL, "PBX_USERNAME": "ops", "PBX_PASSWORD": "right-Passw0rd-1a2b3c"}
	r := runHostile(t, vars, nil, "apply", "-f", inv, "--auto-approve", "--parallelism", "8")
	require.Equal(t, 1, r.code, "%s", r)
	all, refused := h.loginCounts()
	require.Equal(t, 1, refused, "one refused login: %s", r)
	require.Equal(t, 2, all, "the first login, and one to renew the session: %s", r)
	require.Less(t, h.sim.Stats().Writes["create"], 50, "the run stopped: %s", r)
	for name, out := range r.outputs {
		require.NotContains(t, out, "right-Passw0rd-1a2b3c", name)
	}
}

// TestSessionExpiryRenewedOnce: the session expires while 8 requests are in flight;
// the expiry is renewed by one login that every waiting request shares. (Not two
// expiries a few requests apart: on a busy machine both can fall on one request
// under way, which, refused twice, fails as the API contract has it.)
func TestSessionExpiryRenewedOnce(t *testing.T) {
	h := newHostileServer(t, hostileOptions{hook: func(h *hostileServer, n int, _ string) {
		if n == 10 {
			h.sim.ExpireSessions()
		}
	}}, pbxtest.WithUser("ops", "right", pbxtest.SystemAdmin()))
	inv := writeHostileFile(t, t.TempDir(), "inventory.yaml", fiftyCreates())
	vars := map[string]string{"PBX_URL": h.URL, "PBX_USERNAME": "ops", "PBX_PASSWORD": "right"}
	r := runHostile(t, vars, nil, "apply", "-f", inv, "--auto-approve", "--parallelism", "8")
	require.Equal(t, 0, r.code, "%s", r)
	stats := h.sim.Stats()
	require.Equal(t, 50, stats.Writes["create"], "%v", stats.Writes)
	require.Greater(t, stats.TotalRequests(), 10, "the expiry fell within the run")
	require.Equal(t, 2, stats.Requests["login"], "the expired session was renewed by one login, shared by the requests in flight")
}

// TestUnreadableContainerAffectsOnlyItsCompanies: a container that the server will
// not show after every retry leaves its companies out of the plan and the apply; the
// rest is applied, the plan and the report name what was left out, and the run exits 1.
func TestUnreadableContainerAffectsOnlyItsCompanies(t *testing.T) {
	t.Parallel()
	st := pbxtest.State{Companies: []apiclient.Company{
		{ID: "ok_a", Name: "OK A"}, {ID: "ok_b", Name: "OK B"}, {ID: "stuck", Name: "Stuck"},
	}}
	const inventory = `version: 1
companies:
  ok_a: {name: OK A, settings: {zone: US/Pacific}}
  ok_b: {name: OK B, settings: {zone: US/Pacific}}
  stuck: {name: Stuck, settings: {zone: US/Pacific}}
containers:
  ok: [ok_a, ok_b]
`
	h := newHostileServer(t, hostileOptions{failContainerOf: "stuck"}, pbxtest.WithState(st))
	dir := t.TempDir()
	inv := writeHostileFile(t, dir, "inventory.yaml", inventory)
	vars := map[string]string{"PBX_URL": h.URL, "PBX_API_KEY": hostileKey}

	r := runHostile(t, vars, nil, "plan", "-f", inv)
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.outputs["stdout"], "Plan: 2 to update, 1 to group.")
	require.Contains(t, r.outputs["stdout"], "Not planned (the plan is incomplete; run again):\n  ! stuck: its container could not be read")
	require.Contains(t, r.outputs["stderr"], `pbxsync: 1 company not planned, since the server could not be read for them (stuck)`)

	report := filepath.Join(dir, "report.json")
	r = runHostile(t, vars, map[string]string{"report": report}, "apply", "-f", inv, "--auto-approve", "--report", report)
	require.Equal(t, 1, r.code, "%s", r)
	doc := requireOneJSON(t, "report", r.outputs["report"])
	require.Equal(t, false, doc["verified"])
	notPlanned := doc["not_planned"].([]any)
	require.Len(t, notPlanned, 1)
	require.Equal(t, "stuck", notPlanned[0].(map[string]any)["company"])
	for _, id := range []string{"ok_a", "ok_b"} {
		c, _ := h.sim.Company(id)
		require.Equal(t, `"US/Pacific"`, c.Settings.Get("zone").JSON(), "%s was applied", id)
	}
	stuck, _ := h.sim.Company("stuck")
	require.NotEqual(t, `"US/Pacific"`, stuck.Settings.Get("zone").JSON(), "stuck was left alone")
	_, mates, _ := h.sim.ContainerOf("ok_a")
	require.Equal(t, []string{"ok_a", "ok_b"}, mates)
}
