package plan

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ungroupChange(id string) Change       { return Change{Action: Ungroup, Company: id} }
func groupChange(id, target string) Change { return Change{Action: Group, Company: id, Target: target} }

func TestPlanGrouping(t *testing.T) {
	tests := []struct {
		name         string
		current      map[string][]string
		desired      [][]string
		unmanaged    []string
		wantChanges  []Change
		wantWarnings []string
	}{{
		name:    "already in place",
		current: map[string][]string{"a": {"a", "b"}, "c": {"c"}},
		desired: [][]string{{"b", "a"}, {"c"}},
	}, {
		name:        "a lone company joins a group",
		current:     map[string][]string{"a": {"a", "b"}, "c": {"c"}},
		desired:     [][]string{{"a", "b", "c"}},
		wantChanges: []Change{groupChange("c", "a")},
	}, {
		name:        "a member must stand alone",
		current:     map[string][]string{"a": {"a", "b", "c"}},
		desired:     [][]string{{"a", "b"}, {"c"}},
		wantChanges: []Change{ungroupChange("c")},
	}, {
		name:        "swap between two containers",
		current:     map[string][]string{"a": {"a", "b"}, "c": {"c", "d"}},
		desired:     [][]string{{"a", "c"}, {"b", "d"}},
		wantChanges: []Change{ungroupChange("b"), ungroupChange("c"), groupChange("b", "d"), groupChange("c", "a")},
	}, {
		name:        "split one into two",
		current:     map[string][]string{"a": {"a", "b", "c", "d"}},
		desired:     [][]string{{"a", "b"}, {"c", "d"}},
		wantChanges: []Change{ungroupChange("c"), ungroupChange("d"), groupChange("d", "c")},
	}, {
		name:        "merge two into one: groups alone",
		current:     map[string][]string{"a": {"a", "b"}, "c": {"c", "d"}},
		desired:     [][]string{{"a", "b", "c", "d"}},
		wantChanges: []Change{groupChange("c", "a"), groupChange("d", "a")},
	}, {
		name:         "a mover sharing a container with an unmanaged company is ungrouped first",
		current:      map[string][]string{"a": {"a", "c"}, "u": {"u", "b", "e"}},
		desired:      [][]string{{"a", "b", "c"}, {"e"}},
		unmanaged:    []string{"u"},
		wantChanges:  []Change{ungroupChange("b"), groupChange("b", "a")},
		wantWarnings: []string{"unmanaged company u shares container u with managed company e"},
	}, {
		name:        "leaving a container with an unmanaged company",
		current:     map[string][]string{"u": {"u", "a", "b"}},
		desired:     [][]string{{"a"}, {"b"}},
		unmanaged:   []string{"u"},
		wantChanges: []Change{ungroupChange("b")},
		wantWarnings: []string{
			"unmanaged company u shares container u with managed company a",
		},
	}, {
		name:         "a target container with an unmanaged company",
		current:      map[string][]string{"a": {"a"}, "u": {"u", "b"}},
		desired:      [][]string{{"a", "b"}},
		unmanaged:    []string{"u"},
		wantChanges:  []Change{groupChange("a", "b")},
		wantWarnings: []string{"unmanaged company u shares container u with managed companies a, b"},
	}, {
		name:         "unmanaged companies are never moved",
		current:      map[string][]string{"a": {"a", "u", "v"}, "b": {"b"}, "w": {"w", "x"}},
		desired:      [][]string{{"a", "b"}},
		unmanaged:    []string{"u", "v", "w", "x"},
		wantChanges:  []Change{groupChange("b", "a")},
		wantWarnings: []string{"unmanaged companies u, v share container a with managed companies a, b"},
	}, {
		name: "new companies in their own containers",
		current: map[string][]string{
			"a": {"a", "b"}, newContainer + "n1": {"n1"}, newContainer + "n2": {"n2"}, newContainer + "n3": {"n3"},
		},
		desired:     [][]string{{"a", "b", "n1"}, {"n3", "n2"}},
		wantChanges: []Change{groupChange("n1", "a"), groupChange("n3", "n2")},
	}, {
		name:        "the largest part stays in place",
		current:     map[string][]string{"a": {"a", "b"}, "c": {"c", "d", "e"}},
		desired:     [][]string{{"a", "b", "c", "d", "e"}},
		wantChanges: []Change{groupChange("a", "c"), groupChange("b", "c")},
	}, {
		name:        "everyone alone",
		current:     map[string][]string{"a": {"a", "b", "c"}},
		desired:     [][]string{{"a"}, {"b"}, {"c"}},
		wantChanges: []Change{ungroupChange("b"), ungroupChange("c")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, warnings := planGrouping(tt.current, tt.desired, managedExcept(tt.unmanaged))
			if diff := cmp.Diff(tt.wantChanges, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, merge := range []bool{false, true} {
				if problem := checkGrouping(tt.current, tt.desired, tt.unmanaged, changes, merge); problem != "" {
					t.Errorf("merge=%v: %s", merge, problem)
				}
			}
		})
	}
}

func managedExcept(unmanaged []string) func(string) bool {
	return func(id string) bool { return !slices.Contains(unmanaged, id) }
}

// containerModel models the containers of spec/api.md: each company is in a container
// with an identity; ungroup gives a company a new one unless it is alone; group moves
// the mover alone, or in merge mode its whole container, and the target's container
// keeps its identity.
type containerModel struct {
	in    map[string]int
	fresh int
}

func newContainerModel(current map[string][]string) *containerModel {
	s := &containerModel{in: map[string]int{}}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		s.fresh++
		for _, id := range current[name] {
			s.in[id] = s.fresh
		}
	}
	return s
}

