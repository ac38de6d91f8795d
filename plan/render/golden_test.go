package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenEnv is the environment the golden inventories resolve ${VAR} from.
var goldenEnv = map[string]string{"ACME_NM_PIN": "4711", "BETA_PIN": "9876"}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestGolden plans each testdata/golden/<case>: the inventory against a simulator
// seeded from state.yaml, over real HTTP, and compares the text, JSON and Markdown
// renderings (and a refusal, if any) with the files beside them.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var opts plan.Options
			if data, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				var o struct {
					Prune     bool     `json:"prune"`
					MaxDelete int      `json:"max_delete"`
					Companies []string `json:"companies"`
					Match     string   `json:"match"`
				}
				require.NoError(t, json.Unmarshal(data, &o))
				opts = plan.Options{Prune: o.Prune, MaxDelete: o.MaxDelete, Companies: o.Companies, Match: o.Match}
			}
			data, err := os.ReadFile(filepath.Join(dir, "inventory.yaml"))
			require.NoError(t, err)
			inv, _, err := inventory.Load("inventory.yaml", data, inventory.LoadOptions{Lookup: lookup(goldenEnv)})
			require.NoError(t, err)
			st, err := pbxtest.ReadStateFile(filepath.Join(dir, "state.yaml"))
			require.NoError(t, err)
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
			require.NoError(t, err)

			read, err := state.Read(t.Context(), client, inv, 4)
			require.NoError(t, err)
			p, diffErr := plan.Diff(inv, read, opts)
			var budget *plan.DeleteBudgetError
			if diffErr != nil && !errors.As(diffErr, &budget) {
				t.Fatalf("Diff: %v", diffErr)
			}
			require.Zero(t, srv.Stats().TotalWrites(), "planning writes nothing")

			var text, js, md bytes.Buffer
			require.NoError(t, render.PlanText(&text, p, false))
			require.NoError(t, render.PlanJSON(&js, p))
			require.NoError(t, render.PlanMarkdown(&md, p, render.MarkdownOptions{}))
			outputs := map[string][]byte{"plan.txt": text.Bytes(), "plan.json": js.Bytes(), "plan.md": md.Bytes()}
			if diffErr != nil {
				outputs["error.txt"] = []byte(diffErr.Error() + "\n")
			}
			for name, got := range outputs {
				for secret := range goldenEnv {
					require.NotContains(t, string(got), goldenEnv[secret], "%s shows a secret", name)
				}
				golden(t, filepath.Join(dir, name), got)
			}
			if _, err := os.Stat(filepath.Join(dir, "error.txt")); err == nil && diffErr == nil {
				t.Errorf("error.txt expects a refusal, but Diff returned none")
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./plan/render -update to write it")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}
