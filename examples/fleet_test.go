package examples_test

// The fleet example: three PBXs on sim: state files, a move shipped as a patch, the
// nightly crontab line and the Kubernetes CronJobs of groups of PBXs. The
// walkthrough's commands are those of fleet/README.md, run on a copy of the folder.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/sync"
)

// fleetFiles are the fleet example's YAML files besides its state files (stateFiles):
// the fleet file, each PBX's inventory, and the Kubernetes manifests.
var fleetFiles = []string{
	"fleet/fleet.yaml",
	"fleet/london/_defaults.yaml", "fleet/london/acme.yaml", "fleet/london/customers.yaml",
	"fleet/paris/_defaults.yaml", "fleet/paris/customers.yaml",
	"fleet/berlin/_defaults.yaml", "fleet/berlin/customers.yaml",
	"fleet/cronjobs.yaml", "fleet/secret.example.yaml",
}

// fleetPBXs are the PBXs of fleet/fleet.yaml, as the README names them.
var fleetPBXs = []string{"berlin", "london", "paris"}

// TestFleet: the fleet file and its inventories load as one fleet, with the PINs of
// the environment file, without a warning; each PBX's state file is its running PBX.
func TestFleet(t *testing.T) {
	env := readEnvFile(t, "fleet/pbxsync.env")
	fleet := loadFleet(t, "fleet/fleet.yaml", env)
	var names []string
	for _, p := range fleet.PBXs {
		names = append(names, p.Name)
		require.Equal(t, "sim:"+filepath.Join("fleet", "state", p.Name+".yaml"), p.URL)
		require.Equal(t, strings.ToUpper(p.Name), p.Credentials)
		require.Contains(t, env, p.Env("API_KEY"), "the environment file has the key of %s", p.Name)
	}
	require.Equal(t, fleetPBXs, names)
	london := fleet.PBXs[slices.IndexFunc(fleet.PBXs, func(p *inventory.FleetPBX) bool { return p.Name == "london" })]
	paris, ok := london.Inv.Company("acme_paris")
	require.True(t, ok, "acme_paris starts on london")
	require.Equal(t, `"5150"`, paris.Settings.Get("nm_password").Reveal().JSON(), "its PIN from the environment file")
	require.Equal(t, `"100"`, paris.Settings.Get("vm_maxmsgs").JSON(), "from london/_defaults.yaml")
	berlin := fleet.PBXs[slices.IndexFunc(fleet.PBXs, func(p *inventory.FleetPBX) bool { return p.Name == "berlin" })]
	require.Equal(t, map[string][]string{"beta": {"beta_gmbh", "beta_hamburg"}}, containersOf(berlin.Inv), "a container with partners")

	// The state files hold the PINs the environment file names, so that only the
	// README's changes are planned.
	for _, pin := range []struct{ state, company, field, env string }{
		{"london", "acme_paris", "nm_password", "ACME_PARIS_NM_PASSWORD"},
		{"berlin", "beta_gmbh", "barge_pin", "BETA_GMBH_BARGE_PIN"},
	} {
		c, ok := stateCompany(t, filepath.Join("fleet", "state", pin.state+".yaml"), pin.company)
		require.True(t, ok, "%s on %s", pin.company, pin.state)
		require.Equal(t, env[pin.env], c.Settings.Get(pin.field).Text())
	}
}

