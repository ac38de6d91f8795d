package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// planGrouping returns the ungroups and groups that turn the current containers into
// the desired grouping: ungroups first, then groups; each sorted by company.
//
//   - current: container name -> its members (every company on the server, managed or
//     not; a company planned for creation is in a container of its own named after it)
//   - desired: the desired groups of managed companies; every managed company in exactly
//     one group, singletons included
//   - managed: whether a company is in the inventory (unmanaged ones must never be
//     moved, in either mode)
//
// It also returns warnings (plain sentences) for each container where an unmanaged
// company shares a container with managed ones in the end state, naming the companies.
//
// The plan reaches the desired grouping whether the server's group moves the mover
// alone or its whole container, and it never moves an unmanaged company, nor a company
// in no desired group. Every group's target is in its destination container before the
// first group runs and stays there, so the groups may run in any order.
//
// Each desired group G either keeps one current container T(G) (the members already in
// it stay; the others join them) or gets a fresh one (one member is ungrouped to seed it).
// For a given choice of T the cost is fixed:
//   - a member of G outside T(G) costs an ungroup and a group; a fresh group's seed
//     costs only its ungroup;
//   - a container that is no one's target and holds no company that stays (unmanaged,
//     or in no desired group) may let one class of its companies (those of one desired
//     group) leave by groups alone: once the others are ungrouped, a group that takes
//     the whole container along takes exactly that class.
//
// Compared with a fresh container, keeping container D for G saves 2|G∩D| - 1
// operations, less the size of D's largest class when D, kept by no one, could have
// let that class leave by groups alone. These savings do not depend on each other, so
// the fewest operations is a maximum-weight matching of desired groups to current
// containers (exact, not greedy: a greedy choice of the largest part first can cost
// more); among plans with the fewest operations it keeps the most companies in place.
func planGrouping(current map[string][]string, desired [][]string, managed func(string) bool) (changes []Change, warnings []string) {
	g := newGrouping(current, desired, managed)
	g.assign()
	return g.changes(), g.warnings()
}

// grouping is the indexed problem. Companies are numbered in name order, containers
// in name order and desired groups in the order of their first member, so that nothing
// depends on the order of a map.
type grouping struct {
	names     []string // company names, sorted
	unmanaged []bool   // by company
	container []int    // by company: index of its current container
	group     []int    // by company: index of its desired group; -1 for a company never moved

	ctrNames []string // container names, sorted
	members  [][]int  // by container: its companies, sorted
	anchored []bool   // by container: it holds a company that is never moved
	largest  []int    // by container: the size of its largest class

	groups [][]int // desired groups, members sorted
	target []int   // by group: the container it keeps, or -1 for a fresh one
	keeper []int   // by container: the group that keeps it, or -1

	count []int // by group + 1: scratch for forClasses, all zero between calls
}

func newGrouping(current map[string][]string, desired [][]string, managed func(string) bool) *grouping {
	g := &grouping{}

	total := 0
	for _, ms := range current {
		total += len(ms)
	}
	for _, ms := range desired {
		total += len(ms)
	}
	seen := make(map[string]int, total)
	for _, ms := range current {
		for _, id := range ms {
			seen[id] = 0
		}
	}
	for _, ms := range desired {
		for _, id := range ms {
			seen[id] = 0
		}
	}
	g.names = make([]string, 0, len(seen))
	for id := range seen {
		g.names = append(g.names, id)
	}
	slices.Sort(g.names)
	for i, id := range g.names {
		seen[id] = i
	}
	n := len(g.names)
	g.unmanaged = make([]bool, n)
	for i, id := range g.names {
		g.unmanaged[i] = !managed(id)
	}

	// Containers, each company in the first container (by name) that lists it.
	g.ctrNames = make([]string, 0, len(current)+1)
	for name := range current {
		g.ctrNames = append(g.ctrNames, name)
	}
	slices.Sort(g.ctrNames)
	g.container = make([]int, n)
	for i := range g.container {
		g.container[i] = -1
	}
	g.members = make([][]int, len(g.ctrNames))
	flat := make([]int, 0, n)
	for c, name := range g.ctrNames {
		start := len(flat)
		for _, id := range current[name] {
			if i := seen[id]; g.container[i] == -1 {
				g.container[i] = c
				flat = append(flat, i)
			}
		}
		slices.Sort(flat[start:])
		g.members[c] = flat[start:len(flat):len(flat)]
	}
	// A desired company missing from current is alone, as a company to be created is.
	for i, id := range g.names {
		if g.container[i] == -1 {
			g.container[i] = len(g.ctrNames)
			g.ctrNames = append(g.ctrNames, id)
			g.members = append(g.members, []int{i})
		}
	}

	// Desired groups of managed companies; a company listed twice counts in its first group.
	g.group = make([]int, n)
	for i := range g.group {
		g.group[i] = -1
	}
	flat = make([]int, 0, n)
	g.groups = make([][]int, 0, len(desired))
	for _, ms := range desired {
		start := len(flat)
		for _, id := range ms {
			if i := seen[id]; !g.unmanaged[i] && g.group[i] == -1 {
				g.group[i] = -2
				flat = append(flat, i)
			}
		}
		if grp := flat[start:len(flat):len(flat)]; len(grp) > 0 {
			slices.Sort(grp)
			g.groups = append(g.groups, grp)
		}
	}
	slices.SortFunc(g.groups, func(a, b []int) int { return a[0] - b[0] })
	for k, grp := range g.groups {
		for _, i := range grp {
			g.group[i] = k
		}
	}

	g.count = make([]int, len(g.groups)+1)
	g.anchored = make([]bool, len(g.ctrNames))
	g.largest = make([]int, len(g.ctrNames))
	for c, ms := range g.members {
		g.forClasses(ms, func(k, size int) {
			if k == -1 {
				g.anchored[c] = true
			}
			if k >= 0 && size > g.largest[c] {
				g.largest[c] = size
			}
		})
	}
	return g
}

