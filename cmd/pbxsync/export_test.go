package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

const (
	// The secrets of the export scenario.
	exportPIN   = "48151623"
	exportBarge = "4242"
)

// exportVars are the variables an export of all of exportState names, with the values
// the server holds.
var exportVars = []string{"ACME_HQ_NM_PASSWORD", exportPIN, "BETA_BARGE_PIN", exportBarge}

// exportState is a server with secrets and two containers; beta shares one with
// cust_one, so that --match '^cust_' brings it along.
func exportState() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "US/Pacific", "nm_password", exportPIN, "q_ringtime", "15"),
			co("acme_west", "Acme West", "zone", "US/Pacific"),
			co("beta", "Beta", "barge_pin", exportBarge),
			co("cust_one", "Customer One", "vm_maxmsgs", "100"),
			co("cust_two", "Customer Two"),
			co("solo", "Solo"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west"}, "cust_one": {"beta", "cust_one"}},
	}
}

// requireNoExportSecrets checks that no secret of the export scenario was written.
func requireNoExportSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{exportPIN, exportBarge} {
			require.NotContains(t, out, secret)
		}
	}
}

// exportedVariables returns the variables stderr lists after an export.
func exportedVariables(stderr string) []string {
	var names []string
	for _, l := range lines(stderr) {
		if name, ok := strings.CutPrefix(l, "  "); ok {
			names = append(names, name)
		}
	}
	return names
}

// loadExport loads an export as an inventory, with the variables of vars.
func loadExport(t *testing.T, data string, vars ...string) *inventory.Inventory {
	t.Helper()
	env := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		env[vars[i]] = vars[i+1]
	}
	inv, _, err := inventory.Load("export.yaml", []byte(data), inventory.LoadOptions{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err, "the export is a valid inventory:\n%s", data)
	return inv
}

// shape is what an inventory holds, as the selection tests compare it.
type shape struct {
	Companies  []string
	Containers map[string][]string
}

func shapeOf(inv *inventory.Inventory) shape {
	s := shape{Containers: map[string][]string{}}
	for _, c := range inv.Companies {
		s.Companies = append(s.Companies, c.ID)
	}
	for _, c := range inv.Containers {
		s.Containers[c.Label] = c.Members
	}
	return s
}

func TestExportSelection(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportState()))
	acme := []string{"acme_hq", "acme_west"}
	cust := []string{"beta", "cust_one"}
	tests := []struct {
		name      string
		args      []string
		want      shape
		wantVars  []string
		wantFirst string // the first line on stderr
	}{
		{"all", nil,
			shape{[]string{"acme_hq", "acme_west", "beta", "cust_one", "cust_two", "solo"}, map[string][]string{"acme_hq": acme, "cust_one": cust}},
			[]string{"ACME_HQ_NM_PASSWORD", "BETA_BARGE_PIN"}, "Exported 6 companies and 2 containers to standard output."},
		{"a company and its partner", []string{"--company", "acme_west"},
			shape{acme, map[string][]string{"acme_hq": acme}},
			[]string{"ACME_HQ_NM_PASSWORD"}, "Exported 2 companies and 1 container to standard output."},
		{"companies repeated", []string{"--company", "beta", "--company", "solo"},
			shape{[]string{"beta", "cust_one", "solo"}, map[string][]string{"cust_one": cust}},
			[]string{"BETA_BARGE_PIN"}, "Exported 3 companies and 1 container to standard output."},
		{"companies with a comma", []string{"--company", "solo,cust_two"},
			shape{[]string{"cust_two", "solo"}, map[string][]string{}},
			nil, "Exported 2 companies and 0 containers to standard output."},
		{"match brings partners", []string{"--match", "^cust_"},
			shape{[]string{"beta", "cust_one", "cust_two"}, map[string][]string{"cust_one": cust}},
			[]string{"BETA_BARGE_PIN"}, "Exported 3 companies and 1 container to standard output."},
		{"match and company", []string{"--match", "two$", "--company", "solo"},
			shape{[]string{"cust_two", "solo"}, map[string][]string{}},
			nil, "Exported 2 companies and 0 containers to standard output."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, "", adminEnv(srv), append([]string{"export"}, tt.args...)...)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			inv := loadExport(t, got.stdout, exportVars...)
			if diff := cmp.Diff(tt.want, shapeOf(inv)); diff != "" {
				t.Errorf("exported (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFirst, lines(got.stderr)[0]); diff != "" {
				t.Errorf("first line on stderr (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantVars, exportedVariables(got.stderr)); diff != "" {
				t.Errorf("variables listed (-want +got):\n%s", diff)
			}
			requireNoExportSecrets(t, got.stdout, got.stderr)
		})
	}
	require.Zero(t, srv.Stats().TotalWrites())
}

