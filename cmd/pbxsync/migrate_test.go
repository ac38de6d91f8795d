package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/sync"
)

const (
	// The secrets of the migration scenario: on the source, and the PIN the target
	// held for acme_hq before.
	srcAcmePIN = "13572468"
	srcBetaPIN = "86420"
	dstAcmePIN = "99999999"
)

// migrationSource is the old server: acme_hq and acme_west share a container, and so
// do delta and epsilon, and stay_one and stay_two, which are not migrated.
func migrationSource() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "US/Pacific", "nm_password", srcAcmePIN, "q_ringtime", "15"),
			co("acme_west", "Acme West", "zone", "US/Pacific"),
			co("beta", "Beta", "barge_pin", srcBetaPIN, "vm_maxmsgs", "100"),
			co("delta", "Delta", "zone", "Europe/London"),
			co("epsilon", "Epsilon", "vm_silent", "yes"),
			co("stay_one", "Stay One"),
			co("stay_two", "Stay Two"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west"}, "delta": {"delta", "epsilon"}, "stay_one": {"stay_one", "stay_two"}},
	}
}

// migrationTarget is the new server: it holds acme_hq with another name, zone and
// PIN, beta and delta as the source has them but in one container, and three
// companies of its own, two of them in a container.
func migrationTarget() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme Head Office", "zone", "Europe/London", "nm_password", dstAcmePIN),
			co("beta", "Beta", "barge_pin", srcBetaPIN, "vm_maxmsgs", "100"),
			co("delta", "Delta", "zone", "Europe/London"),
			co("other_a", "Other A", "zone", "Asia/Tokyo"),
			co("other_b", "Other B"),
			co("other_c", "Other C", "nm_password", "5555"),
		},
		Containers: map[string][]string{"beta": {"beta", "delta"}, "other_a": {"other_a", "other_b"}},
	}
}

var (
	// migrated are the companies --company acme_hq, beta and delta select on the source.
	migrated = []string{"acme_hq", "acme_west", "beta", "delta", "epsilon"}
	// selectArgs select them.
	selectArgs = []string{"--company", "acme_hq", "--company", "beta", "--company", "delta"}
	// unrelated are the target's own companies.
	unrelated = []string{"other_a", "other_b", "other_c"}
	// lacking are the migrated companies the target lacks: the only creates.
	lacking = 2
)

// migrationServers starts the two servers, each with its own key, and returns the
// environment that names the keys.
func migrationServers(t *testing.T, targetOpts ...pbxtest.Option) (src, dst *simtest.Server, vars map[string]string) {
	t.Helper()
	src = simtest.NewServer(t, pbxtest.WithState(migrationSource()), pbxtest.WithAPIKey("source-key", pbxtest.SystemAdmin()))
	dst = simtest.NewServer(t, append([]pbxtest.Option{pbxtest.WithState(migrationTarget()),
		pbxtest.WithAPIKey("target-key", pbxtest.SystemAdmin())}, targetOpts...)...)
	// PBX_API_KEY and PBX_URL are set too, and must not be used.
	vars = map[string]string{"PBX_FROM_API_KEY": "source-key", "PBX_TO_API_KEY": "target-key", "PBX_API_KEY": "wrong", "PBX_URL": "sim:unused.yaml"}
	return src, dst, vars
}

func migrateArgs(src, dst *simtest.Server, extra ...string) []string {
	return append(append([]string{"migrate", "--from", src.URL, "--to", dst.URL}, selectArgs...), extra...)
}

// requireNoMigrationSecrets checks that no PIN of the scenario was printed or written.
func requireNoMigrationSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{srcAcmePIN, srcBetaPIN, dstAcmePIN} {
			require.NotContains(t, out, secret)
		}
	}
}

// readReport decodes the migration report in data, which must be one JSON document.
func readReport(t *testing.T, data string) sync.MigrationReport {
	t.Helper()
	decodeOneJSON(t, data)
	var r sync.MigrationReport
	require.NoError(t, json.Unmarshal([]byte(data), &r))
	require.Equal(t, 1, r.FormatVersion)
	return r
}

