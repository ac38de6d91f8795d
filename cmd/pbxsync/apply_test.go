package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// ttyInfo describes a terminal: a character device.
type ttyInfo struct{}

func (ttyInfo) Name() string       { return "tty" }
func (ttyInfo) Size() int64        { return 0 }
func (ttyInfo) Mode() fs.FileMode  { return fs.ModeDevice | fs.ModeCharDevice | 0o620 }
func (ttyInfo) ModTime() time.Time { return time.Time{} }
func (ttyInfo) IsDir() bool        { return false }
func (ttyInfo) Sys() any           { return nil }

// ttyReader is standard input on a terminal, where a person types the answer.
type ttyReader struct{ io.Reader }

func (ttyReader) Stat() (os.FileInfo, error) { return ttyInfo{}, nil }

// lockedBuffer is a stream that a progress line and a logger may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ttyWriter is standard error on a terminal.
type ttyWriter struct{ *lockedBuffer }

func (ttyWriter) Stat() (os.FileInfo, error) { return ttyInfo{}, nil }

// invokeWith runs pbxsync with the given streams, for a terminal or an interrupt.
func invokeWith(ctx context.Context, stdin io.Reader, stderr io.Writer, vars map[string]string, args ...string) (int, string) {
	var stdout bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := run(ctx, args, stdin, &stdout, stderr, lookup, fastRetries)
	return code, stdout.String()
}

// companyView is what a server holds of one company, as a test compares it.
type companyView struct {
	Name     string
	Settings map[string]string // the fields asked for, as JSON
	Mates    []string          // the members of its container, itself included
}

// viewOf returns every company of st with the given fields.
func viewOf(st pbxtest.State, fields ...string) map[string]companyView {
	mates := map[string][]string{}
	for _, members := range st.Containers {
		for _, id := range members {
			mates[id] = members
		}
	}
	out := map[string]companyView{}
	for _, c := range st.Companies {
		v := companyView{Name: c.Name, Settings: map[string]string{}, Mates: mates[c.ID]}
		if v.Mates == nil {
			v.Mates = []string{c.ID}
		}
		for _, f := range fields {
			v.Settings[f] = c.Settings.Get(f).Reveal().JSON()
		}
		out[c.ID] = v
	}
	return out
}

// mixedApplied is the server of mixedState once mixedInventory is applied.
func mixedApplied() map[string]companyView {
	settings := func(zone, pin string) map[string]string {
		return map[string]string{"zone": strconv.Quote(zone), "nm_password": strconv.Quote(pin)}
	}
	acme := []string{"acme_hq", "acme_west"}
	de := []string{"delta", "epsilon"}
	return map[string]companyView{
		"acme_hq":   {Name: "Acme HQ", Settings: settings("US/Pacific", acmePIN), Mates: acme},
		"acme_west": {Name: "Acme West", Settings: settings("US/Pacific", ""), Mates: acme},
		"beta":      {Name: "Beta", Settings: settings("Europe/London", ""), Mates: []string{"beta"}},
		"delta":     {Name: "Delta", Settings: settings("", ""), Mates: de},
		"epsilon":   {Name: "Epsilon", Settings: settings("", ""), Mates: de},
		"gamma":     {Name: "Gamma", Settings: settings("", gammaPIN), Mates: []string{"gamma"}},
		"partner":   {Name: "Partner", Settings: settings("", ""), Mates: []string{"partner"}},
	}
}

// applyResult is apply's JSON result as a script reads it.
type applyResult struct {
	FormatVersion int `json:"format_version"`
	Changes       []resultChange
	Summary       map[string]int
	Verified      bool
	Drift         []struct{ Company, Field, Want, Got string }
	Interrupted   bool
	Duration      *float64 `json:"duration_seconds"`
	Error         string
}

type resultChange struct {
	Action, Company, Target, Status, Error string
	Round                                  int
}

func decodeResult(t *testing.T, data string) applyResult {
	t.Helper()
	decodeOneJSON(t, data)
	var res applyResult
	require.NoError(t, json.Unmarshal([]byte(data), &res))
	require.Equal(t, 1, res.FormatVersion)
	require.NotNil(t, res.Duration, "duration_seconds is missing: %s", data)
	return res
}

// requireNoSecrets checks that no PIN of the mixed scenario was printed.
func requireNoSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{acmePIN, gammaPIN, serverPIN} {
			require.NotContains(t, out, secret)
		}
	}
}

