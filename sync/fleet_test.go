package sync_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"log/slog"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

// fleetPBX is one PBX of a test fleet: its client and its inventory.
type fleetPBX struct {
	name   string
	client sync.Client
	inv    *inventory.Inventory
	left   bool // read, never planned (--pbx naming others)
}

// fleetRun is what one fleet round did: its plan, its report, and the PBXs whose
// plan was applied.
type fleetRun struct {
	plan    *plan.FleetPlan
	report  *sync.FleetReport
	applied []string // sorted
}

// runFleetRound runs one fleet round as apply --fleet does: it reads every PBX
// (state.Read with its inventory; one that cannot be read is a member with
// Err), plans the fleet (DiffFleet, moves not budgeted) and applies it
// (ApplyFleet, each PBX's plan with sync.Apply). Everything runs under ctx. opts,
// when given, are each PBX's plan options (--prune, --max-delete).
func runFleetRound(t testing.TB, ctx context.Context, pbxs []fleetPBX, opts ...plan.Options) fleetRun {
	t.Helper()
	members := make([]plan.FleetMember, len(pbxs))
	var g errgroup.Group
	for i, p := range pbxs {
		g.Go(func() error {
			st, err := state.Read(ctx, p.client, p.inv, 4)
			if err != nil {
				st = nil
			}
			members[i] = plan.FleetMember{Name: p.name, Inv: p.inv, State: st, Err: err, Left: p.left}
			return nil
		})
	}
	_ = g.Wait()
	servers := map[string]sync.Client{}
	snaps := map[string]*state.State{}
	for i, p := range pbxs {
		servers[p.name] = p.client
		if members[i].State != nil {
			snaps[p.name] = members[i].State
		}
	}
	fo := plan.FleetOptions{MaxMove: 1 << 20}
	if len(opts) > 0 {
		fo.Options = opts[0]
	}
	fp, err := plan.DiffFleet(members, fo)
	require.NoError(t, err)

	var mu gosync.Mutex
	var applied []string
	rep := sync.ApplyFleet(ctx, servers, fp, snaps, sync.FleetApplyOptions{
		Parallelism: 4, PBXParallelism: 4,
		Apply: func(ctx context.Context, pbx string, p *plan.Plan) *sync.Report {
			mu.Lock()
			applied = append(applied, pbx)
			mu.Unlock()
			return sync.Apply(ctx, servers[pbx], p, sync.Options{Parallelism: 4, Rounds: 3})
		},
	})
	slices.Sort(applied)
	return fleetRun{plan: fp, report: rep, applied: applied}
}

// requireFleetQuiet requires a round that has nothing left to do: no move, every
// PBX's plan empty and complete, nothing failed.
func requireFleetQuiet(t *testing.T, run fleetRun) {
	t.Helper()
	require.Empty(t, run.plan.Moves, "no move is left")
	require.Empty(t, run.plan.Failed)
	for _, name := range run.plan.Names {
		p := run.plan.PBXs[name]
		require.NotNil(t, p, name)
		require.True(t, p.Empty(), "%s: the plan is empty: %v", name, p.Changes)
		require.Empty(t, p.NotPlanned, name)
	}
	require.NoError(t, run.report.Err())
	require.Empty(t, run.applied, "nothing is applied")
}

// moveStatuses maps each move of a report to its status.
func moveStatuses(rep *sync.FleetReport) map[string]string {
	out := map[string]string{}
	for _, m := range rep.Moves {
		out[m.Company] = m.Status
	}
	return out
}

// tripwire interrupts a run: it counts the calls that the wrapped clients see, by
// PBX and method (each "M" before it is sent, "M done" once it returned), and
// calls act (which cancels the run's context, or changes a server) on the first
// call for which cut says so. The call is then made with the context it was given:
// after a cancel, the apply's changes in flight go on (their context outlives an
// interrupt by a grace, unless the run's context ended as a deadline does), reads
// under the run's context fail.
type tripwire struct {
	mu     gosync.Mutex
	counts map[string]int // "pbx method" -> calls seen
	reads  int            // reads seen, on every PBX
	cut    func(pbx, op string, n, reads int) bool
	act    func()
	fired  string // the call that cut, once it did
}

func (w *tripwire) see(pbx, op string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts == nil {
		w.counts = map[string]int{}
	}
	w.counts[pbx+" "+op]++
	if slices.Contains([]string{"ReadAll", "Read", "ReadContainer", "Lookup"}, op) {
		w.reads++
	}
	if w.fired == "" && w.cut != nil && w.cut(pbx, op, w.counts[pbx+" "+op], w.reads) {
		w.fired = fmt.Sprintf("%s %s #%d", pbx, op, w.counts[pbx+" "+op])
		w.act()
	}
}

// deadlineCtx is a run's context that trip ends as --timeout's deadline would: the
// changes in flight get no grace, the requests in flight are abandoned.
type deadlineCtx struct {
	context.Context // Background: no values, so that context.Cause is its Err
	once            gosync.Once
	done            chan struct{}
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) trip() { c.once.Do(func() { close(c.done) }) }

func (w *tripwire) firedAt() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// wiredClient is a client whose calls a tripwire sees.
type wiredClient struct {
	c   sync.Client
	pbx string
	w   *tripwire
}

func (c wiredClient) ReadAll(ctx context.Context) ([]apiclient.Company, error) {
	c.w.see(c.pbx, "ReadAll")
	defer c.w.see(c.pbx, "ReadAll done")
	return c.c.ReadAll(ctx)
}

func (c wiredClient) Read(ctx context.Context, id string) (apiclient.Company, error) {
	c.w.see(c.pbx, "Read")
	defer c.w.see(c.pbx, "Read done")
	return c.c.Read(ctx, id)
}

func (c wiredClient) ReadContainer(ctx context.Context, id string) (apiclient.Container, error) {
	c.w.see(c.pbx, "ReadContainer")
	defer c.w.see(c.pbx, "ReadContainer done")
	return c.c.ReadContainer(ctx, id)
}

