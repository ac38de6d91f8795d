package pbxtest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

func TestServeFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	_, err := pbxtest.ServeFile(t.Context(), path, false)
	require.ErrorContains(t, err, "no such state file: this command only reads")
	require.NoFileExists(t, path, "a reading command creates nothing")

	sim, err := pbxtest.ServeFile(t.Context(), path, true)
	require.NoError(t, err)
	require.True(t, sim.Created)
	require.NoError(t, sim.Close())
	st, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err)
	require.Empty(t, st.Companies)
}

// TestServeFileWritesBack serves a state file over loopback HTTP, creates a company
// through the client, and finds it in the file once the simulator is closed; a run
// that wrote nothing leaves the file's bytes as they were.
func TestServeFileWritesBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	require.NoError(t, pbxtest.WriteStateFile(path, pbxtest.State{Companies: []apiclient.Company{{ID: "acme", Name: "Acme"}}}))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	read, err := pbxtest.ServeFile(t.Context(), path, false)
	require.NoError(t, err)
	c, err := apiclient.New(read.URL, apiclient.WithAPIKey(read.Key))
	require.NoError(t, err)
	_, err = c.Read(t.Context(), "acme")
	require.NoError(t, err)
	require.NoError(t, read.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "nothing written, nothing saved")

	write, err := pbxtest.ServeFile(t.Context(), path, true)
	require.NoError(t, err)
	c, err = apiclient.New(write.URL, apiclient.WithAPIKey(write.Key))
	require.NoError(t, err)
	_, err = c.CreateConfirmed(t.Context(), "beta", "Beta", "")
	require.NoError(t, err)
	require.NoError(t, write.Close())
	st, err := pbxtest.ReadStateFile(path)
	require.NoError(t, err)
	var ids []string
	for _, co := range st.Companies {
		ids = append(ids, co.ID)
	}
	require.ElementsMatch(t, []string{"acme", "beta"}, ids)
}
