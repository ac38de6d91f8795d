package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/planfile"
)

// outcome is what one run of pbxsync gave.
type outcome struct {
	code           int
	stdout, stderr string
}

// invoke runs pbxsync with args, stdin and an environment of vars only.
func invoke(t *testing.T, stdin string, vars map[string]string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, lookup, fastRetries)
	return outcome{code, stdout.String(), stderr.String()}
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// co is a company to seed a server with.
func co(id, name string, settings ...string) apiclient.Company {
	s := apiclient.Settings{}
	for i := 0; i+1 < len(settings); i += 2 {
		s.Set(settings[i], apiclient.String(settings[i+1]))
	}
	return apiclient.Company{ID: id, Name: name, Settings: s}
}

// adminEnv is the environment that names srv with its System-Admin key, plus extra.
func adminEnv(srv *simtest.Server, extra ...string) map[string]string {
	vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": pbxtest.AdminKey}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	return vars
}

// lines splits output into its lines, without the final newline.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

var changeHeadRE = regexp.MustCompile(`^  [-+~<>] `)

// changeHeads returns the lines of a text plan that head a change, trimmed, in order.
func changeHeads(text string) []string {
	var heads []string
	for _, l := range lines(text) {
		if changeHeadRE.MatchString(l) {
			heads = append(heads, strings.TrimSpace(l))
		}
	}
	return heads
}

// requireOneErrorLine checks that stderr is exactly one "pbxsync: " line holding want.
func requireOneErrorLine(t *testing.T, stderr, want string) {
	t.Helper()
	got := lines(stderr)
	require.Len(t, got, 1, "stderr: %q", stderr)
	require.True(t, strings.HasPrefix(got[0], "pbxsync: "), "stderr: %q", stderr)
	require.Contains(t, got[0], want)
}

const (
	// The secrets of the mixed scenario: PINs given through ${VAR}, and the one the
	// server holds today.
	acmePIN   = "24681357"
	gammaPIN  = "91827364"
	serverPIN = "55443322"
)

// mixedState is a server where the mixed inventory finds one of each change but
// deletes: acme_hq's zone and PIN differ, beta must leave acme's container, delta and
// epsilon must share one, gamma is missing, and partner is unmanaged.
func mixedState() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "Europe/London", "nm_password", serverPIN),
			co("acme_west", "Acme West", "zone", "US/Pacific"),
			co("beta", "Beta", "zone", "Europe/London"),
			co("delta", "Delta"),
			co("epsilon", "Epsilon"),
			co("partner", "Partner"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west", "beta"}},
	}
}

const mixedInventory = `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      zone: US/Pacific
      nm_password: ${ACME_PIN}
  acme_west:
    name: Acme West
    settings:
      zone: US/Pacific
  beta:
    name: Beta
    settings:
      zone: Europe/London
  delta:
    name: Delta
  epsilon:
    name: Epsilon
  gamma:
    name: Gamma
    settings:
      nm_password: ${GAMMA_PIN}
containers:
  acme: [acme_hq, acme_west]
  de: [delta, epsilon]
`

var mixedEnv = []string{"ACME_PIN", acmePIN, "GAMMA_PIN", gammaPIN}

// mixedHeads are the change lines of the mixed plan.
var mixedHeads = []string{
	`+ create gamma ("Gamma")`,
	`~ update acme_hq`,
	`< ungroup beta into a container of its own`,
	`> group epsilon into the container of delta`,
}

// equalInventory is what the server of equalState holds, exactly.
const equalInventory = `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      zone: US/Pacific
  acme_west:
    name: Acme West
  solo_ltd:
    name: Solo Ltd
containers:
  acme: [acme_hq, acme_west]
`

