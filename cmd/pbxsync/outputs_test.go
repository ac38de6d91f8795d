package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// TestOutputsNeverReplaceInputs: an output flag that names a file the run reads (or
// an inventory file inside a folder it reads) is refused before anything is read or
// sent, exit 1, and the input is left as it was.
func TestOutputsNeverReplaceInputs(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", mixedInventory)
	folder := filepath.Join(dir, "tree")
	require.NoError(t, os.MkdirAll(folder, 0o755))
	writeFile(t, folder, "a.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n")
	state := writeFile(t, dir, "pbx.yaml", "version: 1\n")
	link := filepath.Join(dir, "report.json")
	require.NoError(t, os.Symlink(inv, link))
	planFile := filepath.Join(dir, "changes.plan")
	got := invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", inv, "--out", planFile)
	require.Equal(t, 0, got.code, got.stderr)
	srv.ResetStats()
	saved, err := os.ReadFile(planFile)
	require.NoError(t, err)

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"--report the inventory", []string{"apply", "-f", inv, "--auto-approve", "--report", inv}, "--report " + inv + " is also read by this run: " + inv},
		{"--report a link to the inventory", []string{"apply", "-f", inv, "--auto-approve", "--report", link}, "--report " + link + " is also read by this run: " + inv},
		{"--metrics-file into an -f folder as YAML", []string{"plan", "-f", folder, "--metrics-file", filepath.Join(folder, "drift.yaml")}, "would be read as an inventory file of the folder " + folder},
		{"--out the plan file applied", []string{"apply", planFile, "-f", inv, "--report", planFile}, "--report " + planFile + " is also read by this run: " + planFile},
		{"--out over the sim: state", []string{"plan", "-f", inv, "--url", "sim:" + state, "--out", state}, "--out " + state + " is also read by this run: " + state},
		{"--trace the inventory", []string{"plan", "-f", inv, "--trace", inv}, "--trace " + inv + " is also read by this run: " + inv},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, "", adminEnv(srv, mixedEnv...), tt.args...)
			require.Equal(t, 1, got.code, "%s", got.stderr)
			requireOneErrorLine(t, got.stderr, tt.want)
		})
	}
	require.Zero(t, srv.Stats().TotalRequests(), "nothing was sent")
	data, err := os.ReadFile(inv)
	require.NoError(t, err)
	require.Equal(t, mixedInventory, string(data), "the inventory is as it was")
	after, err := os.ReadFile(planFile)
	require.NoError(t, err)
	require.Equal(t, string(saved), string(after))
	require.NoFileExists(t, filepath.Join(folder, "drift.yaml"))

	got = invoke(t, "", adminEnv(srv, mixedEnv...), "plan", "-f", folder, "--metrics-file", filepath.Join(folder, "drift.prom"))
	require.Equal(t, 0, got.code, "a file the next run does not read as an inventory is fine: %s", got.stderr)
}
