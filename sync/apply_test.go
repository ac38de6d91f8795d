package sync_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

func noEnv(string) (string, bool) { return "", false }

// fastRetries keeps the client's retries, and so the tests, quick.
var fastRetries = apiclient.RetryPolicy{Attempts: 6, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond}

// jsonOf compares values as the server would send them.
var jsonOf = cmp.Transformer("json", func(v apiclient.Value) string { return v.JSON() })

// newClient is a client of the test server with the given key and quick retries.
func newClient(t testing.TB, url, key string, opts ...apiclient.Option) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(url, append([]apiclient.Option{apiclient.WithAPIKey(key), apiclient.WithRetryPolicy(fastRetries)}, opts...)...)
	require.NoError(t, err)
	return c
}

// load loads an inventory; lookup resolves ${VAR}.
func load(t testing.TB, src string, lookup func(string) (string, bool)) *inventory.Inventory {
	t.Helper()
	inv, _, err := inventory.Load("inventory.yaml", []byte(src), inventory.LoadOptions{Lookup: lookup})
	require.NoError(t, err)
	return inv
}

// diff reads the server at the given parallelism and plans inv against it.
func diff(t testing.TB, c state.Reader, inv *inventory.Inventory, parallelism int, opts plan.Options) *plan.Plan {
	t.Helper()
	st, err := state.Read(t.Context(), c, inv, parallelism)
	require.NoError(t, err)
	p, err := plan.Diff(inv, st, opts)
	require.NoError(t, err)
	return p
}

// planFor loads an inventory and plans it against the server.
func planFor(t *testing.T, c *apiclient.Client, src string) (*inventory.Inventory, *plan.Plan) {
	t.Helper()
	inv := load(t, src, noEnv)
	return inv, diff(t, c, inv, 4, plan.Options{})
}

// statuses maps "action company[ target]" to the status of the last result of each change.
func statuses(results []sync.Result) map[string]sync.Status {
	out := map[string]sync.Status{}
	for _, r := range results {
		out[changeKey(r.Change)] = r.Status
	}
	return out
}

func changeKey(ch plan.Change) string {
	return strings.TrimSpace(string(ch.Action) + " " + ch.Company + " " + ch.Target)
}

// failures lists the results that did not end ok, for a failure message.
func failures(results []sync.Result) []string {
	var out []string
	for _, r := range results {
		if r.Status != sync.OK {
			out = append(out, fmt.Sprintf("round %d: %s: %s: %v", r.Round, changeKey(r.Change), r.Status, r.Err))
		}
	}
	return out
}

