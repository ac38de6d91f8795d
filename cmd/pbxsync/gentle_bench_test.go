package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// Against a PBX whose API has a few workers (api.md "A PBX is shared"): each
// request holds one of them for 20 ms (--service-time), after 10 ms of network
// (--latency). The goal of the issue: at default flags, an apply takes at most 1.25
// times the least the pool needs, and the mean wait for a worker is at most one
// service time.
const (
	gentleService = 20 * time.Millisecond
	gentleLatency = 10 * time.Millisecond
)

// gentleCase is a server of n companies, each alone in its container, and an
// inventory that changes every one's zone: an apply reads each company and updates
// it, 2n requests and one more for the list.
func gentleCase(prefix string, n int) (pbxtest.State, string) {
	var st pbxtest.State
	var inv strings.Builder
	inv.WriteString("version: 1\ncompanies:\n")
	for i := range n {
		id := fmt.Sprintf("%s%05d", prefix, i)
		st.Companies = append(st.Companies, co(id, "Company "+id, "zone", "Europe/London"))
		fmt.Fprintf(&inv, "  %s: {name: Company %s, settings: {zone: Europe/Paris}}\n", id, id)
	}
	return st, inv.String()
}

// gentleRun is one apply of a gentle case: its wall time, what the pool measured,
// the limit pbxsync settled on (from --report), and the requests the server answered.
type gentleRun struct {
	wall     time.Duration
	pool     pbxtest.PoolStats
	limit    int
	requests int
	refused  int // answered 429
}

// gentleApply applies the gentle case of n companies to a server of workers (none
// for 0: no pool) with faults (their latency gentleLatency unless given), with args
// added to apply's.
func gentleApply(b *testing.B, workers, n int, faults pbxtest.Faults, args ...string) gentleRun {
	b.Helper()
	st, inv := gentleCase("c", n)
	if faults.Latency == 0 {
		faults.Latency = gentleLatency
	}
	opts := []pbxtest.Option{pbxtest.WithState(st), pbxtest.WithFaults(faults)}
	if workers > 0 {
		opts = append(opts, pbxtest.WithWorkers(workers, gentleService))
	}
	srv := simtest.NewServer(b, opts...)
	dir := b.TempDir()
	invFile := filepath.Join(dir, "inventory.yaml")
	require.NoError(b, os.WriteFile(invFile, []byte(inv), 0o600))
	report := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	env := adminEnv(srv)
	start := time.Now()
	code := run(b.Context(), append([]string{"apply", "-f", invFile, "--auto-approve", "--report", report}, args...),
		strings.NewReader(""), &stdout, &stderr, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	wall := time.Since(start)
	require.Equal(b, 0, code, "%s", stderr.String())
	var doc struct {
		ParallelismLimit int `json:"parallelism_limit"`
	}
	data, err := os.ReadFile(report)
	require.NoError(b, err)
	require.NoError(b, json.Unmarshal(data, &doc))
	stats := srv.Stats()
	return gentleRun{wall: wall, pool: stats.Pool, limit: doc.ParallelismLimit, requests: stats.TotalRequests(), refused: stats.Faults[pbxtest.Fault429]}
}

// BenchmarkGentleApply applies 100 x N updates to a PBX of N workers at default
// flags (--parallelism auto), for N = 2, 6 and 16. x-ideal is the wall time over
// the least the pool needs, (1 + 2 x 100 x N) x 20 ms / N; wait-ms the mean time a
// request waited for a worker; limit the limit pbxsync settled on. Each op takes
// about 4 s:
//
//	go test ./cmd/pbxsync -run '^$' -bench BenchmarkGentleApply -benchtime 3x
func BenchmarkGentleApply(b *testing.B) {
	for _, workers := range []int{2, 6, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ideal := time.Duration(1+2*100*workers) * gentleService / time.Duration(workers)
			var ratio, wait, limit float64
			for b.Loop() {
				r := gentleApply(b, workers, 100*workers, pbxtest.Faults{})
				ratio += float64(r.wall) / float64(ideal)
				wait += float64(r.pool.MeanWait()) / float64(time.Millisecond)
				limit += float64(r.limit)
			}
			n := float64(b.N)
			b.ReportMetric(ratio/n, "x-ideal")
			b.ReportMetric(wait/n, "wait-ms")
			b.ReportMetric(limit/n, "limit")
		})
	}
}