func equalState() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "US/Pacific"),
			co("acme_west", "Acme West"),
			co("solo_ltd", "Solo Ltd"),
			co("partner", "Partner"),
		},
		Containers: map[string][]string{"acme": {"acme_hq", "acme_west"}},
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	valid := writeFile(t, dir, "valid.yaml", `version: 1
companies:
  acme_hq:
    name: Acme HQ
  acme_west:
    name: Acme West
  solo_ltd:
    name: Solo Ltd
containers:
  acme: [acme_hq, acme_west]
`)
	invalid := writeFile(t, dir, "invalid.yaml", `version: 2
companies:
  acme_hq:
    name: Acme HQ
    setings:
      zone: US/Pacific
  beta:
    name: Beta
    settings:
      zone: Mars/Olympus
`)
	plainPIN := writeFile(t, dir, "pin.yaml", `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      nm_password: "1234"
`)
	missing := filepath.Join(dir, "missing.yaml")
	validBytes, err := os.ReadFile(valid)
	require.NoError(t, err)

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  outcome
		// wantStderr, when set, replaces want.stderr: each line must start with
		// its prefix.
		wantStderr []string
	}{
		{name: "valid", args: []string{"validate", "-f", valid},
			want: outcome{code: 0, stdout: valid + ": valid: 3 companies, 1 container\n"}},
		{name: "valid from stdin", stdin: string(validBytes), args: []string{"validate", "-f", "-"},
			want: outcome{code: 0, stdout: "<stdin>: valid: 3 companies, 1 container\n"}},
		{name: "every problem with its place", args: []string{"validate", "-f", invalid},
			want: outcome{code: 1},
			wantStderr: []string{
				invalid + ":1:10: version must be 1",
				invalid + ":5:5: unknown key \"setings\"",
				invalid + ":10:13: ",
				"pbxsync: " + invalid + ": 3 errors: nothing was sent to any server",
			}},
		{name: "plain-text secret warns", args: []string{"validate", "-f", plainPIN},
			want: outcome{code: 0, stdout: plainPIN + ": valid: 1 company, 0 containers\n"},
			wantStderr: []string{
				plainPIN + ":6:20: warning: nm_password is a secret written in plain text",
			}},
		{name: "no file", args: []string{"validate"},
			want:       outcome{code: 1},
			wantStderr: []string{"pbxsync: no inventory: pass -f FILE or -f DIRECTORY, as often as needed (-f - for standard input)"}},
		{name: "file does not exist", args: []string{"validate", "-f", missing},
			want:       outcome{code: 1},
			wantStderr: []string{"pbxsync: read the inventory: " + missing + ": no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, tt.stdin, nil, tt.args...)
			if tt.wantStderr != nil {
				gotLines := lines(got.stderr)
				require.Len(t, gotLines, len(tt.wantStderr), "stderr: %q", got.stderr)
				for i, prefix := range tt.wantStderr {
					require.True(t, strings.HasPrefix(gotLines[i], prefix), "stderr line %d: %q, want it to start with %q", i, gotLines[i], prefix)
				}
				got.stderr = ""
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(outcome{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanText(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)

	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv)
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	require.Empty(t, got.stderr)
	first := lines(got.stdout)[0]
	if diff := cmp.Diff("Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group. 1 unmanaged company (on the server, not in the inventory).", first); diff != "" {
		t.Errorf("summary line (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(mixedHeads, changeHeads(got.stdout)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	require.Regexp(t, `\n +zone: +"Europe/London" -> "US/Pacific"\n`, got.stdout)
	require.Regexp(t, `\n +nm_password: +\(sensitive\) changed\n`, got.stdout)
	for _, secret := range []string{acmePIN, gammaPIN, serverPIN} {
		require.NotContains(t, got.stdout, secret)
	}
	require.Zero(t, srv.Stats().TotalWrites(), "plan wrote: %v", srv.Stats().Writes)
}

func TestPlanDetailedExitcode(t *testing.T) {
	tests := []struct {
		name      string
		state     pbxtest.State
		inventory string
		vars      []string
		wantCode  int
		wantFirst string
	}{
		{"changes", mixedState(), mixedInventory, mixedEnv, 2,
			"Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group. 1 unmanaged company (on the server, not in the inventory)."},
		{"no changes", equalState(), equalInventory, nil, 0,
			"No changes: the server matches the inventory. 1 unmanaged company (on the server, not in the inventory)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tt.state))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", tt.inventory)
			got := invoke(t, "", adminEnv(srv, tt.vars...), "plan", "-f", inv, "--detailed-exitcode")
			require.Equal(t, tt.wantCode, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stderr, "exit 2 is not a failure: nothing on stderr")
			if diff := cmp.Diff(tt.wantFirst, lines(got.stdout)[0]); diff != "" {
				t.Errorf("summary line (-want +got):\n%s", diff)
			}
			require.Zero(t, srv.Stats().TotalWrites())

			// Without the flag, both are a plain success.
			got = invoke(t, "", adminEnv(srv, tt.vars...), "plan", "-f", inv)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		})
	}
}

// jsonChange is the part of a JSON change that the contract names for every action.
type jsonChange struct {
	Action, Company, Target string
}

func TestPlanJSON(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		state        pbxtest.State
		inventory    string
		wantChanges  []jsonChange
		wantSummary  map[string]int
		wantWarnings []string
	}{
		{name: "changes", args: []string{"--json"}, state: mixedState(), inventory: mixedInventory,
			wantChanges: []jsonChange{
				{Action: "create", Company: "gamma"},
				{Action: "update", Company: "acme_hq"},
				{Action: "ungroup", Company: "beta"},
				{Action: "group", Company: "epsilon", Target: "delta"},
			},
			wantSummary:  map[string]int{"create": 1, "update": 1, "ungroup": 1, "group": 1, "delete": 0},
			wantWarnings: []string{}},
		{name: "no changes", args: []string{"--format", "json"}, state: equalState(), inventory: equalInventory,
			wantChanges:  []jsonChange{},
			wantSummary:  map[string]int{"create": 0, "update": 0, "ungroup": 0, "group": 0, "delete": 0},
			wantWarnings: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tt.state))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", tt.inventory)
			got := invoke(t, "", adminEnv(srv, mixedEnv...), append([]string{"plan", "-f", inv}, tt.args...)...)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stderr)

			doc := decodeOneJSON(t, got.stdout)
			var version int
			require.NoError(t, json.Unmarshal(doc["format_version"], &version))
			require.Equal(t, 1, version)
			require.True(t, bytes.HasPrefix(doc["warnings"], []byte("[")), "warnings: %s", doc["warnings"])
			require.True(t, bytes.HasPrefix(doc["changes"], []byte("[")), "changes: %s", doc["changes"])

			var body struct {
				Changes   []jsonChange
				Summary   map[string]int
				Unmanaged int
				Warnings  []string
			}
			require.NoError(t, json.Unmarshal([]byte(got.stdout), &body))
			if diff := cmp.Diff(tt.wantChanges, body.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSummary, body.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			require.Equal(t, 1, body.Unmanaged)
			if diff := cmp.Diff(tt.wantWarnings, body.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, secret := range []string{acmePIN, gammaPIN, serverPIN} {
				require.NotContains(t, got.stdout, secret)
			}
			require.Zero(t, srv.Stats().TotalWrites())
		})
	}
}

// decodeOneJSON checks that s is exactly one JSON object and returns its members.
func decodeOneJSON(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var doc map[string]json.RawMessage
	require.NoError(t, dec.Decode(&doc), "stdout: %s", s)
	var more json.RawMessage
	require.ErrorIs(t, dec.Decode(&more), io.EOF, "more than one JSON document on stdout: %s", s)
	return doc
}

func TestPlanJSONSecrets(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--json")
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)

	var body struct {
		Changes []struct {
			Company  string
			Name     string
			Settings map[string]any
			Fields   map[string]struct{ Before, After any }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &body))
	byCompany := map[string]int{}
	for i, c := range body.Changes {
		byCompany[c.Company] = i
	}
	gamma := body.Changes[byCompany["gamma"]]
	require.Equal(t, "Gamma", gamma.Name)
	if diff := cmp.Diff(map[string]any{"nm_password": "(sensitive)"}, gamma.Settings); diff != "" {
		t.Errorf("create's settings (-want +got):\n%s", diff)
	}
	acme := body.Changes[byCompany["acme_hq"]]
	want := map[string]struct{ Before, After any }{
		"zone":        {Before: "Europe/London", After: "US/Pacific"},
		"nm_password": {Before: "(sensitive)", After: "(sensitive)"},
	}
	if diff := cmp.Diff(want, acme.Fields); diff != "" {
		t.Errorf("update's fields (-want +got):\n%s", diff)
	}
}