func TestApplyConverges(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		check func(t *testing.T, got outcome)
	}{
		{name: "text", check: func(t *testing.T, got outcome) {
			if diff := cmp.Diff("Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", got.stdout); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			// Not a terminal: the plan, then a log line for each change.
			require.True(t, strings.HasPrefix(got.stderr, "Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group."), "stderr: %s", got.stderr)
			for _, want := range []string{
				"level=INFO msg=change action=create company=gamma status=ok",
				"level=INFO msg=change action=update company=acme_hq status=ok",
				"level=INFO msg=change action=ungroup company=beta status=ok",
				"level=INFO msg=change action=group company=epsilon target=delta status=ok",
			} {
				require.Contains(t, got.stderr, want)
			}
			require.NotContains(t, got.stderr, "\r")
		}},
		{name: "json", flags: []string{"--json"}, check: func(t *testing.T, got outcome) {
			res := decodeResult(t, got.stdout)
			want := []resultChange{
				{Action: "create", Company: "gamma", Status: "ok"},
				{Action: "update", Company: "acme_hq", Status: "ok"},
				{Action: "ungroup", Company: "beta", Status: "ok"},
				{Action: "group", Company: "epsilon", Target: "delta", Status: "ok"},
			}
			if diff := cmp.Diff(want, res.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"ok": 4, "failed": 0, "skipped": 0, "not_run": 0}, res.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			require.True(t, res.Verified)
			require.False(t, res.Interrupted)
			require.Empty(t, res.Drift)
			require.Empty(t, res.Error)
			require.Contains(t, got.stdout, `"nm_password": "(sensitive)"`)
		}},
		{name: "json logs", flags: []string{"--log-format", "json"}, check: func(t *testing.T, got outcome) {
			// Standard error holds JSON lines only: the plan is logged, not drawn.
			for _, l := range lines(got.stderr) {
				require.True(t, json.Valid([]byte(l)), "not a JSON line: %q", l)
			}
			require.Contains(t, got.stderr, `"msg":"plan","summary":"Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group."`)
			require.Contains(t, got.stderr, `"msg":"change","action":"group","company":"epsilon","target":"delta","status":"ok"`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
			vars := adminEnv(srv, mixedEnv...)

			got := invoke(t, "", vars, append([]string{"apply", "-f", inv, "--auto-approve"}, tt.flags...)...)
			require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			tt.check(t, got)
			requireNoSecrets(t, got.stdout, got.stderr)
			if diff := cmp.Diff(mixedApplied(), viewOf(srv.Snapshot(), "zone", "nm_password")); diff != "" {
				t.Errorf("server (-want +got):\n%s", diff)
			}

			again := invoke(t, "", vars, "plan", "-f", inv, "--detailed-exitcode")
			require.Equal(t, 0, again.code, "a second plan finds changes: %s", again.stdout)
		})
	}
}

func TestApplySimulator(t *testing.T) {
	original, err := os.ReadFile("../../examples/quickstart/pbx.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	state := writeFile(t, dir, "pbx.yaml", string(original))
	const inv = "../../examples/quickstart/inventory.yaml"

	got := invoke(t, "", nil, "apply", "-f", inv, "--url", "sim:"+state, "--auto-approve")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Equal(t, "Apply: 5 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", got.stdout)

	// The state file was written back: a new simulator from it has nothing to do.
	again := invoke(t, "", nil, "plan", "-f", inv, "--url", "sim:"+state, "--detailed-exitcode")
	require.Equal(t, 0, again.code, "stdout: %s\nstderr: %s", again.stdout, again.stderr)
	got = invoke(t, "", nil, "apply", "-f", inv, "--url", "sim:"+state, "--auto-approve")
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	require.Equal(t, "No changes.\n", got.stdout)
}

func TestApplyConfirmation(t *testing.T) {
	tests := []struct {
		name      string
		state     pbxtest.State
		inventory string
		stdin     io.Reader // nil for the inventory itself (-f -)
		flags     []string
		wantCode  int
		wantOut   string
		wantErr   []string // in stderr
		noErr     []string // not in stderr
		wantWrite bool
		offline   bool // refused before any request
	}{
		{name: "no terminal", state: mixedState(), inventory: mixedInventory, stdin: strings.NewReader("yes\n"),
			wantCode: 1, wantErr: []string{"pbxsync: standard input is not a terminal, so no one can confirm: pass --auto-approve"},
			offline: true},
		{name: "inventory on stdin without --auto-approve", state: mixedState(), inventory: mixedInventory,
			flags: []string{"-f", "-"}, wantCode: 1, wantErr: []string{"pass --auto-approve"}, offline: true},
		{name: "inventory on stdin with --auto-approve", state: mixedState(), inventory: mixedInventory,
			flags: []string{"-f", "-", "--auto-approve"}, wantCode: 0, wantOut: "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n",
			wantWrite: true},
		{name: "terminal answers yes", state: mixedState(), inventory: mixedInventory, stdin: ttyReader{strings.NewReader("yes\n")},
			wantCode: 0, wantOut: "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n",
			wantErr: []string{"Only 'yes' applies."}, noErr: []string{"Apply cancelled."}, wantWrite: true},
		{name: "terminal answers no", state: mixedState(), inventory: mixedInventory, stdin: ttyReader{strings.NewReader("no\n")},
			wantCode: 1, wantErr: []string{"Only 'yes' applies.", "Apply cancelled.\n", "pbxsync: nothing was changed: only the answer yes applies"}},
		{name: "terminal answers YES", state: mixedState(), inventory: mixedInventory, stdin: ttyReader{strings.NewReader("YES\n")},
			wantCode: 1, wantErr: []string{"Apply cancelled."}},
		{name: "terminal answers y", state: mixedState(), inventory: mixedInventory, stdin: ttyReader{strings.NewReader("y\n")},
			wantCode: 1, wantErr: []string{"Apply cancelled."}},
		{name: "terminal without an answer", state: mixedState(), inventory: mixedInventory, stdin: ttyReader{strings.NewReader("")},
			wantCode: 1, wantErr: []string{"Apply cancelled.", "no answer on standard input: pass --auto-approve"}},
		{name: "terminal, no changes", state: equalState(), inventory: equalInventory, stdin: ttyReader{strings.NewReader("")},
			wantCode: 0, wantOut: "No changes.\n", noErr: []string{"Only 'yes' applies.", "Apply cancelled."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tt.state))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", tt.inventory)
			stdin, args := tt.stdin, []string{"apply", "-f", inv}
			if stdin == nil {
				stdin, args = strings.NewReader(tt.inventory), []string{"apply"}
			}
			var stderr lockedBuffer
			code, stdout := invokeWith(t.Context(), stdin, &stderr, adminEnv(srv, mixedEnv...), append(args, tt.flags...)...)
			require.Equal(t, tt.wantCode, code, "stdout: %s\nstderr: %s", stdout, stderr.String())
			require.Equal(t, tt.wantOut, stdout)
			for _, want := range tt.wantErr {
				require.Contains(t, stderr.String(), want)
			}
			for _, unwanted := range tt.noErr {
				require.NotContains(t, stderr.String(), unwanted)
			}
			if tt.wantWrite {
				require.NotZero(t, srv.Stats().TotalWrites())
			} else {
				require.Zero(t, srv.Stats().TotalWrites(), "writes: %v", srv.Stats().Writes)
			}
			if tt.offline {
				require.Zero(t, srv.Stats().TotalRequests(), "requests: %v", srv.Stats().Requests)
			}
		})
	}
}