// TestFleetWalkthrough runs fleet/README.md's commands on a copy of the folder: the
// first apply, the patch that moves acme_paris, the refused apply, the move, and the
// plan after it.
func TestFleetWalkthrough(t *testing.T) {
	dir := copyFleet(t)
	documented := readmeCommands(t, "fleet/README.md")
	env := readmeExports(t, "fleet/README.md")
	require.Equal(t, map[string]string{"ACME_PARIS_NM_PASSWORD": "5150", "BETA_GMBH_BARGE_PIN": "90210"}, env)
	// pbxsync runs a command of the README, with extra flags (--auto-approve: no
	// terminal here); it must end with the exit code want.
	pbxsync := func(want int, args []string, extra ...string) result {
		t.Helper()
		require.Contains(t, documented, "pbxsync "+strings.Join(args, " "), "a command of fleet/README.md")
		res := runPbxsync(t, dir, env, append(slices.Clone(args), extra...)...)
		require.Equal(t, want, res.code, "pbxsync %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.stdout, res.stderr)
		return res
	}
	state := func(pbx string) []byte { return readFile(t, filepath.Join(dir, "state", pbx+".yaml")) }

	res := runPbxsync(t, dir, nil, "validate", "--fleet", "fleet.yaml")
	require.Equal(t, 0, res.code, "validate needs no secret: %s", res.stderr)
	require.Contains(t, res.stderr, "warning: environment variable ACME_PARIS_NM_PASSWORD is not set")
	res = pbxsync(0, []string{"validate", "--fleet", "fleet.yaml"})
	require.Equal(t, "fleet.yaml: valid: 3 PBXs, 9 companies\n", res.stdout)
	require.Empty(t, res.stderr)

	res = pbxsync(0, []string{"plan", "--fleet", "fleet.yaml"})
	require.True(t, strings.HasPrefix(res.stdout, "Fleet: 3 PBXs; 0 moves; berlin: 1 to update; london: 1 to update; paris: 1 to create.\n\n== berlin\nPlan: 1 to update.\n\n  ~ update gamma_ag\n      q_ringtime:  \"15\" -> \"25\"\n"), res.stdout)
	require.Contains(t, res.stdout, "\n== london\n")
	require.Contains(t, res.stdout, "  ~ update solo_ltd\n")
	require.Contains(t, res.stdout, "  + create cafe_sarl (\"Cafe SARL\")\n")

	res = pbxsync(0, []string{"apply", "--fleet", "fleet.yaml"}, "--auto-approve")
	require.Equal(t, "berlin: 1 ok, 0 failed, 0 skipped, 0 not run; verified.\n"+
		"london: 1 ok, 0 failed, 0 skipped, 0 not run; verified.\n"+
		"paris: 1 ok, 0 failed, 0 skipped, 0 not run; verified.\n", res.stdout)
	_, ok := stateCompany(t, filepath.Join(dir, "state", "paris.yaml"), "cafe_sarl")
	require.True(t, ok, "created on paris")

	// The commit that moves acme_paris: it applies to the example as committed.
	applyPatch(t, dir, "move-acme-to-paris.patch")
	require.NoFileExists(t, filepath.Join("fleet", "paris", "acme.yaml"), "the patch is applied to the copy only")
	require.NotContains(t, string(readFile(t, filepath.Join(dir, "london", "acme.yaml"))), "acme_paris")
	require.Contains(t, string(readFile(t, filepath.Join(dir, "paris", "acme.yaml"))), "acme_paris:")

	res = pbxsync(3, []string{"plan", "--fleet", "fleet.yaml"})
	require.True(t, strings.HasPrefix(res.stdout, "Fleet: 3 PBXs; 1 move; paris: 1 to create.\n\n  -> move acme_paris from london to paris\n"), res.stdout)
	for _, line := range []string{
		"      nm_password:  (sensitive)\n",
		"      phonebook:    \"2\"\n",
		"      vm_maxmsgs:   \"100\"\n",
		"      (and 20 empty fields, carried as they are)\n",
		"  + create acme_paris (\"Acme Paris\")\n",
		"      vm_maxmsgs:   \"200\"\n",
		"      zone:         \"Europe/Paris\"\n      (and 20 empty fields)\n",
	} {
		require.Contains(t, res.stdout, line)
	}
	require.NotContains(t, res.stdout, "barge_pin", "a PIN that is not set is counted with the empty fields, not shown as (sensitive)")
	require.NotContains(t, res.stdout, "5150", "the PIN is carried, never shown")
	require.Contains(t, res.stdout, "== london\nNo changes: the server matches the inventory. 1 unmanaged company (on the server, not in the inventory).\nUnmanaged: legacy_co.\n",
		"london's plan neither deletes acme_paris nor counts it unmanaged")
	require.Equal(t, "pbxsync: apply would refuse: the fleet plan moves 1 company, more than --max-move allows (0)\n", res.stderr)

	// The plan for a pull request, and its JSON (pbxsync help fleet).
	res = pbxsync(0, []string{"plan", "--fleet", "fleet.yaml", "--format", "markdown", "--max-move", "1"})
	require.Contains(t, res.stdout, "**Fleet: 3 PBXs; 1 move; paris: 1 to create.**")
	require.Contains(t, res.stdout, "- move `acme_paris` from `london` to `paris`\n")
	res = runPbxsync(t, dir, env, "plan", "--fleet", "fleet.yaml", "--max-move", "1", "--json")
	require.Equal(t, 0, res.code, res.stderr)
	var doc plan.JSONFleetPlan
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc))
	require.Equal(t, 1, doc.FormatVersion)
	require.Equal(t, "fleet", doc.Kind)
	require.Len(t, doc.Moves, 1)
	require.Equal(t, []string{"acme_paris", "london", "paris"}, []string{doc.Moves[0].Company, doc.Moves[0].From, doc.Moves[0].To})
	require.JSONEq(t, `"(sensitive)"`, string(doc.Moves[0].Settings["nm_password"]))
	require.Equal(t, fleetPBXs, sortedKeys(doc.PBXs))
	require.Equal(t, plan.JSONFleetSummary{PBXs: 3, Moves: 1, JSONSummary: plan.JSONSummary{Create: 1}}, doc.Summary)

	// The budget: refused before any write, whether --max-move is left at 0 or given.
	before := map[string][]byte{}
	for _, pbx := range fleetPBXs {
		before[pbx] = state(pbx)
	}
	pbxsync(3, []string{"apply", "--fleet", "fleet.yaml"}, "--auto-approve")
	res = runPbxsync(t, dir, env, "apply", "--fleet", "fleet.yaml", "--max-move", "0", "--auto-approve")
	require.Equal(t, 3, res.code, res.stderr)
	for _, pbx := range fleetPBXs {
		require.Equal(t, string(before[pbx]), string(state(pbx)), "nothing written to %s", pbx)
	}

	// The move, within the budget.
	res = pbxsync(0, []string{"apply", "--fleet", "fleet.yaml", "--max-move", "1"}, "--auto-approve", "--report", "report.json", "--metrics-file", "fleet.prom")
	require.Contains(t, res.stdout, "paris: 1 ok, 0 failed, 0 skipped, 0 not run; verified.\n")
	require.True(t, strings.HasSuffix(res.stdout, "\nmove acme_paris from london to paris: moved\n"), res.stdout)
	_, ok = stateCompany(t, filepath.Join(dir, "state", "london.yaml"), "acme_paris")
	require.False(t, ok, "deleted from london once verified on paris")
	moved, ok := stateCompany(t, filepath.Join(dir, "state", "paris.yaml"), "acme_paris")
	require.True(t, ok, "on paris")
	require.Equal(t, "Acme Paris", moved.Name)
	for field, want := range map[string]string{
		"nm_password": "5150",         // the PIN, carried in memory
		"phonebook":   "2",            // a setting no inventory manages, carried
		"q_ringtime":  "20",           // its own setting
		"zone":        "Europe/Paris", // paris/_defaults.yaml
		"vm_maxmsgs":  "200",          // paris/_defaults.yaml, over the 100 it had on london
	} {
		require.Equal(t, want, moved.Settings.Get(field).Text(), field)
	}
	info, err := os.Stat(filepath.Join(dir, "state", "paris.yaml"))
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), "the state file holds PINs")

	var report sync.JSONFleetResult
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(dir, "report.json")), &report))
	require.Equal(t, "fleet", report.Kind)
	require.Empty(t, report.Error)
	require.Equal(t, []sync.JSONMoveResult{{Company: "acme_paris", From: "london", To: "paris", Status: "moved"}}, report.Moves)
	require.True(t, report.PBXs["paris"].Verified)

	metrics := readMetrics(t, filepath.Join(dir, "fleet.prom"))
	requireFleetMetrics(t, metrics, 1)
	for _, s := range metrics["pbxsync_fleet_moves"] {
		want := map[string]float64{"paris/moved": 1}[s.Labels["pbx"]+"/"+s.Labels["status"]]
		require.Equal(t, want, s.Value, "%v", s.Labels)
	}
	i := slices.IndexFunc(metrics["pbxsync_last_run_success"], func(s promSample) bool { return s.Labels["pbx"] == "paris" })
	require.GreaterOrEqual(t, i, 0, "apply's families, labelled pbx and server: %v", metrics["pbxsync_last_run_success"])
	require.Equal(t, promSample{Labels: map[string]string{"pbx": "paris", "server": "sim:" + filepath.Join("state", "paris.yaml")}, Value: 1},
		metrics["pbxsync_last_run_success"][i])

	res = pbxsync(0, []string{"plan", "--fleet", "fleet.yaml", "--detailed-exitcode"})
	require.True(t, strings.HasPrefix(res.stdout, "Fleet: 3 PBXs; 0 moves.\n"), res.stdout)
}

