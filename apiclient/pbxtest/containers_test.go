package pbxtest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// step is one ops call made as System-Admin.
type step struct {
	verb   string
	scope  obj
	values obj
}

func create(id string) step {
	return step{verb: "create", values: obj{"company": id, "name": "Company " + id}}
}
func group(mover, target string) step {
	return step{verb: "group", scope: scope(mover), values: obj{"company": target}}
}
func ungroup(id string) step { return step{verb: "ungroup", scope: scope(id)} }
func remove(id string) step  { return step{verb: "delete", scope: scope(id)} }

var modes = []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge}

func TestContainers(t *testing.T) {
	type want struct {
		containers map[string][]string // the whole of Snapshot().Containers
		moves      int                 // containermoves of the last step (group and ungroup)
	}
	tests := []struct {
		name  string
		setup []step
		last  step
		want  map[pbxtest.Mode]want
		gone  []string // containers that readContainer must no longer find
	}{
		{
			name: "create makes a container named after the company",
			last: create("a"),
			want: both(want{containers: map[string][]string{"a": {"a"}}}),
		},
		{
			name:  "group moves the mover alone, or its whole container",
			setup: []step{create("a"), create("b"), create("c"), create("d"), group("b", "a"), group("d", "c")},
			last:  group("c", "a"),
			want: map[pbxtest.Mode]want{
				pbxtest.ModeMove:  {containers: map[string][]string{"a": {"a", "b", "c"}, "c": {"d"}}, moves: 0},
				pbxtest.ModeMerge: {containers: map[string][]string{"a": {"a", "b", "c", "d"}}, moves: 1},
			},
		},
		{
			name:  "merge counts every other member it moves",
			setup: []step{create("a"), create("b"), create("c"), create("d"), group("c", "b"), group("d", "b")},
			last:  group("b", "a"),
			want: map[pbxtest.Mode]want{
				pbxtest.ModeMove:  {containers: map[string][]string{"a": {"a", "b"}, "b": {"c", "d"}}, moves: 0},
				pbxtest.ModeMerge: {containers: map[string][]string{"a": {"a", "b", "c", "d"}}, moves: 2},
			},
		},
		{
			name:  "group of a lone company empties its container, which disappears",
			setup: []step{create("a"), create("b")},
			last:  group("a", "b"),
			want:  both(want{containers: map[string][]string{"b": {"a", "b"}}}),
			gone:  []string{"a"},
		},
		{
			name:  "group into the target's container again changes nothing",
			setup: []step{create("a"), create("b"), group("b", "a")},
			last:  group("b", "a"),
			want:  both(want{containers: map[string][]string{"a": {"a", "b"}}}),
		},
		{
			name:  "group of a company onto a member of its own container changes nothing",
			setup: []step{create("a"), create("b"), create("c"), group("b", "a"), group("c", "a")},
			last:  group("a", "c"),
			want:  both(want{containers: map[string][]string{"a": {"a", "b", "c"}}}),
		},
		{
			name:  "group of a company onto itself changes nothing",
			setup: []step{create("a"), create("b"), group("b", "a")},
			last:  group("a", "a"),
			want:  both(want{containers: map[string][]string{"a": {"a", "b"}}}),
		},
		{
			name:  "ungroup of a company alone changes nothing",
			setup: []step{create("a")},
			last:  ungroup("a"),
			want:  both(want{containers: map[string][]string{"a": {"a"}}}),
		},
		{
			name:  "ungroup of a company alone in another's container changes nothing",
			setup: []step{create("a"), create("b"), group("a", "b"), remove("b")},
			last:  ungroup("a"),
			want:  both(want{containers: map[string][]string{"b": {"a"}}}),
		},
		{
			name:  "ungroup of a company that is not the namesake",
			setup: []step{create("a"), create("b"), group("b", "a")},
			last:  ungroup("b"),
			want:  both(want{containers: map[string][]string{"a": {"a"}, "b": {"b"}}}),
		},
		{
			name:  "ungroup of the namesake while others remain gets _2",
			setup: []step{create("a"), create("b"), group("b", "a")},
			last:  ungroup("a"),
			want:  both(want{containers: map[string][]string{"a": {"b"}, "a_2": {"a"}}}),
		},
		{
			name: "ungroup gets _3 when _2 is taken",
			setup: []step{create("a"), create("b"), create("c"), group("b", "a"), ungroup("a"),
				group("c", "a")},
			last: ungroup("a"),
			want: both(want{containers: map[string][]string{"a": {"b"}, "a_2": {"c"}, "a_3": {"a"}}}),
		},
		{
			name:  "create of a company whose id names a container gets _2",
			setup: []step{create("a"), create("b"), group("b", "a"), ungroup("a")},
			last:  create("a_2"),
			want:  both(want{containers: map[string][]string{"a": {"b"}, "a_2": {"a"}, "a_2_2": {"a_2"}}}),
		},
		{
			name:  "delete of the last member empties its container",
			setup: []step{create("a"), create("b")},
			last:  remove("a"),
			want:  both(want{containers: map[string][]string{"b": {"b"}}}),
			gone:  []string{"a"},
		},
		{
			name:  "delete of the namesake leaves the container to the others",
			setup: []step{create("a"), create("b"), group("b", "a")},
			last:  remove("a"),
			want:  both(want{containers: map[string][]string{"a": {"b"}}}),
		},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithMode(mode))
				require.Equal(t, mode, srv.Mode())
				for _, s := range tt.setup {
					admin(t, srv, s.verb, s.scope, s.values)
				}
				resp := admin(t, srv, tt.last.verb, tt.last.scope, tt.last.values)
				w := tt.want[mode]

				if tt.last.verb == "group" || tt.last.verb == "ungroup" {
					msg, _ := resp["message"].(string)
					require.NotEmpty(t, msg, "a %s answer carries a message: %v", tt.last.verb, resp)
					if diff := cmp.Diff(num(w.moves), resp["containermoves"]); diff != "" {
						t.Errorf("containermoves (-want +got):\n%s", diff)
					}
				}
				if diff := cmp.Diff(w.containers, srv.Snapshot().Containers); diff != "" {
					t.Errorf("Snapshot().Containers (-want +got):\n%s", diff)
				}
				for name, members := range w.containers {
					for _, id := range members {
						gotName, gotMembers, ok := srv.ContainerOf(id)
						require.True(t, ok, "ContainerOf(%q)", id)
						if diff := cmp.Diff(name+" "+strings.Join(members, ","), gotName+" "+strings.Join(gotMembers, ",")); diff != "" {
							t.Errorf("ContainerOf(%q) (-want +got):\n%s", id, diff)
						}
					}
					byName := admin(t, srv, "readContainer", obj{"container": name}, nil)
					checkContainer(t, byName, name, members)
					byCompany := admin(t, srv, "readContainer", scope(members[0]), nil)
					if diff := cmp.Diff(byName, byCompany); diff != "" {
						t.Errorf("readContainer by company %q and by name %q differ (-name +company):\n%s", members[0], name, diff)
					}
				}
				for _, name := range tt.gone {
					adminFails(t, srv, "readContainer", obj{"container": name}, nil)
				}
			})
		}
	}
}