func TestPlanFormats(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)

	t.Run("markdown", func(t *testing.T) {
		got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--format", "markdown")
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Empty(t, got.stderr)
		require.True(t, strings.HasPrefix(got.stdout, "### pbxsync plan\n\n**Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group.**"), "stdout: %s", got.stdout)
		for _, section := range []string{"<details><summary>Create (1)</summary>", "<details><summary>Update (1)</summary>", "<details><summary>Ungroup (1)</summary>", "<details><summary>Group (1)</summary>"} {
			require.Contains(t, got.stdout, section)
		}
		require.Contains(t, got.stdout, "- `epsilon` joins the container of `delta`")
		require.Zero(t, srv.Stats().TotalWrites())
	})

	t.Run("unknown format", func(t *testing.T) {
		srv.ResetStats()
		got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--format", "xml")
		require.Equal(t, 1, got.code)
		require.Empty(t, got.stdout)
		requireOneErrorLine(t, got.stderr, `invalid --format "xml": want text, json or markdown`)
		require.Zero(t, srv.Stats().TotalRequests())
	})
}

// TestPlanReads pins what a plan costs the server: one read of all companies, and
// one readContainer per container that holds a managed company.
func TestPlanReads(t *testing.T) {
	st := pbxtest.State{
		Companies: []apiclient.Company{
			co("a1", "A1"), co("a2", "A2"), co("b1", "B1"), co("b2", "B2"), co("c1", "C1"), co("c2", "C2"),
			co("u1", "U1"), co("u2", "U2"),
		},
		Containers: map[string][]string{"a1": {"a1", "a2"}, "b1": {"b1", "b2"}, "c1": {"c1", "c2"}},
	}
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", `version: 1
companies:
  a1: {name: A1}
  a2: {name: A2}
  b1: {name: B1}
  b2: {name: B2}
  c1: {name: C1}
  c2: {name: C2}
containers:
  a: [a1, a2]
  b: [b1, b2]
  c: [c1, c2]
`)
	got := invoke(t, "", adminEnv(srv), "plan", "-f", inv, "--parallelism", "1", "--detailed-exitcode")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Equal(t, "No changes: the server matches the inventory. 2 unmanaged companies (on the server, not in the inventory).\nUnmanaged: u1, u2.\n", got.stdout)
	if diff := cmp.Diff(map[string]int{"read": 1, "readContainer": 3}, srv.Stats().Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	require.Zero(t, srv.Stats().TotalWrites())
}

// TestPlanInvalidInventory checks that a broken inventory stops the plan before any
// request.
func TestPlanInvalidInventory(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      vm_callback: maybe
      nm_password: ${UNSET_PIN}
`)
	for _, args := range [][]string{{"plan", "-f", inv}, {"plan", "-f", inv, "--json"}, {"plan", "-f", inv, "--out", filepath.Join(t.TempDir(), "plan.json")}} {
		t.Run(strings.Join(args[3:], " "), func(t *testing.T) {
			got := invoke(t, "", adminEnv(srv), args...)
			require.Equal(t, 1, got.code)
			require.Empty(t, got.stdout)
			errLines := lines(got.stderr)
			require.Len(t, errLines, 3, "stderr: %q", got.stderr)
			require.True(t, strings.HasPrefix(errLines[0], inv+":6:20: "), "stderr: %q", got.stderr)
			require.True(t, strings.HasPrefix(errLines[1], inv+":7:20: "), "stderr: %q", got.stderr)
			require.Contains(t, errLines[1], "UNSET_PIN")
			require.Equal(t, "pbxsync: "+inv+": 2 errors: nothing was sent to any server", errLines[2])
			require.Zero(t, srv.Stats().TotalRequests(), "requests: %v", srv.Stats().Requests)
		})
	}
}

