package sync_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// updates is n companies that each need one independent update of their zone.
func updates(n int) scenario {
	var sc scenario
	var inv strings.Builder
	inv.WriteString("version: 1\ncompanies:\n")
	for i := range n {
		id := fmt.Sprintf("co_%04d", i)
		sc.state.Companies = append(sc.state.Companies, company(id, fmt.Sprintf("Company %d", i), "zone", "Europe/London"))
		fmt.Fprintf(&inv, "  %s: {name: Company %d, settings: {zone: US/Pacific}}\n", id, i)
	}
	sc.inventory = inv.String()
	return sc
}

// TestApplyBoundsRequestsInFlight: reading the state, applying and verifying never
// have more requests in flight than the parallelism, and reach it when there is
// enough work.
func TestApplyBoundsRequestsInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		sc          scenario
		parallelism int
		faults      pbxtest.Faults
	}{
		{"64 updates at 1", updates(64), 1, pbxtest.Faults{Latency: 2 * time.Millisecond}},
		{"64 updates at 3", updates(64), 3, pbxtest.Faults{Latency: 10 * time.Millisecond}},
		{"64 updates at 8", updates(64), 8, pbxtest.Faults{Latency: 20 * time.Millisecond}},
		{"changes of every kind at 8", manyChanges(20), 8, pbxtest.Faults{Latency: 20 * time.Millisecond}},
		{"changes of every kind at 4, with faults", manyChanges(20), 4, pbxtest.Faults{Seed: 7, Latency: 10 * time.Millisecond,
			Rates: pbxtest.SpreadRate(0.2, pbxtest.Fault503, pbxtest.FaultDropBefore, pbxtest.FaultDropAfter, pbxtest.FaultTruncated)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(tt.sc.state), pbxtest.WithFaults(tt.faults))
			c := newClient(t, srv.URL, pbxtest.AdminKey, apiclient.WithRetryPolicy(manyRetries))
			inv := load(t, tt.sc.inventory, noEnv)
			opts := plan.Options{Prune: true, MaxDelete: tt.sc.deletes}

			p := diff(t, c, inv, tt.parallelism, opts)
			require.Equal(t, tt.parallelism, srv.Stats().MaxInFlight, "reading the state")

			srv.ResetStats()
			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: tt.parallelism, Rounds: 3})
			require.True(t, report.Verified, "drift %v unresolved %v failures %v", report.Drift, report.Unresolved, failures(report.Results))
			require.Equal(t, tt.parallelism, srv.Stats().MaxInFlight, "applying and verifying")
		})
	}
}

