// Package examples_test checks the examples a user copies: every inventory loads and
// converges against the simulator, and every crontab line, systemd unit, Kubernetes
// manifest and GitHub Actions workflow holds the pbxsync command it documents, which
// the real binary, built once for these tests, then runs against a sim: server.
package examples_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

// pbxsyncBin is the pbxsync command, built by TestMain from this module's source.
var pbxsyncBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pbxsync-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pbxsyncBin = filepath.Join(dir, "pbxsync")

	build := exec.Command("go", "build", "-buildvcs=auto", "-o", pbxsyncBin, "github.com/pbxsync/pbxsync/cmd/pbxsync")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pbxsync: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The YAML files of the examples, by what they are. TestEveryYAMLFileIsChecked fails
// on a file in none of these lists, so that a new example cannot go untested.
var (
	inventories = []string{ // loaded with inventory.Load, without a single warning
		"quickstart/inventory.yaml",
		"nightly/inventory.yaml",
		"ci-plan-review/inventory.yaml",
	}
	// The provider layout's files: one inventory, that -f provider/inventory reads
	// whole; in this order, the files the list of folders of the README before
	// v0.3 read (-f inventory -f inventory/direct -f inventory/northwind ...).
	providerFiles = []string{
		"provider/inventory/profiles.yaml",
		"provider/inventory/direct/_defaults.yaml", "provider/inventory/direct/acme.yaml", "provider/inventory/direct/globex.yaml",
		"provider/inventory/northwind/_defaults.yaml", "provider/inventory/northwind/customers.yaml",
		"provider/inventory/contoso/_defaults.yaml", "provider/inventory/contoso/customers.yaml",
	}
	stateFiles = []string{ // simulator states: they hold secrets in plain text, as a server does
		"provider/pbx.yaml",
		"quickstart/pbx.yaml",
		"migration/source.yaml",
		"migration/target.yaml",
		"fleet/state/london.yaml",
		"fleet/state/paris.yaml",
		"fleet/state/berlin.yaml",
	}
	manifests = []string{ // not inventories: checked by the test of their example
		"kubernetes/cronjobs.yaml",
		"kubernetes/secret.example.yaml",
		"ci-plan-review/pbxsync-plan.yml",
	}
)

func TestEveryYAMLFileIsChecked(t *testing.T) {
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			found = append(found, filepath.ToSlash(path))
		}
		return err
	})
	require.NoError(t, err)
	want := slices.Concat(inventories, providerFiles, stateFiles, manifests, fleetFiles)
	slices.Sort(found)
	slices.Sort(want)
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("YAML files of the examples (-checked +found):\n%s", diff)
	}
}

func TestInventoriesLoad(t *testing.T) {
	pins := func(string) (string, bool) { return "4711", true }
	for _, path := range inventories {
		t.Run(path, func(t *testing.T) {
			inv, diags := load(t, path, pins)
			require.Empty(t, diags, "an example inventory loads without a warning")
			require.NotEmpty(t, inv.Companies)
		})
	}
	for _, path := range stateFiles {
		t.Run(path, func(t *testing.T) {
			inv, diags := load(t, path, pins)
			require.NotEmpty(t, inv.Companies)
			for _, d := range diags {
				require.Contains(t, d.Message, "plain text", "a state file may hold a secret in plain text, nothing else: %s", d)
			}
			st, err := pbxtest.ReadStateFile(path)
			require.NoError(t, err)
			require.Len(t, st.Companies, len(inv.Companies))
		})
	}
}

// TestVersion: a binary built from a git checkout names its commit, as a bug report
// needs; one built elsewhere says only its version.
func TestVersion(t *testing.T) {
	res := runPbxsync(t, ".", nil, "version")
	require.Equal(t, 0, res.code, res.stderr)
	head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil { // not a git checkout: no commit to name
		require.Regexp(t, `^pbxsync \S+ \(go\S+ \S+/\S+\)\n$`, res.stdout)
		return
	}
	require.Regexp(t, `^pbxsync \S+ \(commit `+string(head[:12])+`(\+changes)?, go\S+ \S+/\S+\)\n$`, res.stdout)
}

func TestQuickstart(t *testing.T) {
	inv, _ := load(t, "quickstart/inventory.yaml", noEnv)
	srv := seeded(t, "quickstart/pbx.yaml")
	c := client(t, srv)

	// The README shows this plan; legacy_co is not in the inventory and stays as it is.
	before, _ := srv.Company("legacy_co")
	p := converge(t, c, inv)
	require.Equal(t, "Plan: 1 to create, 2 to update, 1 to ungroup, 1 to group.", p.Summary())
	require.Equal(t, []string{"legacy_co"}, p.Unmanaged)
	after, ok := srv.Company("legacy_co")
	require.True(t, ok)
	require.Equal(t, before, after, "the unmanaged company is left alone")

	// The README's first command, as it is written, on a copy of pbx.yaml.
	dir := t.TempDir()
	copyFile(t, "quickstart/pbx.yaml", filepath.Join(dir, "pbx.yaml"))
	res := runPbxsync(t, "..", nil, "apply", "-f", "examples/quickstart/inventory.yaml", "--url", "sim:"+filepath.Join(dir, "pbx.yaml"), "--auto-approve")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "Apply: 5 ok, 0 failed, 0 skipped, 0 not run.")
	res = runPbxsync(t, "..", nil, "plan", "-f", "examples/quickstart/inventory.yaml", "--url", "sim:"+filepath.Join(dir, "pbx.yaml"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "No changes: the server matches the inventory. 1 unmanaged company (on the server, not in the inventory).\nUnmanaged: legacy_co.\n", res.stdout)
}

