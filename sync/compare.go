package sync

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/plan"
)

// Compare reads two servers at once and compares them company by company
// (plan.CompareSnapshots), as diff does. A company of opts.Companies on neither
// server is an error (plan.NotFoundError).
func Compare(ctx context.Context, from, to plan.Reader, parallelism int, opts plan.CompareOptions) (*plan.Comparison, error) {
	var fromSnap, toSnap *plan.State
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if fromSnap, err = plan.ReadSnapshot(gctx, from, parallelism); err != nil {
			return fmt.Errorf("read --from: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if toSnap, err = plan.ReadSnapshot(gctx, to, parallelism); err != nil {
			return fmt.Errorf("read --to: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c, missing := plan.CompareSnapshots(fromSnap, toSnap, opts)
	if len(missing) > 0 {
		return nil, plan.NotFound(missing, "on either server")
	}
	return c, nil
}