func TestPlanCredentials(t *testing.T) {
	const (
		wrongKey      = "wr0ng-SECRET-KEY"
		user          = "ops"
		password      = "c0rrect-SECRET-PASSWORD"
		wrongPassword = "wr0ng-SECRET-PASSWORD"
	)
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()),
		pbxtest.WithUser(user, password, pbxtest.SystemAdmin()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)

	tests := []struct {
		name    string
		vars    map[string]string
		want    string // in the one pbxsync: line
		secrets []string
		offline bool // stopped before any request
	}{
		{"wrong API key", map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": wrongKey},
			"invalid API key", []string{wrongKey}, false},
		{"wrong password", map[string]string{"PBX_URL": srv.URL, "PBX_USERNAME": user, "PBX_PASSWORD": wrongPassword},
			"invalid username or password", []string{wrongPassword}, false},
		{"no credentials", map[string]string{"PBX_URL": srv.URL},
			"PBX_API_KEY", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			for k, v := range map[string]string{"ACME_PIN": acmePIN, "GAMMA_PIN": gammaPIN} {
				tt.vars[k] = v
			}
			got := invoke(t, "", tt.vars, "plan", "-f", inv)
			require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			require.Empty(t, got.stdout)
			requireOneErrorLine(t, got.stderr, tt.want)
			for _, secret := range tt.secrets {
				require.NotContains(t, got.stdout+got.stderr, secret)
			}
			require.Zero(t, srv.Stats().TotalWrites())
			if tt.offline {
				require.Zero(t, srv.Stats().TotalRequests())
			}
		})
	}
}

