package pbxtest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	st, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err, "a missing file is an empty state")
	require.Empty(t, st.Companies)

	srv := pbxtest.New(pbxtest.WithState(pbxtest.State{
		Companies: []apiclient.Company{
			{ID: "acme", Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"q_ringtime": apiclient.Int(15), "record": apiclient.Int(7), "nm_password": apiclient.String("0042"),
				"nocallrec": apiclient.Bool(true), "noext": apiclient.String("qh"), "future_field": apiclient.String("kept"),
			})},
			{ID: "beta", Name: "Beta"},
			{ID: "solo", Name: "Solo"},
		},
		Containers: map[string][]string{"acme": {"acme", "beta"}},
	}))
	before := srv.Snapshot()
	require.NoError(t, pbxtest.WriteStateFile(path, before))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file holds PINs")

	read, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err)
	after := pbxtest.New(pbxtest.WithState(read)).Snapshot()
	jsonOf := cmp.Transformer("json", func(v apiclient.Value) string { return v.JSON() })
	ignoreNums := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Num" }, cmp.Ignore())
	if diff := cmp.Diff(before, after, jsonOf, ignoreNums); diff != "" {
		t.Errorf("state after a round trip (-want +got):\n%s", diff)
	}
	acme, _ := pbxtest.New(pbxtest.WithState(read)).Company("acme")
	require.Equal(t, `"15"`, acme.Settings.Get("q_ringtime").JSON(), "a number the server keeps as a string stays a string")
	require.Equal(t, `7`, acme.Settings.Get("record").JSON(), "an integer stays an integer")
	require.Equal(t, `"0042"`, acme.Settings.Get("nm_password").Reveal().JSON(), "a PIN keeps its leading zeros")
}

func TestStateFileErrors(t *testing.T) {
	for name, content := range map[string]string{
		"unknown key":   "version: 1\ncompanies: {}\ntenants: {}\n",
		"wrong version": "version: 2\ncompanies: {}\n",
		"a list value":  "version: 1\ncompanies:\n  a:\n    name: A\n    settings:\n      zone: [1, 2]\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.yaml")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			_, err := pbxtest.ReadStateFile(path)
			require.Error(t, err)
			require.Contains(t, err.Error(), path, "the error names the file")
		})
	}
}