// partition returns the server's containers as sorted member lists, sorted.
func partition(st pbxtest.State) [][]string {
	var out [][]string
	for _, members := range st.Containers {
		out = append(out, slices.Sorted(slices.Values(members)))
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

// containerName returns the name of the server's container that holds id.
func containerName(st pbxtest.State, id string) string {
	for name, members := range st.Containers {
		if slices.Contains(members, id) {
			return name
		}
	}
	return ""
}

// company builds a company as a state seeds it: settings as name, value pairs.
func company(id, name string, settings ...any) apiclient.Company {
	co := apiclient.Company{ID: id, Name: name, Settings: apiclient.Settings{}}
	for i := 0; i+1 < len(settings); i += 2 {
		var v apiclient.Value
		switch x := settings[i+1].(type) {
		case string:
			v = apiclient.String(x)
		case int:
			v = apiclient.Int(int64(x))
		case bool:
			v = apiclient.Bool(x)
		default:
			panic(fmt.Sprintf("company %s: a setting of type %T", id, x))
		}
		co.Settings.Set(settings[i].(string), v)
	}
	return co
}

// expectedState is before with what inv asks applied: managed companies get the
// inventory's name and managed fields (every other field as it was), new ones the
// fields of a new company under the inventory's, deleted ones go. Unmanaged companies
// stay as they were. New companies take their numeric id from after.
func expectedState(before, after pbxtest.State, inv *inventory.Inventory, deleted []string) []apiclient.Company {
	nums := map[string]int64{}
	for _, co := range after.Companies {
		nums[co.ID] = co.Num
	}
	var want []apiclient.Company
	seen := map[string]bool{}
	for _, co := range before.Companies {
		seen[co.ID] = true
		if slices.Contains(deleted, co.ID) {
			continue
		}
		if inCo, managed := inv.Company(co.ID); managed {
			co.Name = inCo.Name
			co.Settings = co.Settings.Clone()
			for name, v := range inCo.Settings.All() {
				co.Settings.Set(name, v)
			}
		}
		want = append(want, co)
	}
	for _, inCo := range inv.Companies {
		if seen[inCo.ID] {
			continue
		}
		co := apiclient.Company{ID: inCo.ID, Num: nums[inCo.ID], Name: inCo.Name, Settings: apiclient.Settings{}}
		for _, f := range apiclient.Fields() {
			if f.AvailableIn("6.5") {
				co.Settings.Set(f.Name, f.Zero())
			}
		}
		for name, v := range inCo.Settings.All() {
			co.Settings.Set(name, v)
		}
		want = append(want, co)
	}
	slices.SortFunc(want, func(a, b apiclient.Company) int { return strings.Compare(a.ID, b.ID) })
	return want
}

func TestApplyQuickstartConverges(t *testing.T) {
	src, err := os.ReadFile("../examples/quickstart/inventory.yaml")
	require.NoError(t, err)
	st, err := pbxtest.ReadStateFile("../examples/quickstart/pbx.yaml")
	require.NoError(t, err)
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(st), pbxtest.WithMode(mode))
			c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey))
			require.NoError(t, err)
			before := srv.Snapshot()

			_, p := planFor(t, c, string(src))
			require.False(t, p.Empty())
			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 4, Rounds: 3})
			for _, r := range report.Results {
				require.Equal(t, sync.OK, r.Status, "%s %s: %v", r.Action, r.Company, r.Err)
			}
			require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)

			_, again := planFor(t, c, string(src))
			require.True(t, again.Empty(), "a second plan is empty: %v", again.Changes)

			after := srv.Snapshot()
			legacy := func(s pbxtest.State) apiclient.Company {
				for _, co := range s.Companies {
					if co.ID == "legacy_co" {
						return co
					}
				}
				return apiclient.Company{}
			}
			require.Empty(t, cmp.Diff(legacy(before), legacy(after), jsonOf), "the unmanaged company is untouched")
		})
	}
}

// richState is a server with every kind of change to make: fields to update, a
// rename, groups to join, leave, swap, split and merge, unmanaged companies in
// containers with managed ones (which stay, join them or leave them), and companies
// to prune. Every managed company also has fields the inventory does not manage.
func richState() pbxtest.State {
	managed := func(id, name string, settings ...any) apiclient.Company {
		return company(id, name, append([]any{"vm_maxmsgs", "100", "record", 5, "hs_access", "external"}, settings...)...)
	}
	return pbxtest.State{
		Companies: []apiclient.Company{
			managed("acme_hq", "Acme HQ", "zone", "Europe/London", "q_ringtime", "15"),
			managed("acme_west", "Acme West", "zone", "US/Pacific"),
			company("legacy_co", "Legacy Co", "zone", "Asia/Tokyo", "record", 7, "crm_url", "https://crm.example.com"),
			managed("beta1", "Beta One"),
			managed("beta2", "Beta Two", "vm_maxmsgs", "50"),
			managed("beta3", "Beta Three", "vm_silent", "no"),
			managed("d1", "Delta One"),
			managed("d2", "Delta Two"),
			managed("j1", "Joiner"),
			managed("x1", "X One"),
			managed("s1", "Swap One"),
			managed("y1", "Y One"),
			managed("s2", "Swap Two"),
			managed("p1", "P One"),
			managed("p2", "P Two"),
			managed("p3", "P Three", "q_wraptime", "10"),
			managed("p4", "P Four"),
			managed("m1", "M One"),
			managed("m2", "M Two"),
			managed("m3", "M Three"),
			managed("m4", "M Four"),
			company("legacy2", "Legacy Two", "nocallrec", true),
			managed("z1", "Zed One"),
			managed("z2", "Zed Two"),
			company("cust_old1", "Old Customer One"),
			company("cust_old2", "Old Customer Two"),
			company("partner", "Partner", "zone", "Europe/Paris"),
			company("un1", "Unmanaged One"),
			company("un2", "Unmanaged Two"),
		},
		Containers: map[string][]string{
			"acme":  {"acme_hq", "acme_west", "legacy_co"},
			"beta":  {"beta1", "beta2", "beta3"},
			"delta": {"d1", "d2"},
			"x":     {"x1", "s1"},
			"y":     {"y1", "s2"},
			"p":     {"p1", "p2", "p3", "p4"},
			"m":     {"m1", "m2"},
			"n":     {"m3", "m4"},
			"old":   {"legacy2", "z1", "z2"},
			"uu":    {"un1", "un2"},
		},
	}
}