// TestFleetInterruptedMove: a move stopped after its create (the company on both
// PBXs) is finished by the next run, as fleet/README.md says.
func TestFleetInterruptedMove(t *testing.T) {
	dir := copyFleet(t)
	env := readEnvFile(t, "fleet/pbxsync.env")
	applyPatch(t, dir, "move-acme-to-paris.patch")

	// Step 1 done: acme_paris on paris too, as the create left it.
	london, err := pbxtest.ReadStateFile(filepath.Join(dir, "state", "london.yaml"))
	require.NoError(t, err)
	paris, err := pbxtest.ReadStateFile(filepath.Join(dir, "state", "paris.yaml"))
	require.NoError(t, err)
	i := slices.IndexFunc(london.Companies, func(c apiclient.Company) bool { return c.ID == "acme_paris" })
	require.GreaterOrEqual(t, i, 0)
	created := apiclient.Company{ID: "acme_paris", Name: london.Companies[i].Name} // every field as a new company has it
	paris.Companies = append(paris.Companies, created)
	require.NoError(t, pbxtest.WriteStateFile(filepath.Join(dir, "state", "paris.yaml"), paris))

	res := runPbxsync(t, dir, env, "plan", "--fleet", "fleet.yaml", "--max-move", "1")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "  -> move acme_paris from london to paris (on both already: finished by the delete on london)\n")
	res = runPbxsync(t, dir, env, "apply", "--fleet", "fleet.yaml", "--max-move", "1", "--auto-approve")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "move acme_paris from london to paris: moved\n")
	_, ok := stateCompany(t, filepath.Join(dir, "state", "london.yaml"), "acme_paris")
	require.False(t, ok)
	moved, ok := stateCompany(t, filepath.Join(dir, "state", "paris.yaml"), "acme_paris")
	require.True(t, ok)
	require.Equal(t, "200", moved.Settings.Get("vm_maxmsgs").Text(), "adopted, then paris's inventory applied")
}

