package apiclient_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

func TestPacerSlowsEveryWorkerAndRecovers(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
		Seed: 3, Rates: map[pbxtest.Fault]float64{pbxtest.Fault429: 1},
	}))
	pacer := apiclient.NewPacer(0)
	require.Equal(t, rate.Inf, pacer.Limit(), "no pace until the server asks for one")
	c := newClient(t, srv.URL, apiclient.WithPacer(pacer), apiclient.WithRetryPolicy(apiclient.RetryPolicy{Attempts: 1}))

	var g errgroup.Group
	for range 4 {
		g.Go(func() error { _, err := c.Read(t.Context(), "acme"); return err })
	}
	require.Error(t, g.Wait())
	require.Equal(t, 4, pacer.Slowdowns(), "every 429 is counted, whichever worker met it")
	slowed := pacer.Limit()
	require.Less(t, float64(slowed), float64(rate.Inf), "a 429 sets a pace for all workers")

	srv.SetFaults(pbxtest.Faults{})
	for range 20 {
		_, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
	}
	require.Greater(t, float64(pacer.Limit()), float64(slowed), "answers without 429 raise the pace again")
}

func TestPacerCap(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	pacer := apiclient.NewPacer(1000)
	c := newClient(t, srv.URL, apiclient.WithPacer(pacer))
	_, err := c.Read(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, rate.Limit(1000), pacer.Limit(), "the cap holds when nothing slows it down")
}
