package pbxtest

import (
	"context"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
)

// workers are the PBX's pool (api.md "A PBX is shared"): a request holds one of
// the tokens while it is served.
type workers struct {
	tokens  chan struct{}
	service time.Duration
}

// WithWorkers serves the API with n workers, as a PBX whose API shares the machine
// with its telephony: at most n requests are served at once, each holding a worker
// for service, and the others queue for one. Logins are requests like any other.
// The latency of Faults (the network's share) is spent before a request joins the
// queue; a request answered by a fault instead of being served never takes a
// worker. With n < 1, or without this option, every request is served at once.
func WithWorkers(n int, service time.Duration) Option {
	return func(s *Server) {
		s.pool = nil
		if n >= 1 {
			s.pool = &workers{tokens: make(chan struct{}, n), service: service}
		}
	}
}

// PoolStats count what the workers of WithWorkers did. A request is counted once
// its wait for a worker has ended, served or not.
type PoolStats struct {
	Requests  int           // requests that asked for a worker
	Waited    int           // of those, the ones that found every worker busy and queued
	Wait      time.Duration // the time they spent queued, in all
	MaxWait   time.Duration // the longest time one spent queued
	MaxQueued int           // the most requests queued at once
	MaxBusy   int           // the most workers busy at once
}

// MeanWait is the mean time a request waited for a worker, over every request that
// asked for one, waiting or not: the wait each caller of the PBX sees.
func (p PoolStats) MeanWait() time.Duration {
	if p.Requests == 0 {
		return 0
	}
	return p.Wait / time.Duration(p.Requests)
}

// work runs serve on a worker: it waits for a free one, holds it for the service
// time, runs serve and frees it. It returns the time it waited, and false when
// ctx ended first, before serve ran. Without workers it runs serve at once.
func (s *Server) work(ctx context.Context, serve func()) (time.Duration, bool) {
	if s.pool == nil {
		serve()
		return 0, true
	}
	wait, err := s.takeWorker(ctx)
	if err != nil {
		return wait, false
	}
	defer s.freeWorker()
	if apiclient.Wait(ctx, s.pool.service) != nil {
		return wait, false
	}
	serve()
	return wait, true
}

// takeWorker takes a worker, waiting in the queue while all are busy, and counts
// the wait. Go hands a freed token to the sender that has waited longest, so the
// queue is first come, first served.
func (s *Server) takeWorker(ctx context.Context) (time.Duration, error) {
	select {
	case s.pool.tokens <- struct{}{}:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stats.Pool.Requests++
		s.busy++
		s.stats.Pool.MaxBusy = max(s.stats.Pool.MaxBusy, s.busy)
		return 0, nil
	default:
	}
	s.mu.Lock()
	s.queued++
	s.stats.Pool.MaxQueued = max(s.stats.Pool.MaxQueued, s.queued)
	s.mu.Unlock()

	start := time.Now()
	var err error
	select {
	case s.pool.tokens <- struct{}{}:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	wait := time.Since(start)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued--
	p := &s.stats.Pool
	p.Requests++
	p.Waited++
	p.Wait += wait
	p.MaxWait = max(p.MaxWait, wait)
	if err == nil {
		s.busy++
		p.MaxBusy = max(p.MaxBusy, s.busy)
	}
	return wait, err
}

// freeWorker gives a worker back. It counts it free before it frees the token,
// so that the count never exceeds the workers.
func (s *Server) freeWorker() {
	s.mu.Lock()
	s.busy--
	s.mu.Unlock()
	<-s.pool.tokens
}