func both[W any](w W) map[pbxtest.Mode]W {
	return map[pbxtest.Mode]W{pbxtest.ModeMove: w, pbxtest.ModeMerge: w}
}

// checkContainer asserts the shape of a readContainer answer for one container.
func checkContainer(t *testing.T, resp obj, name string, members []string) {
	t.Helper()
	values := object(t, resp, "values")
	if diff := cmp.Diff([]string{name}, keys(values)); diff != "" {
		t.Fatalf("readContainer values keys (-want +got):\n%s", diff)
	}
	box := object(t, values, name)
	id, ok := box["id"].(json.Number)
	require.True(t, ok, "container id is a JSON number: %#v", box["id"])
	_, err := id.Int64()
	require.NoError(t, err, "container id is an integer")
	if diff := cmp.Diff(name, box["name"]); diff != "" {
		t.Errorf("container name (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(obj{}, box["data"]); diff != "" {
		t.Errorf("container data (-want +got):\n%s", diff)
	}
	ms := object(t, box, "members")
	if diff := cmp.Diff(members, keys(ms)); diff != "" {
		t.Errorf("container %q members (-want +got):\n%s", name, diff)
	}
	for _, m := range members {
		entry := object(t, ms, m)
		if diff := cmp.Diff("Company "+m, entry["name"]); diff != "" {
			t.Errorf("member %q name (-want +got):\n%s", m, diff)
		}
		_, isNum := entry["id"].(json.Number)
		require.True(t, isNum, "member %q id is a number: %#v", m, entry["id"])
		require.NotEmpty(t, object(t, entry, "data"), "member %q carries its data", m)
	}
}

func TestNumericIDsAreNeverReused(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithMode(mode))
			seenCompany, seenContainer := map[json.Number]bool{}, map[json.Number]bool{}
			createOnce := func(id string) {
				t.Helper()
				resp := admin(t, srv, "create", nil, obj{"company": id, "name": "Company " + id})
				n := field(t, resp, "values", id, "id").(json.Number)
				require.False(t, seenCompany[n], "company id %s of %q was given before", n, id)
				seenCompany[n] = true
				c := field(t, admin(t, srv, "readContainer", scope(id), nil), "values", id, "id").(json.Number)
				require.False(t, seenContainer[c], "container id %s of %q was given before", c, id)
				seenContainer[c] = true
				got, ok := srv.Company(id)
				require.True(t, ok)
				if diff := cmp.Diff(string(n), jsonNumber(got.Num)); diff != "" {
					t.Errorf("Company(%q).Num and the answer's id (-answer +Company):\n%s", id, diff)
				}
			}
			createOnce("a")
			createOnce("b")
			admin(t, srv, "delete", scope("a"), nil)
			createOnce("a")
			admin(t, srv, "delete", scope("b"), nil)
			createOnce("c")
			createOnce("b")
		})
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestReadContainerScope(t *testing.T) {
	tests := []struct {
		name  string
		scope obj
		want  string // the container answered; "" for a fail
	}{
		{name: "by company", scope: obj{"company": "b"}, want: "b"},
		{name: "by container", scope: obj{"container": "a"}, want: "a"},
		{name: "company and container: the container wins", scope: obj{"company": "a", "container": "b"}, want: "b"},
		{name: "container wins even over an unknown company", scope: obj{"company": "ghost", "container": "a"}, want: "a"},
		{name: "no scope fails", scope: nil},
		{name: "empty scope fails", scope: obj{}},
		{name: "unknown container fails", scope: obj{"container": "ghost"}},
		{name: "unknown company fails", scope: obj{"company": "ghost"}},
		{name: "unknown container with a known company fails", scope: obj{"company": "a", "container": "ghost"}},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithMode(mode), companies("a", "b"))
				status, resp := call(t, srv, pbxtest.AdminKey, "readContainer", tt.scope, nil)
				if tt.want == "" {
					requireFail(t, status, resp)
					return
				}
				requireSuccess(t, status, resp)
				checkContainer(t, resp, tt.want, []string{tt.want})
			})
		}
	}
}

