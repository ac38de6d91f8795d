package apiclient

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacer spaces the requests of every worker that shares it (WithPacer). When the
// server answers 429 or 503, it halves the pace for all of them at once; each answer
// after that raises it again, a little at a time, up to the cap.
type Pacer struct {
	lim *rate.Limiter
	max rate.Limit // the cap, or rate.Inf for none

	mu      sync.Mutex // guards the counts below
	since   time.Time  // start of the window in which sent counts requests
	sent    int
	slowing int // how often the server asked to slow down
	total   int // requests sent through the pacer
}

// NewPacer returns a pacer capped at perSecond requests a second; 0 means no cap
// until the server asks for one.
func NewPacer(perSecond float64) *Pacer {
	max := rate.Inf
	if perSecond > 0 {
		max = rate.Limit(perSecond)
	}
	return &Pacer{lim: rate.NewLimiter(max, 1), max: max, since: time.Now()}
}

// Slowdowns reports how often the server asked to slow down.
func (p *Pacer) Slowdowns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slowing
}

// Requests counts the requests sent through the pacer.
func (p *Pacer) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// Limit is the current pace in requests a second (rate.Inf when unpaced).
func (p *Pacer) Limit() rate.Limit { return p.lim.Limit() }

func (p *Pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	p.sent++
	p.total++
	p.mu.Unlock()
	return p.lim.Wait(ctx)
}

// throttled halves the pace: from the current limit, or, when there is none yet,
// from the rate at which requests went out lately.
func (p *Pacer) throttled() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowing++
	now := time.Now()
	current := p.lim.Limit()
	if current == rate.Inf {
		elapsed := max(now.Sub(p.since).Seconds(), 0.001)
		current = rate.Limit(float64(p.sent) / elapsed)
	}
	p.lim.SetLimitAt(now, max(current/2, 1))
	p.since, p.sent = now, 0
}

// answered raises the pace a little after an answer that was not a request to slow
// down, back to the cap.
func (p *Pacer) answered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	current := p.lim.Limit()
	if current == p.max {
		return
	}
	next := current*1.05 + 0.5
	if next >= p.max || (p.max == rate.Inf && next > 10_000) {
		next = p.max
	}
	p.lim.SetLimit(next)
}