func TestExportDeterministic(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportState()))
	dir := t.TempDir()
	first := invoke(t, "", adminEnv(srv), "export", "--parallelism", "1")
	require.Equal(t, 0, first.code, "stderr: %s", first.stderr)
	second := invoke(t, "", adminEnv(srv), "export", "--parallelism", "16")
	require.Equal(t, 0, second.code, "stderr: %s", second.stderr)
	out := filepath.Join(dir, "export.yaml")
	toFile := invoke(t, "", adminEnv(srv), "export", "-o", out)
	require.Equal(t, 0, toFile.code, "stderr: %s", toFile.stderr)
	require.Empty(t, toFile.stdout)
	written, err := os.ReadFile(out)
	require.NoError(t, err)

	require.NotEmpty(t, first.stdout)
	if diff := cmp.Diff(first.stdout, second.stdout); diff != "" {
		t.Errorf("a second export differs (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(first.stdout, string(written)); diff != "" {
		t.Errorf("-o FILE differs from standard output (-stdout +file):\n%s", diff)
	}
	require.Equal(t, "Exported 6 companies and 2 containers to "+out+".", lines(toFile.stderr)[0])
	fi, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "without secrets, an ordinary file")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left: %v", entries)
}

func TestExportSecrets(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportState()))
	tests := []struct {
		name        string
		args        []string // -o FILE is added when toFile
		toFile      bool
		existing    bool // FILE exists beforehand, mode 0644
		wantSecrets bool
		wantMode    os.FileMode
		wantWarning string
	}{
		{"references to a file", nil, true, false, false, 0o644, ""},
		{"references to stdout", nil, false, false, false, 0, ""},
		{"values to a file", []string{"--include-secrets"}, true, false, true, 0o600, "holds secret values in plain text (mode 0600)"},
		{"values replace a readable file", []string{"--include-secrets"}, true, true, true, 0o600, "holds secret values in plain text (mode 0600)"},
		{"values to a pipe", []string{"--include-secrets"}, false, false, true, 0, "Warning: the export holds secret values in plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "export.yaml")
			args := append([]string{"export"}, tt.args...)
			if tt.toFile {
				args = append(args, "-o", out)
			}
			if tt.existing {
				require.NoError(t, os.WriteFile(out, []byte("old\n"), 0o644))
				require.NoError(t, os.Chmod(out, 0o644))
			}
			got := invoke(t, "", adminEnv(srv), args...)
			require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
			data := got.stdout
			if tt.toFile {
				require.Empty(t, got.stdout)
				raw, err := os.ReadFile(out)
				require.NoError(t, err)
				data = string(raw)
				fi, err := os.Stat(out)
				require.NoError(t, err)
				require.Equal(t, tt.wantMode, fi.Mode().Perm())
			}
			requireNoExportSecrets(t, got.stderr)
			if !tt.wantSecrets {
				requireNoExportSecrets(t, data)
				require.Contains(t, data, "nm_password: ${ACME_HQ_NM_PASSWORD}")
				require.Equal(t, []string{"ACME_HQ_NM_PASSWORD", "BETA_BARGE_PIN"}, exportedVariables(got.stderr))
				require.NotContains(t, got.stderr, "Warning")
				return
			}
			require.Contains(t, data, `nm_password: "`+exportPIN+`"`)
			require.Contains(t, data, `barge_pin: "`+exportBarge+`"`)
			require.NotContains(t, data, "${")
			require.Contains(t, got.stderr, tt.wantWarning)
			require.Empty(t, exportedVariables(got.stderr), "no variable to set")
			// Loaded without any variable, it plans nothing against its server.
			inv := loadExport(t, data)
			c, ok := inv.Company("acme_hq")
			require.True(t, ok)
			require.Equal(t, exportPIN, c.Settings.Get("nm_password").Text())
		})
	}
	require.Zero(t, srv.Stats().TotalWrites())
}

