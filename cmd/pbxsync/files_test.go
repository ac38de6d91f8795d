package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// The issue that brought many files: -f twice checked only the second file, and
// planned with --prune to delete every company of the first.
func TestManyFiles(t *testing.T) {
	st := pbxtest.State{Companies: []apiclient.Company{
		co("cust_a", "Customer A"), co("cust_b", "Customer B"), co("cust_old", "Customer Old"),
	}}
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", "version: 1\ncompanies:\n  cust_a: {name: Customer A}\nprune: {match: ^cust_}\n")
	b := writeFile(t, dir, "b.yaml", "version: 1\ncompanies:\n  cust_b: {name: Customer B}\n")

	t.Run("validate checks every file", func(t *testing.T) {
		bad := writeFile(t, t.TempDir(), "bad.yaml", "version: 1\ncompanies:\n  cust_a: {name: Again}\n  x: {nme: X}\n")
		got := invoke(t, "", nil, "validate", "-f", a, "-f", bad)
		require.Equal(t, 1, got.code)
		require.Equal(t, []string{
			bad + `:3:3: company cust_a is defined twice: first at ` + a + `:3`,
			bad + `:4:3: company x has no name: a name is required to create it`,
			bad + `:4:7: unknown key "nme" in company x: want name, description, settings or profiles (did you mean "name"?)`,
			"pbxsync: the inventory (2 files): 3 errors: nothing was sent to any server",
		}, lines(got.stderr))
	})
	t.Run("prune sees the companies of every file", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(st))
		got := invoke(t, "", adminEnv(srv), "plan", "-f", a, "-f", b, "--prune", "--max-delete", "5")
		require.Equal(t, 0, got.code, got.stderr)
		require.Equal(t, []string{"- delete cust_old"}, changeHeads(got.stdout))
	})
	t.Run("a directory, and a saved plan that a new file makes stale", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(st))
		out := filepath.Join(t.TempDir(), "reviewed.plan")
		got := invoke(t, "", adminEnv(srv), "plan", "-f", dir, "--prune", "--max-delete", "5", "--out", out)
		require.Equal(t, 0, got.code, got.stderr)
		require.Equal(t, []string{"- delete cust_old"}, changeHeads(got.stdout))
		writeFile(t, dir, "c.yaml", "version: 1\ncompanies:\n  cust_old: {name: Customer Old}\n")
		srv.ResetStats()
		got = invoke(t, "", adminEnv(srv), "apply", out, "-f", dir)
		require.Equal(t, 3, got.code, "a file added to the directory changes the inventory: %s", got.stderr)
		require.Contains(t, got.stderr, "is not the one the plan was made from")
		require.Zero(t, srv.Stats().TotalRequests(), "refused before any connection")
		require.NoError(t, os.Remove(filepath.Join(dir, "c.yaml")))
		got = invoke(t, "", adminEnv(srv), "apply", out, "-f", dir, "--max-delete", "1")
		require.Equal(t, 0, got.code, got.stderr)
		_, exists := srv.Company("cust_old")
		require.False(t, exists)
	})
}