func (c wiredClient) Lookup(ctx context.Context, id string) (apiclient.Company, bool, error) {
	c.w.see(c.pbx, "Lookup")
	defer c.w.see(c.pbx, "Lookup done")
	return c.c.Lookup(ctx, id)
}

func (c wiredClient) CreateConfirmed(ctx context.Context, id, name, description string) (apiclient.Company, error) {
	c.w.see(c.pbx, "CreateConfirmed")
	defer c.w.see(c.pbx, "CreateConfirmed done")
	return c.c.CreateConfirmed(ctx, id, name, description)
}

func (c wiredClient) Update(ctx context.Context, id string, ch apiclient.Changes) (apiclient.Company, error) {
	c.w.see(c.pbx, "Update")
	defer c.w.see(c.pbx, "Update done")
	return c.c.Update(ctx, id, ch)
}

func (c wiredClient) DeleteConfirmed(ctx context.Context, id string) error {
	c.w.see(c.pbx, "DeleteConfirmed")
	defer c.w.see(c.pbx, "DeleteConfirmed done")
	return c.c.DeleteConfirmed(ctx, id)
}

func (c wiredClient) Group(ctx context.Context, mover, target string) (int, error) {
	c.w.see(c.pbx, "Group")
	defer c.w.see(c.pbx, "Group done")
	return c.c.Group(ctx, mover, target)
}

func (c wiredClient) Ungroup(ctx context.Context, id string) (int, error) {
	c.w.see(c.pbx, "Ungroup")
	defer c.w.see(c.pbx, "Ungroup done")
	return c.c.Ungroup(ctx, id)
}

// requestLog counts, from a simulator's request log, the requests of each verb
// about each company, by outcome: what the server carried out for which company,
// which its Stats do not say.
type requestLog struct {
	mu   gosync.Mutex
	seen map[string]int // "verb company outcome" -> requests
}

func (l *requestLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *requestLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *requestLog) WithGroup(string) slog.Handler            { return l }

func (l *requestLog) Handle(_ context.Context, r slog.Record) error {
	var verb, company, outcome string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "verb":
			verb = a.Value.String()
		case "company":
			company = a.Value.String()
		case "outcome":
			outcome = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]int{}
	}
	l.seen[verb+" "+company+" "+outcome]++
	return nil
}

// writes returns, for the verb, the requests about each company: those the server
// handled (not those whose client went away while they waited to be served, which
// a deadline abandons: the server did nothing for them), and those that succeeded.
func (l *requestLog) writes(verb string) (handled, succeeded map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	handled, succeeded = map[string]int{}, map[string]int{}
	for k, n := range l.seen {
		parts := strings.SplitN(k, " ", 3)
		if parts[0] != verb || parts[2] == "client gone" {
			continue
		}
		handled[parts[1]] += n
		if parts[2] == "success" {
			succeeded[parts[1]] += n
		}
	}
	return handled, succeeded
}

// String lists every request by verb, company and outcome, for a failure message.
func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(l.seen)) {
		lines = append(lines, fmt.Sprintf("%s: %d", k, l.seen[k]))
	}
	return strings.Join(lines, "\n")
}

// logged starts a simulator whose request log goes to a new requestLog.
func logged(t *testing.T, opts ...pbxtest.Option) (*simtest.Server, *requestLog) {
	t.Helper()
	l := &requestLog{}
	return simtest.NewServer(t, append(opts, pbxtest.WithLogger(slog.New(l)))...), l
}

// companiesOf returns a simulator state's companies by id.
func companiesOf(st pbxtest.State) map[string]apiclient.Company {
	out := map[string]apiclient.Company{}
	for _, c := range st.Companies {
		out[c.ID] = c
	}
	return out
}

// wantCompany is before under inv's name and settings for it (when inv lists it).
func wantCompany(before apiclient.Company, inv *inventory.Inventory) apiclient.Company {
	want := apiclient.Company{ID: before.ID, Name: before.Name, Settings: before.Settings.Clone()}
	if c, ok := inv.Company(before.ID); ok {
		want.Name = c.Name
		for name, v := range c.Settings.All() {
			want.Settings.Set(name, v)
		}
	}
	return want
}

// requireHolds requires the server to hold want, by name and every setting (secrets
// included), whatever its numeric id.
func requireHolds(t *testing.T, srv *simtest.Server, pbx string, want apiclient.Company) {
	t.Helper()
	got, ok := srv.Company(want.ID)
	require.True(t, ok, "%s holds %s", pbx, want.ID)
	got.Num = 0
	require.Empty(t, cmp.Diff(want, got, jsonOf), "%s: %s (-want +got)", pbx, want.ID)
}

