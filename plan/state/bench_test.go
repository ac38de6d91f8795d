package state_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// largeCase builds a server state and an inventory of n companies in containers of
// perContainer, where every tenth company has drifted: one setting differs, and every
// hundredth container has lost a member to a container of its own: the case of
// plan's BenchmarkDiff, so that the two figures read together.
func largeCase(tb testing.TB, n, perContainer int) (pbxtest.State, *inventory.Inventory) {
	st := pbxtest.State{Containers: map[string][]string{}}
	var inv strings.Builder
	inv.WriteString("version: 1\ndefaults:\n  zone: Europe/London\ncompanies:\n")
	var groups strings.Builder
	for i := range n {
		id := fmt.Sprintf("c%06d", i)
		ring := 5 + i%20
		if i%10 == 0 {
			ring++ // drift
		}
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: "Company " + id, Settings: apiclient.SettingsOf(map[string]apiclient.Value{
			"zone": apiclient.String("Europe/London"), "q_ringtime": apiclient.Int(int64(ring)), "vm_maxmsgs": apiclient.String("100"),
		})})
		fmt.Fprintf(&inv, "  %s:\n    name: Company %s\n    settings:\n      q_ringtime: %d\n      vm_maxmsgs: 100\n", id, id, 5+i%20)
		box := fmt.Sprintf("c%06d", i-i%perContainer)
		if i%(100*perContainer) != perContainer-1 { // drift: the last member stands alone
			st.Containers[box] = append(st.Containers[box], id)
		}
		if i%perContainer == 0 {
			fmt.Fprintf(&groups, "\n  g%s: [%s", id, id)
		} else {
			fmt.Fprintf(&groups, ", %s", id)
		}
		if i%perContainer == perContainer-1 {
			groups.WriteString("]")
		}
	}
	inv.WriteString("containers:")
	inv.WriteString(groups.String())
	inv.WriteString("\n")
	loaded, _, err := inventory.Load("large.yaml", []byte(inv.String()), inventory.LoadOptions{})
	require.NoError(tb, err)
	return st, loaded
}

// BenchmarkReadState reads 50,000 companies in 10,000 containers from the simulator
// over HTTP at parallelism 8, as plan does.
func BenchmarkReadState(b *testing.B) {
	st, inv := largeCase(b, 50_000, 5)
	srv := simtest.NewServer(b, pbxtest.WithState(st))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(b, err)
	b.ReportAllocs()
	var requests int
	for b.Loop() {
		read, err := state.Read(b.Context(), client, inv, 8)
		require.NoError(b, err)
		requests = read.Requests
	}
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(len(st.Containers)), "containers")
}