const richInventory = `version: 1
defaults:
  vm_maxmsgs: 100
companies:
  acme_hq:   {name: Acme HQ, settings: {zone: US/Pacific, q_ringtime: 15}}
  acme_west: {name: Acme West Coast, settings: {zone: US/Pacific}}
  acme_east:
    name: Acme East
    description: East office
    settings: {zone: US/Eastern, q_ringtime: 20, nm_password: "${EAST_PIN}"}
  beta1: {name: Beta One}
  beta2: {name: Beta Two}
  beta3: {name: Beta Three, settings: {vm_silent: "yes"}}
  d1: {name: Delta One}
  d2: {name: Delta Two}
  j1: {name: Joiner Renamed}
  x1: {name: X One}
  s1: {name: Swap One}
  y1: {name: Y One}
  s2: {name: Swap Two}
  p1: {name: P One}
  p2: {name: P Two}
  p3: {name: P Three, settings: {q_wraptime: 30}}
  p4: {name: P Four}
  m1: {name: M One}
  m2: {name: M Two}
  m3: {name: M Three}
  m4: {name: M Four}
  z1: {name: Zed One}
  z2: {name: Zed Two}
  new_solo: {name: New Solo}
containers:
  acme: [acme_hq, acme_west, acme_east]
  beta: [beta1, beta2]
  delta: [d1, d2, j1, z1]
  xs: [x1, s2]
  ys: [y1, s1]
  p_low: [p1, p2]
  p_high: [p3, p4]
  m: [m1, m2, m3, m4]
prune:
  match: "^cust_"
`

func TestApplyConvergesOnRichScenario(t *testing.T) {
	env := func(name string) (string, bool) {
		return map[string]string{"EAST_PIN": "4321"}[name], name == "EAST_PIN"
	}
	inv := load(t, richInventory, env)
	pruned := []string{"cust_old1", "cust_old2"}
	opts := plan.Options{Prune: true, MaxDelete: len(pruned)}
	wantPartition := [][]string{
		{"acme_east", "acme_hq", "acme_west", "legacy_co"},
		{"beta1", "beta2"}, {"beta3"},
		{"d1", "d2", "j1", "z1"},
		{"legacy2", "z2"},
		{"m1", "m2", "m3", "m4"},
		{"new_solo"},
		{"p1", "p2"}, {"p3", "p4"},
		{"partner"},
		{"s1", "y1"}, {"s2", "x1"},
		{"un1", "un2"},
	}
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(richState()), pbxtest.WithMode(mode))
			c := newClient(t, srv.URL, pbxtest.AdminKey)
			before := srv.Snapshot()

			p := diff(t, c, inv, 4, opts)
			for _, a := range plan.Actions {
				require.Positive(t, p.Count()[a], "the plan has a %s: %v", a, p.Changes)
			}

			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 4, Rounds: 3})
			require.Empty(t, failures(report.Results))
			require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)
			require.Zero(t, report.Rounds, "the plan reaches the grouping on its first round")
			require.False(t, report.Interrupted)

			again := diff(t, c, inv, 4, opts)
			require.True(t, again.Empty(), "a second plan is empty: %v", again.Changes)

			after := srv.Snapshot()
			if d := cmp.Diff(expectedState(before, after, inv, pruned), after.Companies, jsonOf); d != "" {
				t.Errorf("companies (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantPartition, partition(after)); d != "" {
				t.Errorf("containers (-want +got):\n%s", d)
			}
			for _, id := range []string{"legacy_co", "legacy2", "partner", "un1", "un2"} {
				require.Equal(t, containerName(before, id), containerName(after, id), "the container of unmanaged %s is the one it had", id)
			}
			require.Equal(t, "East office", srv.Description("acme_east"), "a create sends the description")
		})
	}
}