func TestPlanPrune(t *testing.T) {
	st := pbxtest.State{Companies: []apiclient.Company{
		co("acme_hq", "Acme HQ", "zone", "Europe/London"),
		co("cust_a", "Customer A"),
		co("cust_b", "Customer B"),
		co("partner", "Partner"),
	}}
	inventory := `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      zone: US/Pacific
  newco:
    name: New Co
prune:
  match: "^cust_"
`
	tests := []struct {
		name      string
		flags     []string
		wantCode  int
		wantFirst string
		wantHeads []string
		wantErr   string // the one pbxsync: line; "" for an empty stderr
	}{
		{name: "without --prune", wantCode: 0,
			wantFirst: "Plan: 1 to create, 1 to update. 3 unmanaged companies (on the server, not in the inventory).",
			wantHeads: []string{`+ create newco ("New Co")`, "~ update acme_hq"}},
		{name: "within the budget", flags: []string{"--prune", "--max-delete", "5"}, wantCode: 0,
			wantFirst: "Plan: 1 to create, 1 to update, 2 to delete. 1 unmanaged company (on the server, not in the inventory).",
			wantHeads: []string{"- delete cust_a", "- delete cust_b", `+ create newco ("New Co")`, "~ update acme_hq"}},
		{name: "at the budget", flags: []string{"--prune", "--max-delete", "2"}, wantCode: 0,
			wantFirst: "Plan: 1 to create, 1 to update, 2 to delete. 1 unmanaged company (on the server, not in the inventory).",
			wantHeads: []string{"- delete cust_a", "- delete cust_b", `+ create newco ("New Co")`, "~ update acme_hq"}},
		{name: "over the default budget", flags: []string{"--prune"}, wantCode: 3,
			wantFirst: "Plan: 1 to create, 1 to update, 2 to delete. 1 unmanaged company (on the server, not in the inventory).",
			wantHeads: []string{"- delete cust_a", "- delete cust_b", `+ create newco ("New Co")`, "~ update acme_hq"},
			wantErr:   "pbxsync: apply would refuse: the plan deletes 2 companies, more than --max-delete allows (0)"},
		{name: "over a budget of one", flags: []string{"--prune", "--max-delete", "1", "--detailed-exitcode"}, wantCode: 3,
			wantFirst: "Plan: 1 to create, 1 to update, 2 to delete. 1 unmanaged company (on the server, not in the inventory).",
			wantHeads: []string{"- delete cust_a", "- delete cust_b", `+ create newco ("New Co")`, "~ update acme_hq"},
			wantErr:   "pbxsync: apply would refuse: the plan deletes 2 companies, more than --max-delete allows (1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", inventory)
			out := filepath.Join(dir, "plan.json")
			got := invoke(t, "", adminEnv(srv), append([]string{"plan", "-f", inv, "--out", out}, tt.flags...)...)
			require.Equal(t, tt.wantCode, got.code, "stderr: %s", got.stderr)
			if diff := cmp.Diff(tt.wantFirst, lines(got.stdout)[0]); diff != "" {
				t.Errorf("summary line (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantHeads, changeHeads(got.stdout)); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if diff := cmp.Diff([]string{tt.wantErr}, lines(got.stderr)); diff != "" {
					t.Errorf("stderr (-want +got):\n%s", diff)
				}
				_, err := os.Stat(out)
				require.ErrorIs(t, err, fs.ErrNotExist, "a refused plan was saved")
			} else {
				require.FileExists(t, out)
			}
			require.Zero(t, srv.Stats().TotalWrites())
			_, exists := srv.Company("cust_a")
			require.True(t, exists)
		})
	}
}