// companyRow is a migrated company of the report, as the tests compare it.
type companyRow struct {
	Company          string
	SourceID         int64
	TargetID         int64
	Source, Target   string
	Verified         bool
	HasDifferences   bool
	HasNote          bool
	SourceIDReported bool
	TargetIDReported bool
}

func rowsOf(r sync.MigrationReport) []companyRow {
	var rows []companyRow
	for _, c := range r.Companies {
		row := companyRow{Company: c.Company, Source: c.Source, Target: c.Target, Verified: c.Verified,
			HasDifferences: len(c.Differences) > 0, HasNote: c.Note != ""}
		if c.SourceID != nil {
			row.SourceID, row.SourceIDReported = *c.SourceID, true
		}
		if c.TargetID != nil {
			row.TargetID, row.TargetIDReported = *c.TargetID, true
		}
		rows = append(rows, row)
	}
	return rows
}

// numsOf returns the numeric ids of the companies of a server's state.
func numsOf(st pbxtest.State) map[string]int64 {
	nums := map[string]int64{}
	for _, c := range st.Companies {
		nums[c.ID] = c.Num
	}
	return nums
}

// wantRows are the report's rows once the scenario is migrated: the ids as the
// servers hold them (srcNums read before the migration), the target's actions as
// its plan has them.
func wantRows(srcNums, dstNums map[string]int64, source string) []companyRow {
	target := map[string]string{
		"acme_hq": "updated", "acme_west": "created", "beta": "adopted-unchanged", "delta": "updated", "epsilon": "created",
	}
	var rows []companyRow
	for _, id := range migrated {
		rows = append(rows, companyRow{Company: id, SourceID: srcNums[id], TargetID: dstNums[id], Source: source, Target: target[id],
			Verified: true, SourceIDReported: true, TargetIDReported: true})
	}
	return rows
}

// ownCompany is what the target holds of one of its own companies.
type ownCompany struct {
	Num  int64
	View companyView
}

// unrelatedView is what the target holds of its own companies.
func unrelatedView(st pbxtest.State) map[string]ownCompany {
	view := viewOf(st, "zone", "nm_password")
	nums := numsOf(st)
	out := map[string]ownCompany{}
	for _, id := range unrelated {
		out[id] = ownCompany{Num: nums[id], View: view[id]}
	}
	return out
}