// BenchmarkGentleNoQueue: where the server does not queue (no pool), nothing is
// lost. "pinned-16" applies 100 updates at --parallelism 16 against 50 ms of latency:
// x-ideal is its time over (1 + 2 x ceil(100/16)) x 50 ms, the least 16 in flight
// need for the list, the reads, then the updates.
// "auto-300" applies 300 updates at default flags against 20 ms: x-sequential is how
// many times faster it is than a script that reads and updates one company after
// another (601 x 20 ms).
//
//	go test ./cmd/pbxsync -run '^$' -bench BenchmarkGentleNoQueue -benchtime 3x
func BenchmarkGentleNoQueue(b *testing.B) {
	b.Run("pinned-16", func(b *testing.B) {
		const n = 100
		ideal := time.Duration(1+2*((n+15)/16)) * 50 * time.Millisecond
		var ratio float64
		for b.Loop() {
			r := gentleApply(b, 0, n, pbxtest.Faults{Latency: 50 * time.Millisecond}, "--parallelism", "16")
			ratio += float64(r.wall) / float64(ideal)
		}
		b.ReportMetric(ratio/float64(b.N), "x-ideal")
	})
	b.Run("auto-300", func(b *testing.B) {
		const n = 300
		sequential := time.Duration(1+2*n) * 20 * time.Millisecond
		var speedup float64
		for b.Loop() {
			r := gentleApply(b, 0, n, pbxtest.Faults{Latency: 20 * time.Millisecond})
			speedup += float64(sequential) / float64(r.wall)
		}
		b.ReportMetric(speedup/float64(b.N), "x-sequential")
	})
}

// BenchmarkGentle429: a server that answers 429 above 5 requests in flight (and asks
// for a pause of a second). refused-% is the share of requests it refused, over an
// apply of 300 updates at default flags; the goal is below 5.
//
//	go test ./cmd/pbxsync -run '^$' -bench BenchmarkGentle429 -benchtime 3x
func BenchmarkGentle429(b *testing.B) {
	var refused float64
	for b.Loop() {
		r := gentleApply(b, 0, 300, pbxtest.Faults{Latency: 20 * time.Millisecond, MaxInFlight: 5, RetryAfter: time.Second})
		refused += 100 * float64(r.refused) / float64(r.requests)
	}
	b.ReportMetric(refused/float64(b.N), "refused-%")
}

// BenchmarkGentleFleet applies a fleet of six PBXs of 2, 3, 4, 6, 8 and 12 workers,
// each with 100 x N updates (a slow PBX and a fast one take about as long alone: 4
// s), at default flags. x-slowest is the fleet's wall time over the longest any of
// its PBXs takes applied alone; max-wait-ms the longest mean wait for a worker on
// any PBX of the fleet run. Each op takes about 30 s:
//
//	go test ./cmd/pbxsync -run '^$' -bench BenchmarkGentleFleet -benchtime 1x
func BenchmarkGentleFleet(b *testing.B) {
	pool := []int{2, 3, 4, 6, 8, 12}
	var ratio, maxWait float64
	for b.Loop() {
		var alone time.Duration
		for _, workers := range pool {
			alone = max(alone, gentleApply(b, workers, 100*workers, pbxtest.Faults{}).wall)
		}
		dir := b.TempDir()
		var fleet strings.Builder
		fleet.WriteString("version: 1\npbxs:\n")
		env := map[string]string{}
		var servers []*simtest.Server
		for i, workers := range pool {
			name := fmt.Sprintf("p%d", i)
			st, inv := gentleCase(name+"c", 100*workers)
			srv := simtest.NewServer(b, pbxtest.WithState(st), pbxtest.WithFaults(pbxtest.Faults{Latency: gentleLatency}), pbxtest.WithWorkers(workers, gentleService))
			servers = append(servers, srv)
			require.NoError(b, os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(inv), 0o600))
			fmt.Fprintf(&fleet, "  %s: {url: %s, inventory: %s.yaml}\n", name, srv.URL, name)
			env["PBX_"+strings.ToUpper(name)+"_API_KEY"] = pbxtest.AdminKey
		}
		fleetFile := filepath.Join(dir, "fleet.yaml")
		require.NoError(b, os.WriteFile(fleetFile, []byte(fleet.String()), 0o600))
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := run(b.Context(), []string{"apply", "--fleet", fleetFile, "--auto-approve"},
			strings.NewReader(""), &stdout, &stderr, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		wall := time.Since(start)
		require.Equal(b, 0, code, "%s", stderr.String())
		ratio += float64(wall) / float64(alone)
		for _, srv := range servers {
			maxWait = max(maxWait, float64(srv.Stats().Pool.MeanWait())/float64(time.Millisecond))
		}
	}
	b.ReportMetric(ratio/float64(b.N), "x-slowest")
	b.ReportMetric(maxWait, "max-wait-ms")
}