// An inventory with no company is an error naming what -f named, exit 1, before any
// request: a nightly job pointed at a folder that holds only _defaults.yaml, or at
// an empty tree, must fail instead of finding no drift for ever.
func TestNoCompanies(t *testing.T) {
	root := t.TempDir()
	defaultsOnly := filepath.Join(root, "inventory")
	require.NoError(t, os.MkdirAll(filepath.Join(defaultsOnly, "reseller"), 0o755))
	writeFile(t, defaultsOnly, "_defaults.yaml", "version: 1\ndefaults: {zone: Europe/London}\n")
	writeFile(t, filepath.Join(defaultsOnly, "reseller"), "_defaults.yaml", "version: 1\ndefaults: {q_ringtime: 20}\n")
	profiles := writeFile(t, root, "profiles.yaml", "version: 1\nprofiles:\n  gold: {q_ringtime: 20}\n")
	hostile := filepath.Join(root, "inv\x1b[2J")
	require.NoError(t, os.Mkdir(hostile, 0o755))
	writeFile(t, hostile, "empty.yaml", "version: 1\ncompanies: {}\n")

	srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("acme", "Acme")}}))
	planFile := filepath.Join(root, "saved.plan")
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{defaultsOnly}, "pbxsync: -f " + defaultsOnly + ": no companies in the files it names"},
		{[]string{defaultsOnly, profiles}, "pbxsync: -f " + defaultsOnly + " -f " + profiles + ": no companies in the files they name"},
		{[]string{hostile}, "pbxsync: -f " + root + `/inv\x1b[2J: no companies in the files it names`},
	} {
		var f []string
		for _, p := range tc.paths {
			f = append(f, "-f", p)
		}
		for _, args := range [][]string{
			{"validate"}, {"validate", "--json"}, {"plan"}, {"plan", "--out", planFile}, {"apply", "--auto-approve"},
		} {
			t.Run(strings.Join(append(args, tc.paths...), " "), func(t *testing.T) {
				srv.ResetStats()
				got := invoke(t, "", adminEnv(srv), append(args, f...)...)
				require.Equal(t, 1, got.code, got.stderr)
				require.Equal(t, []string{tc.want}, lines(got.stderr))
				require.Empty(t, got.stdout)
				require.Zero(t, srv.Stats().TotalRequests(), "nothing is sent")
				require.NoFileExists(t, planFile)
			})
		}
	}
}

// A saved plan records its inventory and a sim: state file relative to its own
// folder, to compare them only: the folder moved elsewhere (a CI artifact) applies
// with -f and --url naming the moved files; another server is refused before a
// request, and without --url nothing is read or started.
func TestSavedPlanTravels(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "repo")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "inventory"), 0o755))
	writeFile(t, filepath.Join(dir, "inventory"), "a.yaml", "version: 1\ncompanies:\n  acme: {name: Acme}\n")
	writeFile(t, dir, "pbx.yaml", "version: 1\ncompanies:\n  old: {name: Old}\n")
	got := invoke(t, "", nil, "plan", "-f", filepath.Join(dir, "inventory"), "--url", "sim:"+filepath.Join(dir, "pbx.yaml"),
		"--out", filepath.Join(dir, "reviewed.plan"))
	require.Equal(t, 0, got.code, got.stderr)

	moved := filepath.Join(root, "elsewhere")
	require.NoError(t, os.Rename(dir, moved))
	planFile, inv := filepath.Join(moved, "reviewed.plan"), filepath.Join(moved, "inventory")
	got = invoke(t, "", nil, "apply", planFile, "-f", inv, "--url", "sim:"+filepath.Join(root, "other.yaml"))
	require.Equal(t, 3, got.code, got.stderr)
	require.Contains(t, got.stderr, `was made for "sim:`+filepath.Join(moved, "pbx.yaml")+`", not "sim:`+filepath.Join(root, "other.yaml")+`"`)
	require.NoFileExists(t, filepath.Join(root, "other.yaml"), "nothing was started for the other server")

	got = invoke(t, "", nil, "apply", planFile, "-f", inv)
	require.Equal(t, 1, got.code, got.stderr)
	require.Contains(t, got.stderr, `pass --url URL or set PBX_URL (the plan records "sim:`+filepath.Join(moved, "pbx.yaml")+`")`)

	got = invoke(t, "", nil, "apply", planFile, "-f", inv, "--url", "sim:"+filepath.Join(moved, "pbx.yaml"))
	require.Equal(t, 0, got.code, got.stderr)
	st, err := pbxtest.ReadStateFile(filepath.Join(moved, "pbx.yaml"))
	require.NoError(t, err)
	require.Len(t, st.Companies, 2, "acme created on the plan's own server")
}