// TestFleetNightly: the crontab line runs the fleet with --max-move 0, the command the
// README shows; the first night applies, a night after a move's commit refuses and
// writes nothing to any PBX, and the metrics file reads with Prometheus' parser.
func TestFleetNightly(t *testing.T) {
	schedule, args := crontabCommand(t, "fleet/pbxsync.crontab")
	require.Equal(t, "30 2 * * *", schedule)
	requireFlags(t, args, "apply", "--fleet", "/etc/pbxsync/fleet/fleet.yaml", "--max-move", "0", "--auto-approve",
		"--log-format", "json", "--report", "", "--metrics-file", "", "--lock-file", "")
	require.NotContains(t, args, "--pbx", "the whole fleet")
	require.Contains(t, readmeCommands(t, "fleet/README.md"), "pbxsync "+strings.Join(args, " "), "the README shows the crontab's command")
	env := readEnvFile(t, "fleet/pbxsync.env")

	dir := copyFleet(t)
	args = relocate(args, dir)
	require.Equal(t, filepath.Join(dir, "fleet.yaml"), flagValue(args, "--fleet"))
	res := runPbxsync(t, dir, env, args...)
	require.Equal(t, 0, res.code, res.stderr)
	var report sync.JSONFleetResult
	require.NoError(t, json.Unmarshal(readFile(t, flagValue(args, "--report")), &report))
	require.Equal(t, fleetPBXs, sortedKeys(report.PBXs))
	metrics := readMetrics(t, flagValue(args, "--metrics-file"))
	requireFleetMetrics(t, metrics, 1)
	ended := metrics["pbxsync_last_run_timestamp_seconds"]
	require.Len(t, ended, len(fleetPBXs))
	require.InDelta(t, float64(time.Now().UnixMilli())/1000, ended[0].Value, 600)
	for _, pbx := range fleetPBXs {
		i := slices.IndexFunc(metrics["pbxsync_last_run_success"], func(s promSample) bool { return s.Labels["pbx"] == pbx })
		require.GreaterOrEqual(t, i, 0, "apply's metrics for %s", pbx)
		require.Equal(t, 1.0, metrics["pbxsync_last_run_success"][i].Value)
	}

	// A move merged: the night refuses it (exit 3) and writes nothing to any PBX.
	applyPatch(t, dir, "move-acme-to-paris.patch")
	before := map[string][]byte{}
	for _, pbx := range fleetPBXs {
		before[pbx] = readFile(t, filepath.Join(dir, "state", pbx+".yaml"))
	}
	res = runPbxsync(t, dir, env, args...)
	require.Equal(t, 3, res.code, res.stderr)
	for _, pbx := range fleetPBXs {
		require.Equal(t, string(before[pbx]), string(readFile(t, filepath.Join(dir, "state", pbx+".yaml"))), "nothing written to %s", pbx)
	}
	metrics = readMetrics(t, flagValue(args, "--metrics-file"))
	for _, s := range metrics["pbxsync_last_run_success"] {
		require.Equal(t, 0.0, s.Value, "an alert for every PBX: %v", s.Labels)
	}
	require.Len(t, metrics["pbxsync_last_run_success"], len(fleetPBXs))
	require.NoError(t, json.Unmarshal(readFile(t, flagValue(args, "--report")), &report))
	require.Contains(t, report.Error, "more than --max-move allows (0)")
}