// TestApplyStopsWhenCancelled: once ctx is cancelled, Apply starts no change, lets the
// changes in flight end, reports the others as not run, reports ok only what the
// server got, and leaves no goroutine behind.
func TestApplyStopsWhenCancelled(t *testing.T) {
	const parallelism = 4
	tests := []struct {
		name string
		// inOnResult cancels from OnResult itself, before the change that ended
		// frees its slot: nothing may start after it.
		inOnResult bool
		grace      time.Duration
	}{
		{name: "cancelled from OnResult", inOnResult: true},
		{name: "cancelled on a signal from OnResult"},
		{name: "cancelled with a short grace", inOnResult: true, grace: time.Millisecond},
	}
	sc := updates(40)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(sc.state))
			baseline := runtime.NumGoroutine() // before the first connection
			transport := &http.Transport{MaxIdleConnsPerHost: parallelism}
			c := newClient(t, srv.URL, pbxtest.AdminKey, apiclient.WithHTTPClient(&http.Client{Transport: transport}))
			inv := load(t, sc.inventory, noEnv)
			p := diff(t, c, inv, parallelism, plan.Options{})
			require.Len(t, p.Changes, 40)

			srv.SetFaults(pbxtest.Faults{Latency: 100 * time.Millisecond})
			srv.ResetStats()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			first := make(chan struct{})
			var once gosync.Once
			opts := sync.Options{Parallelism: parallelism, Rounds: 3, Grace: tt.grace, OnResult: func(sync.Result) {
				once.Do(func() {
					if tt.inOnResult {
						cancel()
					}
					close(first)
				})
			}}
			done := make(chan *sync.Report)
			go func() { done <- sync.Apply(ctx, c, p, opts) }()
			<-first
			cancel()
			report := <-done

			require.True(t, report.Interrupted)
			require.False(t, report.Verified)
			require.Len(t, report.Results, len(p.Changes), "no repair round after an interruption")
			var started, ok int
			for _, r := range report.Results {
				co, found := srv.Company(r.Company)
				require.True(t, found)
				zone := co.Settings.Get("zone").Text()
				switch r.Status {
				case sync.OK:
					ok++
					require.Equal(t, "US/Pacific", zone, "%s is ok: the server has it", r.Company)
				case sync.NotRun:
					require.NoError(t, r.Err)
					require.Equal(t, "Europe/London", zone, "%s did not run: the server has not got it", r.Company)
				case sync.Failed:
					require.Error(t, r.Err)
				default:
					t.Errorf("%s: status %q", r.Company, r.Status)
				}
				if r.Status != sync.NotRun {
					started++
				}
			}
			require.Positive(t, ok)
			require.Less(t, started, len(p.Changes), "changes that never started are not run")
			if tt.inOnResult {
				require.LessOrEqual(t, started, parallelism, "a cancel before a slot is free starts nothing in it")
			}
			require.Equal(t, started, srv.Stats().Requests["update"], "each change that ran sent its update")
			if tt.grace == 0 {
				require.Equal(t, started, ok, "the changes in flight are let finish")
			}

			transport.CloseIdleConnections()
			// A bounded poll: the connections' goroutines end shortly after they close.
			// (require.Eventually would count its own goroutines.)
			for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > baseline && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			require.LessOrEqual(t, runtime.NumGoroutine(), baseline, "goroutines, against before the first connection")
		})
	}
}

// recorder is a client that numbers the start and the end of every change it makes.
type recorder struct {
	sync.Client
	mu     gosync.Mutex
	seq    int
	starts map[string]int // by "action company"
	ends   map[string]int
}

func newRecorder(c sync.Client) *recorder {
	return &recorder{Client: c, starts: map[string]int{}, ends: map[string]int{}}
}

func (r *recorder) mark(m map[string]int, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	m[key] = r.seq
}

func (r *recorder) Group(ctx context.Context, mover, target string) (int, error) {
	r.mark(r.starts, "group "+mover)
	defer r.mark(r.ends, "group "+mover)
	return r.Client.Group(ctx, mover, target)
}

func (r *recorder) Ungroup(ctx context.Context, id string) (int, error) {
	r.mark(r.starts, "ungroup "+id)
	defer r.mark(r.ends, "ungroup "+id)
	return r.Client.Ungroup(ctx, id)
}

func (r *recorder) CreateConfirmed(ctx context.Context, id, name, description string) (apiclient.Company, error) {
	r.mark(r.starts, "create "+id)
	defer r.mark(r.ends, "create "+id)
	return r.Client.CreateConfirmed(ctx, id, name, description)
}

