package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

// manyCompanies is an inventory of n companies c000..., all alone.
func manyCompanies(t *testing.T, n int) (*inventory.Inventory, pbxtest.State) {
	var b strings.Builder
	b.WriteString("version: 1\ncompanies:\n")
	var st pbxtest.State
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		fmt.Fprintf(&b, "  %s: {name: Company %d}\n", id, i)
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: fmt.Sprintf("Company %d", i)})
	}
	inv, _, err := inventory.Load("inv.yaml", []byte(b.String()), inventory.LoadOptions{})
	require.NoError(t, err)
	return inv, st
}

func TestReadStateRefusedKeyStopsEarly(t *testing.T) {
	inv, st := manyCompanies(t, 200)
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey("not-a-key"))
	require.NoError(t, err)

	_, err = state.Read(t.Context(), client, inv, 4)
	require.True(t, apiclient.IsRefused(err), "a key refused for everything is an error, not a plan of creates: %v", err)
	require.Contains(t, err.Error(), "invalid API key")
	reads := srv.Stats().Requests["read"]
	require.LessOrEqual(t, reads, 1+20+4, "a wrong key does not cost a request per company")
}

func TestReadStateCompanyAdmin(t *testing.T) {
	inv, st := manyCompanies(t, 3)
	srv := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithAPIKey("admin-of-two", pbxtest.CompanyAdmin("c000", "c002")))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey("admin-of-two"))
	require.NoError(t, err)

	read, err := state.Read(t.Context(), client, inv, 2)
	require.NoError(t, err)
	require.False(t, read.Grouping, "a company administrator may not read containers")
	require.ElementsMatch(t, []string{"c000", "c002"}, keys(read.Companies))
	require.Equal(t, map[string]int{"read": 4}, srv.Stats().Requests, "one refused read of all, then one read per company")

	p, err := plan.Diff(inv, read, plan.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, p.Count()[plan.Create], "c001 could not be read")
	require.Len(t, p.Warnings, 2, "containers not checked, and creates that may be refused: %v", p.Warnings)
}

func TestReadStateReadsEachContainerOnce(t *testing.T) {
	inv, st := manyCompanies(t, 12)
	st.Containers = map[string][]string{"c000": {"c000", "c001", "c002", "c003"}, "c004": {"c004", "c005", "c006"}}
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)

	read, err := state.Read(t.Context(), client, inv, 1)
	require.NoError(t, err)
	// 2 shared containers and 5 companies alone: one read of all, 7 container reads.
	require.Equal(t, map[string]int{"read": 1, "readContainer": 7}, srv.Stats().Requests)
	require.Equal(t, 8, read.Requests)
	require.Len(t, read.Containers, 7)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// unreadable is the simulator's client, except that the containers of some
// companies cannot be read: the server answers fail (and their readContainer is
// counted), or the connection breaks.
type unreadable struct {
	*apiclient.Client
	refuse map[string]error
	tries  map[string]int
}

func (u *unreadable) ReadContainer(ctx context.Context, id string) (apiclient.Container, error) {
	if err, ok := u.refuse[id]; ok {
		u.tries[id]++
		return apiclient.Container{}, err
	}
	return u.Client.ReadContainer(ctx, id)
}