// TestFleetKubernetes reads the fleet's CronJobs as the API server does (strictly,
// into the Kubernetes API's types), checks that every PBX of fleet.yaml is in exactly
// one job and that each job has every PBX's key, then runs each job's command line
// on a copy of the fleet, and a move between the groups as the README says.
func TestFleetKubernetes(t *testing.T) {
	secrets := map[string]map[string]string{}
	for _, obj := range readKubernetes(t, "fleet/secret.example.yaml") {
		s, ok := obj.(*corev1.Secret)
		require.True(t, ok, "only Secrets in secret.example.yaml, not a %T", obj)
		require.Empty(t, s.Data, "stringData, which a person edits")
		secrets[s.Name] = s.StringData
	}
	var cronJobs []*batchv1.CronJob
	for _, obj := range readKubernetes(t, "fleet/cronjobs.yaml") {
		cj, ok := obj.(*batchv1.CronJob)
		require.True(t, ok, "only CronJobs in cronjobs.yaml, not a %T", obj)
		cronJobs = append(cronJobs, cj)
	}
	require.Len(t, cronJobs, 2, "two groups")
	fleet := loadFleet(t, "fleet/fleet.yaml", readEnvFile(t, "fleet/pbxsync.env"))

	groupOf := map[string]string{} // PBX -> the CronJob that applies it
	jobArgs := map[string][]string{}
	var secret string
	for _, cj := range cronJobs {
		require.LessOrEqual(t, len(cj.Name), 52, "the API server refuses a CronJob name longer than 52 characters")
		require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy, "%s: never two runs of a group at once", cj.Name)
		_, err := cron.ParseStandard(cj.Spec.Schedule)
		require.NoError(t, err, cj.Spec.Schedule)
		job := cj.Spec.JobTemplate.Spec
		require.NotNil(t, job.BackoffLimit)
		require.Zero(t, *job.BackoffLimit)
		require.NotNil(t, job.ActiveDeadlineSeconds)
		pod := job.Template.Spec
		require.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy)
		require.Len(t, pod.Containers, 1)
		ctr := pod.Containers[0]
		require.Empty(t, ctr.Command, "the image's entrypoint is pbxsync")
		requireFlags(t, ctr.Args, "apply", "--fleet", "", "--max-move", "0", "--auto-approve", "--log-format", "json")
		require.NotContains(t, ctr.Args, "--prune", "a group job never prunes: a company waiting to move to another group would look unmanaged")

		// Its --pbx flags: PBXs of fleet.yaml, each in one job only.
		var pbxs []string
		for i, a := range ctr.Args {
			if a == "--pbx" {
				require.Less(t, i+1, len(ctr.Args))
				pbxs = append(pbxs, ctr.Args[i+1])
			}
		}
		require.NotEmpty(t, pbxs, "%s names its group", cj.Name)
		for _, pbx := range pbxs {
			require.Contains(t, fleetPBXs, pbx, "%s: --pbx %s is not a PBX of fleet.yaml", cj.Name, pbx)
			require.NotContains(t, groupOf, pbx, "%s: %s is in %s too", cj.Name, pbx, groupOf[pbx])
			groupOf[pbx] = cj.Name
		}
		jobArgs[cj.Name] = ctr.Args

		// The fleet comes from the repository, cloned once by the init container into
		// the volume that pbxsync reads, read-only, where --fleet points.
		require.Len(t, pod.InitContainers, 1)
		checkout := pod.InitContainers[0]
		require.Contains(t, checkout.Args, "--one-time")
		root, link := gitSyncFlag(t, checkout.Args, "--root"), gitSyncFlag(t, checkout.Args, "--link")
		require.Equal(t, root+"/"+link+"/fleet.yaml", flagValue(ctr.Args, "--fleet"))
		require.Len(t, checkout.VolumeMounts, 1)
		require.Equal(t, root, checkout.VolumeMounts[0].MountPath)
		require.Len(t, ctr.VolumeMounts, 1)
		require.Equal(t, checkout.VolumeMounts[0].Name, ctr.VolumeMounts[0].Name)
		require.Equal(t, root, ctr.VolumeMounts[0].MountPath)
		require.True(t, ctr.VolumeMounts[0].ReadOnly)
		require.Len(t, pod.Volumes, 1)
		require.NotNil(t, pod.Volumes[0].EmptyDir)

		// Every PBX's key by secretKeyRef (the job reads every PBX), the ${VAR}s by envFrom.
		keys := map[string]string{}
		for _, e := range ctr.Env {
			require.Empty(t, e.Value, "%s: a secret belongs in the Secret", e.Name)
			require.NotNil(t, e.ValueFrom)
			require.NotNil(t, e.ValueFrom.SecretKeyRef)
			require.Equal(t, e.Name, e.ValueFrom.SecretKeyRef.Key)
			optional := e.ValueFrom.SecretKeyRef.Optional
			require.True(t, optional == nil || !*optional, "a Secret without the key keeps the pod from starting")
			keys[e.Name] = e.ValueFrom.SecretKeyRef.Name
		}
		for _, p := range fleet.PBXs {
			require.Contains(t, keys, p.Env("API_KEY"), "%s has the key of %s", cj.Name, p.Name)
			secret = keys[p.Env("API_KEY")]
			require.Contains(t, secrets, secret)
			require.Contains(t, secrets[secret], p.Env("API_KEY"))
		}
		require.True(t, slices.ContainsFunc(ctr.EnvFrom, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil && e.SecretRef.Name == secret }))
	}
	require.Equal(t, fleetPBXs, sortedKeys(groupOf), "every PBX of fleet.yaml is in a job")
	loadFleet(t, "fleet/fleet.yaml", secrets[secret]) // the Secret holds every ${VAR} of the fleet

	// Each job's command line on one copy of the fleet: together they apply all of it.
	dir := copyFleet(t)
	env := secrets[secret]
	for _, name := range sortedKeys(jobArgs) {
		args := relocate(jobArgs[name], dir)
		res := runPbxsync(t, dir, env, args...)
		require.Equal(t, 0, res.code, "%s: %s", name, res.stderr)
	}
	res := runPbxsync(t, dir, env, "plan", "--fleet", "fleet.yaml", "--detailed-exitcode")
	require.Equal(t, 0, res.code, res.stdout+res.stderr)

	// A move between groups: solo_ltd from london (west) to berlin (east). Neither
	// group's job moves it; a run that names both does.
	customers := filepath.Join(dir, "london", "customers.yaml")
	require.Contains(t, string(readFile(t, customers)), "solo_ltd:", "london/customers.yaml holds solo_ltd alone")
	require.NoError(t, os.WriteFile(customers, []byte("version: 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "berlin", "solo.yaml"), []byte("version: 1\ncompanies:\n  solo_ltd:\n    name: Solo Ltd\n"), 0o644))
	res = runPbxsync(t, dir, env, relocate(jobArgs[groupOf["berlin"]], dir)...)
	require.Equal(t, 1, res.code, res.stderr)
	held := false // --log-format json: every line of stderr is a JSON object
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), "%q", line)
		reason, _ := entry["reason"].(string)
		held = held || entry["company"] == "solo_ltd" && strings.Contains(reason, "not moved: it is on london, which this run leaves out (--pbx): name both PBXs to move it")
	}
	require.True(t, held, "the job of berlin's group says why solo_ltd is not moved:\n%s", res.stderr)
	res = runPbxsync(t, dir, env, relocate(jobArgs[groupOf["london"]], dir)...)
	require.Equal(t, 0, res.code, res.stderr)
	_, ok := stateCompany(t, filepath.Join(dir, "state", "london.yaml"), "solo_ltd")
	require.True(t, ok, "left alone on london by its group's job")
	res = runPbxsync(t, dir, env, "apply", "--fleet", "fleet.yaml", "--pbx", "london", "--pbx", "berlin", "--max-move", "1", "--auto-approve")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "move solo_ltd from london to berlin: moved\n")
	solo, ok := stateCompany(t, filepath.Join(dir, "state", "berlin.yaml"), "solo_ltd")
	require.True(t, ok)
	require.Equal(t, "yes", solo.Settings.Get("vm_silent").Text(), "carried from london")
}