// TestProvider checks the provider layout: its tree loads as one inventory without a
// warning, every file of it is read, it applies to the simulator and then plans
// nothing; and the README's commands do what it says, --explain included.
func TestProvider(t *testing.T) {
	pins := lookup(map[string]string{"ACME_HQ_NM_PASSWORD": "4711"})
	files, err := inventory.ReadFiles([]string{"provider/inventory"}, nil)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.ToSlash(f.Name))
	}
	require.ElementsMatch(t, providerFiles, names)
	inv, diags, err := inventory.LoadFiles(files, inventory.LoadOptions{Lookup: pins})
	require.NoError(t, err)
	require.Empty(t, diags, "an example inventory loads without a warning")
	umbrella, ok := inv.Company("co_umbrella")
	require.True(t, ok)
	require.Equal(t, `"25"`, umbrella.Settings.Get("q_ringtime").JSON(), "its own value wins over its profile's")
	require.Equal(t, `"Asia/Tokyo"`, umbrella.Settings.Get("zone").JSON(), "from its folder's _defaults.yaml")
	require.Equal(t, `"30"`, umbrella.Settings.Get("q_wraptime").JSON(), "merged into its profile from an x- anchor")
	srv := seeded(t, "provider/pbx.yaml")
	converge(t, client(t, srv), inv)

	// The README's commands, from the example's folder, on a copy of pbx.yaml.
	pbxFile := filepath.Join(t.TempDir(), "pbx.yaml")
	copyFile(t, "provider/pbx.yaml", pbxFile)
	f := []string{"-f", "inventory"}
	res := runPbxsync(t, "provider", nil, append([]string{"validate"}, f...)...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "the inventory (8 files): valid: 8 companies, 2 containers\n", res.stdout)
	env := map[string]string{"ACME_HQ_NM_PASSWORD": "4711"}
	res = runPbxsync(t, "provider", env, append(append([]string{"plan"}, f...), "--url", "sim:"+pbxFile, "--explain")...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, `q_ringtime:     "" -> "20"   (set at inventory/profiles.yaml:13)`)
	require.Contains(t, res.stdout, `zone:           "Europe/London" -> "US/Pacific"   (set at inventory/direct/acme.yaml:8)`)
	res = runPbxsync(t, "provider", env, append(append([]string{"apply"}, f...), "--url", "sim:"+pbxFile, "--auto-approve")...)
	require.Equal(t, 0, res.code, res.stderr)
	res = runPbxsync(t, "provider", env, append(append([]string{"plan"}, f...), "--url", "sim:"+pbxFile, "--detailed-exitcode")...)
	require.Equal(t, 0, res.code, res.stdout+res.stderr)

	// The schema beside it, for editors, is what pbxsync schema prints today.
	require.Equal(t, string(inventory.Schema()), string(readFile(t, "provider/inventory.schema.json")), "run: pbxsync schema > examples/provider/inventory.schema.json")
	var vscode struct {
		Schemas map[string]string `json:"yaml.schemas"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "provider/.vscode/settings.json"), &vscode))
	require.Equal(t, map[string]string{"./inventory.schema.json": "inventory/**/*.yaml"}, vscode.Schemas)
}

// TestProviderOneFolder: one -f inventory plans exactly as the list of folders the
// README gave before -f read subfolders (every file of the tree, each named on its
// own, in the order that list read them), --explain's places and JSON included.
func TestProviderOneFolder(t *testing.T) {
	pbxFile := filepath.Join(t.TempDir(), "pbx.yaml")
	copyFile(t, "provider/pbx.yaml", pbxFile)
	env := map[string]string{"ACME_HQ_NM_PASSWORD": "4711"}
	plans := func(paths ...string) (text, doc string) {
		t.Helper()
		var f []string
		for _, p := range paths {
			f = append(f, "-f", p)
		}
		res := runPbxsync(t, "provider", env, append([]string{"plan", "--url", "sim:" + pbxFile, "--explain"}, f...)...)
		require.Equal(t, 0, res.code, res.stderr)
		text = res.stdout
		res = runPbxsync(t, "provider", env, append([]string{"plan", "--url", "sim:" + pbxFile, "--json"}, f...)...)
		require.Equal(t, 0, res.code, res.stderr)
		return text, res.stdout
	}
	var before []string
	for _, name := range providerFiles {
		before = append(before, strings.TrimPrefix(name, "provider/"))
	}
	text, doc := plans("inventory")
	require.Contains(t, text, "Plan: 2 to create, 5 to update, 1 to group.")
	wantText, wantDoc := plans(before...)
	require.Equal(t, wantText, text)
	require.JSONEq(t, wantDoc, doc)
	text, doc = plans("inventory", "inventory/direct", "inventory/northwind", "inventory/contoso")
	require.Equal(t, wantText, text, "the old list of folders still plans the same")
	require.JSONEq(t, wantDoc, doc)

	// A folder holding only _defaults.yaml is no inventory: exit 1, naming it.
	res := runPbxsync(t, "provider", env, "plan", "-f", "inventory/direct/_defaults.yaml", "--url", "sim:"+pbxFile)
	require.Equal(t, 1, res.code)
	require.Equal(t, "pbxsync: -f inventory/direct/_defaults.yaml: no companies in the files it names\n", res.stderr)
	only := filepath.Join(t.TempDir(), "reseller")
	require.NoError(t, os.Mkdir(only, 0o755))
	copyFile(t, "provider/inventory/direct/_defaults.yaml", filepath.Join(only, "_defaults.yaml"))
	res = runPbxsync(t, "provider", env, "validate", "-f", only)
	require.Equal(t, 1, res.code)
	require.Equal(t, "pbxsync: -f "+only+": no companies in the files it names\n", res.stderr)
}

func TestNightly(t *testing.T) {
	env := readEnvFile(t, "nightly/pbxsync.env")
	require.Contains(t, env, "PBX_URL")
	require.Contains(t, env, "PBX_API_KEY")
	// Loading with the environment file alone proves it sets every ${VAR} of the inventory.
	inv, diags := load(t, "nightly/inventory.yaml", lookup(env))
	require.Empty(t, diags)

	srv := simtest.NewServer(t)
	c := client(t, srv)
	p := converge(t, c, inv)
	require.Equal(t, "Plan: 4 to create, 1 to group.", p.Summary())
	hq, _ := srv.Company("acme_hq")
	require.Equal(t, env["ACME_HQ_NM_PASSWORD"], hq.Settings.Get("nm_password").Text(), "the PIN comes from the environment file")

	// Someone changes a managed field by hand: the next night puts it back.
	_, err := c.Update(t.Context(), "acme_hq", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("Europe/London")})})
	require.NoError(t, err)
	p = converge(t, c, inv)
	require.Equal(t, "Plan: 1 to update.", p.Summary())
	require.Equal(t, "acme_hq", p.Changes[0].Company)

	serviceArgs, driftArgs := nightlyJobs(t)

	// The command itself, with its files under a temporary directory.
	dir := t.TempDir()
	args := relocate(serviceArgs, dir)
	copyFile(t, "nightly/inventory.yaml", flagValue(args, "-f"))
	env["PBX_URL"] = "sim:" + filepath.Join(dir, "pbx.yaml")
	res := runPbxsync(t, dir, env, args...)
	require.Equal(t, 0, res.code, res.stderr)
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		require.True(t, json.Valid([]byte(line)), "--log-format json logs JSON lines: %q", line)
	}
	var report sync.JSONResult
	require.NoError(t, json.Unmarshal(readFile(t, flagValue(args, "--report")), &report))
	require.True(t, report.Verified)
	require.Equal(t, sync.JSONCounts{OK: 5}, report.Summary)
	// The metrics file as node_exporter reads it (Prometheus' parser: parsers_test.go).
	metrics := readMetrics(t, flagValue(args, "--metrics-file"))
	server := map[string]string{"server": env["PBX_URL"]}
	require.Equal(t, []promSample{{Labels: server, Value: 1}}, metrics["pbxsync_last_run_success"])
	require.Equal(t, []promSample{{Labels: server, Value: 0}}, metrics["pbxsync_errors"])
	require.Equal(t, []promSample{{Labels: server, Value: 0}}, metrics["pbxsync_interrupted"])
	require.Len(t, metrics["pbxsync_last_run_timestamp_seconds"], 1)
	ended := metrics["pbxsync_last_run_timestamp_seconds"][0]
	require.Equal(t, server, ended.Labels)
	require.InDelta(t, float64(time.Now().UnixMilli())/1000, ended.Value, 600, "when the run ended, in seconds since 1970")
	ok := 0.0
	for _, s := range metrics["pbxsync_changes"] {
		require.Equal(t, env["PBX_URL"], s.Labels["server"])
		if s.Labels["status"] == "ok" {
			ok += s.Value
		}
	}
	require.Equal(t, float64(report.Summary.OK), ok, "the changes made, as the report counts them")
	res = runPbxsync(t, dir, env, "plan", "-f", flagValue(args, "-f"), "--detailed-exitcode")
	require.Equal(t, 0, res.code, "the second night finds nothing to do: %s", res.stdout+res.stderr)

	testDriftCheck(t, dir, env, relocate(driftArgs, dir), metrics)
}

// nightlyJobs checks that each crontab line of the nightly example and its systemd
// service and timer run the same command at the same time, and returns the pbxsync
// arguments of both: the nightly apply, and the drift check.
func nightlyJobs(t *testing.T) (apply, drift []string) {
	t.Helper()
	jobs := crontabJobs(t, "nightly/pbxsync.crontab")
	require.Len(t, jobs, 2)
	require.Equal(t, "30 2 * * *", jobs[0].schedule)
	apply = serviceCommand(t, "nightly/pbxsync.service", jobs[0].args)
	requireFlags(t, apply, "apply",
		"-f", "/etc/pbxsync/inventory.yaml", "--auto-approve", "--log-format", "json",
		"--report", "", "--metrics-file", "", "--lock-file", "")
	timer := readUnit(t, "nightly/pbxsync.timer")
	require.Equal(t, []string{"*-*-* 02:30:00"}, timer["Timer"]["OnCalendar"])
	require.Equal(t, []string{"true"}, timer["Timer"]["Persistent"])
	require.Equal(t, []string{"pbxsync.service"}, timer["Timer"]["Unit"])
	require.Equal(t, []string{"timers.target"}, timer["Install"]["WantedBy"])
	require.Equal(t, "15 * * * *", jobs[1].schedule)
	drift = serviceCommand(t, "nightly/pbxsync-drift.service", jobs[1].args)
	requireFlags(t, drift, "plan",
		"-f", "/etc/pbxsync/inventory.yaml", "--log-format", "json", "--timeout", "", "--metrics-file", "")
	require.NotEqual(t, flagValue(apply, "--metrics-file"), flagValue(drift, "--metrics-file"), "a file of its own")
	require.Contains(t, readmeCommands(t, "nightly/README.md"), "pbxsync "+strings.Join(drift, " "), "the README shows the drift check")
	timer = readUnit(t, "nightly/pbxsync-drift.timer")
	require.Equal(t, []string{"*-*-* *:15:00"}, timer["Timer"]["OnCalendar"])
	require.Equal(t, []string{"pbxsync-drift.service"}, timer["Timer"]["Unit"])
	require.Equal(t, []string{"timers.target"}, timer["Install"]["WantedBy"])
	return apply, drift
}

// testDriftCheck runs the nightly example's drift check (args) on the PBX that the
// nightly apply has just brought in line (env's sim:), whose metrics were applied:
// the check reports no drift; after a change by hand it reports it, as the plan's
// summary counts it, writing nothing; and every alerting rule of the README names
// a metric that the files hold.
func testDriftCheck(t *testing.T, dir string, env map[string]string, args []string, applied map[string][]promSample) {
	t.Helper()
	server := map[string]string{"server": env["PBX_URL"]}
	res := runPbxsync(t, dir, env, args...)
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "No changes")
	drift := readMetrics(t, flagValue(args, "--metrics-file"))
	require.Equal(t, []promSample{{Labels: server, Value: 1}}, drift["pbxsync_plan_success"])
	require.Len(t, drift["pbxsync_plan_changes"], len(plan.Actions), "one sample for each action")
	for _, s := range drift["pbxsync_plan_changes"] {
		require.Zero(t, s.Value, "no drift: %v", s.Labels)
	}

	// Someone changes a managed field by hand: the check reports it and changes nothing.
	state := strings.TrimPrefix(env["PBX_URL"], "sim:")
	before := string(readFile(t, state))
	hq := strings.Index(before, "\n  acme_hq:\n")
	zone := strings.Index(before[hq:], "zone: US/Pacific")
	require.True(t, hq >= 0 && zone >= 0, "acme_hq's zone in the simulator's state")
	edited := before[:hq+zone] + "zone: Europe/London" + before[hq+zone+len("zone: US/Pacific"):]
	require.NoError(t, os.WriteFile(state, []byte(edited), 0o600))
	res = runPbxsync(t, dir, env, args...)
	require.Equal(t, 0, res.code, "a drift check without --detailed-exitcode succeeds: %s", res.stderr)
	require.Equal(t, edited, string(readFile(t, state)), "the drift check writes nothing")
	res = runPbxsync(t, dir, env, "plan", "-f", flagValue(args, "-f"), "--json")
	require.Equal(t, 0, res.code, res.stderr)
	var doc struct{ Summary map[string]int }
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &doc))
	require.Equal(t, 1, doc.Summary["update"])
	drift = readMetrics(t, flagValue(args, "--metrics-file"))
	got := map[string]int{}
	for _, s := range drift["pbxsync_plan_changes"] {
		require.Equal(t, env["PBX_URL"], s.Labels["server"])
		got[s.Labels["action"]] = int(s.Value)
	}
	require.Equal(t, doc.Summary, got, "the metrics count the changes as the plan's summary does")
	require.Equal(t, []promSample{{Labels: server, Value: 1}}, drift["pbxsync_plan_success"])

	// The README's rules: the drift alert is there, and every metric a rule names is
	// in one of the two files.
	rules := alertRules(t, "nightly/README.md")
	require.Contains(t, rules, "PbxsyncDrift")
	require.Equal(t, "pbxsync_plan_changes > 0", rules["PbxsyncDrift"])
	for alert, expr := range rules {
		for _, name := range metricName.FindAllString(expr, -1) {
			_, ofApply := applied[name]
			_, ofPlan := drift[name]
			require.True(t, ofApply || ofPlan, "%s: %s is in no metrics file", alert, name)
		}
	}
}

// metricName finds the metrics of pbxsync that an expression names.
var metricName = regexp.MustCompile(`\bpbxsync_[a-z_]+\b`)

// alertRules reads the Prometheus alerting rules of a README's yaml blocks, each block
// decoded strictly as a rules file: alert -> expr.
func alertRules(t *testing.T, path string) map[string]string {
	t.Helper()
	rules := map[string]string{}
	for _, block := range readmeBlocks(t, path, "yaml") {
		var file struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		dec := yaml.NewDecoder(strings.NewReader(block))
		dec.KnownFields(true)
		require.NoError(t, dec.Decode(&file), "%s:\n%s", path, block)
		for _, g := range file.Groups {
			require.NotEmpty(t, g.Name)
			for _, r := range g.Rules {
				require.NotContains(t, rules, r.Alert, "%s: two rules named %s", path, r.Alert)
				require.NotEmpty(t, r.Expr, r.Alert)
				rules[r.Alert] = r.Expr
			}
		}
	}
	return rules
}

// TestKubernetes reads the manifests as the API server does (strictly, into the
// Kubernetes API's types: parsers_test.go), checks what the README promises of them,
// then applies each inventory to the simulator and runs each container's command line.
func TestKubernetes(t *testing.T) {
	secrets := map[string]map[string]string{}
	for _, obj := range readKubernetes(t, "kubernetes/secret.example.yaml") {
		s, ok := obj.(*corev1.Secret)
		require.True(t, ok, "only Secrets in secret.example.yaml, not a %T", obj)
		require.Equal(t, corev1.SecretTypeOpaque, s.Type)
		require.Empty(t, s.Data, "stringData, which a person edits, not base64 data")
		for k := range s.StringData {
			require.Empty(t, validation.IsEnvVarName(k), "%s: %s: envFrom leaves out a key that is no variable name", s.Name, k)
		}
		secrets[s.Name] = s.StringData
	}
	configMaps := map[string]map[string]string{}
	var cronJobs []*batchv1.CronJob
	for _, obj := range readKubernetes(t, "kubernetes/cronjobs.yaml") {
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			configMaps[o.Name] = o.Data
		case *batchv1.CronJob:
			cronJobs = append(cronJobs, o)
		default:
			t.Errorf("unexpected %T", obj)
		}
	}
	require.Len(t, cronJobs, 2, "one CronJob per PBX, two shown")
	urls := map[string]bool{}
	for _, cj := range cronJobs {
		t.Run(cj.Name, func(t *testing.T) {
			require.LessOrEqual(t, len(cj.Name), 52, "the API server refuses a CronJob name longer than 52 characters")
			require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy, "never two runs against one PBX at once")
			_, err := cron.ParseStandard(cj.Spec.Schedule) // as the API server parses it
			require.NoError(t, err, cj.Spec.Schedule)
			require.NotNil(t, cj.Spec.TimeZone)
			_, err = time.LoadLocation(*cj.Spec.TimeZone)
			require.NoError(t, err)
			job := cj.Spec.JobTemplate.Spec
			require.NotNil(t, job.BackoffLimit)
			require.Zero(t, *job.BackoffLimit, "a failed run fails the Job rather than being repeated at once")
			require.NotNil(t, job.ActiveDeadlineSeconds, "then SIGTERM: the summary is written")
			pod := job.Template.Spec
			require.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy)
			require.Len(t, pod.Containers, 1)
			ctr := pod.Containers[0]
			require.Empty(t, ctr.Command, "the image's entrypoint is pbxsync")
			requireFlags(t, ctr.Args, "apply", "-f", "", "--auto-approve", "--log-format", "json")

			// The -f file is the ConfigMap's key, mounted read-only where the args look for it.
			file := flagValue(ctr.Args, "-f")
			var src string
			for _, m := range ctr.VolumeMounts {
				key, ok := strings.CutPrefix(file, m.MountPath+"/")
				if !ok {
					continue
				}
				require.True(t, m.ReadOnly, "%s is mounted read-only", m.MountPath)
				i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
				require.GreaterOrEqual(t, i, 0, "volume %s", m.Name)
				require.NotNil(t, pod.Volumes[i].ConfigMap)
				data, ok := configMaps[pod.Volumes[i].ConfigMap.Name]
				require.True(t, ok, "ConfigMap %s", pod.Volumes[i].ConfigMap.Name)
				src = data[key]
			}
			require.NotEmpty(t, src, "no ConfigMap holds %s", file)

			// PBX_URL is set, PBX_API_KEY comes from the Secret, which holds the
			// inventory's ${VAR}s; no secret is written in the manifest.
			env := map[string]string{}
			var secret string
			for _, e := range ctr.Env {
				switch e.Name {
				case "PBX_URL":
					require.True(t, strings.HasPrefix(e.Value, "https://"), e.Value)
					require.False(t, urls[e.Value], "one CronJob per PBX: %s twice", e.Value)
					urls[e.Value] = true
				case "PBX_API_KEY":
					require.Empty(t, e.Value, "never the API key itself in the manifest")
					require.NotNil(t, e.ValueFrom)
					require.NotNil(t, e.ValueFrom.SecretKeyRef)
					require.Equal(t, "PBX_API_KEY", e.ValueFrom.SecretKeyRef.Key)
					optional := e.ValueFrom.SecretKeyRef.Optional
					require.True(t, optional == nil || !*optional, "a Secret without the key keeps the pod from starting")
					secret = e.ValueFrom.SecretKeyRef.Name
				default:
					secretName := regexp.MustCompile(`(?i)key|password|pin|token|secret`)
					require.False(t, e.Value != "" && secretName.MatchString(e.Name), "%s: a secret belongs in the Secret, not in the manifest", e.Name)
				}
			}
			require.NotEmpty(t, secret, "PBX_API_KEY from a Secret")
			require.Contains(t, secrets, secret)
			require.Contains(t, secrets[secret], "PBX_API_KEY")
			require.True(t, slices.ContainsFunc(ctr.EnvFrom, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil && e.SecretRef.Name == secret }),
				"the Secret's ${VAR}s reach the container through envFrom")
			for k, v := range secrets[secret] {
				env[k] = v
			}
			inv, diags, err := inventory.Load(cj.Name, []byte(src), inventory.LoadOptions{Lookup: lookup(env)})
			require.NoError(t, err)
			require.Empty(t, diags)
			converge(t, client(t, simtest.NewServer(t)), inv)

			// The container's command line, with its inventory under a temporary directory.
			dir := t.TempDir()
			args := relocate(ctr.Args, dir)
			require.NoError(t, os.WriteFile(flagValue(args, "-f"), []byte(src), 0o644))
			env["PBX_URL"] = "sim:" + filepath.Join(dir, "pbx.yaml")
			res := runPbxsync(t, dir, env, args...)
			require.Equal(t, 0, res.code, res.stderr)
			require.Contains(t, res.stdout, "Verified: yes")
		})
	}
}

func TestCIPlanReview(t *testing.T) {
	var wf workflow
	decodeStrict(t, "ci-plan-review/pbxsync-plan.yml", &wf)
	require.NotNil(t, wf.On.PullRequest, "runs on pull requests")
	require.Contains(t, wf.On.PullRequest.Paths, "inventory.yaml")
	require.Equal(t, "write", wf.Permissions["pull-requests"], "to comment on the pull request")
	require.Len(t, wf.Jobs, 1)
	job := wf.Jobs["plan"]
	step := func(name string) string {
		i := slices.IndexFunc(job.Steps, func(s workflowStep) bool { return s.Name == name })
		require.GreaterOrEqual(t, i, 0, "step %q", name)
		return job.Steps[i].Run
	}
	validate, planStep, comment := step("Validate"), step("Plan"), step("Comment on the pull request")
	require.Equal(t, "pbxsync validate -f inventory.yaml", validate)
	require.Contains(t, planStep, "pbxsync plan -f inventory.yaml --format markdown --detailed-exitcode --out plan.json \\\n")
	require.Contains(t, planStep, "--full-plan \"in the artifact pbxsync-plan of this run (plan.json)\" > plan.md")
	upload := job.Steps[slices.IndexFunc(job.Steps, func(s workflowStep) bool { return s.Name == "Upload the whole plan" })]
	require.Equal(t, "plan.json", upload.With["path"], "the whole plan, beside the comment that may be cut")
	require.Contains(t, planStep, `>> "$GITHUB_STEP_SUMMARY"`)
	require.Equal(t, `gh pr comment "$PR" --edit-last --create-if-none --body-file plan.md`, comment)
	require.Contains(t, job.Env, "PBX_URL")
	require.Contains(t, job.Env, "PBX_API_KEY")

	// The job's environment names every ${VAR} of the inventory.
	env := map[string]string{}
	for k := range job.Env {
		env[k] = "4711"
	}
	inv, diags := load(t, "ci-plan-review/inventory.yaml", lookup(env))
	require.Empty(t, diags)
	converge(t, client(t, simtest.NewServer(t)), inv)

	// The steps' scripts as Actions runs them (bash -e -o pipefail), against a sim: server.
	dir := t.TempDir()
	copyFile(t, "ci-plan-review/inventory.yaml", filepath.Join(dir, "inventory.yaml"))
	env["PBX_URL"] = "sim:" + filepath.Join(dir, "pbx.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pbx.yaml"), []byte("version: 1\n"), 0o600)) // an empty PBX: plan refuses a missing file
	env["PATH"] = filepath.Dir(pbxsyncBin) + string(os.PathListSeparator) + os.Getenv("PATH")
	env["GITHUB_OUTPUT"] = filepath.Join(dir, "output")
	env["GITHUB_STEP_SUMMARY"] = filepath.Join(dir, "summary.md")
	runStep := func(script string) (int, string, string) {
		require.NoError(t, os.WriteFile(env["GITHUB_OUTPUT"], nil, 0o644))
		require.NoError(t, os.WriteFile(env["GITHUB_STEP_SUMMARY"], nil, 0o644))
		cmd := exec.CommandContext(t.Context(), "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, environ(env)
		out, err := cmd.CombinedOutput()
		return exitCode(t, err), string(out), string(readFile(t, env["GITHUB_OUTPUT"]))
	}
	code, out, _ := runStep(validate)
	require.Equal(t, 0, code, out)

	code, out, output := runStep(planStep)
	require.Equal(t, 0, code, "exit 2 (changes) does not fail the step: %s", out)
	require.Equal(t, "changes=true\n", output)
	summary := string(readFile(t, env["GITHUB_STEP_SUMMARY"]))
	require.Contains(t, summary, "**Plan: 3 to create, 1 to group.**")
	require.Contains(t, summary, "`nm_password`: `(sensitive)`")
	require.NotContains(t, summary, env["ACME_HQ_NM_PASSWORD"])
	require.Equal(t, summary, string(readFile(t, filepath.Join(dir, "plan.md"))), "the comment is the summary")

	res := runPbxsync(t, dir, env, "apply", "-f", "inventory.yaml", "--auto-approve")
	require.Equal(t, 0, res.code, res.stderr)
	code, out, output = runStep(planStep)
	require.Equal(t, 0, code, out)
	require.Equal(t, "changes=false\n", output)

	env["PBX_URL"] = "sim:" // no state file: pbxsync exits 1, and so does the step
	code, _, output = runStep(planStep)
	require.Equal(t, 1, code)
	require.Empty(t, output)
}

func TestMigration(t *testing.T) {
	source, target := seeded(t, "migration/source.yaml"), seeded(t, "migration/target.yaml")
	from, to := client(t, source), client(t, target)

	// The export references secrets and holds none of them.
	snap, err := state.ReadSnapshot(t.Context(), from, 4)
	require.NoError(t, err)
	exported, err := snap.Export(state.ExportOptions{})
	require.NoError(t, err)
	for _, ref := range []string{"${ACME_HQ_NM_PASSWORD}", "${ACME_WEST_BARGE_PIN}"} {
		require.Contains(t, string(exported), ref)
	}
	for _, pin := range []string{"4711", "1234"} {
		require.NotContains(t, string(exported), pin)
	}
	withSecrets, err := snap.Export(state.ExportOptions{IncludeSecrets: true})
	require.NoError(t, err)
	require.Contains(t, string(withSecrets), `"4711"`)

	// The export, with the secrets it references, plans nothing against its source.
	selected, err := snap.Select(state.ExportOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"acme_hq", "acme_west", "beta_gmbh", "solo_ltd"}, selected)
	inv, diags, err := inventory.Load("snap.yaml", exported, inventory.LoadOptions{Lookup: lookup(snap.Secrets(selected))})
	require.NoError(t, err)
	require.Empty(t, diags)
	p := planOf(t, from, inv)
	require.True(t, p.Empty(), "the export against its source: %s", p.Summary())

	// Against the target it creates and groups; ops_lab, already there, is left alone.
	before, _ := target.Company("ops_lab")
	writesToSource := source.Stats().TotalWrites()
	p = converge(t, to, inv)
	require.Equal(t, "Plan: 4 to create, 1 to group.", p.Summary())
	require.Equal(t, []string{"ops_lab"}, p.Unmanaged)
	after, _ := target.Company("ops_lab")
	require.Equal(t, before, after)
	require.Equal(t, writesToSource, source.Stats().TotalWrites(), "nothing is written to the source")

	// What pbxsync diff compares: the migrated companies read the same on both sides,
	// secrets and containers included, though their numeric ids differ.
	snapTo, err := state.ReadSnapshot(t.Context(), to, 4)
	require.NoError(t, err)
	again, err := snapTo.Export(state.ExportOptions{Companies: selected, IncludeSecrets: true})
	require.NoError(t, err)
	if diff := cmp.Diff(string(withSecrets), string(again)); diff != "" {
		t.Errorf("target differs from source (-source +target):\n%s", diff)
	}
	hqFrom, _ := source.Company("acme_hq")
	hqTo, _ := target.Company("acme_hq")
	require.NotEqual(t, hqFrom.Num, hqTo.Num, "numeric ids are the server's own")
}

// TestMigrationWalkthrough runs the commands of migration/README.md, with OLD and NEW
// as sim: copies of source.yaml and target.yaml.
func TestMigrationWalkthrough(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "migration/source.yaml", filepath.Join(dir, "old-pbx.yaml"))
	copyFile(t, "migration/target.yaml", filepath.Join(dir, "new-pbx.yaml"))
	const oldPBX, newPBX = "sim:old-pbx.yaml", "sim:new-pbx.yaml"
	pbxsync := func(want int, args ...string) result {
		t.Helper()
		res := runPbxsync(t, dir, nil, args...)
		require.Equal(t, want, res.code, "pbxsync %s\n%s", strings.Join(args, " "), res.stderr)
		return res
	}
	file := func(name string) []byte { return readFile(t, filepath.Join(dir, name)) }

	// 1. Look: secrets as references, their variables named on stderr.
	res := pbxsync(0, "export", "--url", oldPBX, "--match", "^acme_")
	require.Contains(t, res.stdout, "nm_password: ${ACME_HQ_NM_PASSWORD}")
	require.Contains(t, res.stdout, "barge_pin: ${ACME_WEST_BARGE_PIN}")
	require.NotContains(t, res.stdout, "beta_gmbh")
	require.NotContains(t, res.stdout, "4711")
	require.Contains(t, res.stderr, "ACME_HQ_NM_PASSWORD")

	// 2. Rehearse on copies: the real files are not written.
	oldBefore, newBefore := file("old-pbx.yaml"), file("new-pbx.yaml")
	pbxsync(0, "export", "--url", oldPBX, "-o", "snap.yaml", "--include-secrets")
	pbxsync(0, "export", "--url", newPBX, "-o", "target-copy.yaml", "--include-secrets")
	for _, name := range []string{"snap.yaml", "target-copy.yaml"} {
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), "%s holds secrets", name)
	}
	require.Contains(t, string(file("snap.yaml")), `"4711"`)
	res = pbxsync(0, "migrate", "--from", "sim:snap.yaml", "--to", "sim:target-copy.yaml", "--match", "^acme_", "--auto-approve", "--log-level", "debug")
	require.Contains(t, res.stderr, "Plan: 2 to create, 1 to group. 1 unmanaged company")
	require.Contains(t, res.stderr, "verb=create company=acme_hq")
	require.Equal(t, oldBefore, file("old-pbx.yaml"))
	require.Equal(t, newBefore, file("new-pbx.yaml"))

	// 3. Migrate, with a report of each company's numeric id on both sides.
	pbxsync(1, "migrate", "--from", oldPBX, "--to", newPBX, "--match", "^acme_") // no terminal, no --auto-approve
	require.Equal(t, newBefore, file("new-pbx.yaml"))
	pbxsync(0, "migrate", "--from", oldPBX, "--to", newPBX, "--match", "^acme_", "--report", "migration.json", "--auto-approve")
	var report struct {
		Verified  bool `json:"verified"`
		Companies []struct {
			Company  string `json:"company"`
			SourceID int64  `json:"source_id"`
			TargetID int64  `json:"target_id"`
			Target   string `json:"target"`
			Verified bool   `json:"verified"`
		} `json:"companies"`
	}
	require.NoError(t, json.Unmarshal(file("migration.json"), &report))
	require.True(t, report.Verified)
	require.Len(t, report.Companies, 2)
	for i, id := range []string{"acme_hq", "acme_west"} {
		c := report.Companies[i]
		require.Equal(t, id, c.Company)
		require.Positive(t, c.SourceID)
		require.Positive(t, c.TargetID)
		require.Equal(t, "created", c.Target)
		require.True(t, c.Verified)
	}

	// 4. Check: the same on both sides; the whole systems still differ.
	res = pbxsync(0, "diff", "--from", oldPBX, "--to", newPBX, "--match", "^acme_")
	require.Contains(t, res.stdout, "No differences: 2 companies compared")
	pbxsync(2, "diff", "--from", oldPBX, "--to", newPBX)

	// 5. Remove from the old PBX: refused over the delete budget, done within it.
	oldBefore = file("old-pbx.yaml")
	pbxsync(3, "migrate", "--from", oldPBX, "--to", newPBX, "--match", "^acme_", "--delete-source", "--auto-approve")
	pbxsync(3, "migrate", "--from", oldPBX, "--to", newPBX, "--match", "^acme_", "--delete-source", "--max-delete", "1", "--auto-approve")
	require.Equal(t, oldBefore, file("old-pbx.yaml"), "refused before any write")
	pbxsync(0, "migrate", "--from", oldPBX, "--to", newPBX, "--match", "^acme_", "--delete-source", "--max-delete", "2", "--report", "final.json", "--auto-approve")
	left, err := pbxtest.ReadStateFile(filepath.Join(dir, "old-pbx.yaml"))
	require.NoError(t, err)
	var ids []string
	for _, c := range left.Companies {
		ids = append(ids, c.ID)
	}
	require.Equal(t, []string{"beta_gmbh", "solo_ltd"}, ids)

	// Afterwards: an export of the new PBX for git, without a secret.
	pbxsync(0, "export", "--url", newPBX, "--match", "^acme_", "-o", "acme.yaml")
	inv, diags := load(t, filepath.Join(dir, "acme.yaml"), lookup(map[string]string{"ACME_HQ_NM_PASSWORD": "4711", "ACME_WEST_BARGE_PIN": "1234"}))
	require.Empty(t, diags)
	require.Len(t, inv.Companies, 2)
	require.NotContains(t, string(file("acme.yaml")), "4711")
}

// ---- the library: load, plan, apply

func noEnv(string) (string, bool) { return "", false }

func lookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := env[name]; return v, ok }
}

// load loads an inventory file of the examples; it must have no error.
func load(t *testing.T, path string, lookup func(string) (string, bool)) (*inventory.Inventory, []inventory.Diagnostic) {
	t.Helper()
	inv, diags, err := inventory.Load(path, readFile(t, path), inventory.LoadOptions{Lookup: lookup})
	require.NoError(t, err)
	return inv, diags
}

// seeded starts a simulator with the content of a state file of the examples.
func seeded(t *testing.T, path string) *simtest.Server {
	t.Helper()
	st, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, st.Companies)
	return simtest.NewServer(t, pbxtest.WithState(st))
}

func client(t *testing.T, srv *simtest.Server) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)
	return c
}

func planOf(t *testing.T, c *apiclient.Client, inv *inventory.Inventory) *plan.Plan {
	t.Helper()
	st, err := state.Read(t.Context(), c, inv, 4)
	require.NoError(t, err)
	p, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	return p
}

// converge plans, applies, and requires that the apply succeeded and that a second
// plan is empty. It returns the first plan, which must have changes.
func converge(t *testing.T, c *apiclient.Client, inv *inventory.Inventory) *plan.Plan {
	t.Helper()
	p := planOf(t, c, inv)
	require.False(t, p.Empty(), "the example has something to apply")
	rep := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 4, Rounds: 3})
	require.NoError(t, rep.Err())
	require.True(t, rep.Succeeded())
	again := planOf(t, c, inv)
	require.True(t, again.Empty(), "a second plan: %s", again.Summary())
	return p
}

// ---- the command line

type result struct {
	code           int
	stdout, stderr string
}

// runPbxsync runs the built pbxsync in dir with only the environment given, so that
// the developer's PBX_URL and PBX_API_KEY never reach it.
// openSources opens the binary's sources once, in a test: go test caches a result by
// the files its tests open, and a change to cmd/pbxsync must run these tests again.
var openSources = gosync.OnceFunc(func() {
	_ = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
		}
		return nil
	})
})

func runPbxsync(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	openSources()
	cmd := exec.CommandContext(t.Context(), pbxsyncBin, args...)
	cmd.Dir, cmd.Env = dir, environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, &stdout, &stderr
	err := cmd.Run()
	return result{exitCode(t, err), stdout.String(), stderr.String()}
}

func environ(env map[string]string) []string {
	list := []string{"NO_COLOR=1"}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// requireFlags requires the command line to start with the command and to hold each
// flag; a flag followed by a value must have that value, or any value when it is "".
func requireFlags(t *testing.T, args []string, command string, flags ...string) {
	t.Helper()
	require.NotEmpty(t, args)
	require.Equal(t, command, args[0], "%q", args)
	for i := 0; i < len(flags); i++ {
		name := flags[i]
		j := slices.Index(args, name)
		require.GreaterOrEqual(t, j, 1, "%s in %q", name, args)
		if i+1 < len(flags) && !strings.HasPrefix(flags[i+1], "-") {
			i++
			require.Less(t, j+1, len(args), "%s needs a value", name)
			require.NotEqual(t, "", args[j+1])
			require.False(t, strings.HasPrefix(args[j+1], "-"), "%s needs a value in %q", name, args)
			if flags[i] != "" {
				require.Equal(t, flags[i], args[j+1], "%s", name)
			}
		}
	}
}

func flagValue(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// relocate moves every absolute path of a command line into dir, keeping its base name.
func relocate(args []string, dir string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.HasPrefix(a, "/") {
			out[i] = filepath.Join(dir, filepath.Base(a))
		}
	}
	return out
}

// commandArgs splits a command line of the examples (no quoting in them) and returns
// what follows the pbxsync binary, up to a redirection.
func commandArgs(t *testing.T, line string) []string {
	t.Helper()
	require.NotContains(t, line, `"`)
	require.NotContains(t, line, `'`)
	fields := strings.Fields(line)
	i := slices.IndexFunc(fields, func(f string) bool { return f == "pbxsync" || strings.HasSuffix(f, "/pbxsync") })
	require.GreaterOrEqual(t, i, 0, "no pbxsync in %q", line)
	args := fields[i+1:]
	if j := slices.IndexFunc(args, func(f string) bool { return strings.ContainsAny(f, "<>|;&") }); j >= 0 {
		args = args[:j]
	}
	return args
}

