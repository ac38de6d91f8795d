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
	index := g.indexCompanies(current, desired, managed)
	g.indexContainers(current, index)
	g.indexGroups(desired, index)
	g.sizeClasses()
	return g
}

// indexCompanies numbers every company named in current or desired, in name order,
// and returns each name's number.
func (g *grouping) indexCompanies(current map[string][]string, desired [][]string, managed func(string) bool) map[string]int {
	total := 0
	for _, ms := range current {
		total += len(ms)
	}
	for _, ms := range desired {
		total += len(ms)
	}
	index := make(map[string]int, total)
	for _, ms := range current {
		for _, id := range ms {
			index[id] = 0
		}
	}
	for _, ms := range desired {
		for _, id := range ms {
			index[id] = 0
		}
	}
	g.names = make([]string, 0, len(index))
	for id := range index {
		g.names = append(g.names, id)
	}
	slices.Sort(g.names)
	g.unmanaged = make([]bool, len(g.names))
	for i, id := range g.names {
		index[id] = i
		g.unmanaged[i] = !managed(id)
	}
	return index
}

// indexContainers numbers the containers in name order and puts each company in the
// first container (by name) that lists it. A desired company missing from current is
// alone, as a company to be created is.
func (g *grouping) indexContainers(current map[string][]string, index map[string]int) {
	n := len(g.names)
	g.ctrNames = make([]string, 0, len(current)+1)
	for name := range current {
		g.ctrNames = append(g.ctrNames, name)
	}
	slices.Sort(g.ctrNames)
	g.container = filled(n, -1)
	g.members = make([][]int, len(g.ctrNames))
	flat := make([]int, 0, n)
	for c, name := range g.ctrNames {
		start := len(flat)
		for _, id := range current[name] {
			if i := index[id]; g.container[i] == -1 {
				g.container[i] = c
				flat = append(flat, i)
			}
		}
		slices.Sort(flat[start:])
		g.members[c] = flat[start:len(flat):len(flat)]
	}
	for i, id := range g.names {
		if g.container[i] == -1 {
			g.container[i] = len(g.ctrNames)
			g.ctrNames = append(g.ctrNames, id)
			g.members = append(g.members, []int{i})
		}
	}
}

// indexGroups keeps the desired groups of managed companies, ordered by their first
// member; a company listed twice counts in its first group.
func (g *grouping) indexGroups(desired [][]string, index map[string]int) {
	n := len(g.names)
	g.group = filled(n, -1)
	flat := make([]int, 0, n)
	g.groups = make([][]int, 0, len(desired))
	for _, ms := range desired {
		start := len(flat)
		for _, id := range ms {
			if i := index[id]; !g.unmanaged[i] && g.group[i] == -1 {
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
}

// sizeClasses records, for each container, whether it holds a company never moved and
// the size of its largest class.
func (g *grouping) sizeClasses() {
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
}

// filled returns n copies of v.
func filled(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
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
	g.keeper = filled(nC, -1)
	if nG == 0 {
		return
	}
	m := newMatching(g.edges(), nC)
	for k := range nG {
		m.augment(k)
	}
	for k, j := range m.colOf {
		g.target[k] = -1
		if j < nC {
			g.target[k] = j
			g.keeper[j] = k
		}
	}
}

// edgeRows is the matching's edges as compressed rows: group k's candidate
// containers are col[start[k]:start[k+1]], each with its cost.
type edgeRows struct {
	start []int
	col   []int
	cost  []int64
}

// edges lists, for each group, the containers worth keeping. A cost is minus the
// weight: ops saved, then companies kept in place, as (saved, kept) in one number.
func (g *grouping) edges() edgeRows {
	nG := len(g.groups)
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
	var list []edge
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
				list = append(list, edge{k, c, -(int64(saved)*big + int64(size))})
			}
		})
	}
	e := edgeRows{
		start: make([]int, nG+1),
		col:   make([]int, len(list)),
		cost:  make([]int64, len(list)),
	}
	for _, ed := range list {
		e.start[ed.k+1]++
	}
	for k := range nG {
		e.start[k+1] += e.start[k]
	}
	fill := slices.Clone(e.start[:nG])
	for _, ed := range list {
		e.col[fill[ed.k]], e.cost[fill[ed.k]] = ed.c, ed.cost
		fill[ed.k]++
	}
	return e
}