func (s *containerModel) alone(id string) bool {
	for other, c := range s.in {
		if other != id && c == s.in[id] {
			return false
		}
	}
	return true
}

func (s *containerModel) ungroup(id string) {
	if !s.alone(id) {
		s.fresh++
		s.in[id] = s.fresh
	}
}

func (s *containerModel) group(mover, target string, merge bool) {
	from, to := s.in[mover], s.in[target]
	if !merge {
		s.in[mover] = to
		return
	}
	for id, c := range s.in {
		if c == from {
			s.in[id] = to
		}
	}
}

// checkGrouping applies changes to a containerModel in one mode and returns what is
// wrong, or "": an ungroup after a group, an unknown company or target, an unmanaged
// company whose container changes, or an end state that is not the desired grouping.
func checkGrouping(current map[string][]string, desired [][]string, unmanaged []string, changes []Change, merge bool) string {
	s := newContainerModel(current)
	start := maps.Clone(s.in)
	grouped := false
	for n, c := range changes {
		if _, ok := start[c.Company]; !ok {
			return fmt.Sprintf("change %d: unknown company %s", n, c.Company)
		}
		switch c.Action {
		case Ungroup:
			if grouped {
				return fmt.Sprintf("change %d: an ungroup after a group", n)
			}
			if slices.Contains(unmanaged, c.Company) {
				return fmt.Sprintf("change %d: ungroups unmanaged %s", n, c.Company)
			}
			s.ungroup(c.Company)
		case Group:
			grouped = true
			if _, ok := s.in[c.Target]; !ok || c.Target == c.Company {
				return fmt.Sprintf("change %d: bad target %q", n, c.Target)
			}
			s.group(c.Company, c.Target, merge)
		default:
			return fmt.Sprintf("change %d: unexpected action %s", n, c.Action)
		}
		for _, u := range unmanaged {
			if s.in[u] != start[u] {
				return fmt.Sprintf("change %d (%s %s): moves unmanaged %s", n, c.Action, c.Company, u)
			}
		}
	}
	for i, a := range desired {
		for j, b := range desired {
			for _, x := range a {
				for _, y := range b {
					if together := s.in[x] == s.in[y]; together != (i == j) {
						return fmt.Sprintf("%s and %s together: %v, want %v", x, y, together, i == j)
					}
				}
			}
		}
	}
	return ""
}

