package sync

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/state"
)

// CompareOptions tune Compare.
type CompareOptions struct {
	Select      state.CompareOptions // the companies compared
	Parallelism int                  // requests in flight on each server
	From, To    string               // the two servers' URLs
}

// Compare reads two servers at once and compares them company by company
// (state.CompareSnapshots), as diff does. A company of opts.Select.Companies on
// neither server is an error (state.NotFoundError).
//
// When the two hold the same companies with the same numeric ids
// (apiclient.SameCompanies), they may be one server under two names: oneServer says
// why, for a warning. A comparison writes nothing, and two servers whose every
// company was created in the same order, as a whole migration makes them, look the
// same.
func Compare(ctx context.Context, from, to state.Reader, opts CompareOptions) (c *state.Comparison, oneServer string, err error) {
	parallelism := opts.Parallelism
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
		return nil, "", err
	}
	c, missing := state.CompareSnapshots(fromSnap, toSnap, opts.Select)
	if len(missing) > 0 {
		return nil, "", state.NotFound(missing, "on either server")
	}
	oneServer, _ = apiclient.SameCompanies(opts.From, opts.To, fromSnap.Companies, toSnap.Companies)
	return c, oneServer, nil
}