// forClasses calls f once for each desired group (-1: the companies never moved) that
// has companies among ms, with their number.
func (g *grouping) forClasses(ms []int, f func(k, size int)) {
	for _, i := range ms {
		g.count[g.group[i]+1]++
	}
	for _, i := range ms {
		if k := g.group[i]; g.count[k+1] > 0 {
			f(k, g.count[k+1])
			g.count[k+1] = 0
		}
	}
}

// assign chooses the container each desired group keeps: a maximum-weight matching,
// by successive shortest augmenting paths (one per group, Dijkstra with potentials,
// stopping at the first free column). Each group also has a private column of weight
// zero, standing for a fresh container, so every group is matched.
func (g *grouping) assign() {
	nG, nC := len(g.groups), len(g.ctrNames)
	g.target = make([]int, nG)
	g.keeper = make([]int, nC)
	for c := range g.keeper {
		g.keeper[c] = -1
	}
	if nG == 0 {
		return
	}

	// Edges, as compressed rows: group k's candidates are col[start[k]:start[k+1]].
	// A weight is ops saved, then companies kept in place: (saved, kept) in one number.
	movable := 0
	for _, k := range g.group {
		if k >= 0 {
			movable++
		}
	}
	big := int64(movable + 1)
	type edge struct {
		k, c int
		cost int64
	}
	var edges []edge
	for c, ms := range g.members {
		g.forClasses(ms, func(k, size int) {
			if k < 0 {
				return
			}
			saved := 2*size - 1
			if !g.anchored[c] {
				saved -= g.largest[c]
			}
			if saved >= 0 {
				edges = append(edges, edge{k, c, -(int64(saved)*big + int64(size))})
			}
		})
	}
	start := make([]int, nG+1)
	for _, e := range edges {
		start[e.k+1]++
	}
	for k := range nG {
		start[k+1] += start[k]
	}
	col := make([]int, len(edges))
	cost := make([]int64, len(edges))
	fill := slices.Clone(start[:nG])
	for _, e := range edges {
		col[fill[e.k]], cost[fill[e.k]] = e.c, e.cost
		fill[e.k]++
	}

	// Columns 0..nC-1 are containers; column nC+k is group k's fresh container.
	nCol := nC + nG
	// Reduced costs (cost - u[row] - v[col]) stay >= 0, and a free column keeps v = 0,
	// so the nearest free column in reduced costs is the cheapest in real ones.
	u := make([]int64, nG)
	v := make([]int64, nCol)
	for k := range nG {
		for e := start[k]; e < start[k+1]; e++ {
			u[k] = min(u[k], cost[e])
		}
	}
	rowOf := make([]int, nCol) // the row matched to a column, or -1
	for j := range rowOf {
		rowOf[j] = -1
	}
	colOf := make([]int, nG)

	const inf = math.MaxInt64
	dist := make([]int64, nCol)
	for j := range dist {
		dist[j] = inf
	}
	hops := make([]int, nCol) // ties go to the path that displaces fewer groups
	pred := make([]int, nCol)
	done := make([]bool, nCol)
	var touched, finished, reached []int
	rowDist := make([]int64, nG)
	var h distHeap

	relax := func(r int, d int64, n int) {
		rowDist[r] = d
		reached = append(reached, r)
		try := func(j int, c int64) {
			if done[j] {
				return
			}
			if nd := d + c - u[r] - v[j]; nd < dist[j] || nd == dist[j] && n+1 < hops[j] {
				if dist[j] == inf {
					touched = append(touched, j)
				}
				dist[j], hops[j], pred[j] = nd, n+1, r
				h.push(nd, n+1, j)
			}
		}
		for e := start[r]; e < start[r+1]; e++ {
			try(col[e], cost[e])
		}
		try(nC+r, 0)
	}
	for k := range nG {
		relax(k, 0, 0)
		free := -1
		for free == -1 {
			d, n, j := h.pop()
			if done[j] || d != dist[j] || n != hops[j] {
				continue
			}
			done[j] = true
			finished = append(finished, j)
			if rowOf[j] == -1 {
				free = j
				break
			}
			relax(rowOf[j], d, n)
		}
		best := dist[free]
		for _, j := range finished {
			v[j] -= best - dist[j]
		}
		for _, r := range reached {
			u[r] += best - rowDist[r]
		}
		for j := free; ; {
			r := pred[j]
			prev := colOf[r]
			rowOf[j], colOf[r] = r, j
			if r == k {
				break
			}
			j = prev
		}
		for _, j := range touched {
			dist[j], done[j] = inf, false
		}
		touched, finished, reached = touched[:0], finished[:0], reached[:0]
		h = h[:0]
	}

	for k, j := range colOf {
		g.target[k] = -1
		if j < nC {
			g.target[k] = j
			g.keeper[j] = k
		}
	}
}