// crontabCommand returns the schedule and the pbxsync arguments of a crontab's one job.
func crontabCommand(t *testing.T, path string) (string, []string) {
	t.Helper()
	jobs := crontabJobs(t, path)
	require.Len(t, jobs, 1, "one job in %s", path)
	return jobs[0].schedule, jobs[0].args
}

// cronJob is a line of a crontab: its schedule, and the pbxsync arguments it runs.
type cronJob struct {
	schedule string
	args     []string
}

// crontabJobs returns the jobs of a crontab, in order; each schedule is one that cron
// reads, and each job reads the environment file.
func crontabJobs(t *testing.T, path string) []cronJob {
	t.Helper()
	var jobs []cronJob
	for _, line := range lines(t, path) {
		fields := strings.Fields(line)
		require.Greater(t, len(fields), 5)
		schedule, command := strings.Join(fields[:5], " "), strings.Join(fields[5:], " ")
		_, err := cron.ParseStandard(schedule)
		require.NoError(t, err, "%s: %q", path, schedule)
		require.Contains(t, command, ". /etc/pbxsync/pbxsync.env", "the job reads the environment file")
		jobs = append(jobs, cronJob{schedule, commandArgs(t, command)})
	}
	return jobs
}

// serviceCommand returns the pbxsync arguments of a systemd service's one ExecStart,
// which must be those of the crontab's job (cronArgs): a oneshot service that reads
// the environment file.
func serviceCommand(t *testing.T, path string, cronArgs []string) []string {
	t.Helper()
	service := readUnit(t, path)
	require.Equal(t, []string{"oneshot"}, service["Service"]["Type"], path)
	require.Equal(t, []string{"/etc/pbxsync/pbxsync.env"}, service["Service"]["EnvironmentFile"], path)
	execStart := service["Service"]["ExecStart"]
	require.Len(t, execStart, 1, path)
	args := commandArgs(t, execStart[0])
	if diff := cmp.Diff(args, cronArgs); diff != "" {
		t.Errorf("the crontab line and %s differ (-service +crontab):\n%s", path, diff)
	}
	return args
}