// TestApplyReportsIgnoredFeatureSwitches: a company administrator's update of a
// feature switch answers success and the server keeps nothing; apply reads back and
// reports the switch as drift, while the other fields of that update were kept.
func TestApplyReportsIgnoredFeatureSwitches(t *testing.T) {
	const key = "tenant-admin-key"
	tests := []struct {
		field, value string // as the inventory writes it
		want         apiclient.Value
	}{
		{"nocallrec", "true", apiclient.Bool(true)},
		{"noext", "hq", apiclient.String("hq")},
		{"hs_webrtc", "disable", apiclient.String("disable")},
		{"nobarge", "true", apiclient.Bool(true)},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t,
				pbxtest.WithAPIKey(key, pbxtest.CompanyAdmin("tenant1")),
				pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
					company("tenant1", "Tenant One", "zone", "Europe/London"),
					company("tenant2", "Tenant Two"),
				}}))
			c := newClient(t, srv.URL, key)
			before, ok := srv.Company("tenant1")
			require.True(t, ok)
			inv := load(t, fmt.Sprintf(`version: 1
companies:
  tenant1:
    name: Tenant One
    settings: {zone: US/Pacific, %s: %s}
`, tt.field, tt.value), noEnv)
			p := diff(t, c, inv, 2, plan.Options{})
			require.Len(t, p.Changes, 1)
			require.Nil(t, p.ContainerOf, "a company administrator reads no containers")

			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 2, Rounds: 2})
			require.Empty(t, failures(report.Results), "the update answered success")
			require.False(t, report.Verified)
			want := []sync.Drift{{Company: "tenant1", Field: tt.field,
				Want: apiclient.Display(tt.field, tt.want), Got: apiclient.Display(tt.field, before.Settings.Get(tt.field))}}
			require.Empty(t, cmp.Diff(want, report.Drift), "drift (-want +got)")
			require.Empty(t, report.Unresolved, "writing it again would change nothing")
			require.Zero(t, report.Rounds)

			after, ok := srv.Company("tenant1")
			require.True(t, ok)
			require.Equal(t, `"US/Pacific"`, after.Settings.Get("zone").JSON(), "the rest of the update was kept")
			require.Equal(t, before.Settings.Get(tt.field).JSON(), after.Settings.Get(tt.field).JSON(), "the server kept nothing of the switch")
		})
	}
}

// TestApplySkipsOnlyDependents: a change that fails marks the changes that depend on
// it skipped, and every other change runs: a delete of a company no other change
// names runs after the others have ended, whether they succeeded or not.
func TestApplySkipsOnlyDependents(t *testing.T) {
	st := pbxtest.State{
		Companies: []apiclient.Company{
			company("t1", "Target"),
			company("u1", "Update One", "zone", "Europe/London"),
			company("u2", "Update Two", "zone", "Europe/London"),
			company("g1", "Grouped One"),
			company("g2", "Grouped Two"),
			company("cust_gone", "Gone"),
		},
		Containers: map[string][]string{"g": {"g1", "g2"}},
	}
	src := `version: 1
companies:
  t1: {name: Target}
  nc: {name: New Company, settings: {zone: US/Pacific}}
  u1: {name: Update One, settings: {zone: US/Pacific}}
  u2: {name: Update Two, settings: {zone: US/Eastern}}
  g1: {name: Grouped One}
  g2: {name: Grouped Two}
containers:
  tn: [t1, nc]
prune:
  match: "^cust_"
`
	tests := []struct {
		name   string
		faults pbxtest.Faults
		want   map[string]sync.Status
	}{
		{
			name:   "a refused create skips its group",
			faults: pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"create"}},
			want: map[string]sync.Status{
				"create nc": sync.Failed, "group t1 nc": sync.Skipped, "delete cust_gone": sync.OK,
				"update u1": sync.OK, "update u2": sync.OK, "ungroup g2": sync.OK,
			},
		},
		{
			name:   "a refused ungroup skips nothing",
			faults: pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"ungroup"}},
			want: map[string]sync.Status{
				"create nc": sync.OK, "group t1 nc": sync.OK, "delete cust_gone": sync.OK,
				"update u1": sync.OK, "update u2": sync.OK, "ungroup g2": sync.Failed,
			},
		},
		{
			name:   "refused updates skip only the group of the create they belong to",
			faults: pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"}},
			want: map[string]sync.Status{
				"create nc": sync.Failed, "group t1 nc": sync.Skipped, "delete cust_gone": sync.OK,
				"update u1": sync.Failed, "update u2": sync.Failed, "ungroup g2": sync.OK,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(st))
			c := newClient(t, srv.URL, pbxtest.AdminKey)
			inv := load(t, src, noEnv)
			p := diff(t, c, inv, 4, plan.Options{Prune: true, MaxDelete: 1})
			srv.SetFaults(tt.faults)

			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 4, Rounds: 0})
			require.Len(t, report.Results, len(p.Changes), "every change has one result")
			if d := cmp.Diff(tt.want, statuses(report.Results)); d != "" {
				t.Errorf("statuses (-want +got):\n%s", d)
			}
			for _, r := range report.Results {
				if r.Status == sync.OK {
					require.NoError(t, r.Err)
				} else {
					require.Error(t, r.Err, "%s says why", changeKey(r.Change))
				}
			}
			require.False(t, report.Verified)
			require.NotEmpty(t, report.Unresolved)
			_, exists := srv.Company("cust_gone")
			require.False(t, exists, "the delete depends on no failed change")
		})
	}
}