// With --log-format json every line on stderr is one JSON object: the inventory's
// problems, the final error (with its exit code), a usage error's hint; durations are
// seconds.
func TestJSONLogsOnly(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "version: 1\ncompanies:\n  acme: {name: Acme, settings: {q_ringtme: 5}}\n")
	good := writeFile(t, dir, "good.yaml", "version: 1\ncompanies:\n  acme: {name: Acme}\n")
	state := writeFile(t, dir, "pbx.yaml", "version: 1\n")
	for _, tc := range []struct {
		args []string
		code int
		want []map[string]any // the keys each line must have, in order
	}{
		{[]string{"validate", "-f", bad}, 1, []map[string]any{
			{"level": "ERROR", "msg": "inventory", "file": bad, "line": 3.0, "column": 33.0, "problem": `unknown setting "q_ringtme" (did you mean "q_ringtime"?)`},
			{"level": "ERROR", "msg": "pbxsync failed", "error": bad + ": 1 error: nothing was sent to any server", "exit_code": 1.0},
		}},
		{[]string{"plan", "good.yaml"}, 1, []map[string]any{
			{"level": "ERROR", "msg": "pbxsync failed", "error": "plan takes no argument: did you mean -f good.yaml?", "hint": "Run 'pbxsync plan --help' for usage."},
		}},
		{[]string{"plan", "--detailed-exitcodes"}, 1, []map[string]any{
			{"level": "ERROR", "msg": "pbxsync failed", "error": "unknown flag: --detailed-exitcodes", "hint": "Did you mean --detailed-exitcode? Run 'pbxsync plan --help' for usage."},
		}},
	} {
		got := invoke(t, "", nil, append([]string{"--log-format", "json"}, tc.args...)...)
		require.Equal(t, tc.code, got.code)
		var objects []map[string]any
		for _, l := range lines(got.stderr) {
			var o map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &o), "not JSON: %q", l)
			objects = append(objects, o)
		}
		require.Len(t, objects, len(tc.want), got.stderr)
		for i, want := range tc.want {
			for k, v := range want {
				require.Equal(t, v, objects[i][k], "line %d, key %s", i, k)
			}
		}
	}
	got := invoke(t, "", nil, "--log-format", "json", "--log-level", "debug", "plan", "-f", good, "--url", "sim:"+state)
	require.Equal(t, 0, got.code, got.stderr)
	requests := 0
	for _, l := range lines(got.stderr) {
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &o), "not JSON: %q", l)
		if o["msg"] == "request" {
			requests++
			d, ok := o["duration"].(float64)
			require.True(t, ok && d > 0 && d < 60, "a duration in seconds: %v", o["duration"])
		}
	}
	require.Positive(t, requests)
}

// Retries are routine: logged at debug, not at info, and counted in the summary and
// the JSON result.
func TestRetriesCounted(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithFaults(pbxtest.Faults{
		Seed: 3, Rates: map[pbxtest.Fault]float64{pbxtest.Fault503: 0.3}, Verbs: []string{"read", "readContainer", "update"},
	}))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	report := filepath.Join(t.TempDir(), "report.json")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "apply", "-f", inv, "--auto-approve", "--report", report)
	require.Equal(t, 0, got.code, got.stderr)
	require.NotContains(t, got.stderr, "retrying", "retries are logged at debug")
	var res struct{ Retries int }
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.Positive(t, res.Retries)
	require.Regexp(t, `^Apply: \d+ ok, 0 failed, 0 skipped, 0 not run; \d+ requests? retried\.\n`, got.stdout)
}