// readmeBlocks returns the text of each of a README's fenced blocks of a language
// (```yaml).
func readmeBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	var blocks []string
	var block *strings.Builder
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		switch {
		case block == nil && line == "```"+lang:
			block = &strings.Builder{}
		case block != nil && line == "```":
			blocks = append(blocks, block.String())
			block = nil
		case block != nil:
			block.WriteString(line + "\n")
		}
	}
	require.Nil(t, block, "%s: a block that does not end", path)
	return blocks
}

// readUnit reads a systemd unit file: section -> key -> values in order.
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	unit := map[string]map[string][]string{}
	section := ""
	for _, line := range lines(t, path) {
		if name, ok := strings.CutPrefix(line, "["); ok {
			section = strings.TrimSuffix(name, "]")
			unit[section] = map[string][]string{}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		require.NotEmpty(t, section, "%s: %q outside a section", path, line)
		unit[section][key] = append(unit[section][key], value)
	}
	return unit
}

// readEnvFile reads VARIABLE=value lines, as systemd's EnvironmentFile= and sh do alike:
// no quotes, no spaces, no $ in values, so that both read the same.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	name := regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	for _, line := range lines(t, path) {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		require.Regexp(t, name, k)
		require.False(t, strings.ContainsAny(v, " \t\"'$\\`"), "%s: %s has characters that sh and systemd read differently", path, k)
		env[k] = v
	}
	return env
}

// lines returns a file's lines without blank lines and comments.
func lines(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.WriteFile(to, readFile(t, from), 0o600))
}

// ---- GitHub Actions files, as far as the tests read them (actionlint checks them whole: parsers_test.go)

type workflow struct {
	Name string `yaml:"name"`
	On   struct {
		PullRequest *struct {
			Paths []string `yaml:"paths"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency map[string]any    `yaml:"concurrency"`
	Jobs        map[string]struct {
		If             string            `yaml:"if"`
		RunsOn         string            `yaml:"runs-on"`
		TimeoutMinutes int               `yaml:"timeout-minutes"`
		Env            map[string]string `yaml:"env"`
		Steps          []workflowStep    `yaml:"steps"`
	} `yaml:"jobs"`
}

type workflowStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
	Run  string            `yaml:"run"`
}

// decodeStrict decodes one YAML document into v; a key v does not know is an error.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(v), path)
}
