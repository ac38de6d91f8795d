package sync

import (
	"context"
	"fmt"

	"github.com/pbxsync/pbxsync/plan/state"
	"golang.org/x/sync/errgroup"
)

// Compare reads two servers at once and compares them company by company
// (state.CompareSnapshots), as diff does. A company of opts.Companies on neither
// server is an error (state.NotFoundError).
func Compare(ctx context.Context, from, to state.Reader, parallelism int, opts state.CompareOptions) (*state.Comparison, error) {
	var fromSnap, toSnap *state.State
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if fromSnap, err = state.ReadSnapshot(gctx, from, parallelism); err != nil {
			return fmt.Errorf("read --from: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if toSnap, err = state.ReadSnapshot(gctx, to, parallelism); err != nil {
			return fmt.Errorf("read --to: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c, missing := state.CompareSnapshots(fromSnap, toSnap, opts)
	if len(missing) > 0 {
		return nil, state.NotFound(missing, "on either server")
	}
	return c, nil
}