// wantPartition is the partition of companies that inv's containers make, every
// other company alone.
func wantPartition(companies []string, inv *inventory.Inventory) [][]string {
	var out [][]string
	grouped := map[string]bool{}
	for _, c := range inv.Containers {
		out = append(out, slices.Sorted(slices.Values(c.Members)))
		for _, id := range c.Members {
			grouped[id] = true
		}
	}
	for _, id := range companies {
		if !grouped[id] {
			out = append(out, []string{id})
		}
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

func ids(st pbxtest.State) []string {
	var out []string
	for _, c := range st.Companies {
		out = append(out, c.ID)
	}
	return out
}

// The fleet of TestFleetMovesSurviveInterruption: 20 tenants move from london to
// paris. On london they hold secrets and fields paris's inventory does not manage;
// t00 and t01 share a container with stay_a, which stays on london (grouped there
// with stay_b, as london's inventory says); t02..t04 share one and move together; t05
// shares one with legacy, which no inventory lists and which stays on london. Paris's
// inventory sets its own zone (a default, and US/Eastern for every third tenant),
// renames t11, sets q_pausetime on t07 and its own barge PIN on t19, and groups
// t00 with t01, t02 and t03 with b_home, and t05 with b_other (companies of paris).
const movedTenants = 20

func tenantID(i int) string { return fmt.Sprintf("t%02d", i) }

func moveFleetStates() (london, paris pbxtest.State) {
	for i := range movedTenants {
		london.Companies = append(london.Companies, company(tenantID(i), fmt.Sprintf("Tenant %d", i),
			"nm_password", fmt.Sprintf("%04d", 7000+i), "barge_pin", strconv.Itoa(500+i), "zone", "Europe/London",
			"q_ringtime", strconv.Itoa(5+i), "vm_silent", []string{"yes", "no"}[i%2], "hs_access", "external", "record", i))
	}
	london.Companies = append(london.Companies,
		company("stay_a", "Stay A", "zone", "Europe/London", "nm_password", "1111", "q_ringtime", "12"),
		company("stay_b", "Stay B", "zone", "Europe/London"),
		company("legacy", "Legacy", "q_ringtime", "30", "barge_pin", "42"))
	london.Containers = map[string][]string{
		"box_ab": {"t00", "t01", "stay_a"},
		"box_c":  {"t02", "t03", "t04"},
		"box_l":  {"t05", "legacy"},
	}
	paris.Companies = []apiclient.Company{
		company("b_home", "B Home", "zone", "Europe/Paris", "nm_password", "8080"),
		company("b_other", "B Other", "zone", "Europe/Paris"),
	}
	return london, paris
}

const moveFleetLondon = `version: 1
companies:
  stay_a: {name: Stay A, settings: {zone: Europe/London}}
  stay_b: {name: Stay B}
containers:
  stays: [stay_a, stay_b]
`

func moveFleetParis() string {
	var b strings.Builder
	b.WriteString("version: 1\ndefaults: {zone: Europe/Paris}\ncompanies:\n  b_home: {name: B Home}\n  b_other: {name: B Other}\n")
	for i := range movedTenants {
		id := tenantID(i)
		switch {
		case i == 11:
			fmt.Fprintf(&b, "  %s: {name: Tenant Eleven}\n", id)
		case i == 7:
			fmt.Fprintf(&b, "  %s: {name: Tenant 7, settings: {q_pausetime: 4}}\n", id)
		case i == 19:
			fmt.Fprintf(&b, "  %s: {name: Tenant 19, settings: {barge_pin: \"${T19_BARGE}\"}}\n", id)
		case i%3 == 0:
			fmt.Fprintf(&b, "  %s: {name: Tenant %d, settings: {zone: US/Eastern}}\n", id, i)
		default:
			fmt.Fprintf(&b, "  %s: {name: Tenant %d}\n", id, i)
		}
	}
	b.WriteString("containers:\n  ab: [t00, t01]\n  home: [b_home, t02, t03]\n  other: [b_other, t05]\n")
	return b.String()
}

func parisEnv(k string) (string, bool) {
	if k == "T19_BARGE" {
		return "9999", true
	}
	return "", false
}

// interruption is where the first run of TestFleetMovesSurviveInterruption is cut,
// k drawn from the seed; check says what the first run must have done, to show that
// the cut came where it was meant to.
type interruption struct {
	name  string
	cut   func(k int) func(pbx, op string, n, reads int) bool
	k     func(r *rand.Rand) int
	check func(t *testing.T, londonStats, parisStats pbxtest.Stats)
}

var interruptions = []interruption{
	{
		name: "while reading, before any write",
		k:    func(r *rand.Rand) int { return 1 + r.IntN(4) },
		cut: func(k int) func(string, string, int, int) bool {
			return func(_, _ string, _, reads int) bool { return reads >= k }
		},
		check: func(t *testing.T, london, paris pbxtest.Stats) {
			require.Zero(t, london.TotalWrites(), "nothing written on london")
			require.Zero(t, paris.TotalWrites(), "nothing written on paris")
		},
	},
	{
		name: "in the middle of the creates on paris",
		k:    func(r *rand.Rand) int { return 1 + r.IntN(movedTenants-4) },
		cut: func(k int) func(string, string, int, int) bool {
			return func(pbx, op string, n, _ int) bool { return pbx == "paris" && op == "CreateConfirmed done" && n == k }
		},
		check: func(t *testing.T, london, paris pbxtest.Stats) {
			require.Positive(t, paris.Writes["create"])
			require.Less(t, paris.Writes["create"], movedTenants, "some creates were not sent")
			require.Zero(t, london.Writes["delete"], "nothing deleted from london")
		},
	},
	{
		name: "paris applied, before it is read back",
		k:    func(*rand.Rand) int { return 2 },
		cut: func(k int) func(string, string, int, int) bool {
			return func(pbx, op string, n, _ int) bool { return pbx == "paris" && op == "ReadAll" && n == k }
		},
		check: func(t *testing.T, london, paris pbxtest.Stats) {
			require.Equal(t, movedTenants, paris.Writes["create"])
			require.Zero(t, london.Writes["delete"], "nothing deleted from london")
		},
	},
	{
		name: "paris verified, before the deletes on london",
		k:    func(*rand.Rand) int { return 2 },
		cut: func(k int) func(string, string, int, int) bool {
			return func(pbx, op string, n, _ int) bool { return pbx == "london" && op == "ReadAll done" && n == k }
		},
		check: func(t *testing.T, london, paris pbxtest.Stats) {
			require.Equal(t, movedTenants, paris.Writes["create"])
			require.Zero(t, london.Writes["delete"], "nothing deleted from london")
		},
	},
	{
		name: "in the middle of the deletes on london",
		k:    func(r *rand.Rand) int { return 1 + r.IntN(movedTenants-4) },
		cut: func(k int) func(string, string, int, int) bool {
			return func(pbx, op string, n, _ int) bool { return pbx == "london" && op == "DeleteConfirmed done" && n == k }
		},
		check: func(t *testing.T, london, paris pbxtest.Stats) {
			require.Equal(t, movedTenants, paris.Writes["create"])
			require.Positive(t, london.Writes["delete"])
			require.Less(t, london.Writes["delete"], movedTenants, "some deletes were not sent")
		},
	},
}

// TestFleetMovesSurviveInterruption moves 20 tenants from london to paris, cuts the
// first run at a point drawn from the seed (while reading, among the creates on
// paris, before paris is read back, between its verification and the deletes on
// london, among those deletes), then runs again, at most 3 times, until every move
// is finished. Each tenant is created on paris once and deleted from london once,
// and paris holds it with every setting london held (secrets too) under paris's
// inventory, grouped as that inventory says; london keeps its own companies; a last
// round has nothing to do. The cut is an interrupt (the changes in flight finish)
// or a deadline (they are abandoned), in both group modes.
func TestFleetMovesSurviveInterruption(t *testing.T) {
	t.Parallel()
	londonState, parisState := moveFleetStates()
	londonInv := load(t, moveFleetLondon, noEnv)
	parisInv := load(t, moveFleetParis(), parisEnv)
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		for _, kind := range []string{"interrupt", "deadline"} {
			for seed := uint64(1); seed <= uint64(len(interruptions)); seed++ {
				cut := interruptions[seed-1]
				t.Run(fmt.Sprintf("%s/%s/seed=%d/%s", mode, kind, seed, cut.name), func(t *testing.T) {
					t.Parallel()
					testFleetMoveInterrupted(t, mode, kind, seed, cut, londonState, parisState, londonInv, parisInv)
				})
			}
		}
	}
}

func testFleetMoveInterrupted(t *testing.T, mode pbxtest.Mode, kind string, seed uint64, cut interruption,
	londonState, parisState pbxtest.State, londonInv, parisInv *inventory.Inventory) {
	faults := pbxtest.WithFaults(pbxtest.Faults{Seed: seed, Latency: time.Millisecond, Jitter: 2 * time.Millisecond})
	london, londonLog := logged(t, pbxtest.WithState(londonState), pbxtest.WithMode(mode), faults)
	paris, parisLog := logged(t, pbxtest.WithState(parisState), pbxtest.WithMode(mode), faults)
	before := companiesOf(london.Snapshot())
	parisBefore := companiesOf(paris.Snapshot())
	lc, pc := newClient(t, london.URL, pbxtest.AdminKey), newClient(t, paris.URL, pbxtest.AdminKey)

	// The first run, cut.
	k := cut.k(rand.New(rand.NewPCG(seed, 0xf1ee7)))
	w := &tripwire{cut: cut.cut(k)}
	var ctx context.Context
	if kind == "deadline" {
		dctx := newDeadlineCtx()
		ctx, w.act = dctx, dctx.trip
	} else {
		cctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ctx, w.act = cctx, cancel
	}
	first := runFleetRound(t, ctx, []fleetPBX{
		{name: "london", client: wiredClient{lc, "london", w}, inv: londonInv},
		{name: "paris", client: wiredClient{pc, "paris", w}, inv: parisInv},
	})
	require.NotEmpty(t, w.firedAt(), "the first run was cut (k=%d)", k)
	t.Logf("cut at %s (k=%d)", w.firedAt(), k)
	require.Error(t, first.report.Err(), "an interrupted run does not succeed")
	cut.check(t, london.Stats(), paris.Stats())
	for _, mv := range first.report.Moves {
		_, onLondon := london.Company(mv.Company)
		switch {
		case mv.Status == sync.Moved:
			require.False(t, onLondon, "%s is moved, and gone from london", mv.Company)
		case kind == "deadline" && strings.Contains(mv.Note, "deadline exceeded"):
			// Its delete was abandoned in flight: the server may have made it.
		default:
			require.True(t, onLondon, "%s is unfinished (%s), and still on london", mv.Company, mv.Note)
		}
	}
	lpbxs := []fleetPBX{{name: "london", client: lc, inv: londonInv}, {name: "paris", client: pc, inv: parisInv}}

	// Then runs until every move is finished.
	runs := []fleetRun{first}
	for round := 1; round <= 3; round++ {
		run := runFleetRound(t, t.Context(), lpbxs)
		runs = append(runs, run)
		if run.report.Err() == nil {
			break
		}
		t.Logf("round %d: %v", round, run.report.Err())
	}
	last := runs[len(runs)-1].report
	require.NoError(t, last.Err(), "the moves are finished within 3 more runs")

	// Each tenant is moved once: created on paris once, deleted from london once,
	// reported moved by one run (at most one after a deadline, which may abandon a
	// delete that the server made).
	moved := map[string]int{}
	for _, run := range runs {
		for _, mv := range run.report.Moves {
			require.Equal(t, "london", mv.From)
			require.Equal(t, "paris", mv.To)
			if mv.Status == sync.Moved {
				moved[mv.Company]++
			}
		}
	}
	wantOnce := map[string]int{}
	for i := range movedTenants {
		wantOnce[tenantID(i)] = 1
	}
	if kind == "deadline" {
		for id, n := range moved {
			require.LessOrEqual(t, n, 1, "%s is reported moved once at most", id)
		}
	} else {
		require.Equal(t, wantOnce, moved, "each tenant is reported moved by one run")
	}
	require.Eventually(t, func() bool {
		creates, _ := parisLog.writes("create")
		deletes, _ := londonLog.writes("delete")
		return len(creates) >= movedTenants && len(deletes) >= movedTenants
	}, 5*time.Second, time.Millisecond, "the request logs are written")
	creates, created := parisLog.writes("create")
	require.Equal(t, wantOnce, creates, "paris: create requests by company:\n%s", parisLog)
	require.Equal(t, wantOnce, created, "paris: creates carried out by company")
	deletes, deleted := londonLog.writes("delete")
	require.Equal(t, wantOnce, deletes, "london: delete requests by company:\n%s", londonLog)
	require.Equal(t, wantOnce, deleted, "london: deletes carried out by company")
	require.Zero(t, london.Stats().Writes["create"], "nothing created on london")
	require.Zero(t, paris.Stats().Writes["delete"], "nothing deleted from paris")

	// Paris holds each tenant as london held it, under paris's inventory.
	parisNow := paris.Snapshot()
	for i := range movedTenants {
		requireHolds(t, paris, "paris", wantCompany(before[tenantID(i)], parisInv))
	}
	for _, id := range []string{"b_home", "b_other"} {
		requireHolds(t, paris, "paris", wantCompany(parisBefore[id], parisInv))
	}
	require.Equal(t, wantPartition(ids(parisNow), parisInv), partition(parisNow), "paris is grouped as its inventory says")
	t19, _ := paris.Company("t19")
	require.Equal(t, "9999", t19.Settings.Get("barge_pin").Text(), "paris's own secret wins")
	t18, _ := paris.Company("t18")
	require.Equal(t, "7018", t18.Settings.Get("nm_password").Text(), "london's secret is carried")

	// London keeps its own companies, and only them.
	londonNow := london.Snapshot()
	require.ElementsMatch(t, []string{"legacy", "stay_a", "stay_b"}, ids(londonNow))
	for _, id := range []string{"legacy", "stay_a", "stay_b"} {
		requireHolds(t, london, "london", wantCompany(before[id], londonInv))
	}
	require.Equal(t, [][]string{{"legacy"}, {"stay_a", "stay_b"}}, partition(londonNow))

	// A last round has nothing to do.
	london.ResetStats()
	paris.ResetStats()
	requireFleetQuiet(t, runFleetRound(t, t.Context(), lpbxs))
	require.Zero(t, london.Stats().TotalWrites())
	require.Zero(t, paris.Stats().TotalWrites())
}

// TestFleetMoveJoinsAContainerOnTheTarget moves m_hq and m_branch, which share a
// container on london with a_keep, to paris, whose inventory groups them with b_main
// and b_side (a container paris has): in both group modes, paris's container holds
// the four, and a_keep stays on london with its settings, alone or grouped with
// a_other as london's inventory says.
func TestFleetMoveJoinsAContainerOnTheTarget(t *testing.T) {
	londonState := pbxtest.State{
		Companies: []apiclient.Company{
			company("m_hq", "M HQ", "nm_password", "2468", "barge_pin", "13", "q_ringtime", "25", "zone", "Europe/London"),
			company("m_branch", "M Branch", "vm_silent", "yes", "ivr_password", "777"),
			company("a_keep", "A Keep", "zone", "Europe/London", "nm_password", "1357"),
			company("a_other", "A Other"),
		},
		Containers: map[string][]string{"box": {"m_hq", "m_branch", "a_keep"}},
	}
	parisState := pbxtest.State{
		Companies: []apiclient.Company{
			company("b_main", "B Main", "zone", "Europe/Paris"),
			company("b_side", "B Side", "zone", "Europe/Paris"),
			company("b_solo", "B Solo", "zone", "Europe/Paris"),
		},
		Containers: map[string][]string{"main": {"b_main", "b_side"}},
	}
	parisInv := load(t, `version: 1
defaults: {zone: Europe/Paris}
companies:
  b_main: {name: B Main}
  b_side: {name: B Side}
  b_solo: {name: B Solo}
  m_hq: {name: M Headquarters}
  m_branch: {name: M Branch, settings: {zone: US/Eastern}}
containers:
  main: [b_main, b_side, m_hq, m_branch]
`, noEnv)
	londonInvs := map[string]string{
		"a_keep alone": `version: 1
companies:
  a_keep: {name: A Keep, settings: {zone: Europe/London}}
  a_other: {name: A Other}
`,
		"a_keep grouped with a_other": `version: 1
companies:
  a_keep: {name: A Keep, settings: {zone: Europe/London}}
  a_other: {name: A Other}
containers:
  keep: [a_keep, a_other]
`,
	}
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		for _, invName := range slices.Sorted(maps.Keys(londonInvs)) {
			t.Run(string(mode)+"/"+invName, func(t *testing.T) {
				t.Parallel()
				londonInv := load(t, londonInvs[invName], noEnv)
				london, londonLog := logged(t, pbxtest.WithState(londonState), pbxtest.WithMode(mode))
				paris, parisLog := logged(t, pbxtest.WithState(parisState), pbxtest.WithMode(mode))
				before, parisBefore := companiesOf(london.Snapshot()), companiesOf(paris.Snapshot())
				pbxs := []fleetPBX{
					{name: "london", client: newClient(t, london.URL, pbxtest.AdminKey), inv: londonInv},
					{name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: parisInv},
				}

				run := runFleetRound(t, t.Context(), pbxs)
				require.Len(t, run.plan.Moves, 2)
				for _, mv := range run.plan.Moves {
					require.Equal(t, "london", mv.From)
					require.Equal(t, "paris", mv.To)
					require.False(t, mv.Adopt)
				}
				require.NoError(t, run.report.Err())
				require.Equal(t, map[string]string{"m_hq": sync.Moved, "m_branch": sync.Moved}, moveStatuses(run.report))

				// Paris: the movers with their settings, in the container of b_main and b_side.
				for _, id := range []string{"m_hq", "m_branch"} {
					requireHolds(t, paris, "paris", wantCompany(before[id], parisInv))
				}
				for _, id := range []string{"b_main", "b_side", "b_solo"} {
					requireHolds(t, paris, "paris", wantCompany(parisBefore[id], parisInv))
				}
				name, members, ok := paris.ContainerOf("m_hq")
				require.True(t, ok)
				require.Equal(t, []string{"b_main", "b_side", "m_branch", "m_hq"}, members)
				require.Equal(t, "main", name, "the movers join b_main's container, which stays")
				_, solo, _ := paris.ContainerOf("b_solo")
				require.Equal(t, []string{"b_solo"}, solo)

				// London: the movers are gone, a_keep and a_other stay as london's inventory says.
				londonNow := london.Snapshot()
				require.ElementsMatch(t, []string{"a_keep", "a_other"}, ids(londonNow))
				for _, id := range []string{"a_keep", "a_other"} {
					requireHolds(t, london, "london", wantCompany(before[id], londonInv))
				}
				require.Equal(t, wantPartition(ids(londonNow), londonInv), partition(londonNow))

				creates, _ := parisLog.writes("create")
				require.Equal(t, map[string]int{"m_hq": 1, "m_branch": 1}, creates)
				require.Eventually(t, func() bool { d, _ := londonLog.writes("delete"); return len(d) == 2 }, 5*time.Second, time.Millisecond)
				deletes, _ := londonLog.writes("delete")
				require.Equal(t, map[string]int{"m_hq": 1, "m_branch": 1}, deletes)

				requireFleetQuiet(t, runFleetRound(t, t.Context(), pbxs))
			})
		}
	}
}