func TestGroupAndUngroupRefuseUnknownCompanies(t *testing.T) {
	tests := []struct {
		name string
		step step
	}{
		{name: "group: unknown mover", step: group("ghost", "a")},
		{name: "group: unknown target", step: group("a", "ghost")},
		{name: "group: no target", step: step{verb: "group", scope: scope("a")}},
		{name: "group: empty target", step: step{verb: "group", scope: scope("a"), values: obj{"company": ""}}},
		{name: "group: no scope", step: step{verb: "group", values: obj{"company": "b"}}},
		{name: "ungroup: unknown company", step: ungroup("ghost")},
		{name: "ungroup: no scope", step: step{verb: "ungroup"}},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithMode(mode),
					grouped(map[string][]string{"b": {"b", "c"}}, "a", "b", "c"))
				before := srv.Snapshot()
				adminFails(t, srv, tt.step.verb, tt.step.scope, tt.step.values)
				if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
					t.Errorf("a refused %s changed the state (-before +after):\n%s", tt.step.verb, diff)
				}
				require.Zero(t, srv.Stats().TotalWrites(), "writes")
			})
		}
	}
}

func TestDefaultModeIsMove(t *testing.T) {
	srv := simtest.NewServer(t, grouped(map[string][]string{"b": {"b", "c"}}, "a", "b", "c"))
	require.Equal(t, pbxtest.ModeMove, srv.Mode())
	resp := admin(t, srv, "group", scope("b"), obj{"company": "a"})
	if diff := cmp.Diff(num(0), resp["containermoves"]); diff != "" {
		t.Errorf("containermoves (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"a": {"a", "b"}, "b": {"c"}}, srv.Snapshot().Containers); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
}

func TestAccessorsOfUnknownCompanies(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"))
	_, ok := srv.Company("ghost")
	require.False(t, ok, "Company of an unknown id")
	_, _, ok = srv.ContainerOf("ghost")
	require.False(t, ok, "ContainerOf of an unknown id")
	require.Empty(t, srv.Description("ghost"))
}

func TestConcurrentCreates(t *testing.T) {
	srv := simtest.NewServer(t)
	const n = 16
	type result struct {
		id     string
		status int
		resp   obj
	}
	results := make(chan result, 2*n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		for _, id := range []string{fmt.Sprintf("co%d", i), "same"} {
			wg.Go(func() {
				<-start
				r, err := send(t.Context(), srv.URL, "create", ops(pbxtest.AdminKey, nil, obj{"company": id, "name": "Company " + id}), nil)
				var resp obj
				if err == nil {
					resp, err = decode(r.body)
				}
				if err != nil {
					resp = obj{"error": err.Error()}
				}
				results <- result{id, r.status, resp}
			})
		}
	}
	close(start)
	wg.Wait()
	close(results)

	got := map[string]int{}
	nums := map[any]bool{}
	for r := range results {
		require.Equal(t, 200, r.status, "%v", r.resp)
		if r.resp["result"] == "success" {
			got[r.id]++
			n := field(t, r.resp, "values", r.id, "id")
			require.False(t, nums[n], "numeric id %v given twice", n)
			nums[n] = true
		}
	}
	want := map[string]int{"same": 1}
	for i := range n {
		want[fmt.Sprintf("co%d", i)] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("successful creates by id (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(n+1, srv.Stats().Writes["create"]); diff != "" {
		t.Errorf("Stats().Writes[create] (-want +got):\n%s", diff)
	}
	require.Len(t, srv.Snapshot().Containers, n+1)
}