// bruteForceGrouping returns a shortest plan of the same shape (ungroups of managed
// companies, then groups of managed companies) that reaches desired in both modes
// without moving an unmanaged company in either, by breadth-first search over the
// pair (move-mode state, merge-mode state). Companies are 0..n-1 (n <= 8); start[i] is
// company i's container (0..n-1); want[i] is its desired group, -1 for an unmanaged
// company. An unmanaged mover would either move or change nothing, so none is tried.
func bruteForceGrouping(start []int8, want []int) []groupingStep {
	n := len(start)
	type node struct {
		parent uint64
		op     groupingStep
	}
	type pair struct{ move, merge []int8 }
	key := func(p pair, grouping bool) uint64 {
		var k uint64
		if grouping {
			k = 1
		}
		for _, s := range [][]int8{p.move, p.merge} {
			var label [8]int8
			for i := range label {
				label[i] = -1
			}
			next := int8(0)
			for _, c := range s {
				if label[c] == -1 {
					label[c] = next
					next++
				}
				k = k<<3 | uint64(label[c])
			}
		}
		return k
	}
	done := func(p pair) bool {
		for _, s := range [][]int8{p.move, p.merge} {
			for i := range n {
				for j := range n {
					if want[i] >= 0 && want[j] >= 0 && (s[i] == s[j]) != (want[i] == want[j]) {
						return false
					}
				}
			}
		}
		return true
	}
	type item struct {
		p        pair
		grouping bool
		key      uint64
	}
	first := item{pair{start, start}, false, 0}
	first.key = key(first.p, false)
	seen := map[uint64]node{first.key: {}}
	plan := func(k uint64) []groupingStep {
		var steps []groupingStep
		for k != first.key {
			steps = append(steps, seen[k].op)
			k = seen[k].parent
		}
		slices.Reverse(steps)
		return steps
	}
	if done(first.p) {
		return nil
	}
	level := []item{first}
	for len(level) > 0 {
		var next []item
		for _, it := range level {
			visit := func(p pair, grouping bool, op groupingStep) bool {
				k := key(p, grouping)
				if _, ok := seen[k]; ok {
					return false
				}
				seen[k] = node{it.key, op}
				next = append(next, item{p, grouping, k})
				return done(p)
			}
			for x := range n {
				if want[x] < 0 {
					continue
				}
				if !it.grouping {
					p := pair{slices.Clone(it.p.move), slices.Clone(it.p.merge)}
					for _, s := range [][]int8{p.move, p.merge} {
						if slices.Contains(s[:x], s[x]) || slices.Contains(s[x+1:], s[x]) {
							fresh := int8(0)
							for slices.Contains(s, fresh) {
								fresh++
							}
							s[x] = fresh
						}
					}
					if visit(p, false, groupingStep{ungroup: true, company: x}) {
						return plan(key(p, false))
					}
				}
				for t := range n {
					if t == x {
						continue
					}
					p := pair{slices.Clone(it.p.move), slices.Clone(it.p.merge)}
					p.move[x] = p.move[t]
					from, to := p.merge[x], p.merge[t]
					dragsUnmanaged := false
					for i, c := range p.merge {
						if c == from && from != to {
							dragsUnmanaged = dragsUnmanaged || want[i] < 0
							p.merge[i] = to
						}
					}
					if dragsUnmanaged {
						continue
					}
					if visit(p, true, groupingStep{company: x, target: t}) {
						return plan(key(p, true))
					}
				}
			}
		}
		level = next
	}
	panic("no plan reaches the desired grouping")
}

type groupingStep struct {
	ungroup         bool
	company, target int
}