// TestFleetOnePBXDown runs a fleet of three whose berlin cannot be reached (a closed
// port): berlin is not planned (Failed); y_held, which paris's inventory lists, and
// a_new, which london's lists, are held by no reachable server and may be on berlin
// (a move), so they are not created (NotPlanned); london and paris are applied (an
// update each, and x_move's create on paris); x_move is moved all the same: berlin
// being down stops no move between the others (held companies do not count as a
// failure of paris); the report's error names berlin. Once berlin is back, the next
// run creates what was held, and the one after has nothing to do.
func TestFleetOnePBXDown(t *testing.T) {
	london := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("x_move", "X Move", "nm_password", "4321", "q_ringtime", "12"),
		company("a_keep", "A Keep", "zone", "Europe/London"),
	}}))
	paris := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("b_upd", "B Upd", "zone", "Europe/London"),
	}}))
	berlin := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{company("be_one", "Be One")}}))
	gone := httptest.NewServer(pbxtest.New())
	goneURL := gone.URL
	gone.Close()

	pbxs := []fleetPBX{
		{name: "london", client: newClient(t, london.URL, pbxtest.AdminKey), inv: load(t, `version: 1
companies:
  a_keep: {name: A Keep, settings: {zone: Europe/Berlin}}
  a_new: {name: A New, settings: {zone: Europe/London}}
`, noEnv)},
		{name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: load(t, `version: 1
companies:
  b_upd: {name: B Upd, settings: {zone: Europe/Paris}}
  x_move: {name: X Move}
  y_held: {name: Y Held}
`, noEnv)},
		{name: "berlin", client: newClient(t, goneURL, pbxtest.AdminKey), inv: load(t, "version: 1\ncompanies:\n  be_one: {name: Be One}\n", noEnv)},
	}
	before := companiesOf(london.Snapshot())

	run := runFleetRound(t, t.Context(), pbxs)
	fp := run.plan
	require.Equal(t, []string{"berlin", "london", "paris"}, fp.Names)
	require.Contains(t, fp.Failed, "berlin")
	require.Len(t, fp.Failed, 1)
	require.Nil(t, fp.PBXs["berlin"], "berlin is not planned")
	pp, lp := fp.PBXs["paris"], fp.PBXs["london"]
	require.Contains(t, pp.NotPlanned["y_held"], "berlin")
	require.Contains(t, lp.NotPlanned["a_new"], "berlin")
	require.Equal(t, map[plan.Action]int{plan.Create: 1, plan.Update: 1}, pp.Count(), "paris creates x_move and updates b_upd: %v", pp.Changes)
	require.Equal(t, map[plan.Action]int{plan.Update: 1}, lp.Count(), "london updates a_keep: %v", lp.Changes)
	require.Len(t, fp.Moves, 1)
	require.Equal(t, "x_move", fp.Moves[0].Company)
	require.Equal(t, []string{"london", "paris"}, run.applied, "the PBXs that could be read are applied")

	// London and paris did their part, and nothing that was held.
	for _, srv := range []*simtest.Server{london, paris} {
		for _, id := range []string{"y_held", "a_new"} {
			_, there := srv.Company(id)
			require.False(t, there, "%s is not created", id)
		}
	}
	require.Zero(t, london.Stats().Writes["create"])
	require.Equal(t, 1, paris.Stats().Writes["create"], "paris creates x_move only")
	bUpd, _ := paris.Company("b_upd")
	require.Equal(t, "Europe/Paris", bUpd.Settings.Get("zone").Text(), "paris updates b_upd")
	aKeep, _ := london.Company("a_keep")
	require.Equal(t, "Europe/Berlin", aKeep.Settings.Get("zone").Text(), "london updates a_keep")
	requireHolds(t, paris, "paris", wantCompany(before["x_move"], pbxs[1].inv))
	require.Len(t, run.report.Moves, 1)
	require.Equal(t, sync.Moved, run.report.Moves[0].Status, "berlin being down does not stop a move between london and paris (%s)", run.report.Moves[0].Note)
	_, onLondon := london.Company("x_move")
	require.False(t, onLondon, "the move is finished: x_move is deleted from london")

	// The run failed, naming berlin.
	err := run.report.Err()
	require.Error(t, err)
	require.Contains(t, err.Error(), "berlin: ")
	require.Contains(t, run.report.Failed, "berlin")
	require.NotContains(t, run.report.PBXs, "berlin")

	// Berlin is back: the held companies are created.
	pbxs[2].client = newClient(t, berlin.URL, pbxtest.AdminKey)
	again := runFleetRound(t, t.Context(), pbxs)
	require.NoError(t, again.report.Err())
	require.Empty(t, again.plan.Moves)
	for srv, id := range map[*simtest.Server]string{london: "a_new", paris: "y_held"} {
		_, there := srv.Company(id)
		require.True(t, there, "%s is created", id)
	}
	require.Equal(t, 2, paris.Stats().Writes["create"], "x_move was not created again")
	require.Zero(t, berlin.Stats().TotalWrites())
	requireFleetQuiet(t, runFleetRound(t, t.Context(), pbxs))
}