// ---- helpers of the fleet tests

// loadFleet loads a fleet file of the examples with env as the environment; it must
// load without an error or a warning.
func loadFleet(t *testing.T, path string, env map[string]string) *inventory.Fleet {
	t.Helper()
	fleet, warnings, err := inventory.LoadFleet(path, readFile(t, path), inventory.LoadOptions{Lookup: lookup(env)})
	require.NoError(t, err)
	require.Empty(t, warnings)
	return fleet
}

func containersOf(inv *inventory.Inventory) map[string][]string {
	out := map[string][]string{}
	for _, c := range inv.Containers {
		out[c.Label] = c.Members
	}
	return out
}

// stateCompany reads a company of a simulator's state file.
func stateCompany(t *testing.T, path, id string) (apiclient.Company, bool) {
	t.Helper()
	st, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, st.Companies, path)
	i := slices.IndexFunc(st.Companies, func(c apiclient.Company) bool { return c.ID == id })
	if i < 0 {
		return apiclient.Company{}, false
	}
	return st.Companies[i], true
}

// copyFleet copies the fleet example into a temporary directory: sim: writes the
// state files back.
func copyFleet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("fleet", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("fleet", path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		copyFile(t, path, filepath.Join(dir, rel))
		return nil
	})
	require.NoError(t, err)
	return dir
}