// A container that cannot be read leaves only its companies out of the plan (and
// those the inventory groups with them), instead of ending the run.
func TestReadStateUnreadableContainer(t *testing.T) {
	t.Parallel()
	const src = `version: 1
companies:
  a: {name: A, settings: {zone: US/Pacific}}
  b: {name: B, settings: {zone: US/Pacific}}
  c: {name: C, settings: {zone: US/Pacific}}
  d: {name: D, settings: {zone: US/Pacific}}
  e: {name: E, settings: {zone: US/Pacific}}
containers:
  ab: [a, b]
  cd: [c, d]
`
	inv, _, err := inventory.Load("inv.yaml", []byte(src), inventory.LoadOptions{})
	require.NoError(t, err)
	var st pbxtest.State
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: strings.ToUpper(id)})
	}
	srv := simtest.NewServer(t, pbxtest.WithState(st))
	client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
	require.NoError(t, err)
	refused := &apiclient.APIError{Verb: "readContainer", Company: "a", Message: "temporarily unavailable, try again"}
	broken := &apiclient.TransportError{Verb: "readContainer", Company: "e", Err: errors.New("connection reset by peer")}
	r := &unreadable{Client: client, refuse: map[string]error{"a": refused, "b": refused, "e": broken}, tries: map[string]int{}}

	read, err := state.Read(t.Context(), r, inv, 1)
	require.NoError(t, err, "the other containers are read, and planned")
	require.Equal(t, map[string]int{"a": 2, "b": 2, "e": 1}, r.tries, "a refusal of a company just read is tried once more; a transport error was retried by the client")
	require.ElementsMatch(t, []string{"a", "b", "e"}, keys(read.Unread))

	p, err := plan.Diff(inv, read, plan.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "e"}, p.NotPlannedIDs())
	var planned []string
	for _, c := range p.Changes {
		planned = append(planned, string(c.Action)+" "+c.Company)
	}
	require.Equal(t, []string{"update c", "update d", "group d"}, planned, "c and d are planned, a, b and e are not")
	var notPlanned *plan.NotPlannedError
	require.ErrorAs(t, p.Incomplete(), &notPlanned)
	require.Equal(t, []string{"a", "b", "e"}, notPlanned.Companies)

	var text, md strings.Builder
	require.NoError(t, render.PlanText(&text, p, false))
	require.Contains(t, text.String(), "Not planned (the plan is incomplete; run again):\n  ! a: its container could not be read: readContainer of \"a\": server refused: temporarily unavailable, try again\n")
	require.Contains(t, text.String(), "  ! e: its container could not be read: readContainer of \"e\": connection reset by peer\n")
	require.NoError(t, render.PlanMarkdown(&md, p, render.MarkdownOptions{}))
	require.Contains(t, md.String(), "#### Not planned (the plan is incomplete)\n\n- `a`: its container could not be read")
	doc := p.JSON()
	require.Len(t, doc.NotPlanned, 3)
	require.Equal(t, plan.JSONNotPlanned{Company: "b", Reason: doc.NotPlanned[1].Reason}, doc.NotPlanned[1])
}

// A server grouped as the inventory says is read with the fewest requests: one read
// of all companies and one readContainer for each container that holds a managed
// company, whatever the parallelism.
func TestReadStateReadsTheMinimum(t *testing.T) {
	t.Parallel()
	var inv strings.Builder
	inv.WriteString("version: 1\ncompanies:\n")
	var containers strings.Builder
	var st pbxtest.State
	st.Containers = map[string][]string{}
	for box := range 100 {
		var members []string
		for i := range 5 {
			id := fmt.Sprintf("c%03d_%d", box, i)
			members = append(members, id)
			st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: "Company " + id})
			if box < 90 {
				fmt.Fprintf(&inv, "  %s: {name: Company %s}\n", id, id)
			}
		}
		st.Containers[members[0]] = members
		if box < 90 {
			fmt.Fprintf(&containers, "  box%03d: [%s]\n", box, strings.Join(members, ", "))
		}
	}
	inv.WriteString("containers:\n" + containers.String())
	loaded, _, err := inventory.Load("inv.yaml", []byte(inv.String()), inventory.LoadOptions{})
	require.NoError(t, err)
	for _, parallelism := range []int{1, 8, 32} {
		t.Run(fmt.Sprint(parallelism), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
			require.NoError(t, err)

			read, err := state.Read(t.Context(), client, loaded, parallelism)
			require.NoError(t, err)
			require.Equal(t, map[string]int{"read": 1, "readContainer": 90}, srv.Stats().Requests)
			require.Equal(t, 91, read.Requests)
			require.LessOrEqual(t, srv.Stats().MaxInFlight, parallelism)
			p, err := plan.Diff(loaded, read, plan.Options{})
			require.NoError(t, err)
			require.True(t, p.Empty(), "%v", p.Changes)
		})
	}
}

// ReadSnapshot reads every container, each once but where one spans two of the runs
// its goroutines read: at most 1 + containers + parallelism-1 requests.
func TestReadSnapshotReadsEachContainerOnce(t *testing.T) {
	t.Parallel()
	st := pbxtest.State{Containers: map[string][]string{}}
	for i := range 400 {
		id := fmt.Sprintf("c%04d", i)
		st.Companies = append(st.Companies, apiclient.Company{ID: id, Name: "Company " + id})
		if i < 300 { // 75 containers of four, then 100 companies alone
			box := fmt.Sprintf("c%04d", i-i%4)
			st.Containers[box] = append(st.Containers[box], id)
		}
	}
	for _, parallelism := range []int{1, 8, 32} {
		t.Run(fmt.Sprint(parallelism), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			client, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
			require.NoError(t, err)
			snap, err := state.ReadSnapshot(t.Context(), client, parallelism)
			require.NoError(t, err)
			require.Len(t, snap.Containers, 175)
			require.Equal(t, 1, srv.Stats().Requests["read"])
			require.LessOrEqual(t, srv.Stats().Requests["readContainer"], 175+parallelism-1)
			require.Equal(t, snap.Requests, srv.Stats().TotalRequests())
			require.LessOrEqual(t, srv.Stats().MaxInFlight, parallelism)
		})
	}
}
