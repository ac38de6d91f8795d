package planfile_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan/planfile"
)

// TestPaths: the paths a plan file records are relative to its folder and
// resolve back to the same files from there; standard input cannot be recorded.
func TestPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	planFile := filepath.Join("out", "changes.plan")
	rel, server, err := planfile.Paths(planFile, []string{"inventory/acme.yaml", filepath.Join(dir, "direct.yaml")}, "sim:state/pbx.yaml")
	require.NoError(t, err)
	require.Equal(t, []string{"../inventory/acme.yaml", "../direct.yaml"}, rel)
	require.Equal(t, "sim:../state/pbx.yaml", server)
	for i, want := range []string{"inventory/acme.yaml", "direct.yaml"} {
		require.Equal(t, filepath.Clean(want), filepath.Clean(planfile.Resolve(planFile, rel[i])))
	}
	require.Equal(t, "/abs/inv.yaml", planfile.Resolve(planFile, "/abs/inv.yaml"), "an absolute path stays")

	_, _, err = planfile.Paths(planFile, []string{"-"}, "https://pbx.example.com")
	require.ErrorContains(t, err, "--out needs the inventory in files")

	_, server, err = planfile.Paths(planFile, []string{"inv.yaml"}, "https://pbx.example.com")
	require.NoError(t, err)
	require.Equal(t, "https://pbx.example.com", server, "a URL is kept as it is")
}