func TestPlanOut(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)

	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(dir, format+".plan")
			got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--out", out, "--format", format)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			if diff := cmp.Diff([]string{"Saved the plan to " + out + ": apply it with pbxsync apply " + out + " -f " + inv + ", to the same server (--url or PBX_URL)"}, lines(got.stderr)); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if format == "json" {
				decodeOneJSON(t, got.stdout)
			}

			data, err := os.ReadFile(out)
			require.NoError(t, err)
			for _, secret := range []string{acmePIN, gammaPIN, serverPIN} {
				require.NotContains(t, string(data), secret, "the saved plan holds a secret")
				require.NotContains(t, got.stdout+got.stderr, secret)
			}
			saved, err := planfile.ReadSaved(bytes.NewReader(data))
			require.NoError(t, err)
			require.Equal(t, srv.URL, saved.Server)
			invBytes, err := os.ReadFile(inv)
			require.NoError(t, err)
			sum := sha256.Sum256(invBytes)
			require.Equal(t, hex.EncodeToString(sum[:]), saved.Inventory.SHA256)
			require.Equal(t, []string{"inventory.yaml"}, saved.Inventory.Files, "relative to the plan file's folder")

			touched := []string{"acme_hq", "beta", "delta", "epsilon", "gamma"}
			require.Equal(t, touched, slices.Sorted(maps.Keys(saved.Fingerprints)))
			for _, id := range touched {
				if id == "gamma" {
					require.Equal(t, plan.Absent, saved.Fingerprints[id])
					continue
				}
				require.Regexp(t, `^[0-9a-f]{32}$`, saved.Fingerprints[id], "fingerprint of %s", id)
			}
			var changes []jsonChange
			for _, c := range saved.Plan.Changes {
				changes = append(changes, jsonChange{Action: string(c.Action), Company: c.Company, Target: c.Target})
			}
			if diff := cmp.Diff([]jsonChange{
				{Action: "create", Company: "gamma"},
				{Action: "update", Company: "acme_hq"},
				{Action: "ungroup", Company: "beta"},
				{Action: "group", Company: "epsilon", Target: "delta"},
			}, changes); diff != "" {
				t.Errorf("saved changes (-want +got):\n%s", diff)
			}
		})
	}
	require.Zero(t, srv.Stats().TotalWrites())
}

func TestPlanSimulator(t *testing.T) {
	t.Run("missing state file", func(t *testing.T) {
		// A mistyped path must not plan against an empty server: plan refuses it,
		// and creates nothing; apply starts an empty simulator and says so.
		dir := t.TempDir()
		state := filepath.Join(dir, "pbx.yaml")
		inv := writeFile(t, dir, "inventory.yaml", equalInventory)
		got := invoke(t, "", nil, "plan", "-f", inv, "--url", "sim:"+state)
		require.Equal(t, 1, got.code)
		require.Equal(t, []string{"pbxsync: sim:" + state + ": no such state file: this command only reads, and would see an empty server (apply starts one)"}, lines(got.stderr))
		require.NoFileExists(t, state)
		got = invoke(t, "", nil, "apply", "-f", inv, "--url", "sim:"+state, "--auto-approve")
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Contains(t, got.stderr, `msg="started an empty simulator: its state file did not exist" file=`+state)
		require.Contains(t, got.stdout, "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.")
		st, err := pbxtest.ReadStateFile(state)
		require.NoError(t, err)
		require.Len(t, st.Companies, 3)
	})

	t.Run("a state file as strict as an inventory", func(t *testing.T) {
		dir := t.TempDir()
		inv := writeFile(t, dir, "inventory.yaml", equalInventory)
		for _, tc := range []struct{ state, want string }{
			{"version: 1\ncompanies:\n  acme_hq:\n    name: Acme HQ\n    settings:\n      zone: Mars/Base\n",
				`pbx.yaml:6: company acme_hq, setting zone: zone: "Mars/Base" is not a time zone`},
			{"version: 1\ncompanies:\n  acme_hq:\n    name: Acme HQ\n    settings:\n      nm_password: ${ACME_PIN}\n",
				"pbx.yaml:6: company acme_hq, setting nm_password: nm_password: not allowed; allowed: \"\" or digits (a state file holds values, and ${...} is text there: export with --include-secrets for a rehearsal)"},
			{"version: 1\ncompanies:\n  acme-hq: {name: Acme HQ}\n", `company-id "acme-hq" is not allowed`},
			{"version: 1\ncompanies:\n  a: {name: A}\ncontainers:\n  a: [a, ghost]\n", "container a: ghost is not a company of the file"},
		} {
			state := writeFile(t, dir, "pbx.yaml", tc.state)
			got := invoke(t, "", map[string]string{"ACME_PIN": "1234"}, "plan", "-f", inv, "--url", "sim:"+state)
			require.Equal(t, 1, got.code, "stdout: %s", got.stdout)
			require.Contains(t, got.stderr, tc.want)
		}
	})

	t.Run("quick start", func(t *testing.T) {
		original, err := os.ReadFile("../../examples/quickstart/pbx.yaml")
		require.NoError(t, err)
		state := writeFile(t, t.TempDir(), "pbx.yaml", string(original))
		got := invoke(t, "", nil, "plan", "-f", "../../examples/quickstart/inventory.yaml", "--url", "sim:"+state)
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Empty(t, got.stderr)
		require.True(t, strings.HasPrefix(got.stdout, "Plan: 1 to create, 2 to update, 1 to ungroup, 1 to group."), "stdout: %s", got.stdout)
		if diff := cmp.Diff([]string{
			`+ create acme_east ("Acme East")`,
			"~ update acme_hq",
			"~ update solo_ltd",
			"< ungroup solo_ltd into a container of its own",
			"> group acme_east into the container of acme_hq",
		}, changeHeads(got.stdout)); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		after, err := os.ReadFile(state)
		require.NoError(t, err)
		if diff := cmp.Diff(string(original), string(after)); diff != "" {
			t.Errorf("plan changed the state file (-want +got):\n%s", diff)
		}
	})
}