// TestPlanGroupingProperties plans random cases of one to six companies, up to two of
// them unmanaged, and applies each plan in both modes (and with its groups reversed):
// it must reach the desired grouping without moving an unmanaged company, warn where
// it should, and, up to five companies, be as short as the brute force's.
func TestPlanGroupingProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 10000 {
		n := 1 + rng.IntN(6)
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("c%d", i)
		}
		rng.Shuffle(n, func(i, j int) { names[i], names[j] = names[j], names[i] })
		nUnmanaged := rng.IntN(min(2, n) + 1)
		var unmanaged []string
		want := make([]int, n)
		start := make([]int8, n)
		current := map[string][]string{}
		groups := map[int][]string{}
		for i, id := range names {
			start[i] = int8(rng.IntN(n))
			box := fmt.Sprintf("box%d", start[i])
			current[box] = append(current[box], id)
			if i < nUnmanaged {
				unmanaged = append(unmanaged, id)
				want[i] = -1
				continue
			}
			want[i] = rng.IntN(n - nUnmanaged)
			groups[want[i]] = append(groups[want[i]], id)
		}
		var desired [][]string
		for _, k := range rng.Perm(n) {
			if len(groups[k]) > 0 {
				desired = append(desired, groups[k])
			}
		}

		changes, warnings := planGrouping(current, desired, managedExcept(unmanaged))
		describe := func() string {
			return fmt.Sprintf("case %d: current %v, desired %v, unmanaged %v\nplan: %v", iter, current, desired, unmanaged, changes)
		}
		if !slices.IsSortedFunc(changes, func(a, b Change) int {
			if a.Action != b.Action {
				return strings.Compare(string(b.Action), string(a.Action)) // "ungroup" before "group"
			}
			return strings.Compare(a.Company, b.Company)
		}) {
			t.Fatalf("not ungroups then groups, each sorted by company\n%s", describe())
		}
		for _, merge := range []bool{false, true} {
			if problem := checkGrouping(current, desired, unmanaged, changes, merge); problem != "" {
				t.Fatalf("merge=%v: %s\n%s", merge, problem, describe())
			}
			// The groups reach the same end in any order.
			reversed := slices.Clone(changes)
			k := slices.IndexFunc(reversed, func(c Change) bool { return c.Action == Group })
			if k >= 0 {
				slices.Reverse(reversed[k:])
			}
			if problem := checkGrouping(current, desired, unmanaged, reversed, merge); problem != "" {
				t.Fatalf("merge=%v, groups reversed: %s\n%s", merge, problem, describe())
			}
		}
		checkGroupingWarnings(t, current, unmanaged, changes, warnings, describe)

		if n <= 5 {
			best := bruteForceGrouping(start, want)
			if len(changes) != len(best) {
				var shown []string
				for _, s := range best {
					if s.ungroup {
						shown = append(shown, "ungroup "+names[s.company])
					} else {
						shown = append(shown, "group "+names[s.company]+" to "+names[s.target])
					}
				}
				t.Fatalf("%d changes, brute force needs %d: %v\n%s", len(changes), len(best), shown, describe())
			}
		}
	}
}

// TestPlanGroupingAssignment checks the matching on cases too large for the brute
// force: no other choice of the containers the groups keep gives fewer changes, or as
// few with more companies kept in place.
func TestPlanGroupingAssignment(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := range 2000 {
		n := 6 + rng.IntN(7)
		boxes := 1 + rng.IntN(n)
		current := map[string][]string{}
		var unmanaged []string
		groups := make([][]string, 1+rng.IntN(n))
		for i := range n {
			id := fmt.Sprintf("c%02d", i)
			box := fmt.Sprintf("box%d", rng.IntN(boxes))
			current[box] = append(current[box], id)
			if rng.IntN(6) == 0 {
				unmanaged = append(unmanaged, id)
				continue
			}
			k := rng.IntN(len(groups))
			groups[k] = append(groups[k], id)
		}
		desired := slices.DeleteFunc(groups, func(g []string) bool { return len(g) == 0 })

		changes, _ := planGrouping(current, desired, managedExcept(unmanaged))
		describe := fmt.Sprintf("case %d: current %v, desired %v, unmanaged %v\nplan: %v", iter, current, desired, unmanaged, changes)
		for _, merge := range []bool{false, true} {
			if problem := checkGrouping(current, desired, unmanaged, changes, merge); problem != "" {
				t.Fatalf("merge=%v: %s\n%s", merge, problem, describe)
			}
		}

		g := newGrouping(current, desired, managedExcept(unmanaged))
		g.assign()
		kept := func() int {
			n := 0
			for k, grp := range g.groups {
				for _, i := range grp {
					if g.container[i] == g.target[k] {
						n++
					}
				}
			}
			return n
		}
		gotChanges, gotKept := len(changes), kept()
		bestChanges, bestKept := gotChanges, gotKept
		var try func(k int)
		try = func(k int) {
			if k == len(g.groups) {
				if c, p := len(g.changes()), kept(); c < bestChanges || c == bestChanges && p > bestKept {
					bestChanges, bestKept = c, p
				}
				return
			}
			g.target[k] = -1
			try(k + 1)
			for c := range g.members {
				if g.keeper[c] == -1 && slices.ContainsFunc(g.groups[k], func(i int) bool { return g.container[i] == c }) {
					g.target[k], g.keeper[c] = c, k
					try(k + 1)
					g.target[k], g.keeper[c] = -1, -1
				}
			}
		}
		for c := range g.keeper {
			g.keeper[c] = -1
		}
		try(0)
		if bestChanges != gotChanges || bestKept != gotKept {
			t.Fatalf("%d changes keeping %d in place; another choice gives %d keeping %d\n%s", gotChanges, gotKept, bestChanges, bestKept, describe)
		}
	}
}