// TestApplyVerifiedWhenARepairRoundMendsAFailure: a change that failed and that a
// repair round made good by another change (the settings of a create, written by an
// update) leaves the server as the inventory asks: the report says verified.
func TestApplyVerifiedWhenARepairRoundMendsAFailure(t *testing.T) {
	srv := simtest.NewServer(t)
	c := newClient(t, srv.URL, pbxtest.AdminKey)
	inv := load(t, "version: 1\ncompanies:\n  nc: {name: New Company, settings: {zone: US/Pacific}}\n", noEnv)
	p := diff(t, c, inv, 2, plan.Options{})
	require.Equal(t, map[plan.Action]int{plan.Create: 1}, p.Count())

	// The create's update is refused, until the create has reported.
	srv.SetFaults(pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"update"}})
	heal := func(sync.Result) { srv.SetFaults(pbxtest.Faults{}) }
	report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 2, Rounds: 1, OnResult: heal})

	got := make([]string, len(report.Results))
	for i, r := range report.Results {
		got[i] = fmt.Sprintf("round %d: %s: %s", r.Round, changeKey(r.Change), r.Status)
	}
	require.Equal(t, []string{"round 0: create nc: failed", "round 1: update nc: ok"}, got)
	require.Equal(t, 1, report.Rounds)
	require.Empty(t, report.Unresolved)
	require.Empty(t, report.Drift)
	again := diff(t, c, inv, 2, plan.Options{})
	require.True(t, again.Empty(), "the server holds what the inventory asks: %v", again.Changes)
	require.True(t, report.Verified, "verification found nothing left to do")
}

// TestApplyVerifiesAtNoExtraCost: fields are verified from the answers of the
// updates; containers are read back only where a group, ungroup or create touched
// them, and deletes are looked up once.
func TestApplyVerifiesAtNoExtraCost(t *testing.T) {
	sc := updates(40)
	sc.state.Companies = append(sc.state.Companies, company("cust_old", "Old Customer"))
	src := sc.inventory + `  co_new: {name: New Co, settings: {zone: US/Pacific}}
containers:
  pair: [co_0001, co_0002]
  with_new: [co_0003, co_new]
prune:
  match: "^cust_"
`
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(sc.state), pbxtest.WithMode(mode))
			c := newClient(t, srv.URL, pbxtest.AdminKey)
			inv := load(t, src, noEnv)
			p := diff(t, c, inv, 4, plan.Options{Prune: true, MaxDelete: 1})
			require.Equal(t, map[plan.Action]int{plan.Update: 40, plan.Create: 1, plan.Group: 2, plan.Delete: 1}, p.Count())

			srv.ResetStats()
			report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 4})
			require.True(t, report.Verified, "drift %v unresolved %v failures %v", report.Drift, report.Unresolved, failures(report.Results))
			reads := map[string]int{"read": srv.Stats().Requests["read"], "readContainer": srv.Stats().Requests["readContainer"]}
			// One read: the deleted company looked up. Two containers: those of the two
			// groups, whose movers, targets and desired mates they hold.
			require.Equal(t, map[string]int{"read": 1, "readContainer": 2}, reads)
			again := diff(t, c, inv, 4, plan.Options{Prune: true, MaxDelete: 1})
			require.True(t, again.Empty(), "%v", again.Changes)
		})
	}
}