func TestMigrate(t *testing.T) {
	src, dst, vars := migrationServers(t)
	srcNums := numsOf(src.Snapshot())
	before := unrelatedView(dst.Snapshot())
	report := filepath.Join(t.TempDir(), "migration.json")

	got := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve", "--json", "--report", report)...)
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)

	// The target holds the companies as the source does: diff finds nothing.
	diff := invoke(t, "", vars, append([]string{"diff", "--from", src.URL, "--to", dst.URL}, selectArgs...)...)
	require.Equal(t, 0, diff.code, "stdout: %s\nstderr: %s", diff.stdout, diff.stderr)
	require.Equal(t, "No differences: 5 companies compared, the same on "+src.URL+" and "+dst.URL+".\n", diff.stdout)
	// No company was created twice, and the companies the target had were adopted.
	require.Equal(t, lacking, dst.Stats().Writes["create"], "writes: %v", dst.Stats().Writes)
	require.Equal(t, srcAcmePIN, mustCompany(t, dst, "acme_hq").Settings.Get("nm_password").Text(), "the secret came along")
	require.Equal(t, srcBetaPIN, mustCompany(t, dst, "beta").Settings.Get("barge_pin").Text())
	// The target's own companies are untouched, the source too.
	if diff := cmp.Diff(before, unrelatedView(dst.Snapshot())); diff != "" {
		t.Errorf("the target's own companies (-before +after):\n%s", diff)
	}
	require.Zero(t, src.Stats().TotalWrites(), "without --delete-source the source is not written")
	require.Equal(t, migrationSource().Companies[0].Name, mustCompany(t, src, "acme_hq").Name)

	// The report: on stdout and in the file, the same; ids as each server has them.
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	r := readReport(t, string(data))
	require.Equal(t, got.stdout, string(data), "--json and --report write the same document")
	if diff := cmp.Diff(wantRows(srcNums, numsOf(dst.Snapshot()), "kept"), rowsOf(r)); diff != "" {
		t.Errorf("companies of the report (-want +got):\n%s", diff)
	}
	require.True(t, r.Verified)
	require.False(t, r.Interrupted)
	require.False(t, r.DeleteSource)
	require.Equal(t, src.URL, r.From)
	require.Equal(t, dst.URL, r.To)
	require.NotNil(t, r.TargetApply)
	require.True(t, r.TargetApply.Verified)
	require.Empty(t, r.Error)

	// stderr shows the plan of both sides, never a secret.
	require.Contains(t, got.stderr, "Migration of 5 companies from "+src.URL+" to "+dst.URL+".")
	require.Contains(t, got.stderr, `+ create acme_west ("Acme West")`)
	require.Contains(t, got.stderr, "nm_password:  (sensitive) changed")
	require.Contains(t, got.stderr, "On the source, "+src.URL+": no change")
	requireNoMigrationSecrets(t, got.stdout, got.stderr, string(data))

	// Again: nothing left to do, and nothing is written.
	dst.ResetStats()
	again := invoke(t, "", vars, migrateArgs(src, dst)...)
	require.Equal(t, 1, again.code, "no terminal and no --auto-approve: %s", again.stderr)
	again = invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve")...)
	require.Equal(t, 0, again.code, "stderr: %s", again.stderr)
	require.Contains(t, again.stderr, "No changes: the server matches the inventory.")
	require.Zero(t, dst.Stats().TotalWrites())
	require.Regexp(t, `(?m)^  acme_west +\d+ +\d+ +kept +adopted-unchanged +yes$`, again.stdout)
	require.True(t, strings.HasSuffix(again.stdout, "Verified: yes\n"), "stdout: %s", again.stdout)
}

func mustCompany(t *testing.T, srv *simtest.Server, id string) apiclient.Company {
	t.Helper()
	c, ok := srv.Company(id)
	require.True(t, ok, "%s is not on the server", id)
	return c
}