// --company and --match plan and apply only the chosen companies and their container
// partners, like terraform's -target; the plan says it is partial, and a saved
// partial plan is checked against a fresh partial plan.
func TestPartialPlan(t *testing.T) {
	st := pbxtest.State{Companies: []apiclient.Company{
		co("acme_hq", "Acme HQ", "zone", "Europe/London"), co("acme_west", "Acme West", "zone", "Europe/London"),
		co("beta", "Beta", "zone", "Europe/London"), co("gamma", "Gamma", "zone", "Europe/London"),
	}}
	inventory := `version: 1
defaults: {zone: US/Pacific}
companies:
  acme_hq: {name: Acme HQ}
  acme_west: {name: Acme West}
  beta: {name: Beta}
  gamma: {name: Gamma}
containers:
  acme: [acme_hq, acme_west]
`
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", inventory)

	got := invoke(t, "", adminEnv(srv), "plan", "-f", inv, "--company", "acme_west", "--json")
	require.Equal(t, 0, got.code, got.stderr)
	var doc struct {
		Partial bool
		Changes []struct{ Action, Company, Target string }
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	require.True(t, doc.Partial)
	var touched []string
	for _, c := range doc.Changes {
		touched = append(touched, c.Action+" "+c.Company+" "+c.Target)
	}
	require.Equal(t, []string{"update acme_hq ", "update acme_west ", "group acme_west acme_hq"}, touched, "acme_hq comes along as a container partner")

	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv, "--match", "^g")
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, []string{"~ update gamma"}, changeHeads(got.stdout))
	require.Contains(t, got.stdout, "\nPartial: only the companies --company and --match chose, and their container partners.\n")

	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv, "--company", "nobody")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, `company "nobody" is neither in the inventory nor on the server`)

	out := filepath.Join(dir, "gamma.plan")
	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv, "--match", "^g", "--out", out)
	require.Equal(t, 0, got.code, got.stderr)
	got = invoke(t, "", adminEnv(srv), "apply", out, "-f", inv)
	require.Equal(t, 0, got.code, "a saved partial plan applies: %s", got.stderr)
	got = invoke(t, "", adminEnv(srv), "apply", "-f", inv, "--company", "beta", "--auto-approve")
	require.Equal(t, 0, got.code, got.stderr)
	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv)
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, []string{"~ update acme_hq", "~ update acme_west", "> group acme_west into the container of acme_hq"}, changeHeads(got.stdout),
		"only what was not chosen is left")
}

// --format is one flag across the commands that print a result (cli.md): json is the
// same as --json, anything else is refused before any request.
func TestFormatFlag(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "apply", "-f", inv, "--auto-approve", "--format", "json")
	require.Equal(t, 0, got.code, got.stderr)
	require.True(t, json.Valid([]byte(got.stdout)), got.stdout)
	srv.ResetStats()
	for _, args := range [][]string{
		{"apply", "-f", inv, "--auto-approve", "--format", "xml"},
		{"diff", "--from", "sim:a.yaml", "--to", "sim:b.yaml", "--format", "yaml"},
		{"migrate", "--from", "sim:a.yaml", "--to", "sim:b.yaml", "--format", "csv"},
	} {
		got := invoke(t, "", adminEnv(srv, mixedEnv...), args...)
		require.Equal(t, 1, got.code)
		require.Contains(t, got.stderr, "invalid --format", "%v", args)
	}
	require.Zero(t, srv.Stats().TotalRequests())
}

// migrate takes apply's --rounds, --rate and --lock-file (cli.md: one vocabulary).
func TestMigrateFlagsOfApply(t *testing.T) {
	dir := t.TempDir()
	from := writeFile(t, dir, "from.yaml", "version: 1\ncompanies:\n  acme: {name: Acme, settings: {zone: UTC}}\n")
	to := filepath.Join(dir, "to.yaml")
	lock := filepath.Join(dir, "migrate.lock")
	got := invoke(t, "", nil, "migrate", "--from", "sim:"+from, "--to", "sim:"+to, "--auto-approve",
		"--rounds", "0", "--rate", "100", "--lock-file", lock)
	require.Equal(t, 0, got.code, got.stderr)
	require.FileExists(t, lock)
	st, err := pbxtest.ReadStateFile(to)
	require.NoError(t, err)
	require.Len(t, st.Companies, 1)
	for _, bad := range [][]string{{"--rounds", "-1"}, {"--rate", "-2"}} {
		got := invoke(t, "", nil, append([]string{"migrate", "--from", "sim:" + from, "--to", "sim:" + to, "--auto-approve"}, bad...)...)
		require.Equal(t, 1, got.code)
		require.Contains(t, got.stderr, "invalid "+bad[0])
	}
}

