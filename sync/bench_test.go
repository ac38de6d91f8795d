package sync_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// The load of the issue: 1,000 companies that each need one independent update, on
// a server that takes 50 ms to answer, applied 16 at a time. Each op takes seconds:
//
//	go test -run '^$' -bench BenchmarkApplyLoad -benchtime 1x ./sync/
const (
	loadCompanies   = 1000
	loadParallelism = 16
	loadLatency     = 50 * time.Millisecond
)

// BenchmarkApplyLoad times Apply (changes, then the read-back that verifies them)
// against the ideal: the updates at full parallelism, 1000/16 × 50 ms, plus one read
// phase as long as plan.ReadState's on the same server. "x-ideal" is Apply's time
// over that ideal. The sequential sub-benchmark sends the same 1,000 updates one
// after the other, for the speed-up.
func BenchmarkApplyLoad(b *testing.B) {
	sc := updates(loadCompanies)
	writes := time.Duration(loadCompanies/loadParallelism) * loadLatency
	if loadCompanies%loadParallelism != 0 {
		writes += loadLatency
	}
	setup := func(b *testing.B) (*apiclient.Client, *plan.Inventory) {
		srv := simtest.NewServer(b, pbxtest.WithState(sc.state), pbxtest.WithFaults(pbxtest.Faults{Latency: loadLatency}))
		return newClient(b, srv.URL, pbxtest.AdminKey), load(b, sc.inventory, noEnv)
	}

	b.Run("apply", func(b *testing.B) {
		var read, apply time.Duration
		for range b.N {
			b.StopTimer()
			c, inv := setup(b)
			start := time.Now()
			st, err := plan.ReadState(b.Context(), c, inv, loadParallelism)
			require.NoError(b, err)
			read += time.Since(start)
			p, err := plan.Diff(inv, st, plan.Options{})
			require.NoError(b, err)
			require.Equal(b, loadCompanies, p.Count()[plan.Update])

			b.StartTimer()
			start = time.Now()
			report := sync.Apply(b.Context(), c, inv, p, sync.Options{Parallelism: loadParallelism})
			apply += time.Since(start)
			b.StopTimer()
			require.True(b, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)
		}
		n := float64(b.N)
		ideal := writes.Seconds() + read.Seconds()/n
		b.ReportMetric(read.Seconds()/n, "read-s/op")
		b.ReportMetric(ideal, "ideal-s/op")
		b.ReportMetric(apply.Seconds()/n/ideal, "x-ideal")
	})

	b.Run("sequential", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			c, inv := setup(b)
			b.StartTimer()
			for _, co := range inv.Companies {
				_, err := c.Update(b.Context(), co.ID, apiclient.Changes{Settings: co.Settings})
				require.NoError(b, err)
			}
		}
	})
}