// An empty plan's report is stored while other PBXs' applies store theirs (a data
// race on the report's map once, found under -race): here a_busy and b_busy have a
// change and z_idle none, and every PBX is in the report.
func TestFleetEmptyPlanBesideApplies(t *testing.T) {
	var pbxs []fleetPBX
	var servers []*simtest.Server
	for _, name := range []string{"a_busy", "b_busy", "z_idle"} {
		srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
			company(name+"_co", "Co", "zone", "Europe/London"),
		}}), pbxtest.WithFaults(pbxtest.Faults{Latency: 5 * time.Millisecond}))
		zone := "Europe/Paris"
		if name == "z_idle" {
			zone = "Europe/London"
		}
		servers = append(servers, srv)
		pbxs = append(pbxs, fleetPBX{name: name, client: newClient(t, srv.URL, pbxtest.AdminKey),
			inv: load(t, fmt.Sprintf("version: 1\ncompanies:\n  %s_co: {name: Co, settings: {zone: %s}}\n", name, zone), noEnv)})
	}
	run := runFleetRound(t, t.Context(), pbxs)
	require.NoError(t, run.report.Err())
	require.Equal(t, []string{"a_busy", "b_busy"}, run.applied)
	require.Len(t, run.report.PBXs, 3, "every PBX is in the report")
	require.Equal(t, 1, servers[0].Stats().Writes["update"])
}