// distHeap is a binary min-heap of (distance, hops, column).
type distHeap []struct {
	d    int64
	n, j int
}

func (h *distHeap) less(a, b int) bool {
	x, y := (*h)[a], (*h)[b]
	if x.d != y.d {
		return x.d < y.d
	}
	if x.n != y.n {
		return x.n < y.n
	}
	return x.j < y.j
}

func (h *distHeap) push(d int64, n, j int) {
	*h = append(*h, struct {
		d    int64
		n, j int
	}{d, n, j})
	for i := len(*h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		(*h)[i], (*h)[p] = (*h)[p], (*h)[i]
		i = p
	}
}

func (h *distHeap) pop() (int64, int, int) {
	top := (*h)[0]
	last := len(*h) - 1
	(*h)[0] = (*h)[last]
	*h = (*h)[:last]
	for i := 0; ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		(*h)[i], (*h)[m] = (*h)[m], (*h)[i]
		i = m
	}
	return top.d, top.n, top.j
}

// changes turns the chosen targets into ungroups and groups.
func (g *grouping) changes() []Change {
	// A container no one keeps and no one stays in lets its largest class (ties: the
	// first group) leave by groups alone.
	leaver := make([]int, len(g.ctrNames))
	for c, ms := range g.members {
		leaver[c] = -1
		if g.keeper[c] != -1 || g.anchored[c] {
			continue
		}
		g.forClasses(ms, func(k, size int) {
			if size == g.largest[c] && (leaver[c] == -1 || k < leaver[c]) {
				leaver[c] = k
			}
		})
	}
	stays := func(i int) bool { k := g.group[i]; return k < 0 || g.target[k] == g.container[i] }
	ungrouped := func(i int) bool { return !stays(i) && leaver[g.container[i]] != g.group[i] }

	// The company every mover of a group joins: the first member already in the kept
	// container, or the seed of a fresh one (a member ungrouped anyway, when there is one).
	join := make([]int, len(g.groups))
	seed := make([]bool, len(g.names))
	for k, grp := range g.groups {
		if c := g.target[k]; c >= 0 {
			join[k] = grp[slices.IndexFunc(grp, func(i int) bool { return g.container[i] == c })]
			continue
		}
		join[k] = grp[max(0, slices.IndexFunc(grp, ungrouped))]
		seed[join[k]] = true
	}

	var ungroups, groups []Change
	for i, id := range g.names {
		if stays(i) {
			continue
		}
		if ungrouped(i) || seed[i] {
			ungroups = append(ungroups, Change{Action: Ungroup, Company: id})
		}
		if !seed[i] {
			groups = append(groups, Change{Action: Group, Company: id, Target: g.names[join[g.group[i]]]})
		}
	}
	return append(ungroups, groups...)
}

// warnings names each container where unmanaged companies share the end state with
// managed ones.
func (g *grouping) warnings() []string {
	var out []string
	for c, ms := range g.members {
		var unmanaged, managed []string
		for _, i := range ms {
			if g.unmanaged[i] {
				unmanaged = append(unmanaged, g.names[i])
			} else if g.group[i] < 0 {
				managed = append(managed, g.names[i])
			}
		}
		if len(unmanaged) == 0 {
			continue
		}
		if k := g.keeper[c]; k >= 0 {
			for _, i := range g.groups[k] {
				managed = append(managed, g.names[i])
			}
		}
		if len(managed) == 0 {
			continue
		}
		slices.Sort(managed)
		them, share := "company", "shares"
		if len(unmanaged) > 1 {
			them, share = "companies", "share"
		}
		with := "company"
		if len(managed) > 1 {
			with = "companies"
		}
		out = append(out, fmt.Sprintf("unmanaged %s %s %s container %s with managed %s %s",
			them, strings.Join(unmanaged, ", "), share, g.ctrNames[c], with, strings.Join(managed, ", ")))
	}
	return out
}
