package plan_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan"
)

// TestPlanFilePaths: the paths a plan file records are relative to its folder and
// resolve back to the same files from there; standard input cannot be recorded.
func TestPlanFilePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	planFile := filepath.Join("out", "changes.plan")
	rel, server, err := plan.PlanFilePaths(planFile, []string{"inventory/acme.yaml", filepath.Join(dir, "direct.yaml")}, "sim:state/pbx.yaml")
	require.NoError(t, err)
	require.Equal(t, []string{"../inventory/acme.yaml", "../direct.yaml"}, rel)
	require.Equal(t, "sim:../state/pbx.yaml", server)
	for i, want := range []string{"inventory/acme.yaml", "direct.yaml"} {
		require.Equal(t, filepath.Clean(want), filepath.Clean(plan.FromPlanFile(planFile, rel[i])))
	}
	require.Equal(t, "/abs/inv.yaml", plan.FromPlanFile(planFile, "/abs/inv.yaml"), "an absolute path stays")

	_, _, err = plan.PlanFilePaths(planFile, []string{"-"}, "https://pbx.example.com")
	require.ErrorContains(t, err, "--out needs the inventory in files")

	_, server, err = plan.PlanFilePaths(planFile, []string{"inv.yaml"}, "https://pbx.example.com")
	require.NoError(t, err)
	require.Equal(t, "https://pbx.example.com", server, "a URL is kept as it is")
}