// t_move is on london's server, london's inventory does not list it and prunes ^t_,
// paris's inventory lists it. When its move cannot be made in this run (paris
// unreachable, paris left out by --pbx, or berlin's server holding it too, berlin
// pruning ^t_ as well), it is never pruned: a company that another inventory of the
// fleet lists is left alone, to be moved by a later run (it once was deleted, and
// the tenant lost). t_stray, which no inventory lists, is pruned: prune is at work.
func TestFleetNeverPrunesWhatAnotherInventoryLists(t *testing.T) {
	pruning := func(own string) string {
		return "version: 1\ncompanies:\n  " + own + ": {name: Own}\nprune: {match: \"^t_\"}\n"
	}
	parisInv := "version: 1\ncompanies:\n  t_move: {name: T Move}\n"
	holding := func(own string) pbxtest.State {
		return pbxtest.State{Companies: []apiclient.Company{
			company("t_move", "T Move", "nm_password", "2580", "q_ringtime", "9"),
			company("t_stray", "T Stray"),
			company(own, "Own"),
		}}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, london fleetPBX) []fleetPBX
	}{
		{name: "paris unreachable", setup: func(t *testing.T, london fleetPBX) []fleetPBX {
			gone := httptest.NewServer(pbxtest.New())
			gone.Close()
			return []fleetPBX{london, {name: "paris", client: newClient(t, gone.URL, pbxtest.AdminKey), inv: load(t, parisInv, noEnv)}}
		}},
		{name: "paris left out (--pbx london)", setup: func(t *testing.T, london fleetPBX) []fleetPBX {
			paris := simtest.NewServer(t)
			return []fleetPBX{london, {name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: load(t, parisInv, noEnv), left: true}}
		}},
		{name: "berlin holds it too", setup: func(t *testing.T, london fleetPBX) []fleetPBX {
			paris := simtest.NewServer(t)
			return []fleetPBX{
				london,
				{name: "paris", client: newClient(t, paris.URL, pbxtest.AdminKey), inv: load(t, parisInv, noEnv)},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			london := simtest.NewServer(t, pbxtest.WithState(holding("l_own")))
			pbxs := tt.setup(t, fleetPBX{name: "london", client: newClient(t, london.URL, pbxtest.AdminKey), inv: load(t, pruning("l_own"), noEnv)})
			holders := map[string]*simtest.Server{"london": london}
			if tt.name == "berlin holds it too" {
				berlin := simtest.NewServer(t, pbxtest.WithState(holding("be_own")))
				holders["berlin"] = berlin
				pbxs = append(pbxs, fleetPBX{name: "berlin", client: newClient(t, berlin.URL, pbxtest.AdminKey), inv: load(t, pruning("be_own"), noEnv)})
			}
			run := runFleetRound(t, t.Context(), pbxs, plan.Options{Prune: true, MaxDelete: 5})
			require.Empty(t, run.plan.Moves, "no move can be made")
			for name, srv := range holders {
				_, stray := srv.Company("t_stray")
				require.False(t, stray, "%s: prune deletes t_stray, which no inventory lists", name)
			}
			for _, name := range slices.Sorted(maps.Keys(holders)) {
				var deletes []string
				for _, ch := range run.plan.PBXs[name].Changes {
					if ch.Action == plan.Delete {
						deletes = append(deletes, ch.Company)
					}
				}
				_, kept := holders[name].Company("t_move")
				if !kept || !slices.Equal(deletes, []string{"t_stray"}) {
					t.Errorf("%s's plan deletes %v, and t_move, which paris's inventory lists, is %s",
						name, deletes, map[bool]string{true: "still there", false: "gone from " + name}[kept])
				}
			}
		})
	}
}

