package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The quick start's partial plan, saved (plan --company solo_ltd --out), then the
// server changes before it is applied: the refusal says the server changed, and
// which companies and fields, never that the file was edited; nothing is written.
func TestApplyPartialPlanFileStale(t *testing.T) {
	original, err := os.ReadFile("../../examples/quickstart/pbx.yaml")
	require.NoError(t, err)
	const inv = "../../examples/quickstart/inventory.yaml"
	tests := []struct {
		name   string
		change func(t *testing.T, state string)
		want   string // the companies the refusal names, and what changed
	}{
		{"acme_hq changed on the server", func(t *testing.T, state string) {
			changed := strings.Replace(string(original), "zone: Europe/London", "zone: US/Pacific", 1) // acme_hq's, the first company
			require.NotEqual(t, string(original), changed)
			require.NoError(t, os.WriteFile(state, []byte(changed), 0o600))
		}, "acme_hq: zone"},
		{"the partial plan applied meanwhile", func(t *testing.T, state string) {
			got := invoke(t, "", nil, "apply", "-f", inv, "--url", "sim:"+state, "--company", "solo_ltd", "--auto-approve")
			require.Equal(t, 0, got.code, got.stderr)
		}, "acme_east: created; acme_hq: zone; solo_ltd: container, vm_silent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			state := writeFile(t, dir, "pbx.yaml", string(original))
			saved := filepath.Join(dir, "p")
			got := invoke(t, "", nil, "plan", "-f", inv, "--url", "sim:"+state, "--company", "solo_ltd", "--out", saved)
			require.Equal(t, 0, got.code, got.stderr)
			require.Contains(t, got.stdout, "  ~ update acme_hq\n      (container partner of solo_ltd, brought in with it)\n")

			tt.change(t, state)
			before, err := os.ReadFile(state)
			require.NoError(t, err)
			got = invoke(t, "", nil, "apply", saved, "-f", inv, "--url", "sim:"+state)
			require.Equal(t, 3, got.code, got.stderr)
			require.Equal(t, "pbxsync: refused before any write: "+saved+": the saved plan is stale: companies changed on the server since it was made ("+tt.want+"): plan again\n", got.stderr)
			after, err := os.ReadFile(state)
			require.NoError(t, err)
			require.Equal(t, string(before), string(after), "nothing written")
		})
	}
}