func TestApplyProgressOnTerminal(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	stderr := ttyWriter{&lockedBuffer{}}
	code, stdout := invokeWith(t.Context(), strings.NewReader(""), stderr, adminEnv(srv, mixedEnv...), "apply", "-f", inv, "--auto-approve")
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	require.Equal(t, "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", stdout)
	require.Regexp(t, `\rApplying: 4/4 done, 0 failed, [0-9.]+ requests/s \([0-9]+ in flight at most\), [0-9]+s\x1b\[K\n$`, stderr.String())
	require.Regexp(t, `msg=parallelism server=127.0.0.1:[0-9]+ limit=[0-9]+ mode=auto\n`, stderr.String(), "the limit found, in the log")
	require.NotContains(t, stderr.String(), "msg=change", "a terminal gets a progress line, not log lines")
}

func TestApplyCompanyAdminDrift(t *testing.T) {
	const soloKey = "solo-admin-key"
	st := pbxtest.State{Companies: []apiclient.Company{co("solo", "Solo"), co("other", "Other")}}
	inventory := `version: 1
companies:
  solo:
    name: Solo
    settings:
      nocallrec: true
`
	tests := []struct {
		name  string
		flags []string
		check func(t *testing.T, stdout string)
	}{
		{name: "text", check: func(t *testing.T, stdout string) {
			want := "Apply: 1 ok, 0 failed, 0 skipped, 0 not run.\n" +
				"Not kept by the server (written with success, read back different):\n" +
				"  solo: nocallrec: wanted true, kept null\n" +
				"Verified: no\n"
			if diff := cmp.Diff(want, stdout); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		}},
		{name: "json", flags: []string{"--json"}, check: func(t *testing.T, stdout string) {
			res := decodeResult(t, stdout)
			require.False(t, res.Verified)
			if diff := cmp.Diff([]resultChange{{Action: "update", Company: "solo", Status: "ok"}}, res.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			require.Len(t, res.Drift, 1)
			require.Equal(t, struct{ Company, Field, Want, Got string }{"solo", "nocallrec", "true", "null"}, res.Drift[0])
			require.Contains(t, res.Error, "the server did not keep 1 value")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithAPIKey(soloKey, pbxtest.CompanyAdmin("solo")))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", inventory)
			vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": soloKey}
			got := invoke(t, "", vars, append([]string{"apply", "-f", inv, "--auto-approve"}, tt.flags...)...)
			require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			tt.check(t, got.stdout)
			require.Equal(t, "pbxsync: apply did not succeed: the server did not keep 1 value", lines(got.stderr)[len(lines(got.stderr))-1])
			solo, _ := srv.Company("solo")
			require.Equal(t, "null", solo.Settings.Get("nocallrec").JSON(), "the server ignores the switch for a company administrator")
		})
	}
}