func TestMigrateDeleteSource(t *testing.T) {
	failUpdates := pbxtest.WithFaults(pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"}})
	tests := []struct {
		name       string
		targetOpts []pbxtest.Option
		maxDelete  string
		wantCode   int
		wantError  string // in the last line of stderr and the report's error
		wantSource []string
		wantRows   string // the source action of every row
	}{
		{"within the budget", nil, "5", 0, "", []string{"stay_one", "stay_two"}, "deleted"},
		{"over the budget", nil, "4", 3,
			"refused before any write: the migration deletes 5 companies from the source, more than --max-delete allows (4)",
			[]string{"acme_hq", "acme_west", "beta", "delta", "epsilon", "stay_one", "stay_two"}, "kept"},
		{"target not verified", []pbxtest.Option{failUpdates}, "5", 1,
			"the migration was not verified: on the target, apply did not succeed",
			[]string{"acme_hq", "acme_west", "beta", "delta", "epsilon", "stay_one", "stay_two"}, "kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst, vars := migrationServers(t, tt.targetOpts...)
			srcNums := numsOf(src.Snapshot())
			report := filepath.Join(t.TempDir(), "migration.json")
			metrics := filepath.Join(t.TempDir(), "migrate.prom")
			got := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve", "--delete-source", "--max-delete", tt.maxDelete, "--report", report, "--metrics-file", metrics)...)
			require.Equal(t, tt.wantCode, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)

			var left []string
			for _, c := range src.Snapshot().Companies {
				left = append(left, c.ID)
			}
			if diff := cmp.Diff(tt.wantSource, left); diff != "" {
				t.Errorf("companies left on the source (-want +got):\n%s", diff)
			}
			data, err := os.ReadFile(report)
			require.NoError(t, err)
			r := readReport(t, string(data))
			require.True(t, r.DeleteSource)
			verified, deleted := 0, 0
			for _, c := range r.Companies {
				verified += map[bool]int{true: 1}[c.Verified]
				deleted += map[bool]int{true: 1}[c.Source == "deleted"]
			}
			require.Equal(t, tt.wantCode == 0, verified == len(migrated) && deleted == len(migrated))
			requireMigrateMetrics(t, metrics, apiclient.ServerLabel(src.URL), apiclient.ServerLabel(dst.URL), map[string]float64{
				"pbxsync_migrate_last_run_success":         map[bool]float64{true: 1}[tt.wantCode == 0],
				"pbxsync_migrate_source_deleted_companies": float64(deleted),
				"pbxsync_migrate_verified_companies":       float64(verified),
				"pbxsync_migrate_errors":                   float64(max(len(migrated)-verified, map[bool]int{false: 1}[tt.wantCode == 0])),
				"pbxsync_migrate_interrupted":              0,
			})
			for _, c := range r.Companies {
				require.Equal(t, tt.wantRows, c.Source, "%s", c.Company)
				require.Equal(t, srcNums[c.Company], *c.SourceID)
			}
			require.Len(t, r.Companies, len(migrated))
			requireNoMigrationSecrets(t, got.stdout, got.stderr, string(data))
			if tt.wantCode == 0 {
				require.Equal(t, len(migrated), src.Stats().Writes["delete"])
				require.True(t, r.Verified)
				if diff := cmp.Diff(wantRows(srcNums, numsOf(dst.Snapshot()), "deleted"), rowsOf(r)); diff != "" {
					t.Errorf("companies of the report (-want +got):\n%s", diff)
				}
				require.Contains(t, got.stderr, "Plan: 5 to delete.")
				return
			}
			require.Zero(t, src.Stats().TotalWrites(), "nothing deleted from the source: %v", src.Stats().Writes)
			require.False(t, r.Verified)
			require.Contains(t, r.Error, tt.wantError)
			require.Contains(t, lines(got.stderr)[len(lines(got.stderr))-1], tt.wantError)
			if tt.wantCode == 3 {
				require.Zero(t, dst.Stats().TotalWrites(), "refused before any write on either side")
				require.Empty(t, got.stdout)
				require.Nil(t, r.TargetApply)
				return
			}
			require.Contains(t, got.stderr, "nothing was deleted from the source")
			require.Contains(t, got.stdout, "Verified: no\n")
			require.NotNil(t, r.TargetApply)
			require.False(t, r.TargetApply.Verified)
		})
	}
}