// A log line on the terminal of a progress line clears it and is written above it;
// the progress line then comes back. The line tells the time so far and what is left.
func TestProgressAndLogs(t *testing.T) {
	var b strings.Builder
	out := &logLines{w: &b}
	p := &progress{out: out, total: 4, started: time.Now().Add(-10 * time.Second), pacer: apiclient.NewPacer(0)}
	p.done.Store(1)
	out.show(p.line, false)
	first := b.String()
	require.Regexp(t, `^\rApplying: 1/4 done, 0 failed, 0\.0 requests/s, 10s, about 30s left\x1b\[K$`, first)
	fmt.Fprintf(out, "time=now level=WARN msg=%q\n", "slowing down")
	require.Equal(t, first+"\r\x1b[Ktime=now level=WARN msg=\"slowing down\"\n"+first, b.String(), "the log above, the progress again below")
	p.done.Store(4)
	out.show(p.line, true)
	require.True(t, strings.HasSuffix(b.String(), "\rApplying: 4/4 done, 0 failed, 0.0 requests/s, 10s\x1b[K\n"), "%q", b.String())
	b.Reset()
	fmt.Fprintln(out, "after")
	require.Equal(t, "after\n", b.String(), "no progress: logs as they are")
}

// --trace writes every request and answer as HAR 1.2, with the key, the PINs sent
// and the PINs the server holds redacted; it is written when the run fails too.
func TestTrace(t *testing.T) {
	st := pbxtest.State{Companies: []apiclient.Company{co("acme_hq", "Acme HQ", "nm_password", "98765", "zone", "Europe/London")}}
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", "version: 1\ncompanies:\n  acme_hq:\n    name: Acme HQ\n    settings: {zone: UTC, ivr_password: '${IVR_PIN}'}\n")
	har := filepath.Join(dir, "run.har")
	got := invoke(t, "", adminEnv(srv, "IVR_PIN", "24680"), "apply", "-f", inv, "--auto-approve", "--trace", har)
	require.Equal(t, 0, got.code, got.stderr)
	data, err := os.ReadFile(har)
	require.NoError(t, err)
	for _, secret := range []string{pbxtest.AdminKey, "98765", "24680"} {
		require.NotContains(t, string(data), secret)
	}
	var doc struct {
		Log struct {
			Version string
			Entries []struct {
				Request struct {
					Method, URL string
					PostData    struct{ Text string }
				}
				Response struct {
					Status  int
					Content struct{ Text string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, "1.2", doc.Log.Version)
	require.Len(t, doc.Log.Entries, srv.Stats().TotalRequests())
	var sawUpdate bool
	for _, e := range doc.Log.Entries {
		require.Equal(t, "POST", e.Request.Method)
		require.Equal(t, 200, e.Response.Status)
		if strings.Contains(e.Request.URL, "/update/") {
			sawUpdate = true
			require.Contains(t, e.Request.PostData.Text, `"ivr_password":"(sensitive)"`)
			require.Contains(t, e.Request.PostData.Text, `"zone":"UTC"`)
		}
	}
	require.True(t, sawUpdate)
	info, err := os.Stat(har)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a trace is for one bug report, not for everyone")

	// A failed run leaves its trace too: the refused key is the bug report.
	got = invoke(t, "", map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": "wrong-key-123456", "IVR_PIN": "24680"}, "plan", "-f", inv, "--trace", har)
	require.Equal(t, 1, got.code)
	data, err = os.ReadFile(har)
	require.NoError(t, err)
	require.NotContains(t, string(data), "wrong-key-123456")
	require.Contains(t, string(data), "invalid API key")
}

// The shell completes flag values: formats, log formats and levels, and inventory
// files by their extension.
func TestCompletionOfFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "plan", "--format", ""}, "text\njson\nmarkdown\n:4\n"},
		{[]string{"__complete", "apply", "--format", ""}, "text\njson\n:4\n"},
		{[]string{"__complete", "diff", "--format", ""}, "text\njson\nmarkdown\n:4\n"},
		{[]string{"__complete", "--log-level", ""}, "debug\ninfo\nwarn\nerror\n:4\n"},
		{[]string{"__complete", "validate", "-f", ""}, "yaml\nyml\n:8\n"},
	} {
		got := invoke(t, "", nil, tc.args...)
		require.Equal(t, 0, got.code, got.stderr)
		require.Equal(t, tc.want, got.stdout, "%v", tc.args)
	}
}

// validate --json prints every problem in one document on stdout, nothing on stderr
// but the final error, and exit 1; a valid inventory gives valid: true and its counts.
func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "version: 1\ncompanies:\n  a: {name: A, settings: {q_ringtme: 4}}\n  b: {nme: B, settings: {nm_password: \"${B_PIN}\"}}\n")
	got := invoke(t, "", nil, "validate", "-f", bad, "--format", "json")
	require.Equal(t, 1, got.code)
	require.Equal(t, "pbxsync: "+bad+": 3 errors: nothing was sent to any server\n", got.stderr)
	var doc struct {
		FormatVersion int `json:"format_version"`
		Valid         bool
		Files         []string
		Errors        []struct {
			File         string
			Line, Column int
			Message      string
		}
		Warnings []struct{ Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	require.Equal(t, 1, doc.FormatVersion)
	require.False(t, doc.Valid)
	require.Equal(t, []string{bad}, doc.Files)
	require.Len(t, doc.Errors, 3)
	require.Equal(t, 3, doc.Errors[0].Line)
	require.Equal(t, 27, doc.Errors[0].Column)
	require.Equal(t, `unknown setting "q_ringtme" (did you mean "q_ringtime"?)`, doc.Errors[0].Message)
	require.Len(t, doc.Warnings, 1, "the unset ${B_PIN} is a warning offline")
	require.Contains(t, doc.Warnings[0].Message, "B_PIN")

	good := writeFile(t, dir, "good.yaml", "version: 1\ncompanies:\n  a: {name: A}\n  b: {name: B}\ncontainers:\n  box: [a, b]\n")
	got = invoke(t, "", nil, "validate", "-f", good, "--json")
	require.Equal(t, 0, got.code, got.stderr)
	require.Empty(t, got.stderr)
	require.JSONEq(t, `{"format_version": 1, "valid": true, "files": [`+strconvQuote(good)+`], "companies": 2, "containers": 1, "errors": [], "warnings": []}`, got.stdout)

	got = invoke(t, "", nil, "validate", "-f", filepath.Join(dir, "missing.yaml"), "--json")
	require.Equal(t, 1, got.code)
	require.Empty(t, got.stdout, "a file that cannot be read is an error, not a document")
}

// plan -o is --out, as export's -o is.
func TestPlanShortOut(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inv.yaml", "version: 1\ncompanies:\n  beta: {name: Beta, settings: {zone: Europe/Paris}}\n")
	out := filepath.Join(t.TempDir(), "reviewed.plan")
	got := invoke(t, "", adminEnv(srv), "plan", "-f", inv, "-o", out)
	require.Equal(t, 0, got.code, got.stderr)
	got = invoke(t, "", adminEnv(srv), "apply", out, "-f", inv, "--auto-approve")
	require.Equal(t, 0, got.code, got.stderr)
	beta, ok := srv.Company("beta")
	require.True(t, ok)
	require.Equal(t, `"Europe/Paris"`, beta.Settings.Get("zone").JSON())
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