// TestFleetMoveKeepsASourceChangedMeanwhile: while paris is being verified, t_one's
// PIN and q_ringtime change on london. Its delete would lose the change, so it is
// kept on london, the move unfinished; t_two, unchanged, is moved. The next run
// finds paris's copy holding what london no longer holds: no move could have
// written it, so it is a conflict (fleet.md v0.3) and neither copy is written. Once
// a person deletes the wrong copy (paris's), the move is made again with what
// london holds now.
func TestFleetMoveKeepsASourceChangedMeanwhile(t *testing.T) {
	london := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("t_one", "T One", "nm_password", "1111", "q_ringtime", "10"),
		company("t_two", "T Two", "nm_password", "2222"),
	}}))
	paris := simtest.NewServer(t)
	lc, pc := newClient(t, london.URL, pbxtest.AdminKey), newClient(t, paris.URL, pbxtest.AdminKey)
	londonInv := load(t, "version: 1\ncompanies: {}\n", noEnv)
	parisInv := load(t, "version: 1\ncompanies:\n  t_one: {name: T One}\n  t_two: {name: T Two}\n", noEnv)

	var changeErr error
	w := &tripwire{
		cut: func(pbx, op string, n, _ int) bool { return pbx == "paris" && op == "ReadAll" && n == 2 },
		act: func() {
			_, changeErr = lc.Update(t.Context(), "t_one", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"nm_password": apiclient.String("5555"), "q_ringtime": apiclient.String("20")})})
		},
	}
	first := runFleetRound(t, t.Context(), []fleetPBX{
		{name: "london", client: wiredClient{lc, "london", w}, inv: londonInv},
		{name: "paris", client: wiredClient{pc, "paris", w}, inv: parisInv},
	})
	require.NotEmpty(t, w.firedAt(), "t_one was changed during the run")
	require.NoError(t, changeErr)
	require.Equal(t, map[string]string{"t_one": sync.Unfinished, "t_two": sync.Moved}, moveStatuses(first.report), "%+v", first.report.Moves)
	require.Error(t, first.report.Err())
	got, onLondon := london.Company("t_one")
	require.True(t, onLondon, "t_one, changed since it was read, stays on london")
	require.Equal(t, "5555", got.Settings.Get("nm_password").Text())

	pbxs := []fleetPBX{{name: "london", client: lc, inv: londonInv}, {name: "paris", client: pc, inv: parisInv}}
	writes := london.Stats().TotalWrites() + paris.Stats().TotalWrites()
	conflict := runFleetRound(t, t.Context(), pbxs)
	require.Empty(t, conflict.plan.Moves)
	require.Len(t, conflict.report.Conflicts, 1)
	require.Equal(t, []string{"nm_password", "q_ringtime"}, conflict.report.Conflicts[0].Names())
	require.ErrorContains(t, conflict.report.Err(), "1 conflict")
	require.Equal(t, writes, london.Stats().TotalWrites()+paris.Stats().TotalWrites(), "neither copy is written")

	require.NoError(t, pc.DeleteConfirmed(t.Context(), "t_one"))
	again := runFleetRound(t, t.Context(), pbxs)
	require.NoError(t, again.report.Err())
	require.Equal(t, map[string]string{"t_one": sync.Moved}, moveStatuses(again.report))
	moved, ok := paris.Company("t_one")
	require.True(t, ok)
	require.Equal(t, "5555", moved.Settings.Get("nm_password").Text(), "the changed PIN is carried")
	require.Equal(t, "20", moved.Settings.Get("q_ringtime").Text())
	require.Empty(t, london.Snapshot().Companies)
	require.Equal(t, 3, paris.Stats().Writes["create"])
	requireFleetQuiet(t, runFleetRound(t, t.Context(), pbxs))
}