// TestMigrateSourceChanged changes a company on the source while the person reads
// the plan: its container group is kept on the source, the others are deleted.
func TestMigrateSourceChanged(t *testing.T) {
	src, dst, vars := migrationServers(t)
	stdinR, stdinW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	var stdout string
	go func() {
		code, out := invokeWith(t.Context(), ttyReader{stdinR}, &stderr, vars, migrateArgs(src, dst, "--delete-source", "--max-delete", "5")...)
		stdout = out
		done <- code
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Enter a value:") }, 10*time.Second, time.Millisecond)
	require.Zero(t, dst.Stats().TotalWrites(), "nothing is written before the answer")
	updateZone(t, src, "epsilon", "Asia/Tokyo")
	_, err := io.WriteString(stdinW, "yes\n")
	require.NoError(t, err)
	code := <-done

	require.Equal(t, 1, code, "stderr: %s", stderr.String())
	var left []string
	for _, c := range src.Snapshot().Companies {
		left = append(left, c.ID)
	}
	require.Equal(t, []string{"delta", "epsilon", "stay_one", "stay_two"}, left, "delta is kept with epsilon, its container-mate")
	require.Contains(t, stderr.String(), "the target is verified, but 2 companies were not deleted from the source (0 failed, 2 kept)")
	require.Regexp(t, `(?m)^  delta +\d+ +\d+ +kept +updated +yes$`, stdout)
	require.Regexp(t, `(?m)^  acme_hq +\d+ +\d+ +deleted +updated +yes$`, stdout)
	require.Contains(t, stdout, "  delta on the source: kept with its container: epsilon changed on the source since it was read (zone); run again\n")
}

// TestMigrateInterrupted cancels a migration once the target has started to change,
// then runs it again: the second run adopts what the first created and finishes.
func TestMigrateInterrupted(t *testing.T) {
	t.Parallel()
	src, dst, vars := migrationServers(t, pbxtest.WithFaults(pbxtest.Faults{Latency: 100 * time.Millisecond}))
	report := filepath.Join(t.TempDir(), "migration.json")
	args := migrateArgs(src, dst, "--auto-approve", "--delete-source", "--max-delete", "5", "--parallelism", "1", "--report", report)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	var stderr lockedBuffer
	go func() {
		code, _ := invokeWith(ctx, strings.NewReader(""), &stderr, vars, args...)
		done <- code
	}()
	require.Eventually(t, func() bool { return dst.Stats().TotalWrites() > 0 }, 30*time.Second, time.Millisecond, "no change was made")
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("migrate did not return after the interrupt")
	}
	require.Equal(t, 1, code, "stderr: %s", stderr.String())
	require.Regexp(t, `pbxsync: interrupted: \d+ of \d+ changes made on the target, none on the source; run migrate again to finish\n$`, stderr.String())
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	r := readReport(t, string(data))
	require.True(t, r.Interrupted)
	require.False(t, r.Verified)
	require.NotNil(t, r.TargetApply)
	require.NotZero(t, r.TargetApply.Summary.NotRun, "the interrupt came too late to test anything")
	require.Zero(t, src.Stats().TotalWrites(), "nothing deleted from the source")
	firstCreates := dst.Stats().Writes["create"]

	// Run again: it finishes the job.
	dst.SetFaults(pbxtest.Faults{})
	got := invoke(t, "", vars, args...)
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Equal(t, lacking, dst.Stats().Writes["create"], "no company created twice (%d in the first run)", firstCreates)
	require.Equal(t, len(migrated), src.Stats().Writes["delete"])
	data, err = os.ReadFile(report)
	require.NoError(t, err)
	r = readReport(t, string(data))
	require.True(t, r.Verified)
	require.False(t, r.Interrupted)

	// The target holds what the source held (the source's copy is gone: compare
	// with a server seeded as it was).
	orig := simtest.NewServer(t, pbxtest.WithState(migrationSource()), pbxtest.WithAPIKey("source-key", pbxtest.SystemAdmin()))
	diff := invoke(t, "", vars, append([]string{"diff", "--from", orig.URL, "--to", dst.URL}, selectArgs...)...)
	require.Equal(t, 0, diff.code, "stdout: %s\nstderr: %s", diff.stdout, diff.stderr)
}

func TestMigrateConfirmation(t *testing.T) {
	tests := []struct {
		name      string
		stdin     io.Reader
		wantCode  int
		wantErr   string
		wantReads bool
	}{
		{"no terminal", strings.NewReader("yes\n"), 1,
			"standard input is not a terminal, so no one can confirm: pass --auto-approve to migrate without confirmation", false},
		{"answer no", ttyReader{strings.NewReader("no\n")}, 1, "nothing was changed: only the answer yes applies", true},
		{"no answer", ttyReader{strings.NewReader("")}, 1, "nothing was changed: no answer on standard input", true},
		{"answer yes", ttyReader{strings.NewReader("yes\n")}, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst, vars := migrationServers(t)
			var stderr lockedBuffer
			code, stdout := invokeWith(t.Context(), tt.stdin, &stderr, vars, migrateArgs(src, dst)...)
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			require.Zero(t, src.Stats().TotalWrites())
			if tt.wantCode == 0 {
				require.Equal(t, lacking, dst.Stats().Writes["create"])
				require.Contains(t, stdout, "Verified: yes\n")
				return
			}
			require.Empty(t, stdout)
			require.Zero(t, dst.Stats().TotalWrites())
			require.Contains(t, lines(stderr.String())[len(lines(stderr.String()))-1], tt.wantErr)
			if !tt.wantReads {
				require.Zero(t, src.Stats().TotalRequests()+dst.Stats().TotalRequests(), "refused before any read")
			}
		})
	}
}

