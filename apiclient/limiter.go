package apiclient

import (
	"context"
	"math"
	"sync"
	"time"
)

// DefaultMaxParallelism is the most requests in flight that an adaptive limit grows
// to (--max-parallelism).
const DefaultMaxParallelism = 32

// Limiter bounds the requests in flight to one server (api.md "A PBX is shared"). A
// fixed one (--parallelism N) lets N through at once. An adaptive one (--parallelism
// auto) finds the server's capacity while it runs, with the idea of TCP Vegas: the
// time a request waits in the server's queue shows as its time to answer above the
// quickest recently seen, the no-load time, and the limit times the share of an
// answer's time spent queueing estimates how many requests queue. It grows while
// fewer than alpha queue, and shrinks when more than beta do; it starts at 1 and grows
// by one for each answer without queueing (doubling every round trip, as TCP's slow
// start) until a queue first forms, then it drains that queue and grows or shrinks by
// about one a round trip. The no-load time is the least of the last two windows of
// answers, so it is re-measured as the run goes and cannot go stale (Netflix's
// concurrency-limits re-measure it too). A 429 or 503 halves the limit and remembers
// where the server refused: the limit then grows above that only slowly, so that a
// server that refuses above a fixed number of requests is rarely asked past it
// (rclone's pacer backs off on 429 alike).
//
// One Limiter serves every request to its server, from every phase of a run.
type Limiter struct {
	fixed bool
	max   float64

	mu       sync.Mutex
	limit    float64
	inFlight int
	waiting  []chan struct{} // FIFO: the callers waiting for a slot
	growing  bool            // slow start: no queue seen yet
	ceiling  float64         // where the server last refused (429/503); 0 for never
	noLoad   window
	samples  int
	settled  float64 // the limit, averaged over the recent answers
}

// NewLimiter returns a fixed limiter of n requests in flight when n > 0, and an
// adaptive one between 1 and max when n is 0 (auto).
func NewLimiter(n, most int) *Limiter {
	if n > 0 {
		return &Limiter{fixed: true, limit: float64(n), max: float64(n), settled: float64(n)}
	}
	return &Limiter{limit: 1, max: float64(max(most, 1)), growing: true, settled: 1}
}

// Fixed reports whether the limit is pinned (--parallelism N).
func (l *Limiter) Fixed() bool { return l.fixed }

// Limit is the current limit on requests in flight.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// Settled is the limit the run settled on: its average over the recent answers,
// rounded (the pinned limit when fixed).
func (l *Limiter) Settled() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(math.Round(l.settled))
}

// Max is the most requests in flight the limiter lets through.
func (l *Limiter) Max() int { return int(l.max) }

// acquire waits for a slot, or for ctx to end.
func (l *Limiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inFlight < int(l.limit) && len(l.waiting) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	l.waiting = append(l.waiting, ready)
	l.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, w := range l.waiting {
			if w == ready {
				l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
				return context.Cause(ctx)
			}
		}
		// Granted meanwhile: the slot is handed on.
		l.inFlight--
		l.grant()
		return context.Cause(ctx)
	}
}

// grant hands free slots to the callers waiting longest. l.mu is held.
func (l *Limiter) grant() {
	for len(l.waiting) > 0 && l.inFlight < int(l.limit) {
		l.inFlight++
		close(l.waiting[0])
		l.waiting = l.waiting[1:]
	}
}

// Outcome is what a request's answer says about the server's load.
type Outcome int

const (
	Answered   Outcome = iota // an answer: its time counts
	Overloaded                // 429 or 503: the server asks to slow down
	Failed                    // no answer (a transport error, an interrupt): its time says nothing
)

// release frees the slot of a request that took rtt and ended as outcome, and
// adjusts the limit.
func (l *Limiter) release(rtt time.Duration, outcome Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inFlight := l.inFlight
	l.inFlight--
	if !l.fixed {
		l.adjust(rtt, outcome, inFlight)
	}
	l.grant()
}

// adjust moves the limit after one answer (see Limiter). l.mu is held.
func (l *Limiter) adjust(rtt time.Duration, outcome Outcome, inFlight int) {
	switch outcome {
	case Failed:
		return
	case Overloaded:
		l.ceiling = math.Max(float64(inFlight)-1, 1) // the server refused this many at once
		l.limit = math.Max(math.Min(l.limit/2, l.ceiling), 1)
		l.growing = false
		l.record()
		return
	}
	l.noLoad.add(rtt, int(l.limit))
	base := l.noLoad.min()
	if rtt < base+noiseFloor {
		rtt = base // a millisecond of jitter (a scheduler, a busy client) is not a queue
	}
	queued := l.limit * (1 - float64(base)/float64(max(rtt, base)))
	alpha := math.Max(1, l.limit/8)
	beta := 2 * alpha
	used := float64(inFlight) >= l.limit/2
	switch {
	case queued < beta && !used:
		// The caller did not fill the limit: no news whether more would queue.
	case l.growing && queued < beta:
		l.limit++
	case l.growing:
		l.growing = false
		l.limit = math.Max(l.limit-queued, 1) // drain the queue the slow start made
	case queued < alpha:
		step := 1 / l.limit
		if l.ceiling > 0 && l.limit+1 > l.ceiling {
			step /= 20 // near where the server refused: probe slowly
		}
		l.limit += step
		if l.limit > l.ceiling+1 && l.ceiling > 0 {
			l.ceiling = 0 // past it without a refusal: forgotten
		}
	case queued > beta:
		l.limit = math.Max(l.limit-1/l.limit*queued/beta, 1)
	}
	l.limit = math.Min(l.limit, l.max)
	l.record()
}

// record keeps the settled limit: an average over about the last hundred answers.
func (l *Limiter) record() {
	l.samples++
	weight := math.Max(1/float64(l.samples), 0.01)
	l.settled += weight * (l.limit - l.settled)
}

// noiseFloor is how far above the no-load time an answer may come without counting
// as queued: a PBX's queue costs a service time (tens of milliseconds), while a
// server that answers in microseconds (the embedded simulator) varies by that much
// from scheduling alone.
const noiseFloor = time.Millisecond

// window keeps the least time to answer over the current and the previous window
// of answers; a window ends after 100 answers, or twenty rounds of the limit.
type window struct {
	current, previous time.Duration
	n                 int
}

func (w *window) add(rtt time.Duration, limit int) {
	if w.n == 0 || rtt < w.current {
		w.current = rtt
	}
	w.n++
	if w.n >= max(100, 20*limit) {
		w.previous, w.current, w.n = w.current, 0, 0
	}
}

func (w *window) min() time.Duration {
	switch {
	case w.previous == 0:
		return w.current
	case w.n == 0:
		return w.previous
	}
	return min(w.previous, w.current)
}