func TestExportToTerminalRefusesSecrets(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportState()))
	vars := adminEnv(srv)
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	var stdout lockedBuffer
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"export", "--include-secrets"}, strings.NewReader(""), ttyWriter{&stdout}, &stderr, lookup, fastRetries)
	require.Equal(t, 1, code)
	require.Empty(t, stdout.String())
	requireOneErrorLine(t, stderr.String(), "--include-secrets would print secret values on the terminal: write them to a file with -o FILE (mode 0600)")
	require.Zero(t, srv.Stats().TotalRequests(), "refused before reading the server")

	// Without secrets, a terminal is fine.
	code = run(t.Context(), []string{"export"}, strings.NewReader(""), ttyWriter{&stdout}, &stderr, lookup, fastRetries)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	require.Contains(t, stdout.String(), "${ACME_HQ_NM_PASSWORD}")
}

func TestExportErrors(t *testing.T) {
	clash := exportState()
	clash.Companies = append(clash.Companies, co("ACME_hq", "Acme Upper", "nm_password", "1111"))
	tests := []struct {
		name          string
		state         pbxtest.State
		args          []string
		want          string
		wantNoRequest bool
	}{
		{"unknown company", exportState(), []string{"--company", "acme_hq", "--company", "nope"},
			`company "nope" is not on the server`, false},
		{"unknown companies", exportState(), []string{"--company", "zilch", "--company", "nope", "--company", "solo"},
			`companies "nope", "zilch" are not on the server`, false},
		{"unknown company with a match", exportState(), []string{"--company", "nope", "--match", "."},
			`company "nope" is not on the server`, false},
		{"match matches nothing", exportState(), []string{"--match", "^nobody"},
			`nothing to export: --match "^nobody" matches no company on the server`, false},
		{"invalid match", exportState(), []string{"--match", "acme("},
			"invalid --match: missing closing ): `acme(`", true},
		{"parallelism", exportState(), []string{"--parallelism", "0"}, "invalid --parallelism 0: at least 1", true},
		{"variables that clash", clash, []string{"--company", "acme_hq", "--company", "ACME_hq"},
			`companies "ACME_hq" and "acme_hq" would share the secret variable ACME_HQ_NM_PASSWORD`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tt.state))
			out := filepath.Join(t.TempDir(), "export.yaml")
			got := invoke(t, "", adminEnv(srv), append([]string{"export", "-o", out}, tt.args...)...)
			require.Equal(t, 1, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stdout)
			requireOneErrorLine(t, got.stderr, tt.want)
			require.NoFileExists(t, out)
			if tt.wantNoRequest {
				require.Zero(t, srv.Stats().TotalRequests())
			}
			require.Zero(t, srv.Stats().TotalWrites())
		})
	}

	t.Run("clashing variables with values", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(clash))
		got := invoke(t, "", adminEnv(srv), "export", "--company", "acme_hq", "--company", "ACME_hq", "--include-secrets")
		require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
		require.Contains(t, got.stdout, `nm_password: "1111"`)
		require.Contains(t, got.stdout, `nm_password: "`+exportPIN+`"`)
	})
}

// TestExportPlansNothing plans an export against the server it came from: with its
// variables set, there is nothing to do; without them, nothing is sent.
func TestExportPlansNothing(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportState()))
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	exported := invoke(t, "", adminEnv(srv), "export", "-o", inv)
	require.Equal(t, 0, exported.code, "stderr: %s", exported.stderr)

	got := invoke(t, "", adminEnv(srv, exportVars...), "plan", "-f", inv, "--detailed-exitcode")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Equal(t, "No changes: the server matches the inventory.", lines(got.stdout)[0])

	// With a variable that differs from the server's value, the plan says so.
	got = invoke(t, "", adminEnv(srv, "ACME_HQ_NM_PASSWORD", "1357", "BETA_BARGE_PIN", exportBarge), "plan", "-f", inv, "--detailed-exitcode")
	require.Equal(t, 2, got.code, "stderr: %s", got.stderr)
	require.Equal(t, []string{"~ update acme_hq"}, changeHeads(got.stdout))

	srv.ResetStats()
	got = invoke(t, "", adminEnv(srv), "plan", "-f", inv)
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "environment variable ACME_HQ_NM_PASSWORD is not set")
	require.Contains(t, got.stderr, "environment variable BETA_BARGE_PIN is not set")
	require.Zero(t, srv.Stats().TotalRequests())
	require.Zero(t, srv.Stats().TotalWrites())
}