// TestApplyGroupsAfterTheUngroupsTheyNeed: on a server that moves whole containers,
// a group starts only after the create and the ungroup of its mover and target and
// the ungroups of the mover's container-mates have ended, so that it moves no one who
// should stay; the grouping is right on the first round, whatever the latency.
func TestApplyGroupsAfterTheUngroupsTheyNeed(t *testing.T) {
	t.Parallel()
	state := pbxtest.State{
		Companies: []apiclient.Company{
			company("a1", "A1"), company("a2", "A2"), company("b1", "B1"),
			company("t1", "T1"), company("t2", "T2"), company("t3", "T3"),
			company("c1", "C1"), company("c2", "C2"), company("e1", "E1"),
			company("f1", "F1"), company("f2", "F2"), company("f3", "F3"),
			company("h1", "H1"), company("h2", "H2"), company("h3", "H3"),
			company("k1", "K1"), company("k2", "K2"), company("k3", "K3"), company("k4", "K4"),
		},
		Containers: map[string][]string{
			"a": {"a1", "a2", "b1"},
			"t": {"t1", "t2", "t3"},
			"c": {"c1", "c2", "e1"},
			"f": {"f1", "f2", "f3"},
			"h": {"h1", "h2", "h3"},
			"k": {"k1", "k2", "k3", "k4"},
		},
	}
	inventory := `version: 1
companies:
  a1: {name: A1}
  a2: {name: A2}
  b1: {name: B1}
  t1: {name: T1}
  t2: {name: T2}
  t3: {name: T3}
  c1: {name: C1}
  c2: {name: C2}
  e1: {name: E1}
  f1: {name: F1}
  f2: {name: F2}
  f3: {name: F3}
  h1: {name: H1}
  h2: {name: H2}
  h3: {name: H3}
  k1: {name: K1}
  k2: {name: K2}
  k3: {name: K3}
  k4: {name: K4}
  n1: {name: N1}
containers:
  t: [t1, t2, t3, a1, a2]
  f: [f1, f2, f3, c1, c2]
  h: [h1, h2, h3, e1]
  k_low: [k1, k3]
  k_high: [k2, k4, n1]
`
	want := [][]string{
		{"a1", "a2", "t1", "t2", "t3"},
		{"b1"},
		{"c1", "c2", "f1", "f2", "f3"},
		{"e1", "h1", "h2", "h3"},
		{"k1", "k3"},
		{"k2", "k4", "n1"},
	}
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(state), pbxtest.WithMode(pbxtest.ModeMerge))
			c := newClient(t, srv.URL, pbxtest.AdminKey)
			inv := load(t, inventory, noEnv)
			p := diff(t, c, inv, 8, plan.Options{})

			// Which changes each group must wait for.
			ungrouped, created := map[string]bool{}, map[string]bool{}
			for _, ch := range p.Changes {
				switch ch.Action {
				case plan.Ungroup:
					ungrouped[ch.Company] = true
				case plan.Create:
					created[ch.Company] = true
				}
			}
			waits := map[string][]string{} // by group, the changes it waits for
			mates := 0                     // ungroups of a mover's container-mates waited for
			for _, ch := range p.Changes {
				if ch.Action != plan.Group {
					continue
				}
				g := "group " + ch.Company
				for _, id := range []string{ch.Company, ch.Target} {
					if created[id] {
						waits[g] = append(waits[g], "create "+id)
					}
					if ungrouped[id] {
						waits[g] = append(waits[g], "ungroup "+id)
					}
				}
				for _, id := range p.ContainerOf[ch.Company] {
					if ungrouped[id] && id != ch.Company && id != ch.Target {
						waits[g] = append(waits[g], "ungroup "+id)
						mates++
					}
				}
			}
			require.Positive(t, mates, "the plan has groups that wait for the ungroups of their mover's container-mates: %v", p.Changes)
			require.Positive(t, len(created), "and for creates")

			srv.SetFaults(pbxtest.Faults{Seed: seed, Latency: time.Millisecond, Jitter: 30 * time.Millisecond})
			rec := newRecorder(c)
			report := sync.Apply(t.Context(), rec, p, sync.Options{Parallelism: 8, Rounds: 3})
			require.Empty(t, failures(report.Results))
			require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)
			require.Zero(t, report.Rounds, "right on the first round")
			if d := cmp.Diff(want, partition(srv.Snapshot())); d != "" {
				t.Errorf("containers (-want +got):\n%s", d)
			}
			for g, ws := range waits {
				for _, w := range ws {
					require.Less(t, rec.ends[w], rec.starts[g], "%s ends before %s starts", w, g)
				}
			}
		})
	}
}