// TestMigrateRehearsal migrates into a copy of the target run by the simulator: the
// plan is the one the real target gets, and the real target is not written.
func TestMigrateRehearsal(t *testing.T) {
	src, dst, vars := migrationServers(t)
	snap := filepath.Join(t.TempDir(), "target-copy.yaml")
	exported := invoke(t, "", map[string]string{"PBX_URL": dst.URL, "PBX_API_KEY": "target-key"}, "export", "-o", snap, "--include-secrets")
	require.Equal(t, 0, exported.code, "stderr: %s", exported.stderr)

	rehearsal := invoke(t, "", vars, append([]string{"migrate", "--from", src.URL, "--to", "sim:" + snap, "--auto-approve"}, selectArgs...)...)
	require.Equal(t, 0, rehearsal.code, "stderr: %s", rehearsal.stderr)
	require.Zero(t, dst.Stats().TotalWrites(), "the real target is not written")
	require.Zero(t, src.Stats().TotalWrites())
	st, err := pbxtest.ReadStateFile(snap)
	require.NoError(t, err)
	require.Len(t, st.Companies, len(migrationTarget().Companies)+lacking, "the copy holds the migrated companies")

	real := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve")...)
	require.Equal(t, 0, real.code, "stderr: %s", real.stderr)
	if diff := cmp.Diff(changeHeads(rehearsal.stderr), changeHeads(real.stderr)); diff != "" {
		t.Errorf("the rehearsal planned otherwise (-rehearsal +real):\n%s", diff)
	}
	require.NotEmpty(t, changeHeads(real.stderr))
}

// TestMigrateSkipsFinished reruns a migration by --company after the first deleted
// the companies from the source: they are on the target, and left out.
func TestMigrateSkipsFinished(t *testing.T) {
	src, dst, vars := migrationServers(t)
	first := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve", "--delete-source", "--max-delete", "5")...)
	require.Equal(t, 0, first.code, "stderr: %s", first.stderr)
	src.ResetStats()
	dst.ResetStats()

	again := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve", "--delete-source", "--max-delete", "5", "--json")...)
	require.Equal(t, 0, again.code, "stderr: %s", again.stderr)
	require.Regexp(t, `level=WARN msg="not on the source, but on the target: migrated already, left out" company=acme_hq\n`, again.stderr)
	require.Contains(t, again.stderr, "Nothing to migrate: no company of the source is selected.")
	r := readReport(t, again.stdout)
	require.Empty(t, r.Companies)
	require.True(t, r.Verified)
	require.Zero(t, src.Stats().TotalWrites()+dst.Stats().TotalWrites())

	gone := invoke(t, "", vars, "migrate", "--from", src.URL, "--to", dst.URL, "--company", "nowhere", "--company", "acme_hq", "--auto-approve")
	require.Equal(t, 1, gone.code)
	requireOneErrorLine(t, lines(gone.stderr)[len(lines(gone.stderr))-1], `company "nowhere" is not on the source (nor on the target)`)
}