// TestFleetMoveWaitsForTheTargetToHoldIt: paris applies the moves, then, before it
// is read back, t_one's PIN changes there (another hand). The read-back sees it:
// t_one stays on london, the move unfinished; t_two is moved. The next run finds on
// paris a PIN no move writes: a conflict, neither copy written. Once a person
// deletes the wrong copy (london's), the move is over: paris keeps its PIN.
func TestFleetMoveWaitsForTheTargetToHoldIt(t *testing.T) {
	london := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("t_one", "T One", "nm_password", "1111", "q_ringtime", "10"),
		company("t_two", "T Two", "nm_password", "2222"),
	}}))
	paris := simtest.NewServer(t)
	lc, pc := newClient(t, london.URL, pbxtest.AdminKey), newClient(t, paris.URL, pbxtest.AdminKey)
	londonInv := load(t, "version: 1\ncompanies: {}\n", noEnv)
	parisInv := load(t, "version: 1\ncompanies:\n  t_one: {name: T One}\n  t_two: {name: T Two}\n", noEnv)

	var changeErr error
	w := &tripwire{
		cut: func(pbx, op string, n, _ int) bool { return pbx == "paris" && op == "ReadAll" && n == 2 },
		act: func() {
			_, changeErr = pc.Update(t.Context(), "t_one", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String("0000")})})
		},
	}
	first := runFleetRound(t, t.Context(), []fleetPBX{
		{name: "london", client: wiredClient{lc, "london", w}, inv: londonInv},
		{name: "paris", client: wiredClient{pc, "paris", w}, inv: parisInv},
	})
	require.NotEmpty(t, w.firedAt(), "t_one was changed on paris before the read-back")
	require.NoError(t, changeErr)
	require.True(t, first.report.PBXs["paris"].Verified, "paris's own apply verified what it wrote")
	require.Equal(t, map[string]string{"t_one": sync.Unfinished, "t_two": sync.Moved}, moveStatuses(first.report), "%+v", first.report.Moves)
	_, onLondon := london.Company("t_one")
	require.True(t, onLondon, "t_one, not held by paris as planned, stays on london")

	pbxs := []fleetPBX{{name: "london", client: lc, inv: londonInv}, {name: "paris", client: pc, inv: parisInv}}
	writes := london.Stats().TotalWrites() + paris.Stats().TotalWrites()
	conflict := runFleetRound(t, t.Context(), pbxs)
	require.Empty(t, conflict.plan.Moves)
	require.Len(t, conflict.report.Conflicts, 1)
	require.Equal(t, []string{"nm_password"}, conflict.report.Conflicts[0].Names())
	require.Equal(t, writes, london.Stats().TotalWrites()+paris.Stats().TotalWrites(), "neither copy is written")
	kept, _ := paris.Company("t_one")
	require.Equal(t, "0000", kept.Settings.Get("nm_password").Text(), "paris's PIN is not overwritten")

	require.NoError(t, lc.DeleteConfirmed(t.Context(), "t_one"))
	requireFleetQuiet(t, runFleetRound(t, t.Context(), pbxs))
	require.Equal(t, 2, paris.Stats().Writes["create"])
}