// matching is the state of the assignment between augmentations. Rows are groups;
// columns 0..nC-1 are containers and column nC+k is group k's fresh container.
// Reduced costs (cost - u[row] - v[col]) stay >= 0, and a free column keeps v = 0,
// so the nearest free column in reduced costs is the cheapest in real ones.
type matching struct {
	edgeRows
	nC    int
	u, v  []int64
	rowOf []int // by column: the row matched to it, or -1
	colOf []int // by row: the column matched to it

	// One search's scratch, reset by augment for the next.
	dist                       []int64 // by column; unreached until reached
	hops                       []int   // by column: ties go to the path that displaces fewer groups
	pred                       []int   // by column: the row it was reached from
	done                       []bool  // by column: its distance is final
	rowDist                    []int64 // by row: its distance when reached
	touched, finished, reached []int
	h                          distHeap
}

const unreached = math.MaxInt64

func newMatching(e edgeRows, nC int) *matching {
	nG := len(e.start) - 1
	nCol := nC + nG
	m := &matching{
		edgeRows: e,
		nC:       nC,
		u:        make([]int64, nG),
		v:        make([]int64, nCol),
		rowOf:    filled(nCol, -1),
		colOf:    make([]int, nG),
		dist:     make([]int64, nCol),
		hops:     make([]int, nCol),
		pred:     make([]int, nCol),
		done:     make([]bool, nCol),
		rowDist:  make([]int64, nG),
	}
	for k := range nG {
		for i := e.start[k]; i < e.start[k+1]; i++ {
			m.u[k] = min(m.u[k], e.cost[i])
		}
	}
	for j := range m.dist {
		m.dist[j] = unreached
	}
	return m
}

// augment matches row k: it finds the nearest free column, updates the potentials and
// flips the path to it.
func (m *matching) augment(k int) {
	m.relax(k, 0, 0)
	free := -1
	for free == -1 {
		d, n, j := m.h.pop()
		if m.done[j] || d != m.dist[j] || n != m.hops[j] {
			continue
		}
		m.done[j] = true
		m.finished = append(m.finished, j)
		if m.rowOf[j] == -1 {
			free = j
			break
		}
		m.relax(m.rowOf[j], d, n)
	}
	best := m.dist[free]
	for _, j := range m.finished {
		m.v[j] -= best - m.dist[j]
	}
	for _, r := range m.reached {
		m.u[r] += best - m.rowDist[r]
	}
	for j := free; ; {
		r := m.pred[j]
		prev := m.colOf[r]
		m.rowOf[j], m.colOf[r] = r, j
		if r == k {
			break
		}
		j = prev
	}
	for _, j := range m.touched {
		m.dist[j], m.done[j] = unreached, false
	}
	m.touched, m.finished, m.reached = m.touched[:0], m.finished[:0], m.reached[:0]
	m.h = m.h[:0]
}

// relax reaches row r at distance d after n hops and offers each of its columns.
func (m *matching) relax(r int, d int64, n int) {
	m.rowDist[r] = d
	m.reached = append(m.reached, r)
	for i := m.start[r]; i < m.start[r+1]; i++ {
		m.try(r, d, n, m.col[i], m.cost[i])
	}
	m.try(r, d, n, m.nC+r, 0)
}

// try reaches column j from row r through an edge of cost c, if that is nearer.
func (m *matching) try(r int, d int64, n, j int, c int64) {
	if m.done[j] {
		return
	}
	if nd := d + c - m.u[r] - m.v[j]; nd < m.dist[j] || nd == m.dist[j] && n+1 < m.hops[j] {
		if m.dist[j] == unreached {
			m.touched = append(m.touched, j)
		}
		m.dist[j], m.hops[j], m.pred[j] = nd, n+1, r
		m.h.push(nd, n+1, j)
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