func TestMigrateUsageErrors(t *testing.T) {
	src, dst, vars := migrationServers(t)
	withoutTo := map[string]string{"PBX_FROM_API_KEY": "source-key", "PBX_API_KEY": "target-key"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no from", []string{"--to", dst.URL, "--auto-approve"}, vars, "no source: pass --from URL (or sim:FILE)"},
		{"no to", []string{"--from", src.URL, "--auto-approve"}, vars, "no target: pass --to URL (or sim:FILE)"},
		{"url", []string{"--from", src.URL, "--to", dst.URL, "--url", dst.URL, "--auto-approve"}, vars,
			"--url names one server: name the two with --from and --to"},
		{"same server", []string{"--from", src.URL, "--to", src.URL, "--auto-approve"}, vars, "--from and --to name one server"},
		{"same server, spelt another way", []string{"--from", src.URL, "--to", strings.Replace(src.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1) + "/", "--auto-approve"}, vars,
			"--from and --to name one server"},
		{"same server, a short form", []string{"--from", src.URL, "--to", strings.Replace(src.URL, "127.0.0.1", "127.1", 1), "--delete-source", "--auto-approve"}, vars,
			"--from and --to name one server"},
		{"parallelism", []string{"--from", src.URL, "--to", dst.URL, "--parallelism", "0", "--auto-approve"}, vars, "invalid --parallelism 0: at least 1"},
		{"max-delete", []string{"--from", src.URL, "--to", dst.URL, "--max-delete", "-1", "--auto-approve"}, vars, "invalid --max-delete -1: 0 or more"},
		{"match", []string{"--from", src.URL, "--to", dst.URL, "--match", "a(", "--auto-approve"}, vars, "invalid --match"},
		{"no target credentials", []string{"--from", src.URL, "--to", dst.URL, "--auto-approve"}, withoutTo,
			"--to: no credentials: set PBX_TO_API_KEY, or PBX_TO_USERNAME and PBX_TO_PASSWORD"},
		{"bad source URL", []string{"--from", "ftp://old", "--to", dst.URL, "--auto-approve"}, vars, "--from: invalid server URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, "", tt.env, append([]string{"migrate"}, tt.args...)...)
			require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			require.Empty(t, got.stdout)
			requireOneErrorLine(t, got.stderr, tt.want)
		})
	}
	require.Zero(t, src.Stats().TotalRequests()+dst.Stats().TotalRequests())
}

func TestMigrateHelp(t *testing.T) {
	got := invoke(t, "", nil, "migrate", "--help")
	require.Equal(t, 0, got.code)
	for _, want := range []string{
		"migrate --from URL --to URL", "--company ID", "--match REGEX", "--auto-approve", "--delete-source",
		"--max-delete N", "--report FILE", "--parallelism N", "--json",
		"PBX_FROM_API_KEY", "PBX_TO_PASSWORD", "A company the target already has is adopted and updated,",
		"pbxsync migrate --from https://old-pbx.example.com --to sim:target-copy.yaml",
		"Exit codes",
	} {
		require.Contains(t, got.stdout, want)
	}
	root := invoke(t, "", nil, "--help")
	require.Regexp(t, `\n  migrate +Copy companies from one server to another, and verify the copy\n`, root.stdout)
}

