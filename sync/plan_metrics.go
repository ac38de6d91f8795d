package sync

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/pbxsync/pbxsync/plan"
)

// WritePlanMetrics writes what a plan found, for a drift-only job (plan
// --metrics-file, cli.md): the changes apply would make, by action, as the plan's
// summary counts them; the companies not managed and those not planned; when the
// plan ended (now); and whether it was made with the server read whole. Its families
// are its own (pbxsync_plan_...), so that plan's file and apply's can share a
// directory, and each sample is labelled with the server (the URL's host). p is nil
// when no plan was made (the inventory or the server could not be read): success is
// then 0, and the counts are left out rather than written as 0, since nothing is
// known of the drift.
func WritePlanMetrics(w io.Writer, now time.Time, p *plan.Plan, server string) error {
	m := newMetrics(`server="` + promEscape(server) + `"`)
	addPlanMetrics(m, now, p)
	_, err := io.WriteString(w, m.String())
	return err
}

// addPlanMetrics adds a plan's samples to m, with m's labels; p is nil when no plan
// was made.
func addPlanMetrics(m *metrics, now time.Time, p *plan.Plan) {
	m.gauge("pbxsync_plan_last_run_timestamp_seconds", "When the last pbxsync plan ended, in seconds since 1970.",
		m.value(float64(now.UnixMilli())/1000))
	m.gauge("pbxsync_plan_success", "1 when the last plan was made with the server read whole (every company planned), else 0.",
		m.flag(p != nil && len(p.NotPlanned) == 0))
	if p == nil {
		return
	}
	n := p.Count()
	var changes []string
	for _, a := range plan.Actions {
		changes = append(changes, m.with(fmt.Sprintf("action=%q", a), float64(n[a])))
	}
	m.gauge("pbxsync_plan_changes", "Changes the last plan found, by action: what apply would change to make the server match the inventory.", changes...)
	m.gauge("pbxsync_plan_unmanaged", "Companies on the server that the inventory does not name, as the last plan found them.", m.value(float64(len(p.Unmanaged))))
	m.gauge("pbxsync_plan_not_planned", "Companies of the inventory left out of the last plan, since the server could not be read for them.",
		m.value(float64(len(p.NotPlanned))))
}

// WriteFleetPlanMetrics writes what a fleet plan found as WritePlanMetrics does, for
// each PBX of the run, every sample labelled with its PBX and server, and for each
// PBX planned the moves to it and the conflicts over companies its inventory lists.
// servers names each PBX of the run (FleetRun.Servers); fp is nil when no plan was
// made, and a PBX it could not read has success 0 and no counts.
func WriteFleetPlanMetrics(w io.Writer, now time.Time, fp *plan.FleetPlan, servers map[string]string) error {
	m := newMetrics("")
	names := slices.Collect(maps.Keys(servers))
	if fp == nil {
		fp = &plan.FleetPlan{}
	}
	names = append(names, fp.Names...)
	slices.Sort(names)
	names = slices.Compact(names)
	moves, conflicts := map[string]int{}, map[string]int{}
	for _, mv := range fp.Moves {
		moves[mv.To]++
	}
	for _, c := range fp.Conflicts {
		conflicts[c.To]++
	}
	for _, name := range names {
		m.labels = pbxLabels(name, servers[name])
		addPlanMetrics(m, now, fp.PBXs[name])
	}
	for _, name := range names {
		if fp.PBXs[name] == nil {
			continue
		}
		m.labels = pbxLabels(name, servers[name])
		m.gauge("pbxsync_plan_moves", "Companies the last fleet plan moves to the PBX from another PBX.", m.value(float64(moves[name])))
		m.gauge("pbxsync_plan_conflicts", "Companies the PBX's inventory lists that the last fleet plan found on its server and another's, not as a move: neither copy is written.",
			m.value(float64(conflicts[name])))
	}
	_, err := io.WriteString(w, m.String())
	return err
}