func TestPlanCompanyAdmin(t *testing.T) {
	st := pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ"), co("acme_west", "Acme West"),
			co("solo_ltd", "Solo Ltd", "zone", "Europe/London"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west", "solo_ltd"}},
	}
	srv := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithAPIKey("solo", pbxtest.CompanyAdmin("solo_ltd")))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", `version: 1
companies:
  solo_ltd:
    name: Solo Ltd
    settings:
      zone: US/Pacific
`)
	vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": "solo"}

	t.Run("text", func(t *testing.T) {
		got := invoke(t, "", vars, "plan", "-f", inv)
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Empty(t, got.stderr)
		require.Equal(t, "Plan: 1 to update.", lines(got.stdout)[0])
		if diff := cmp.Diff([]string{"~ update solo_ltd"}, changeHeads(got.stdout)); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		require.Regexp(t, `\n +zone: +"Europe/London" -> "US/Pacific"\n`, got.stdout)
		require.Contains(t, got.stdout, "\nWarnings:\n  ! containers not checked")
	})

	t.Run("json", func(t *testing.T) {
		got := invoke(t, "", vars, "plan", "-f", inv, "--json")
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		var body struct {
			Changes  []jsonChange
			Warnings []string
		}
		require.NoError(t, json.Unmarshal([]byte(got.stdout), &body))
		if diff := cmp.Diff([]jsonChange{{Action: "update", Company: "solo_ltd"}}, body.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		require.Len(t, body.Warnings, 1)
		require.True(t, strings.HasPrefix(body.Warnings[0], "containers not checked"), "warnings: %q", body.Warnings)
	})

	require.Zero(t, srv.Stats().TotalWrites())
}

// TestPlanNoColor checks that output to something that is not a terminal, or with
// NO_COLOR set, has no escape sequence.
func TestPlanNoColor(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	for _, noColor := range []string{"", "1"} {
		t.Run("NO_COLOR="+noColor, func(t *testing.T) {
			vars := adminEnv(srv, mixedEnv...)
			if noColor != "" {
				vars["NO_COLOR"] = noColor
			}
			got := invoke(t, "", vars, "plan", "-f", inv)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			require.Len(t, changeHeads(got.stdout), 4, "stdout: %s", got.stdout)
			require.NotContains(t, got.stdout, "\x1b")
			require.NotContains(t, got.stderr, "\x1b")
		})
	}

	t.Run("regular file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "plan.txt"))
		require.NoError(t, err)
		defer f.Close()
		require.False(t, (&app{lookupEnv: env(nil)}).colorful(f))
	})
	for _, tc := range []struct {
		name    string
		noColor bool
		env     map[string]string
		want    bool
	}{
		{name: "a terminal as it is", env: map[string]string{"TERM": "xterm-256color"}, want: true},
		{name: "--no-color", noColor: true, env: map[string]string{"TERM": "xterm"}},
		{name: "NO_COLOR", env: map[string]string{"NO_COLOR": "1", "TERM": "xterm"}},
		{name: "TERM=dumb", env: map[string]string{"TERM": "dumb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, colorWanted(tc.noColor, env(tc.env)))
		})
	}
}

// TestPlanStdinAndWarnings reads the inventory from stdin, with a plain-text secret:
// the warning goes to stderr, and stdout stays one JSON document.
func TestPlanStdinAndWarnings(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(equalState()))
	inventory := strings.Replace(equalInventory, "      zone: US/Pacific\n", "      zone: US/Pacific\n      barge_pin: \"8080\"\n", 1)
	got := invoke(t, inventory, adminEnv(srv), "plan", "-f", "-", "--json")
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	warnLines := lines(got.stderr)
	require.Len(t, warnLines, 1, "stderr: %q", got.stderr)
	require.True(t, strings.HasPrefix(warnLines[0], "<stdin>:7:18: warning: barge_pin is a secret written in plain text"), "stderr: %q", got.stderr)
	doc := decodeOneJSON(t, got.stdout)
	var summary map[string]int
	require.NoError(t, json.Unmarshal(doc["summary"], &summary))
	require.Equal(t, 1, summary["update"])
	require.NotContains(t, got.stdout, "8080")
	require.Zero(t, srv.Stats().TotalWrites())
}

// TestSecretVariables runs the commands on an inventory whose PIN comes from a
// variable and whose free text names PBX_API_KEY: validate needs no secret, plan
// refuses an unset one before any request, and no command expands the free text.
func TestSecretVariables(t *testing.T) {
	inv := writeFile(t, t.TempDir(), "inv.yaml", `version: 1
