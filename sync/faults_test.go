package sync_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// scenario is a server and an inventory with many changes of every kind but renames.
type scenario struct {
	state     pbxtest.State
	inventory string
	creates   int
	deletes   int
}

// manyChanges is 3n managed companies: n to create with settings (half of them
// joining a company to update), n to update, n alone on the server that join in
// pairs; and n/4 unmanaged companies to prune.
func manyChanges(n int) scenario {
	var sc scenario
	var inv strings.Builder
	inv.WriteString("version: 1\ncompanies:\n")
	var containers strings.Builder
	for i := range n {
		fmt.Fprintf(&inv, "  new_%02d: {name: New %d, settings: {zone: US/Pacific, q_ringtime: 20}}\n", i, i)
		sc.creates++
		sc.state.Companies = append(sc.state.Companies, company(fmt.Sprintf("upd_%02d", i), fmt.Sprintf("Update %d", i), "zone", "Europe/London"))
		fmt.Fprintf(&inv, "  upd_%02d: {name: Update %d, settings: {zone: US/Eastern}}\n", i, i)
		if i < n/2 {
			fmt.Fprintf(&containers, "  with_new_%02d: [upd_%02d, new_%02d]\n", i, i, i)
		}
		sc.state.Companies = append(sc.state.Companies, company(fmt.Sprintf("grp_%02d", i), fmt.Sprintf("Group %d", i)))
		fmt.Fprintf(&inv, "  grp_%02d: {name: Group %d}\n", i, i)
		if i%2 == 1 {
			fmt.Fprintf(&containers, "  pair_%02d: [grp_%02d, grp_%02d]\n", i, i-1, i)
		}
	}
	for i := range n / 4 {
		sc.state.Companies = append(sc.state.Companies, company(fmt.Sprintf("cust_%02d", i), fmt.Sprintf("Customer %d", i)))
		sc.deletes++
	}
	inv.WriteString("containers:\n" + containers.String() + "prune:\n  match: \"^cust_\"\n")
	sc.inventory = inv.String()
	return sc
}

// manyRetries makes a request that fails after all its retries rare under 30% of
// transient faults (0.26^10): the tests are about apply, not about running out of retries.
var manyRetries = apiclient.RetryPolicy{Attempts: 10, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond}

// allWrites are the verbs that change something.
var allWrites = []string{"create", "update", "delete", "group", "ungroup"}

// requireNoDoubleCreate checks that the server carried out no planned create twice
// and that no result blames a company that already exists.
func requireNoDoubleCreate(t *testing.T, srv *simtest.Server, creates int, reports ...*sync.Report) {
	t.Helper()
	require.LessOrEqual(t, srv.Stats().Writes["create"], creates, "no create is carried out twice")
	for _, report := range reports {
		for _, r := range report.Results {
			if r.Err != nil {
				require.NotContains(t, r.Err.Error(), "already exists", "%s: round %d", changeKey(r.Change), r.Round)
			}
		}
	}
}

// TestApplyConvergesUnderTransientFaults: with 30% of all requests failing in every
// transient way, repair rounds converge, and no company is created twice.
func TestApplyConvergesUnderTransientFaults(t *testing.T) {
	t.Parallel()
	sc := manyChanges(20)
	kinds := []pbxtest.Fault{pbxtest.Fault503, pbxtest.Fault429, pbxtest.FaultHTML, pbxtest.FaultTruncated,
		pbxtest.FaultDropBefore, pbxtest.FaultDropAfter, pbxtest.FaultFail}
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		for seed := uint64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", mode, seed), func(t *testing.T) {
				t.Parallel()
				srv := simtest.NewServer(t, pbxtest.WithState(sc.state), pbxtest.WithMode(mode))
				c := newClient(t, srv.URL, pbxtest.AdminKey, apiclient.WithRetryPolicy(manyRetries))
				inv := load(t, sc.inventory, noEnv)
				opts := plan.Options{Prune: true, MaxDelete: sc.deletes}
				p := diff(t, c, inv, 8, opts)
				require.Equal(t, sc.creates, p.Count()[plan.Create])
				require.Equal(t, sc.deletes, p.Count()[plan.Delete])

				srv.ResetStats()
				srv.SetFaults(pbxtest.Faults{Seed: seed, Rates: pbxtest.SpreadRate(0.3, kinds...)})
				report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 8, Rounds: 3})
				srv.SetFaults(pbxtest.Faults{})
				require.NotZero(t, srv.Stats().Faults, "faults were injected")

				requireNoDoubleCreate(t, srv, sc.creates, report)
				require.True(t, report.Verified, "drift %v unresolved %v failures %v", report.Drift, report.Unresolved, failures(report.Results))
				require.Equal(t, sc.creates, srv.Stats().Writes["create"], "each planned create is carried out once")
				again := diff(t, c, inv, 8, opts)
				require.True(t, again.Empty(), "a second plan is empty: %v", again.Changes)
			})
		}
	}
}

