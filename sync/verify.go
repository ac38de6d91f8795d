package sync

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// verify reads back what p touched and plans again over it: the companies the plan
// names, the desired group-mates of those, and every managed company found in a
// container read on the way (a server that moves whole containers may have moved it).
// It returns what still differs and the containers read, by company.
func verify(ctx context.Context, c Client, inv *plan.Inventory, p *plan.Plan, parallelism int) (*plan.Plan, map[string][]string, error) {
	mates := map[string][]string{} // desired group-mates, by company
	for _, box := range inv.Containers {
		for _, id := range box.Members {
			mates[id] = box.Members
		}
	}
	scope := map[string]bool{}
	var queue []string
	add := func(id string) {
		if !scope[id] {
			scope[id] = true
			queue = append(queue, id)
		}
	}
	for _, id := range p.Touched() {
		add(id)
		for _, m := range mates[id] {
			add(m)
		}
	}

	st := &plan.State{Companies: map[string]apiclient.Company{}, Containers: map[string][]string{}, Grouping: p.ContainerOf != nil}
	covered := map[string]bool{}
	var mu sync.Mutex
	exists := map[string]bool{} // with grouping: every company on the server, from one read of all
	if p.ContainerOf != nil {
		all, err := c.ReadAll(ctx)
		for try := 1; apiclient.IsRefused(err) && try < 3; try++ {
			all, err = c.ReadAll(ctx) // it was read before: a refusal now is a passing one
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read back the companies: %w", err)
		}
		for _, co := range all {
			exists[co.ID] = true
		}
	}
	for len(queue) > 0 {
		wave := queue
		queue = nil
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallelism)
		for _, id := range wave {
			mu.Lock()
			done := covered[id]
			mu.Unlock()
			if done {
				continue
			}
			g.Go(func() error {
				if !st.Grouping {
					co, err := c.Read(gctx, id)
					mu.Lock()
					defer mu.Unlock()
					covered[id] = true
					switch {
					case err == nil:
						st.Companies[id] = co
					case !apiclient.IsRefused(err) || p.Fingerprints[id] != plan.Absent:
						// A refusal of a company that was there is no news of its absence.
						return fmt.Errorf("read back %q: %w", id, err)
					}
					return nil
				}
				if !exists[id] {
					mu.Lock()
					defer mu.Unlock()
					covered[id] = true
					return nil
				}
				box, err := c.ReadContainer(gctx, id)
				for try := 1; apiclient.IsRefused(err) && try < 3; try++ {
					box, err = c.ReadContainer(gctx, id) // it exists: a refusal is no answer
				}
				mu.Lock()
				defer mu.Unlock()
				covered[id] = true
				switch {
				case err != nil:
					return fmt.Errorf("read back the container of %q: %w", id, err)
				}
				st.Containers[box.Name] = box.MemberIDs()
				for _, m := range box.Members {
					covered[m.ID] = true
					st.Companies[m.ID] = m
					if _, managed := inv.Company(m.ID); managed {
						add(m.ID)
						for _, mate := range mates[m.ID] {
							add(mate)
						}
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, nil, err
		}
	}

	sub := *inv
	sub.Companies = slices.DeleteFunc(slices.Clone(inv.Companies), func(co plan.Company) bool { return !scope[co.ID] })
	sub.Containers = slices.DeleteFunc(slices.Clone(inv.Containers), func(box plan.Container) bool {
		return !slices.ContainsFunc(box.Members, func(id string) bool { return scope[id] })
	})
	sub.Prune = nil
	remaining, err := plan.Diff(&sub, st, plan.Options{})
	if err != nil {
		return nil, nil, err
	}
	// Deletes only from the reviewed plan (spec/cli.md, "Saved plans"): a company that
	// appeared during the run, or that a read container brought along, is never
	// deleted by a repair round, whatever prune.match says.
	var again []plan.Change
	for _, ch := range p.Changes {
		if _, there := st.Companies[ch.Company]; ch.Action == plan.Delete && (exists[ch.Company] || there) {
			again = append(again, ch)
		}
	}
	remaining.Changes = append(again, remaining.Changes...)
	return remaining, remaining.ContainerOf, nil
}