// TestExportCompact: values most companies share are written once, under defaults,
// each company keeps what differs, and the export still plans nothing.
func TestExportCompact(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(exportBenchState(300)))
	dir := t.TempDir()
	full, compact := filepath.Join(dir, "full.yaml"), filepath.Join(dir, "compact.yaml")
	require.Equal(t, 0, invoke(t, "", adminEnv(srv), "export", "-o", full).code)
	got := invoke(t, "", adminEnv(srv), "export", "--compact", "-o", compact)
	require.Equal(t, 0, got.code, got.stderr)
	fullData, err := os.ReadFile(full)
	require.NoError(t, err)
	compactData, err := os.ReadFile(compact)
	require.NoError(t, err)
	fullText, compactText := string(fullData), string(compactData)
	require.Less(t, 5*strings.Count(compactText, "\n"), strings.Count(fullText, "\n"), "compact:\n%s", compactText)
	require.Contains(t, compactText, "\ndefaults:\n")
	require.Contains(t, compactText, "\n  zone: Europe/London\n", "shared by every company")
	require.Contains(t, compactText, "\n  nm_password: \"\"\n", "an empty PIN, shared by most, is a default")
	require.Contains(t, compactText, "\n      nm_password: ${C000010_NM_PASSWORD}\n", "a PIN stays with its company")

	vars := []string{}
	for i := 0; i < 300; i += 10 {
		vars = append(vars, fmt.Sprintf("C%06d_NM_PASSWORD", i), fmt.Sprintf("%04d", i%10000))
	}
	got = invoke(t, "", adminEnv(srv, vars...), "plan", "-f", compact, "--detailed-exitcode")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
}

// TestExportRehearsal plans against a copy exported with its secrets and run in the
// simulator: the plan is the one the real server gets, and the real server is not
// written.
func TestExportRehearsal(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap.yaml")
	exported := invoke(t, "", adminEnv(srv), "export", "-o", snap, "--include-secrets")
	require.Equal(t, 0, exported.code, "stderr: %s", exported.stderr)
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)

	real := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv)
	require.Equal(t, 0, real.code, "stderr: %s", real.stderr)
	rehearsal := invoke(t, "", map[string]string{"ACME_PIN": acmePIN, "GAMMA_PIN": gammaPIN}, "plan", "-f", inv, "--url", "sim:"+snap)
	require.Equal(t, 0, rehearsal.code, "stderr: %s", rehearsal.stderr)
	if diff := cmp.Diff(real.stdout, rehearsal.stdout); diff != "" {
		t.Errorf("the rehearsal plans otherwise (-real +rehearsal):\n%s", diff)
	}
	require.Equal(t, mixedHeads, changeHeads(rehearsal.stdout))

	applied := invoke(t, "", map[string]string{"ACME_PIN": acmePIN, "GAMMA_PIN": gammaPIN}, "apply", "-f", inv, "--url", "sim:"+snap, "--auto-approve")
	require.Equal(t, 0, applied.code, "stderr: %s", applied.stderr)
	st, err := pbxtest.ReadStateFile(snap)
	require.NoError(t, err)
	if diff := cmp.Diff(mixedApplied(), viewOf(st, "zone", "nm_password")); diff != "" {
		t.Errorf("the copy after apply (-want +got):\n%s", diff)
	}
	require.Zero(t, srv.Stats().TotalWrites(), "the real server was not written")
}