// checkGroupingWarnings asserts one warning for each end container where unmanaged and
// managed companies meet, naming the container and all its companies.
func checkGroupingWarnings(t *testing.T, current map[string][]string, unmanaged []string, changes []Change, warnings []string, describe func() string) {
	t.Helper()
	s := newContainerModel(current)
	for _, c := range changes {
		if c.Action == Ungroup {
			s.ungroup(c.Company)
		} else {
			s.group(c.Company, c.Target, false)
		}
	}
	var want [][]string
	for _, name := range slices.Sorted(maps.Keys(current)) {
		var u string
		for _, id := range current[name] {
			if slices.Contains(unmanaged, id) {
				u = id
			}
		}
		if u == "" {
			continue
		}
		var members []string
		mixed := false
		for id, c := range s.in {
			if c == s.in[u] {
				members = append(members, id)
				mixed = mixed || !slices.Contains(unmanaged, id)
			}
		}
		if mixed {
			want = append(want, append([]string{name}, members...))
		}
	}
	if len(warnings) != len(want) {
		t.Fatalf("warnings %q, want %d\n%s", warnings, len(want), describe())
	}
	for i, w := range warnings {
		words := strings.Fields(strings.ReplaceAll(w, ",", ""))
		for _, id := range want[i] {
			if !slices.Contains(words, id) {
				t.Fatalf("warning %q does not name %s\n%s", w, id, describe())
			}
		}
	}
}

// groupingBenchCase has 50,000 companies in 10,000 containers of five, one in a hundred of
// them unmanaged; drift is the share of managed companies that sit in a container
// other than their desired one.
func groupingBenchCase(drift float64) (map[string][]string, [][]string, func(string) bool) {
	rng := rand.New(rand.NewPCG(3, 4))
	const containers, size = 10_000, 5
	current := map[string][]string{}
	unmanaged := map[string]bool{}
	var desired [][]string
	for c := range containers {
		var grp []string
		for i := range size {
			id := fmt.Sprintf("co%05d_%d", c, i)
			box := fmt.Sprintf("co%05d_0", c)
			if rng.Float64() < 0.01 {
				unmanaged[id] = true
				current[box] = append(current[box], id)
				continue
			}
			grp = append(grp, id)
			if rng.Float64() < drift {
				box = fmt.Sprintf("co%05d_0", rng.IntN(containers))
			}
			current[box] = append(current[box], id)
		}
		if len(grp) > 0 {
			desired = append(desired, grp)
		}
	}
	return current, desired, func(id string) bool { return !unmanaged[id] }
}

func BenchmarkPlanGrouping(b *testing.B) {
	for _, bc := range []struct {
		name  string
		drift float64
	}{{"steady", 0}, {"drift10", 0.1}} {
		b.Run(bc.name, func(b *testing.B) {
			current, desired, managed := groupingBenchCase(bc.drift)
			var changes []Change
			for b.Loop() {
				changes, _ = planGrouping(current, desired, managed)
			}
			b.ReportMetric(float64(len(changes)), "changes")
		})
	}
}