func TestApplyFailingChange(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithFaults(pbxtest.Faults{
		Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"},
	}))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	report := filepath.Join(dir, "report.json")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "apply", "-f", inv, "--auto-approve", "--rounds", "0", "--report", report)
	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)

	want := "Apply: 2 ok, 2 failed, 0 skipped, 0 not run.\n" +
		"Failed:\n" +
		`  create gamma: created, but its settings were not written: update of "gamma": server refused: temporarily unavailable, try again` + "\n" +
		"  update acme_hq: server refused: temporarily unavailable, try again\n" +
		"Still different on the server:\n" +
		"  update acme_hq\n" +
		"  update gamma\n" +
		"Verified: no\n"
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	require.Contains(t, got.stderr, "level=WARN msg=change action=update company=acme_hq status=failed error=\"server refused: temporarily unavailable, try again\"")
	require.Equal(t, "pbxsync: apply did not succeed: 2 changes failed, 2 changes still to make", lines(got.stderr)[len(lines(got.stderr))-1])
	requireNoSecrets(t, got.stdout, got.stderr)

	// The others were made.
	view := viewOf(srv.Snapshot(), "zone")
	require.Equal(t, []string{"beta"}, view["beta"].Mates)
	require.Equal(t, []string{"delta", "epsilon"}, view["epsilon"].Mates)
	require.Equal(t, `"Europe/London"`, view["acme_hq"].Settings["zone"])
	require.Equal(t, "Gamma", view["gamma"].Name)

	data, err := os.ReadFile(report)
	require.NoError(t, err)
	res := decodeResult(t, string(data))
	wantChanges := []resultChange{
		{Action: "create", Company: "gamma", Status: "failed", Error: `created, but its settings were not written: update of "gamma": server refused: temporarily unavailable, try again`},
		{Action: "update", Company: "acme_hq", Status: "failed", Error: "server refused: temporarily unavailable, try again"},
		{Action: "ungroup", Company: "beta", Status: "ok"},
		{Action: "group", Company: "epsilon", Target: "delta", Status: "ok"},
	}
	if diff := cmp.Diff(wantChanges, res.Changes); diff != "" {
		t.Errorf("report's changes (-want +got):\n%s", diff)
	}
	require.False(t, res.Verified)
	require.Equal(t, "apply did not succeed: 2 changes failed, 2 changes still to make", res.Error)
}

func TestApplyPlanFile(t *testing.T) {
	tests := []struct {
		name string
		// change runs between plan and apply; it returns the environment of the apply.
		change    func(t *testing.T, srv *simtest.Server, inv string) map[string]string
		wantCode  int
		wantErr   string // the one pbxsync: line; "" for success
		wantApply bool
	}{
		{name: "fresh", wantCode: 0, wantApply: true,
			change: func(t *testing.T, srv *simtest.Server, _ string) map[string]string {
				return adminEnv(srv, mixedEnv...)
			}},
		{name: "an untouched company changed", wantCode: 0, wantApply: true,
			change: func(t *testing.T, srv *simtest.Server, _ string) map[string]string {
				updateZone(t, srv, "partner", "Europe/Paris")
				return adminEnv(srv, mixedEnv...)
			}},
		{name: "a touched company changed", wantCode: 3,
			wantErr: "pbxsync: refused before any write: PLAN: the saved plan is stale: companies changed on the server since it was made (acme_hq: zone): plan again",
			change: func(t *testing.T, srv *simtest.Server, _ string) map[string]string {
				updateZone(t, srv, "acme_hq", "Europe/Paris")
				return adminEnv(srv, mixedEnv...)
			}},
		{name: "the inventory changed", wantCode: 3,
			wantErr: `pbxsync: refused before any write: PLAN: the saved plan is stale: the inventory "INV" is not the one the plan was made from (it changed since, or is another): plan again`,
			change: func(t *testing.T, srv *simtest.Server, inv string) map[string]string {
				require.NoError(t, os.WriteFile(inv, []byte(mixedInventory+"# reviewed\n"), 0o600))
				return adminEnv(srv, mixedEnv...)
			}},
		{name: "a delete added by hand", wantCode: 3,
			wantErr: "pbxsync: refused before any write: PLAN: the saved plan is stale: the file was edited: it holds changes no plan of this inventory makes (partner): plan again",
			change: func(t *testing.T, srv *simtest.Server, inv string) map[string]string {
				path := filepath.Join(filepath.Dir(inv), "changes.plan")
				data, err := os.ReadFile(path)
				require.NoError(t, err)
				var saved map[string]any
				require.NoError(t, json.Unmarshal(data, &saved))
				saved["options"] = map[string]any{"prune": true, "max_delete": 10}
				saved["fingerprints"].(map[string]any)["partner"] = "0123456789abcdef0123456789abcdef"
				p := saved["plan"].(map[string]any)
				p["changes"] = append(p["changes"].([]any), map[string]any{"action": "delete", "company": "partner"})
				data, err = json.Marshal(saved)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, data, 0o600))
				return adminEnv(srv, mixedEnv...)
			}},
		{name: "another server", wantCode: 3,
			change: func(t *testing.T, srv *simtest.Server, _ string) map[string]string {
				other := simtest.NewServer(t, pbxtest.WithState(mixedState()))
				t.Cleanup(func() { require.Zero(t, other.Stats().TotalRequests(), "the other server was called") })
				return adminEnv(other, mixedEnv...)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
			planFile := filepath.Join(dir, "changes.plan")
			got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--out", planFile)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)

			vars := tt.change(t, srv, inv)
			srv.ResetStats()
			// No --auto-approve, no terminal: the saved plan is the approval.
			got = invoke(t, "", vars, "apply", planFile, "-f", inv)
			require.Equal(t, tt.wantCode, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			if tt.wantApply {
				require.Equal(t, "Apply: 4 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", got.stdout)
				want := mixedApplied()
				if tt.name == "an untouched company changed" {
					want["partner"].Settings["zone"] = `"Europe/Paris"`
				}
				if diff := cmp.Diff(want, viewOf(srv.Snapshot(), "zone", "nm_password")); diff != "" {
					t.Errorf("server (-want +got):\n%s", diff)
				}
				return
			}
			require.Empty(t, got.stdout)
			require.Zero(t, srv.Stats().TotalWrites(), "writes: %v", srv.Stats().Writes)
			if tt.name == "another server" {
				requireOneErrorLine(t, got.stderr, fmt.Sprintf("the plan %s was made for %q, not %q", planFile, srv.URL, vars["PBX_URL"]))
				return
			}
			errLine := lines(got.stderr)[len(lines(got.stderr))-1]
			want := strings.NewReplacer("PLAN", planFile, "INV", inv).Replace(tt.wantErr)
			if diff := cmp.Diff(want, errLine); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// updateZone changes a company on the server as someone else would, between plan
// and apply.
func updateZone(t *testing.T, srv *simtest.Server, id, zone string) {
	t.Helper()
	c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)
	_, err = c.Update(t.Context(), id, apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String(zone)})})
	require.NoError(t, err)
}

