package pbxtest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

func TestStats(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()))
	require.Zero(t, srv.Stats().TotalRequests(), "a seeded state is not requests")
	require.Zero(t, srv.Stats().TotalWrites(), "a seeded state is not writes")

	cookie := login(t, srv, "ops", "pw")
	status, resp, _ := post(t, srv.URL, "login", userAuth("ops", "wrong"), nil)
	requireFail(t, status, resp)
	status, resp, _ = post(t, srv.URL, "read", noAuth(scope("acme")), cookie)
	requireSuccess(t, status, resp)
	adminFails(t, srv, "read", scope("ghost"), nil)
	status, resp = call(t, srv, "wrong-key", "update", scope("acme"), obj{"q_ringtime": 20})
	requireFail(t, status, resp)
	adminFails(t, srv, "update", scope("acme"), obj{"q_ringtime": 99})
	admin(t, srv, "update", scope("acme"), obj{"q_ringtime": 20})
	admin(t, srv, "create", nil, obj{"company": "beta", "name": "Beta"})
	adminFails(t, srv, "create", nil, obj{"company": "beta", "name": "Beta"})
	admin(t, srv, "group", scope("beta"), obj{"company": "acme"})
	adminFails(t, srv, "group", scope("beta"), obj{"company": "ghost"})
	admin(t, srv, "readContainer", scope("acme"), nil)
	admin(t, srv, "ungroup", scope("beta"), nil)
	admin(t, srv, "delete", scope("beta"), nil)
	adminFails(t, srv, "delete", scope("beta"), nil)

	st := srv.Stats()
	wantRequests := map[string]int{"login": 2, "read": 2, "update": 3, "create": 2, "group": 2,
		"readContainer": 1, "ungroup": 1, "delete": 2}
	if diff := cmp.Diff(wantRequests, st.Requests); diff != "" {
		t.Errorf("Stats().Requests (-want +got):\n%s", diff)
	}
	wantWrites := map[string]int{"update": 1, "create": 1, "group": 1, "ungroup": 1, "delete": 1}
	if diff := cmp.Diff(wantWrites, st.Writes); diff != "" {
		t.Errorf("Stats().Writes: only committed changes (-want +got):\n%s", diff)
	}
	require.Equal(t, 15, st.TotalRequests())
	require.Equal(t, 5, st.TotalWrites())
	require.Empty(t, st.Faults)
	require.GreaterOrEqual(t, st.MaxInFlight, 1)

	srv.ResetStats()
	if diff := cmp.Diff(pbxtest.Stats{}, srv.Stats(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after ResetStats (-want +got):\n%s", diff)
	}
	admin(t, srv, "read", scope("acme"), nil)
	if diff := cmp.Diff(map[string]int{"read": 1}, srv.Stats().Requests); diff != "" {
		t.Errorf("counting goes on after ResetStats (-want +got):\n%s", diff)
	}
}

// Stats returns a copy: what a test holds does not change under it.
func TestStatsIsACopy(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"))
	admin(t, srv, "read", scope("acme"), nil)
	held := srv.Stats()
	held.Requests["read"] = 100
	admin(t, srv, "update", scope("acme"), obj{"q_ringtime": 20})
	if diff := cmp.Diff(map[string]int{"read": 1, "update": 1}, srv.Stats().Requests); diff != "" {
		t.Errorf("Stats().Requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"read": 100}, held.Requests); diff != "" {
		t.Errorf("the held copy (-want +got):\n%s", diff)
	}
}

// Faulted requests count as requests and faults, never as writes unless committed.
func TestStatsCountFaults(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithFaults(pbxtest.Faults{
		Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"}}))
	for range 3 {
		status, resp := call(t, srv, pbxtest.AdminKey, "update", scope("acme"), obj{"q_ringtime": 20})
		requireFail(t, status, resp)
	}
	admin(t, srv, "read", scope("acme"), nil)
	st := srv.Stats()
	if diff := cmp.Diff(map[string]int{"update": 3, "read": 1}, st.Requests); diff != "" {
		t.Errorf("Stats().Requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[pbxtest.Fault]int{pbxtest.FaultFail: 3}, st.Faults); diff != "" {
		t.Errorf("Stats().Faults (-want +got):\n%s", diff)
	}
	require.Zero(t, st.TotalWrites(), "writes: %v", st.Writes)
	if diff := cmp.Diff("", readData(t, srv, "acme")["q_ringtime"]); diff != "" {
		t.Errorf("q_ringtime (-want +got):\n%s", diff)
	}
}