// TestApplyConvergesWhenAnswersAreLostAfterCommit: with half of the writes committed
// and their answers lost, one rerun on a fresh plan is enough, and no company is
// created twice or reported as already existing.
func TestApplyConvergesWhenAnswersAreLostAfterCommit(t *testing.T) {
	t.Parallel()
	sc := manyChanges(20)
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", mode, seed), func(t *testing.T) {
				t.Parallel()
				srv := simtest.NewServer(t, pbxtest.WithState(sc.state), pbxtest.WithMode(mode))
				c := newClient(t, srv.URL, pbxtest.AdminKey)
				inv := load(t, sc.inventory, noEnv)
				opts := plan.Options{Prune: true, MaxDelete: sc.deletes}
				p := diff(t, c, inv, 8, opts)
				srv.SetFaults(pbxtest.Faults{Seed: seed, Rates: map[pbxtest.Fault]float64{pbxtest.FaultDropAfter: 0.5}, Verbs: allWrites})

				reports := []*sync.Report{sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 8})}
				if !reports[0].Verified {
					rerun := diff(t, c, inv, 8, opts)
					reports = append(reports, sync.Apply(t.Context(), c, rerun, sync.Options{Parallelism: 8}))
				}
				require.NotZero(t, srv.Stats().Faults[pbxtest.FaultDropAfter], "answers were lost")
				requireNoDoubleCreate(t, srv, sc.creates, reports...)
				last := reports[len(reports)-1]
				require.True(t, last.Verified, "drift %v unresolved %v failures %v", last.Drift, last.Unresolved, failures(last.Results))
				require.Equal(t, sc.creates, srv.Stats().Writes["create"], "each planned create is carried out once")
				require.Equal(t, sc.deletes, srv.Stats().Writes["delete"], "each planned delete is carried out once")

				srv.SetFaults(pbxtest.Faults{})
				again := diff(t, c, inv, 8, opts)
				require.True(t, again.Empty(), "a third plan is empty: %v", again.Changes)
			})
		}
	}
}

// TestApplyDoesNotTakeARefusedReadBackForAbsence: a "fail" answer to a read (such as
// "temporarily unavailable, try again") does not make apply create again a company
// that exists; updates need no read at all, their answers verify them.
func TestApplyDoesNotTakeARefusedReadBackForAbsence(t *testing.T) {
	const tenantKey = "tenant-admin-key"
	tests := []struct {
		name string
		key  string
		verb string // the read-back refused
	}{
		{"system admin", pbxtest.AdminKey, "readContainer"},
		{"company admin", tenantKey, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc := updates(4)
			srv := simtest.NewServer(t, pbxtest.WithState(sc.state),
				pbxtest.WithAPIKey(tenantKey, pbxtest.CompanyAdmin("co_0000", "co_0001", "co_0002", "co_0003")))
			c := newClient(t, srv.URL, tt.key)
			inv := load(t, sc.inventory, noEnv)
			p := diff(t, c, inv, 2, plan.Options{})
			require.Equal(t, map[plan.Action]int{plan.Update: 4}, p.Count())

			srv.ResetStats()
			srv.SetFaults(pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{tt.verb}})
			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 2, Rounds: 2})
			require.Zero(t, srv.Stats().Requests[tt.verb], "updates are verified from their answers, with no read")
			require.Zero(t, srv.Stats().Requests["create"], "no create of a company that exists: %v", failures(report.Results))
			for _, r := range report.Results {
				require.NotEqual(t, plan.Create, r.Action, "round %d: %s", r.Round, changeKey(r.Change))
			}
			require.Equal(t, 4, srv.Stats().Writes["update"], "the updates were made")
			require.True(t, report.Verified, "the answers show what was written")
		})
	}
}