// applyPatch applies a patch of the example in dir as its README says, with git
// apply, and checks that patch -p1 takes it too where patch is installed.
func applyPatch(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: the README applies the patch with git apply") // CI machines have it
	}
	if _, err := exec.LookPath("patch"); err == nil {
		other := copyFleet(t)
		cmd := exec.CommandContext(t.Context(), "patch", "-p1", "--dry-run", "--batch", "-i", name)
		cmd.Dir = other
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "patch -p1 < %s:\n%s", name, out)
	}
	cmd := exec.CommandContext(t.Context(), "git", "apply", name)
	cmd.Dir = dir
	// The copy is in no repository: git apply then works as patch does.
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git apply %s:\n%s", name, out)
}

// readmeCommands returns the pbxsync command lines of a README's sh blocks, a line
// continued with \ joined to the next, without comments.
func readmeCommands(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, line := range readmeShell(t, path) {
		if strings.HasPrefix(line, "pbxsync ") {
			out = append(out, line)
		}
	}
	require.NotEmpty(t, out, "no pbxsync command in %s", path)
	return out
}

// readmeExports returns the variables the export lines of a README's sh blocks set.
func readmeExports(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range readmeShell(t, path) {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "%s: %q", path, line)
				env[k] = v
			}
		}
	}
	return env
}