func TestExportHelp(t *testing.T) {
	got := invoke(t, "", nil, "export", "--help")
	require.Equal(t, 0, got.code)
	for _, want := range []string{
		"export [-o FILE]", "-o, --out FILE", "--company ID", "--match REGEX", "--include-secrets", "--parallelism N",
		"${ACME_HQ_NM_PASSWORD}", "mode 0600",
		"pbxsync export -o inventory.yaml\n",
		"pbxsync export -o snap.yaml --include-secrets\n  pbxsync apply -f inventory.yaml --url sim:snap.yaml",
		"Exit codes", "PBX_API_KEY",
	} {
		require.Contains(t, got.stdout, want)
	}
	root := invoke(t, "", nil, "--help")
	require.Regexp(t, `\n  export +Write the server's companies and containers as an inventory\n`, root.stdout)
}

// exportBenchState is a server of n companies, in containers of four, each with a zone,
// a queue setting and, every tenth, a PIN.
func exportBenchState(n int) pbxtest.State {
	st := pbxtest.State{Containers: map[string][]string{}}
	for i := range n {
		id := fmt.Sprintf("c%06d", i)
		settings := []string{"zone", "Europe/London", "q_ringtime", fmt.Sprint(5 + i%20)}
		if i%10 == 0 {
			settings = append(settings, "nm_password", fmt.Sprintf("%04d", i%10000))
		}
		st.Companies = append(st.Companies, co(id, "Company "+id, settings...))
		box := fmt.Sprintf("c%06d", i-i%4)
		st.Containers[box] = append(st.Containers[box], id)
	}
	return st
}

// BenchmarkExport exports 20,000 companies in 5,000 containers: the rendering of a
// snapshot read once, and the whole command (reads over HTTP at parallelism 8, the
// file written), beside a plan of the same companies against the same server, which
// reads as much (issue 9: an export takes no more than 1.2 times a plan).
func BenchmarkExport(b *testing.B) {
	const n = 20_000
	st := exportBenchState(n)
	srv := simtest.NewServer(b, pbxtest.WithState(st))
	b.Run("snapshot", func(b *testing.B) {
		client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
		require.NoError(b, err)
		snap, err := state.ReadSnapshot(b.Context(), client, 8)
		require.NoError(b, err)
		require.Len(b, snap.Companies, n)
		b.ReportAllocs()
		var size int
		for b.Loop() {
			data, err := snap.Export(state.ExportOptions{})
			require.NoError(b, err)
			size = len(data)
		}
		b.SetBytes(int64(size))
	})
	b.Run("command", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "export.yaml")
		vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": pbxtest.AdminKey}
		lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
		b.ReportAllocs()
		for b.Loop() {
			var stdout, stderr bytes.Buffer
			code := run(b.Context(), []string{"export", "-o", out}, strings.NewReader(""), &stdout, &stderr, lookup)
			require.Equal(b, 0, code, "stderr: %s", stderr.String())
		}
		fi, err := os.Stat(out)
		require.NoError(b, err)
		b.SetBytes(fi.Size())
	})
	b.Run("plan", func(b *testing.B) {
		inv := filepath.Join(b.TempDir(), "inventory.yaml")
		var text strings.Builder
		text.WriteString("version: 1\ncompanies:\n")
		for _, c := range st.Companies {
			fmt.Fprintf(&text, "  %s:\n    name: %s\n    settings: {zone: %s, q_ringtime: %s}\n", c.ID, c.Name, c.Settings.Get("zone").Text(), c.Settings.Get("q_ringtime").Text())
		}
		text.WriteString("containers:\n")
		for name, members := range st.Containers {
			fmt.Fprintf(&text, "  %s: [%s]\n", name, strings.Join(members, ", "))
		}
		require.NoError(b, os.WriteFile(inv, []byte(text.String()), 0o600))
		vars := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": pbxtest.AdminKey}
		lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
		b.ReportAllocs()
		for b.Loop() {
			var stdout, stderr bytes.Buffer
			code := run(b.Context(), []string{"plan", "-f", inv, "--detailed-exitcode"}, strings.NewReader(""), &stdout, &stderr, lookup)
			require.Equal(b, 0, code, "stderr: %s", stderr.String())
		}
	})
}