// TestMigrateInvalidSource refuses, before any write, a source whose companies do not
// make a valid inventory or whose secrets would share a variable.
func TestMigrateInvalidSource(t *testing.T) {
	tests := []struct {
		name    string
		company apiclient.Company
		want    []string // on stderr
	}{
		{"a name the API does not allow", co("acme_east", "Acme & Co"),
			[]string{`>:6:11: name "Acme & Co" is not allowed`, "pbxsync: the source's companies are not a valid inventory: 1 error: nothing was written"}},
		{"a value the field does not allow", co("acme_east", "Acme East", "zone", "Mars/Olympus"),
			[]string{`zone: "Mars/Olympus" is not a time zone`, "pbxsync: the source's companies are not a valid inventory: 1 error: nothing was written"}},
		{"secrets that would share a variable", co("ACME_HQ", "Acme Upper", "nm_password", "1111"),
			[]string{`pbxsync: companies "ACME_HQ" and "acme_hq" would share the secret variable ACME_HQ_NM_PASSWORD`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := migrationSource()
			st.Companies = append(st.Companies, tt.company)
			src := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithAPIKey("source-key", pbxtest.SystemAdmin()))
			dst := simtest.NewServer(t, pbxtest.WithState(migrationTarget()), pbxtest.WithAPIKey("target-key", pbxtest.SystemAdmin()))
			vars := map[string]string{"PBX_FROM_API_KEY": "source-key", "PBX_TO_API_KEY": "target-key"}
			got := invoke(t, "", vars, "migrate", "--from", src.URL, "--to", dst.URL, "--match", "(?i)^acme", "--auto-approve")
			require.Equal(t, 1, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stdout)
			for _, want := range tt.want {
				require.Contains(t, got.stderr, want)
			}
			require.Zero(t, src.Stats().TotalWrites()+dst.Stats().TotalWrites())
			requireNoMigrationSecrets(t, got.stderr)
			require.NotContains(t, got.stderr, "1111")
		})
	}
}

// TestMigrateSharedContainerOnTarget migrates acme into a target where acme_hq shares
// a container with a company of the target's own, which pbxsync never moves: the
// plan warns, the copy is not verified (acme would share its container with another
// tenant), and nothing is deleted from the source.
func TestMigrateSharedContainerOnTarget(t *testing.T) {
	target := migrationTarget()
	target.Containers["acme_hq"] = []string{"acme_hq", "other_c"}
	src := simtest.NewServer(t, pbxtest.WithState(migrationSource()), pbxtest.WithAPIKey("source-key", pbxtest.SystemAdmin()))
	dst := simtest.NewServer(t, pbxtest.WithState(target), pbxtest.WithAPIKey("target-key", pbxtest.SystemAdmin()))
	vars := map[string]string{"PBX_FROM_API_KEY": "source-key", "PBX_TO_API_KEY": "target-key"}
	otherBefore := mustCompany(t, dst, "other_c")

	got := invoke(t, "", vars, migrateArgs(src, dst, "--auto-approve", "--delete-source", "--max-delete", "5", "--json")...)
	require.Equal(t, 1, got.code, "stderr: %s", got.stderr)
	require.Contains(t, got.stderr, "! unmanaged company other_c shares container acme_hq with managed companies acme_hq, acme_west")
	require.Contains(t, got.stderr, "pbxsync: the migration was not verified: 2 companies differ on the target from the source (acme_hq, acme_west); nothing was deleted from the source")
	require.Zero(t, src.Stats().TotalWrites())
	require.Equal(t, otherBefore, mustCompany(t, dst, "other_c"), "the target's own company is not changed")

	r := readReport(t, got.stdout)
	require.False(t, r.Verified)
	differences := map[string][]string{}
	for _, c := range r.Companies {
		require.Equal(t, "kept", c.Source)
		require.Equal(t, len(c.Differences) == 0, c.Verified, "%s", c.Company)
		differences[c.Company] = c.Differences
	}
	want := map[string][]string{"acme_hq": {"container"}, "acme_west": {"container"}, "beta": nil, "delta": nil, "epsilon": nil}
	if diff := cmp.Diff(want, differences); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
}

// requireMigrateMetrics reads migrate's metrics file: each of want's gauges has one
// sample, labelled with both sides, of the value wanted.
func requireMigrateMetrics(t *testing.T, path, from, to string, want map[string]float64) {
	t.Helper()
	got := readMetrics(t, path)
	for name, value := range want {
		samples := got[name]
		require.Len(t, samples, 1, "%s", name)
		require.Equal(t, map[string]string{"from": from, "to": to}, samples[0].labels, "%s", name)
		require.Equal(t, value, samples[0].value, "%s", name)
	}
	require.Len(t, got["pbxsync_migrate_companies"], 6, "one sample per state of the target")
}