func TestApplyDeleteBudget(t *testing.T) {
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
prune:
  match: "^cust_"
`
	tests := []struct {
		name      string
		flags     []string
		wantCode  int
		wantErr   string
		wantAfter []string // the companies on the server afterwards
	}{
		{name: "over the default budget", flags: []string{"--prune"}, wantCode: 3,
			wantErr:   "pbxsync: refused before any write: the plan deletes 2 companies, more than --max-delete allows (0)",
			wantAfter: []string{"acme_hq", "cust_a", "cust_b", "partner"}},
		{name: "over a budget of one", flags: []string{"--prune", "--max-delete", "1"}, wantCode: 3,
			wantErr:   "pbxsync: refused before any write: the plan deletes 2 companies, more than --max-delete allows (1)",
			wantAfter: []string{"acme_hq", "cust_a", "cust_b", "partner"}},
		{name: "within the budget", flags: []string{"--prune", "--max-delete", "2"}, wantCode: 0,
			wantAfter: []string{"acme_hq", "partner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			inv := writeFile(t, t.TempDir(), "inventory.yaml", inventory)
			got := invoke(t, "", adminEnv(srv), append([]string{"apply", "-f", inv, "--auto-approve"}, tt.flags...)...)
			require.Equal(t, tt.wantCode, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			var ids []string
			for _, c := range srv.Snapshot().Companies {
				ids = append(ids, c.ID)
			}
			if diff := cmp.Diff(tt.wantAfter, ids); diff != "" {
				t.Errorf("companies (-want +got):\n%s", diff)
			}
			if tt.wantErr == "" {
				require.Equal(t, "Apply: 3 ok, 0 failed, 0 skipped, 0 not run.\nVerified: yes\n", got.stdout)
				return
			}
			require.Empty(t, got.stdout)
			require.Contains(t, got.stderr, "- delete cust_a", "the refused plan is shown")
			require.Equal(t, tt.wantErr, lines(got.stderr)[len(lines(got.stderr))-1])
			require.Zero(t, srv.Stats().TotalWrites(), "writes: %v", srv.Stats().Writes)
		})
	}
}

// metricsOf parses a Prometheus text exposition: the series in order, with their
// values, and the metric names that have # HELP and # TYPE lines.
func metricsOf(t *testing.T, text string) (series []string, values map[string]float64, described []string) {
	t.Helper()
	values = map[string]float64{}
	for _, l := range lines(text) {
		if name, ok := strings.CutPrefix(l, "# TYPE "); ok {
			fields := strings.Fields(name)
			require.Equal(t, []string{fields[0], "gauge"}, fields, "line %q", l)
			described = append(described, fields[0])
			continue
		}
		if strings.HasPrefix(l, "# HELP ") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		require.Positive(t, i, "line %q", l)
		v, err := strconv.ParseFloat(l[i+1:], 64)
		require.NoError(t, err, "line %q", l)
		// Every sample names the server; the series here are without it.
		m := serverLabelRE.FindStringSubmatch(l[:i])
		require.NotNil(t, m, "line %q has no server label", l)
		require.NotEmpty(t, m[2], "line %q", l)
		name := m[1] + strings.TrimPrefix(m[3], ",")
		if name == m[1]+"}" {
			name = m[1]
		} else {
			name = m[1] + "{" + strings.TrimPrefix(m[3], ",")
		}
		series = append(series, name)
		values[name] = v
	}
	return series, values, described
}

// serverLabelRE cuts a sample's name into the metric, the server label and the rest.
var serverLabelRE = regexp.MustCompile(`^([a-z_]+)\{server="([^"]*)"(.*)$`)