// TestApplyWritesThePlan: apply sends the values the plan carries, secrets and the
// description of --force-description included, and groups as the plan says, even
// when the inventory it was planned from has changed since: apply does not read it.
func TestApplyWritesThePlan(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
		company("a", "A Old", "zone", "Europe/London", "nm_password", "1111"),
		company("b", "B"),
		company("c", "C"),
	}, Containers: map[string][]string{"a": {"a", "c"}}}))
	c := newClient(t, srv.URL, pbxtest.AdminKey)
	pins := map[string]string{"A_PIN": "4711", "N_PIN": "2468"}
	inv := load(t, `version: 1
companies:
  a:
    name: A New
    description: Head office
    settings: {zone: US/Pacific, nm_password: "${A_PIN}"}
  b: {name: B}
  c: {name: C}
  n:
    name: N
    description: Branch
    settings: {zone: Europe/Berlin, ivr_password: "${N_PIN}"}
containers:
  ab: [a, b]
`, func(k string) (string, bool) { v, ok := pins[k]; return v, ok })
	p := diff(t, c, inv, 2, plan.Options{})
	require.Equal(t, "Plan: 1 to create, 1 to update, 1 to ungroup, 1 to group.", p.Summary())

	// The inventory changes in place after planning: other names, descriptions,
	// settings and grouping.
	other := load(t, "version: 1\ncompanies:\n  x: {name: X, settings: {zone: Asia/Tokyo, nm_password: \"9999\"}}\n", noEnv)
	for i := range inv.Companies {
		inv.Companies[i].Name, inv.Companies[i].Description = "Changed", "Changed"
		inv.Companies[i].Settings = other.Companies[0].Settings
	}
	inv.Containers[0].Members[1] = "c"

	report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 2, Rounds: 2, ForceDescription: true})
	require.Empty(t, failures(report.Results))
	require.True(t, report.Verified, "drift %v unresolved %v", report.Drift, report.Unresolved)

	for _, w := range []struct{ id, name, description, zone, pinField, pin string }{
		{"a", "A New", "Head office", `"US/Pacific"`, "nm_password", `"4711"`},
		{"n", "N", "Branch", `"Europe/Berlin"`, "ivr_password", `"2468"`},
	} {
		got, ok := srv.Company(w.id)
		require.True(t, ok, w.id)
		require.Equal(t, w.name, got.Name)
		require.Equal(t, w.description, srv.Description(w.id), "the description of %s", w.id)
		require.Equal(t, w.zone, got.Settings.Get("zone").JSON(), "the zone of %s", w.id)
		require.Equal(t, w.pin, got.Settings.Get(w.pinField).Reveal().JSON(), "the PIN of %s", w.id)
	}
	require.Equal(t, [][]string{{"a", "b"}, {"c"}, {"n"}}, partition(srv.Snapshot()))
}

// TestApplyVerifiesWhatThePlanWrote: a value the server did not keep is drift, as
// compared with what the plan wrote, even when the inventory now asks for what the
// server kept.
func TestApplyVerifiesWhatThePlanWrote(t *testing.T) {
	const key = "tenant-admin-key" // a company administrator's update of a feature switch keeps nothing
	srv := simtest.NewServer(t,
		pbxtest.WithAPIKey(key, pbxtest.CompanyAdmin("tenant1")),
		pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{company("tenant1", "Tenant One", "nocallrec", false)}}))
	c := newClient(t, srv.URL, key)
	inv := load(t, "version: 1\ncompanies:\n  tenant1: {name: Tenant One, settings: {zone: US/Pacific, nocallrec: true}}\n", noEnv)
	p := diff(t, c, inv, 2, plan.Options{})
	require.Len(t, p.Changes, 1)

	kept := load(t, "version: 1\ncompanies:\n  tenant1: {name: Tenant One, settings: {zone: US/Pacific, nocallrec: false}}\n", noEnv)
	inv.Companies[0].Settings = kept.Companies[0].Settings

	report := sync.Apply(t.Context(), c, p, sync.Options{Parallelism: 2, Rounds: 2})
	require.Empty(t, failures(report.Results), "the update answered success")
	want := []sync.Drift{{Company: "tenant1", Field: "nocallrec",
		Want: apiclient.Display("nocallrec", apiclient.Bool(true)), Got: apiclient.Display("nocallrec", apiclient.Bool(false))}}
	require.Empty(t, cmp.Diff(want, report.Drift), "drift (-want +got)")
	require.False(t, report.Verified)
}
