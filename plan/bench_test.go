package plan_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
)

// largeCase builds a server state and an inventory of n companies in containers of
// perContainer, where every tenth company has drifted: one setting differs, and every
// hundredth container has lost a member to a container of its own.
func largeCase(tb testing.TB, n, perContainer int) (pbxtest.State, *plan.Inventory) {
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
	loaded, _, err := plan.Load("large.yaml", []byte(inv.String()), plan.LoadOptions{})
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
		state, err := plan.ReadState(b.Context(), client, inv, 8)
		require.NoError(b, err)
		requests = state.Requests
	}
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(len(st.Containers)), "containers")
}

// BenchmarkDiff diffs 50,000 companies in 10,000 containers, 10% drifted.
func BenchmarkDiff(b *testing.B) {
	st, inv := largeCase(b, 50_000, 5)
	srv := simtest.NewServer(b, pbxtest.WithState(st))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(b, err)
	state, err := plan.ReadState(b.Context(), client, inv, 8)
	require.NoError(b, err)
	b.ReportAllocs()
	var changes int
	for b.Loop() {
		p, err := plan.Diff(inv, state, plan.Options{})
		require.NoError(b, err)
		changes = len(p.Changes)
	}
	b.ReportMetric(float64(changes), "changes")
}

// BenchmarkLoadInventory loads an inventory of 50,000 companies.
func BenchmarkLoadInventory(b *testing.B) {
	var data strings.Builder
	data.WriteString("version: 1\ncompanies:\n")
	for i := range 50_000 {
		fmt.Fprintf(&data, "  c%06d:\n    name: Company %d\n    settings:\n      q_ringtime: 15\n      zone: Europe/London\n", i, i)
	}
	raw := []byte(data.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_, _, err := plan.Load("large.yaml", raw, plan.LoadOptions{})
		require.NoError(b, err)
	}
}

// BenchmarkLoadFiles loads 50,000 companies split into 500 files in 20 folders, with
// a _defaults.yaml per folder, file defaults and profiles (issue 10: under 1 s).
func BenchmarkLoadFiles(b *testing.B) {
	tree, _ := splitInventory(20, 25, 100)
	var files []plan.File
	for _, name := range slices.Sorted(maps.Keys(tree)) {
		files = append(files, plan.File{Name: name, Data: []byte(tree[name])})
	}
	b.ReportAllocs()
	for b.Loop() {
		inv, _, err := plan.LoadFiles(files, plan.LoadOptions{})
		require.NoError(b, err)
		require.Len(b, inv.Companies, 50_000)
	}
	b.ReportMetric(float64(len(files)), "files")
}
