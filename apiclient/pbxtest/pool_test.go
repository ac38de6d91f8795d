package pbxtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// logLines decodes the JSON log lines written so far.
func logLines(t *testing.T, logs *lockedBuffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l == "" {
			continue
		}
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &entry), "log line %q", l)
		lines = append(lines, entry)
	}
	return lines
}

// sendAll sends the bodies at once, each to its verb, and returns what each client saw.
func sendAll(ctx context.Context, url string, verbs []string, bodies []any) []string {
	got := make([]string, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			<-start
			got[i] = outcome(send(ctx, url, verbs[i], bodies[i], nil))
		})
	}
	close(start)
	wg.Wait()
	return got
}

// Six requests at once on two workers: every one is served, never more than two at
// once, and each request's log line says how long it waited. A login takes a worker
// like any other request.
func TestWorkersServeAtMostNAtOnce(t *testing.T) {
	var logs lockedBuffer
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithWorkers(2, 20*time.Millisecond),
		pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()),
		pbxtest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))

	verbs := []string{"login", "read", "read", "read", "update", "update"}
	bodies := []any{userAuth("ops", "pw")}
	for _, verb := range verbs[1:] {
		var values obj
		if verb == "update" {
			values = obj{"q_ringtime": 20}
		}
		bodies = append(bodies, ops(pbxtest.AdminKey, scope("acme"), values))
	}
	got := sendAll(t.Context(), srv.URL, verbs, bodies)
	if diff := cmp.Diff([]string{"success", "success", "success", "success", "success", "success"}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}

	pool := srv.Stats().Pool
	require.Equal(t, 6, pool.Requests, "every request, the login too, asked for a worker")
	require.LessOrEqual(t, pool.MaxBusy, 2, "never more requests served at once than workers")
	require.GreaterOrEqual(t, pool.MaxBusy, 1)
	require.LessOrEqual(t, pool.Waited, 4, "two found a worker free")
	require.Equal(t, 2, srv.Stats().Writes["update"], "both updates were carried out")

	lines := logLines(t, &logs)
	require.Len(t, lines, 6)
	for _, l := range lines {
		require.Contains(t, l, "wait", "with workers, every request's log line has its wait: %v", l)
	}
}

// With the workers held, the requests beyond them queue: exactly four of six wait.
// A client that goes away ends its wait, or its service, and frees its worker.
func TestWorkersQueueTheRest(t *testing.T) {
	var logs lockedBuffer
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithWorkers(2, time.Hour),
		pbxtest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	read := ops(pbxtest.AdminKey, scope("acme"), nil)
	verbs := []string{"read", "read", "read", "read", "read", "read"}
	done := make(chan []string, 1)
	go func() { done <- sendAll(ctx, srv.URL, verbs, []any{read, read, read, read, read, read}) }()
	require.Eventually(t, func() bool { return srv.Stats().Pool.MaxQueued == 4 }, time.Minute, time.Millisecond,
		"two requests hold the workers and four queue")
	cancel()
	if diff := cmp.Diff([]string{"cancelled", "cancelled", "cancelled", "cancelled", "cancelled", "cancelled"}, <-done); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "\n") == 6 }, time.Minute, time.Millisecond,
		"every request ends when its client goes, the ones being served too")

	pool := srv.Stats().Pool
	require.Equal(t, 6, pool.Requests)
	require.Equal(t, 4, pool.Waited)
	require.Equal(t, 4, pool.MaxQueued)
	require.Equal(t, 2, pool.MaxBusy)
	require.Positive(t, pool.MeanWait(), "the four waited until their clients went")
	require.GreaterOrEqual(t, pool.MaxWait, pool.MeanWait())
	require.Equal(t, pool.Wait/6, pool.MeanWait(), "the mean is over every request that asked for a worker")
	require.Zero(t, srv.Stats().TotalWrites())
	for _, l := range logLines(t, &logs) {
		require.Equal(t, "client gone", l["outcome"], "log line %v", l)
	}

	// The workers are free again: the next two requests take them without waiting.
	srv.ResetStats()
	again, stop := context.WithCancel(t.Context())
	defer stop()
	go func() { done <- sendAll(again, srv.URL, verbs[:2], []any{read, read}) }()
	require.Eventually(t, func() bool { return srv.Stats().Pool.Requests == 2 }, time.Minute, time.Millisecond)
	stop()
	<-done
	require.Zero(t, srv.Stats().Pool.Waited, "the workers were given back")
}

// A request answered by a fault never takes a worker: it is answered while every
// worker is busy.
func TestFaultsTakeNoWorker(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithWorkers(1, time.Hour),
		pbxtest.WithFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"read"}}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	held := make(chan string, 1)
	go func() {
		held <- outcome(send(ctx, srv.URL, "update", ops(pbxtest.AdminKey, scope("acme"), obj{"q_ringtime": 20}), nil))
	}()
	require.Eventually(t, func() bool { return srv.Stats().Pool.MaxBusy == 1 }, time.Minute, time.Millisecond)

	guard, stop := context.WithTimeout(t.Context(), time.Minute) // ends the test if the read queued
	defer stop()
	require.Equal(t, "fail", outcome(send(guard, srv.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), nil)))
	cancel()
	require.Equal(t, "cancelled", <-held)
	pool := srv.Stats().Pool
	require.Equal(t, 1, pool.Requests, "only the update asked for a worker")
	require.Zero(t, pool.Waited)
}

// Without workers nothing queues, the pool's counts stay zero and the log has no wait.
func TestNoWorkersServeAtOnce(t *testing.T) {
	var logs lockedBuffer
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	read := ops(pbxtest.AdminKey, scope("acme"), nil)
	got := sendAll(t.Context(), srv.URL, []string{"read", "read", "read", "read"}, []any{read, read, read, read})
	if diff := cmp.Diff([]string{"success", "success", "success", "success"}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pbxtest.PoolStats{}, srv.Stats().Pool); diff != "" {
		t.Errorf("Stats().Pool (-want +got):\n%s", diff)
	}
	for _, l := range logLines(t, &logs) {
		require.NotContains(t, l, "wait", "log line %v", l)
	}
}

// BenchmarkWorkers measures what the pool itself costs a request, with no service
// time to model: compare "workers" with "none".
func BenchmarkWorkers(b *testing.B) {
	body, err := json.Marshal(ops(pbxtest.AdminKey, scope("acme"), nil))
	require.NoError(b, err)
	for _, bench := range []struct {
		name string
		opts []pbxtest.Option
	}{
		{"none", nil},
		{"workers", []pbxtest.Option{pbxtest.WithWorkers(4, 0)}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			srv := pbxtest.New(append([]pbxtest.Option{companies("acme"),
				pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin())}, bench.opts...)...)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/rest/ops/read/", bytes.NewReader(body)))
					if w.Code != http.StatusOK {
						b.Errorf("HTTP %d", w.Code)
					}
				}
			})
		})
	}
}
