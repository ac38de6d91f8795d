package apiclient

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// answer takes a slot and gives it back after an answer of rtt with outcome.
func answer(t *testing.T, l *Limiter, rtt time.Duration, outcome Outcome) {
	t.Helper()
	require.NoError(t, l.acquire(t.Context()))
	l.release(rtt, outcome)
}

// fill takes n slots at once, and gives them back with answers of rtt.
func fill(t *testing.T, l *Limiter, n int, rtt time.Duration) {
	t.Helper()
	for range n {
		require.NoError(t, l.acquire(t.Context()))
	}
	for range n {
		l.release(rtt, Answered)
	}
}

// A fixed limiter lets N through and no more: the next waits for a slot, in order,
// and a wait that its context ends gives up without taking one.
func TestLimiterFixed(t *testing.T) {
	l := NewLimiter(2, 32)
	require.True(t, l.Fixed())
	require.NoError(t, l.acquire(t.Context()))
	require.NoError(t, l.acquire(t.Context()))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, l.acquire(ctx), context.Canceled, "a third waits, and gives up with its context")

	got := make(chan struct{})
	go func() {
		_ = l.acquire(context.Background())
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a third request went through a limit of 2")
	case <-time.After(20 * time.Millisecond):
	}
	l.release(time.Second, Overloaded) // a pinned limit never moves
	<-got
	require.Equal(t, 2, l.Limit())
	require.Equal(t, 2, l.Settled())
}

// An adaptive limit starts at 1 and grows by one for each answer that shows no
// queue while the limit is used (slow start); an answer whose time shows a queue
// ends the slow start and drains the queue; it never passes the most it may.
func TestLimiterSlowStartThenQueue(t *testing.T) {
	l := NewLimiter(0, 32)
	require.Equal(t, 1, l.Limit())
	for range 5 {
		fill(t, l, l.Limit(), 30*time.Millisecond)
	}
	require.Greater(t, l.Limit(), 8, "doubling while nothing queues")
	before := l.Limit()
	fill(t, l, before, 90*time.Millisecond) // three times the no-load time: two thirds of each answer queued
	require.Less(t, l.Limit(), before, "a queue shrinks the limit")

	capped := NewLimiter(0, 4)
	for range 10 {
		fill(t, capped, capped.Limit(), 30*time.Millisecond)
	}
	require.Equal(t, 4, capped.Limit(), "never above --max-parallelism")
}

// Past the slow start, the limit grows about one a round while answers are as fast
// as the quickest, and shrinks while they queue.
func TestLimiterAvoidsQueues(t *testing.T) {
	l := NewLimiter(0, 32)
	for range 3 {
		fill(t, l, l.Limit(), 30*time.Millisecond)
	}
	fill(t, l, l.Limit(), 300*time.Millisecond) // ends the slow start
	start := l.Limit()
	for range 5 {
		fill(t, l, l.Limit(), 30*time.Millisecond)
	}
	grown := l.Limit()
	require.Greater(t, grown, start)
	require.LessOrEqual(t, grown, start+6, "about one a round, not doubling")
	for range 5 {
		fill(t, l, l.Limit(), 60*time.Millisecond)
	}
	require.Less(t, l.Limit(), grown)
}

// A 429 or 503 halves the limit; the limit then grows past where the server refused
// only slowly. A request that got no answer says nothing.
func TestLimiterOverloaded(t *testing.T) {
	l := NewLimiter(0, 32)
	for range 4 {
		fill(t, l, l.Limit(), 30*time.Millisecond)
	}
	high := l.Limit()
	for range high {
		require.NoError(t, l.acquire(t.Context()))
	}
	l.release(time.Millisecond, Overloaded) // refused with high in flight
	for range high - 1 {
		l.release(time.Hour, Failed)
	}
	require.Equal(t, high/2, l.Limit())
	for range 3 {
		answer(t, l, time.Hour, Failed)
	}
	require.Equal(t, high/2, l.Limit(), "no answer, no news")
	for range 20 {
		fill(t, l, l.Limit(), 30*time.Millisecond)
	}
	require.LessOrEqual(t, l.Limit(), high, "it comes back to where the server refused, slowly past it")
}

// A no-load time is re-measured: once the quickest answers are two windows old, a
// slower server's time is the new no-load time, and the limit grows again there.
func TestLimiterNoLoadTimeRemeasured(t *testing.T) {
	l := NewLimiter(0, 8)
	fill(t, l, 1, 10*time.Millisecond)
	for range 300 {
		answer(t, l, 40*time.Millisecond, Answered)
	}
	require.Equal(t, 40*time.Millisecond, l.noLoad.min())
}

// Against a server that answers in microseconds, a millisecond of jitter is no queue:
// the limit keeps growing.
func TestLimiterJitterIsNoQueue(t *testing.T) {
	l := NewLimiter(0, 32)
	fill(t, l, 1, 60*time.Microsecond)
	for range 4 {
		fill(t, l, l.Limit(), 700*time.Microsecond)
	}
	require.Greater(t, l.Limit(), 8, "still doubling")
}