companies:
  acme_hq:
    name: Acme HQ
    settings:
      nm_password: ${ACME_HQ_PIN}
      hs_access: ${PBX_API_KEY}
`)
	srv := simtest.NewServer(t)
	unsetErr := inv + ":6:20: environment variable ACME_HQ_PIN is not set\n"
	tests := []struct {
		name string
		vars []string // besides PBX_URL and PBX_API_KEY
		args []string
		want outcome
	}{
		{name: "validate without the variable", args: []string{"validate", "-f", inv},
			want: outcome{code: 0, stdout: inv + ": valid: 1 company, 0 containers\n",
				stderr: inv + ":6:20: warning: environment variable ACME_HQ_PIN is not set (plan and apply need it)\n"}},
		{name: "validate with an empty variable", vars: []string{"ACME_HQ_PIN", ""}, args: []string{"validate", "-f", inv},
			want: outcome{code: 0, stdout: inv + ": valid: 1 company, 0 containers\n",
				stderr: inv + `:6:20: warning: environment variable ACME_HQ_PIN is empty: an empty secret would clear the PIN; write "" to clear it on purpose (plan and apply need it)` + "\n"}},
		{name: "plan without the variable", args: []string{"plan", "-f", inv},
			want: outcome{code: 1, stderr: unsetErr + "pbxsync: " + inv + ": 1 error: nothing was sent to any server\n"}},
		{name: "apply without the variable", args: []string{"apply", "-f", inv, "--auto-approve"},
			want: outcome{code: 1, stderr: unsetErr + "pbxsync: " + inv + ": 1 error: nothing was sent to any server\n"}},
		{name: "plan with an empty variable", vars: []string{"ACME_HQ_PIN", ""}, args: []string{"plan", "-f", inv},
			want: outcome{code: 1, stderr: inv + `:6:20: environment variable ACME_HQ_PIN is empty: an empty secret would clear the PIN; write "" to clear it on purpose` + "\n" +
				"pbxsync: " + inv + ": 1 error: nothing was sent to any server\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			got := invoke(t, "", adminEnv(srv, tt.vars...), tt.args...)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(outcome{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			st := srv.Stats()
			require.Zero(t, st.TotalRequests(), "requests: %v", st.Requests)
		})
	}

	t.Run("plan with the variable", func(t *testing.T) {
		srv.ResetStats()
		got := invoke(t, "", adminEnv(srv, "ACME_HQ_PIN", "4711"), "plan", "-f", inv)
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Contains(t, got.stdout, `"${PBX_API_KEY}"`, "free text is kept as written")
		for _, secret := range []string{pbxtest.AdminKey, "4711"} {
			require.NotContains(t, got.stdout, secret)
			require.NotContains(t, got.stderr, secret)
		}
		require.Zero(t, srv.Stats().TotalWrites())
	})
}