// changeSeries lists the pbxsync_changes series in their order.
func changeSeries() []string {
	var out []string
	for _, a := range []string{"delete", "create", "update", "ungroup", "group"} {
		for _, s := range []string{"ok", "failed", "skipped", "not_run"} {
			out = append(out, fmt.Sprintf(`pbxsync_changes{action=%q,status=%q}`, a, s))
		}
	}
	return out
}

func TestApplyReportAndMetrics(t *testing.T) {
	allSeries := append(append([]string{
		"pbxsync_last_run_timestamp_seconds", "pbxsync_last_run_duration_seconds", "pbxsync_last_run_success",
	}, changeSeries()...), "pbxsync_drift_fields", "pbxsync_errors", "pbxsync_interrupted", "pbxsync_parallelism_limit")
	described := []string{"pbxsync_last_run_timestamp_seconds", "pbxsync_last_run_duration_seconds", "pbxsync_last_run_success",
		"pbxsync_changes", "pbxsync_drift_fields", "pbxsync_errors", "pbxsync_interrupted", "pbxsync_parallelism_limit"}

	tests := []struct {
		name        string
		faults      pbxtest.Faults
		key         string
		wantCode    int
		wantSuccess float64
		wantChanges map[string]float64 // the non-zero pbxsync_changes series
		wantErrors  float64
		wantError   string // the report's "error"
		wantStdout  bool
	}{
		{name: "success", wantCode: 0, wantSuccess: 1, wantStdout: true,
			wantChanges: map[string]float64{
				`pbxsync_changes{action="create",status="ok"}`:  1,
				`pbxsync_changes{action="update",status="ok"}`:  1,
				`pbxsync_changes{action="ungroup",status="ok"}`: 1,
				`pbxsync_changes{action="group",status="ok"}`:   1,
			}},
		{name: "failed changes", wantCode: 1, wantSuccess: 0, wantStdout: true, wantErrors: 2,
			faults: pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"}},
			wantChanges: map[string]float64{
				`pbxsync_changes{action="create",status="failed"}`: 1,
				`pbxsync_changes{action="update",status="failed"}`: 1,
				`pbxsync_changes{action="ungroup",status="ok"}`:    1,
				`pbxsync_changes{action="group",status="ok"}`:      1,
			},
			wantError: "apply did not succeed: 2 changes failed, 2 changes still to make"},
		{name: "credentials refused", key: "wrong-key", wantCode: 1, wantSuccess: 0, wantErrors: 1,
			wantChanges: map[string]float64{},
			wantError:   `read companies: read: server refused: invalid API key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithFaults(tt.faults))
			dir := t.TempDir()
			inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
			out := filepath.Join(dir, "out")
			require.NoError(t, os.Mkdir(out, 0o755))
			report := writeFile(t, out, "report.json", "an earlier run's report")
			metrics := writeFile(t, out, "pbxsync.prom", "an earlier run's metrics")
			require.NoError(t, os.Chmod(metrics, 0o644)) // for a collector; the report stays private (0600)
			vars := adminEnv(srv, mixedEnv...)
			if tt.key != "" {
				vars["PBX_API_KEY"] = tt.key
			}

			started := time.Now()
			got := invoke(t, "", vars, "apply", "-f", inv, "--auto-approve", "--rounds", "0", "--json",
				"--report", report, "--metrics-file", metrics)
			ended := time.Now()
			require.Equal(t, tt.wantCode, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)

			data, err := os.ReadFile(report)
			require.NoError(t, err)
			res := decodeResult(t, string(data))
			require.Equal(t, tt.wantError, res.Error)
			require.Equal(t, tt.wantSuccess == 1, res.Verified)
			if tt.wantStdout {
				require.Equal(t, string(data), got.stdout, "--json and --report give one document")
			} else {
				require.Empty(t, got.stdout)
			}
			requireNoSecrets(t, string(data))

			text, err := os.ReadFile(metrics)
			require.NoError(t, err)
			series, values, gotDescribed := metricsOf(t, string(text))
			if diff := cmp.Diff(allSeries, series); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(described, gotDescribed); diff != "" {
				t.Errorf("# TYPE lines (-want +got):\n%s", diff)
			}
			require.Equal(t, tt.wantSuccess, values["pbxsync_last_run_success"])
			require.Equal(t, tt.wantErrors, values["pbxsync_errors"])
			require.Zero(t, values["pbxsync_interrupted"])
			require.Zero(t, values["pbxsync_drift_fields"])
			ts := values["pbxsync_last_run_timestamp_seconds"]
			require.True(t, float64(started.Unix()) <= ts && ts <= float64(ended.Unix()+1), "timestamp %v: not when the run ended", ts)
			changes := map[string]float64{}
			for _, s := range changeSeries() {
				if values[s] != 0 {
					changes[s] = values[s]
				}
			}
			if diff := cmp.Diff(tt.wantChanges, changes); diff != "" {
				t.Errorf("pbxsync_changes (-want +got):\n%s", diff)
			}

			// Replaced whole: no temporary file left beside them, readable by a collector.
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{"pbxsync.prom", "report.json"}, names)
			fi, err := os.Stat(metrics)
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
			fi, err = os.Stat(report)
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "a private report stays private when rewritten")
		})
	}
}

func TestApplyLockFile(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	lock := filepath.Join(dir, "pbxsync.lock")
	report := filepath.Join(dir, "report.json")
	args := []string{"apply", "-f", inv, "--auto-approve", "--lock-file", lock, "--report", report}

	held, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

	got := invoke(t, "", adminEnv(srv, mixedEnv...), args...)
	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	if diff := cmp.Diff([]string{"pbxsync: another pbxsync run holds " + lock}, lines(got.stderr)); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	require.Empty(t, got.stdout)
	require.Zero(t, srv.Stats().TotalRequests(), "requests: %v", srv.Stats().Requests)
	require.NoFileExists(t, report)

	require.NoError(t, held.Close())
	got = invoke(t, "", adminEnv(srv, mixedEnv...), args...)
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	require.FileExists(t, report)

	// The run let the lock go when it ended.
	again, err := os.OpenFile(lock, os.O_RDWR, 0)
	require.NoError(t, err)
	defer again.Close()
	require.NoError(t, syscall.Flock(int(again.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
}

func TestApplyInterrupted(t *testing.T) {
	const n = 20
	var ids []string
	st := pbxtest.State{Containers: map[string][]string{}}
	inventory := "version: 1\ncompanies:\n"
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("c%02d", i)
		ids = append(ids, id)
		st.Companies = append(st.Companies, co(id, "Company "+id))
		inventory += fmt.Sprintf("  %s:\n    name: Company %s\n    settings:\n      zone: US/Pacific\n", id, id)
	}
	st.Containers["all"] = ids
	inventory += "containers:\n  all: [" + strings.Join(ids, ", ") + "]\n"

	// A server of its own, so that its connections can be closed to count goroutines.
	sim := pbxtest.New(pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()), pbxtest.WithState(st),
		pbxtest.WithFaults(pbxtest.Faults{Latency: 200 * time.Millisecond}))
	hs := httptest.NewServer(sim)
	defer hs.Close()
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", inventory)
	report := filepath.Join(dir, "report.json")
	metrics := filepath.Join(dir, "pbxsync.prom")
	vars := map[string]string{"PBX_URL": hs.URL, "PBX_API_KEY": pbxtest.AdminKey}

	// The context main makes: cancelled by SIGINT, which the test sends to itself.
	// (os/signal's own goroutines start here and live on: counted in before.)
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	before := runtime.NumGoroutine()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var stderr lockedBuffer
		code, stdout := invokeWith(ctx, strings.NewReader(""), &stderr, vars,
			"apply", "-f", inv, "--auto-approve", "--parallelism", "2", "--report", report, "--metrics-file", metrics)
		done <- result{code, stdout, stderr.String()}
	}()
	require.Eventually(t, func() bool { return sim.Stats().TotalWrites() > 0 }, 30*time.Second, time.Millisecond,
		"no change was made")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT)) // Ctrl-C

	var got result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("apply did not return after the interrupt")
	}
	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	writes := sim.Stats().TotalWrites()
	require.Less(t, writes, n, "every change was made: the interrupt came too late to test anything")
	require.Regexp(t, `(?m)^Apply: \d+ ok, 0 failed, 0 skipped, \d+ not run\.$`, got.stdout)
	require.Regexp(t, `(?m)^Interrupted: \d+ changes? (was|were) not run; run apply again to finish\.$`, got.stdout)
	require.Contains(t, got.stdout, "Verified: no\n")
	require.Regexp(t, `pbxsync: interrupted: \d+ changes? not run, run apply again to finish\n$`, got.stderr)

	data, err := os.ReadFile(report)
	require.NoError(t, err)
	res := decodeResult(t, string(data))
	require.True(t, res.Interrupted)
	require.False(t, res.Verified)
	require.Len(t, res.Changes, n)
	require.Equal(t, writes, res.Summary["ok"], "each write the server made is an ok change")
	require.Equal(t, n-writes, res.Summary["not_run"])
	text, err := os.ReadFile(metrics)
	require.NoError(t, err)
	_, values, _ := metricsOf(t, string(text))
	require.Equal(t, 1.0, values["pbxsync_interrupted"])
	require.Equal(t, 0.0, values["pbxsync_last_run_success"])
	require.Equal(t, float64(n-writes), values[`pbxsync_changes{action="update",status="not_run"}`])

	// Nothing of the run is left running once its connections are closed.
	hs.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestApplyPacer(t *testing.T) {
	// The server answers some reads with 429: the client slows down, retries, and
	// the run warns that the server asked it to.
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithFaults(pbxtest.Faults{
		Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.Fault429: 0.5}, Verbs: []string{"read"},
	}))
	inv := writeFile(t, t.TempDir(), "inventory.yaml", mixedInventory)
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "apply", "-f", inv, "--auto-approve", "--rate", "1000")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.NotZero(t, srv.Stats().Faults[pbxtest.Fault429])
	require.Regexp(t, `level=WARN msg="the server asked to slow down" times=[1-9]\d*\n`, got.stderr)
}

func TestApplyInvalidInventory(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", "version: 1\ncompanies:\n  acme_hq:\n    name: Acme HQ\n    settings:\n      vm_callback: maybe\n")
	report := filepath.Join(dir, "report.json")
	got := invoke(t, "", adminEnv(srv), "apply", "-f", inv, "--auto-approve", "--report", report)
	require.Equal(t, 1, got.code)
	require.Empty(t, got.stdout)
	require.Equal(t, "pbxsync: "+inv+": 1 error: nothing was sent to any server", lines(got.stderr)[len(lines(got.stderr))-1])
	require.Zero(t, srv.Stats().TotalRequests())
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	require.Equal(t, inv+": 1 error: nothing was sent to any server", decodeResult(t, string(data)).Error)
}

// savedPlanJSON is a saved plan of nothing, made for a server on a port where none
// listens, from inventory.yaml beside it.
const savedPlanJSON = `{"format_version": 1, "server": "http://127.0.0.1:1", "inventory": {"files": ["inventory.yaml"], "sha256": "00"},
"options": {"prune": false, "max_delete": 0}, "containers_read": true, "fingerprints": {}, "plan": {"format_version": 1, "changes": []}}
`

func TestApplyUsageErrors(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no inventory", []string{"--auto-approve"}, "no inventory: pass -f FILE, or a PLANFILE saved by plan --out"},
		{"a plan file without -f", []string{writeFile(t, dir, "saved.plan", savedPlanJSON)}, "apply " + filepath.Join(dir, "saved.plan") + `: a saved plan is checked against the inventory you name, never the one it records: pass -f with the inventory it was made from (the plan records "` + filepath.Join(dir, "inventory.yaml") + `")`},
		{"a plan file with --fleet", []string{filepath.Join(dir, "saved.plan"), "--fleet", inv}, "this is one PBX's plan: give its inventory with -f and its server with --url or PBX_URL, not --fleet"},
		{"pbx with a plan file", []string{filepath.Join(dir, "saved.plan"), "--pbx", "london"}, "--pbx is part of a saved fleet plan"},
		{"two plan files", []string{"a.plan", "b.plan"}, "accepts at most 1 arg(s), received 2"},
		{"prune with a plan file", []string{"saved.plan", "--prune"}, "--prune, --company and --match are part of a saved plan"},
		{"company with a plan file", []string{"saved.plan", "--company", "acme"}, "--prune, --company and --match are part of a saved plan"},
		{"parallelism", []string{"-f", inv, "--auto-approve", "--parallelism", "0"}, "invalid --parallelism 0: at least 1"},
		{"rounds", []string{"-f", inv, "--auto-approve", "--rounds", "-1"}, "invalid --rounds -1: 0 or more"},
		{"rate", []string{"-f", inv, "--auto-approve", "--rate", "-5"}, "invalid --rate -5: 0 (no cap) or more"},
		{"max-delete", []string{"-f", inv, "--auto-approve", "--max-delete", "-1"}, "invalid --max-delete -1: 0 or more"},
		{"missing plan file", []string{filepath.Join(dir, "missing.plan")}, "read the plan: " + filepath.Join(dir, "missing.plan") + ": no such file or directory"},
		{"an inventory for a plan file", []string{inv}, inv + " is not a plan saved by plan --out: to apply an inventory, pass -f " + inv},
		{"not a plan file", []string{writeFile(t, dir, "notes.txt", "hello")}, filepath.Join(dir, "notes.txt") + ": not a saved plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, "", adminEnv(srv, mixedEnv...), append([]string{"apply"}, tt.args...)...)
			require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			require.Empty(t, got.stdout)
			require.True(t, strings.HasPrefix(got.stderr, "pbxsync: "), "stderr: %q", got.stderr)
			require.Contains(t, lines(got.stderr)[0], tt.want)
		})
	}
	require.Zero(t, srv.Stats().TotalRequests())
}

func TestApplyHelp(t *testing.T) {
	got := invoke(t, "", nil, "apply", "--help")
	require.Equal(t, 0, got.code)
	for _, want := range []string{
		"apply [PLANFILE] (-f FILE | --fleet FILE)",
		`only the answer "yes" applies`,
		"pbxsync apply -f inventory.yaml\n",
		"--auto-approve --log-format json",
		"--report /var/lib/pbxsync/last-run.json",
		"--metrics-file /var/lib/node_exporter/textfile/pbxsync.prom",
		"--lock-file /run/lock/pbxsync.lock",
		"pbxsync plan -f inventory.yaml --out changes.plan\n  pbxsync apply changes.plan -f inventory.yaml\n",
		`applies a plan saved by "plan --out PLANFILE" without asking`,
		"--parallelism N", "--rounds N", "--rate N", "--force-description", "--prune", "--max-delete N", "--json",
		"Exit codes", "PBX_API_KEY",
	} {
		require.Contains(t, got.stdout, want)
	}
	// The root's help lists apply.
	root := invoke(t, "", nil, "--help")
	require.Regexp(t, `\n  apply +Apply the inventory, or a saved plan, to the server and verify the result\n`, root.stdout)
}
