package sync_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

// BenchmarkApplyLoad: N companies that each need one independent update, on a server
// that takes L to answer, planned and applied P at a time. Each op takes seconds:
//
//	go test -run '^$' -bench BenchmarkApplyLoad -benchtime 1x ./sync/
//
// "apply" is the whole run, plan (state.Read and Diff) then Apply with its
// verification; "x-ideal" is its time over the ideal of the plan's own time plus the
// updates at full parallelism, ceil(N/P) × L, and "extra-requests" the requests beyond
// the plan's and the N updates (verification reads none: the answers show what was
// kept). "x-script" compares, at L = 20 ms and P = 8, the sequential script users
// have today (read a company, update it, the next) with the same run of pbxsync.
func BenchmarkApplyLoad(b *testing.B) {
	const n = 1000
	sc := updates(n)
	setup := func(b *testing.B, latency time.Duration) (*simtest.Server, *apiclient.Client, *inventory.Inventory) {
		srv := simtest.NewServer(b, pbxtest.WithState(sc.state), pbxtest.WithFaults(pbxtest.Faults{Latency: latency}))
		return srv, newClient(b, srv.URL, pbxtest.AdminKey), load(b, sc.inventory, noEnv)
	}
	// whole plans and applies once, and returns the plan's time and the whole time.
	whole := func(b *testing.B, srv *simtest.Server, c *apiclient.Client, inv *inventory.Inventory, parallelism int) (time.Duration, time.Duration, int) {
		start := time.Now()
		st, err := state.Read(b.Context(), c, inv, parallelism)
		require.NoError(b, err)
		p, err := plan.Diff(inv, st, plan.Options{})
		require.NoError(b, err)
		planned := time.Since(start)
		require.Equal(b, n, p.Count()[plan.Update])
		planRequests := srv.Stats().TotalRequests()
		report := sync.Apply(b.Context(), c, p, sync.Options{Parallelism: parallelism})
		require.True(b, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)
		return planned, time.Since(start), srv.Stats().TotalRequests() - planRequests - n
	}

	b.Run("apply", func(b *testing.B) {
		const latency, parallelism = 50 * time.Millisecond, 16
		updates := time.Duration((n+parallelism-1)/parallelism) * latency
		var ratio float64
		var extra int
		for range b.N {
			b.StopTimer()
			srv, c, inv := setup(b, latency)
			b.StartTimer()
			planned, total, more := whole(b, srv, c, inv, parallelism)
			ratio += total.Seconds() / (planned + updates).Seconds()
			extra += more
		}
		b.ReportMetric(ratio/float64(b.N), "x-ideal")
		b.ReportMetric(float64(extra)/float64(b.N), "extra-requests/op")
	})

	b.Run("script", func(b *testing.B) {
		const latency, parallelism = 20 * time.Millisecond, 8
		var ratio float64
		for range b.N {
			b.StopTimer()
			_, c, inv := setup(b, latency)
			start := time.Now()
			for _, co := range inv.Companies {
				_, err := c.Read(b.Context(), co.ID)
				require.NoError(b, err)
				_, err = c.Update(b.Context(), co.ID, apiclient.Changes{Settings: co.Settings})
				require.NoError(b, err)
			}
			script := time.Since(start)
			srv, c, inv := setup(b, latency)
			b.StartTimer()
			_, total, _ := whole(b, srv, c, inv, parallelism)
			ratio += script.Seconds() / total.Seconds()
		}
		b.ReportMetric(ratio/float64(b.N), "x-script")
	})
}