// readmeShell returns the lines of a README's ```sh blocks, continuation lines
// joined, comments and surrounding spaces removed.
func readmeShell(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	inSh, cont := false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = line == "```sh"
			continue
		case !inSh:
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if joined, ok := strings.CutSuffix(line, `\`); ok {
			cont += strings.TrimSpace(joined) + " "
			continue
		}
		line, cont = strings.Join(strings.Fields(cont+line), " "), ""
		if line != "" {
			out = append(out, line)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// requireFleetMetrics checks a fleet run's metrics file: success as given for every
// PBX, a pbxsync_fleet_pbx_failed sample for every PBX, and the pbx label on every
// sample.
func requireFleetMetrics(t *testing.T, metrics map[string][]promSample, success float64) {
	t.Helper()
	var failed []string
	for _, s := range metrics["pbxsync_fleet_pbx_failed"] {
		failed = append(failed, s.Labels["pbx"])
		require.True(t, strings.HasPrefix(s.Labels["server"], "sim:"), s.Labels["server"])
		require.True(t, strings.HasSuffix(s.Labels["server"], filepath.Join("state", s.Labels["pbx"]+".yaml")), s.Labels["server"])
		require.Equal(t, 1-success, s.Value, "%s", s.Labels["pbx"])
	}
	require.Equal(t, fleetPBXs, failed)
	require.Len(t, metrics["pbxsync_fleet_moves"], 2*len(fleetPBXs))
	for _, s := range metrics["pbxsync_last_run_success"] {
		require.Equal(t, success, s.Value, "%v", s.Labels)
	}
	for name, samples := range metrics {
		for _, s := range samples {
			require.Contains(t, fleetPBXs, s.Labels["pbx"], "%s: every sample has the pbx label", name)
			require.NotEmpty(t, s.Labels["server"], name)
		}
	}
}

// gitSyncFlag returns the value of a git-sync flag written --name=value.
func gitSyncFlag(t *testing.T, args []string, name string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	require.Failf(t, "no flag", "%s in %q", name, args)
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
