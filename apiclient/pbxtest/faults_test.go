package pbxtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// outcome says what a client saw: "cancelled" (the client gave up), "dropped" (no
// answer), "HTTP n" (a status other than 200), "html", "cut off" (200, but not the
// API's JSON), or the API's result.
func outcome(r reply, err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case err != nil:
		return "dropped"
	case r.status != http.StatusOK:
		return fmt.Sprintf("HTTP %d", r.status)
	case strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
		return "html"
	}
	resp, derr := decode(r.body)
	if derr != nil {
		return "cut off"
	}
	result, _ := resp["result"].(string)
	return result
}

func createNewco() obj { return ops(pbxtest.AdminKey, nil, obj{"company": "newco", "name": "New Co"}) }

func TestFaultKindsOnCreate(t *testing.T) {
	tests := []struct {
		fault          pbxtest.Fault
		want           string // outcome
		wantRetryAfter string
		committed      bool
	}{
		{fault: pbxtest.Fault500, want: "HTTP 500"},
		{fault: pbxtest.Fault503, want: "HTTP 503", wantRetryAfter: "3"},
		{fault: pbxtest.Fault429, want: "HTTP 429", wantRetryAfter: "3"},
		{fault: pbxtest.FaultFail, want: "fail"},
		{fault: pbxtest.FaultHTML, want: "html"},
		{fault: pbxtest.FaultTruncated, want: "cut off", committed: true},
		{fault: pbxtest.FaultDropBefore, want: "dropped"},
		{fault: pbxtest.FaultDropAfter, want: "dropped", committed: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithFaults(pbxtest.Faults{
				Rates:      map[pbxtest.Fault]float64{tt.fault: 1},
				Verbs:      []string{"create"},
				RetryAfter: 3 * time.Second,
			}))
			r, err := send(t.Context(), srv.URL, "create", createNewco(), nil)
			if diff := cmp.Diff(tt.want, outcome(r, err)); diff != "" {
				t.Fatalf("outcome (-want +got):\n%s", diff)
			}
			if err == nil {
				if diff := cmp.Diff(tt.wantRetryAfter, r.header.Get("Retry-After")); diff != "" {
					t.Errorf("Retry-After (-want +got):\n%s", diff)
				}
			}
			switch tt.fault {
			case pbxtest.FaultHTML:
				require.True(t, strings.HasPrefix(strings.TrimSpace(string(r.body)), "<"), "an HTML page: %q", r.body)
			case pbxtest.FaultTruncated:
				require.True(t, strings.HasPrefix(string(r.body), `{"result":"success"`),
					"the success answer, cut off: %q", r.body)
			case pbxtest.FaultFail:
				resp, derr := decode(r.body)
				require.NoError(t, derr)
				requireFail(t, r.status, resp)
			}

			st := srv.Stats()
			wantWrites := map[string]int{}
			if tt.committed {
				wantWrites["create"] = 1
			}
			if diff := cmp.Diff(wantWrites, st.Writes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Stats().Writes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[pbxtest.Fault]int{tt.fault: 1}, st.Faults); diff != "" {
				t.Errorf("Stats().Faults (-want +got):\n%s", diff)
			}
			_, exists := srv.Company("newco")
			require.Equal(t, tt.committed, exists, "newco exists after the fault")
			status, resp := call(t, srv, pbxtest.AdminKey, "read", scope("newco"), nil) // reads are not faulted
			if tt.committed {
				requireSuccess(t, status, resp)
			} else {
				requireFail(t, status, resp)
			}

			// Trying again without faults tells the two apart, as a client must.
			srv.SetFaults(pbxtest.Faults{})
			status, resp, _ = post(t, srv.URL, "create", createNewco(), nil)
			if tt.committed {
				requireFail(t, status, resp)
			} else {
				requireSuccess(t, status, resp)
			}
			if diff := cmp.Diff(1, srv.Stats().Writes["create"]); diff != "" {
				t.Errorf("creates committed in all (-want +got):\n%s", diff)
			}
		})
	}
}

// For every write verb, a fault commits the change exactly when its kind says so:
// the state afterwards is either the state before or that of a server without faults.
func TestFaultsCommitOnlyAfterTheChange(t *testing.T) {
	writes := []struct {
		verb   string
		scope  obj
		values obj
	}{
		{verb: "update", scope: scope("a"), values: obj{"q_ringtime": 20, "name": "Renamed"}},
		{verb: "delete", scope: scope("a")},
		{verb: "group", scope: scope("a"), values: obj{"company": "b"}},
		{verb: "ungroup", scope: scope("c")},
	}
	committed := map[pbxtest.Fault]bool{pbxtest.FaultTruncated: true, pbxtest.FaultDropAfter: true}
	seed := grouped(map[string][]string{"b": {"b", "c"}}, "a", "b", "c")
	for _, w := range writes {
		clean := simtest.NewServer(t, seed)
		before := clean.Snapshot()
		admin(t, clean, w.verb, w.scope, w.values)
		after := clean.Snapshot()
		require.NotEmpty(t, cmp.Diff(before, after, snapshotOpts), "%s changes something", w.verb)

		for _, fault := range pbxtest.AllFaults() {
			t.Run(w.verb+"/"+string(fault), func(t *testing.T) {
				srv := simtest.NewServer(t, seed, pbxtest.WithFaults(pbxtest.Faults{
					Rates: map[pbxtest.Fault]float64{fault: 1}}))
				r, err := send(t.Context(), srv.URL, w.verb, ops(pbxtest.AdminKey, w.scope, w.values), nil)
				require.NotEqual(t, "success", outcome(r, err))

				want, wantWrites := before, 0
				if committed[fault] {
					want, wantWrites = after, 1
				}
				if diff := cmp.Diff(want, srv.Snapshot(), snapshotOpts); diff != "" {
					t.Errorf("state after a %s fault (-want +got):\n%s", fault, diff)
				}
				if diff := cmp.Diff(wantWrites, srv.Stats().Writes[w.verb]); diff != "" {
					t.Errorf("Stats().Writes[%q] (-want +got):\n%s", w.verb, diff)
				}
			})
		}
	}
}

func TestRetryAfterIsInWholeSecondsRoundedUp(t *testing.T) {
	tests := []struct {
		retryAfter time.Duration
		want       string
	}{
		{retryAfter: 1500 * time.Millisecond, want: "2"},
		{retryAfter: 2 * time.Second, want: "2"},
		{retryAfter: 10 * time.Second, want: "10"},
	}
	for _, tt := range tests {
		for _, fault := range []pbxtest.Fault{pbxtest.Fault429, pbxtest.Fault503} {
			t.Run(string(fault)+"/"+tt.retryAfter.String(), func(t *testing.T) {
				srv := simtest.NewServer(t, companies("acme"), pbxtest.WithFaults(pbxtest.Faults{
					Rates: map[pbxtest.Fault]float64{fault: 1}, RetryAfter: tt.retryAfter}))
				r, err := send(t.Context(), srv.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), nil)
				require.NoError(t, err)
				if diff := cmp.Diff("HTTP "+string(fault), outcome(r, err)); diff != "" {
					t.Errorf("outcome (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.want, r.header.Get("Retry-After")); diff != "" {
					t.Errorf("Retry-After (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// outcomes sends n reads one after another and says what each got.
func outcomes(t *testing.T, srv *simtest.Server, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = outcome(send(t.Context(), srv.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), nil))
	}
	return out
}

func TestSeededFaultsRepeat(t *testing.T) {
	faults := func(seed uint64) pbxtest.Faults {
		return pbxtest.Faults{Seed: seed, Rates: pbxtest.SpreadRate(0.5)}
	}
	run := func(seed uint64) ([]string, pbxtest.Stats) {
		srv := simtest.NewServer(t, companies("acme"), pbxtest.WithFaults(faults(seed)))
		return outcomes(t, srv, 50), srv.Stats()
	}
	first, firstStats := run(1)
	again, againStats := run(1)
	other, _ := run(2)

	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the same seed gave another sequence (-first +again):\n%s", diff)
	}
	// MaxInFlight is left out: a dropped connection ends for the client before the
	// server's handler has returned, so the next request may overlap it.
	if diff := cmp.Diff(firstStats, againStats, cmpopts.IgnoreFields(pbxtest.Stats{}, "MaxInFlight")); diff != "" {
		t.Errorf("the same seed gave other stats (-first +again):\n%s", diff)
	}
	require.NotEqual(t, first, other, "another seed gives another sequence")

	// The sequence is a real mix, and every non-success is a counted fault.
	kinds := map[string]int{}
	for _, o := range first {
		kinds[o]++
	}
	require.Positive(t, kinds["success"], "some requests get through: %v", kinds)
	require.GreaterOrEqual(t, len(kinds), 4, "several kinds of outcome: %v", kinds)
	faulted := 0
	for _, n := range firstStats.Faults {
		faulted += n
	}
	if diff := cmp.Diff(len(first)-kinds["success"], faulted); diff != "" {
		t.Errorf("faults counted vs requests that did not succeed (-outcomes +stats):\n%s", diff)
	}

	// SetFaults with the same seed starts the same sequence over.
	srv := simtest.NewServer(t, companies("acme"))
	srv.SetFaults(faults(1))
	if diff := cmp.Diff(first, outcomes(t, srv, 50)); diff != "" {
		t.Errorf("SetFaults with the same seed (-WithFaults +SetFaults):\n%s", diff)
	}
}

func TestFaultVerbs(t *testing.T) {
	tests := []struct {
		name  string
		verbs []string
		want  map[string]string // outcome by verb
	}{
		{name: "all verbs but login by default", verbs: nil,
			want: map[string]string{"login": "success", "read": "HTTP 500", "update": "HTTP 500"}},
		{name: "only the listed verbs", verbs: []string{"update"},
			want: map[string]string{"login": "success", "read": "success", "update": "HTTP 500"}},
		{name: "login when listed", verbs: []string{"login"},
			want: map[string]string{"login": "HTTP 500", "read": "success", "update": "success"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, companies("acme"), pbxtest.WithUser("ops", "pw", pbxtest.SystemAdmin()),
				pbxtest.WithFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.Fault500: 1}, Verbs: tt.verbs}))
			bodies := map[string]obj{
				"login":  userAuth("ops", "pw"),
				"read":   ops(pbxtest.AdminKey, scope("acme"), nil),
				"update": ops(pbxtest.AdminKey, scope("acme"), obj{"q_ringtime": 20}),
			}
			got := map[string]string{}
			for verb, body := range bodies {
				got[verb] = outcome(send(t.Context(), srv.URL, verb, body, nil))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaxInFlight(t *testing.T) {
	// Requests within the limit are held by the latency until the test lets them go;
	// the ones above it must be answered 429 at once.
	srv := simtest.NewServer(t, companies("acme"), pbxtest.WithFaults(pbxtest.Faults{
		Latency: 10 * time.Second, MaxInFlight: 2, RetryAfter: time.Second}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	type result struct {
		outcome    string
		retryAfter string
	}
	results := make(chan result, 4)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			<-start
			r, err := send(ctx, srv.URL, "read", ops(pbxtest.AdminKey, scope("acme"), nil), nil)
			results <- result{outcome(r, err), r.header.Get("Retry-After")}
		})
	}
	close(start)

	got := map[string]int{}
	for range 4 {
		r := <-results
		got[r.outcome]++
		if r.outcome == "HTTP 429" {
			require.Equal(t, "1", r.retryAfter, "Retry-After of an overload 429")
			if got["HTTP 429"] == 2 {
				cancel() // both answered: let the held ones go
			}
		}
	}
	wg.Wait()

	if diff := cmp.Diff(map[string]int{"HTTP 429": 2, "cancelled": 2}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	st := srv.Stats()
	require.GreaterOrEqual(t, st.MaxInFlight, 3, "Stats().MaxInFlight counts the refused ones too")
	require.LessOrEqual(t, st.MaxInFlight, 4)
	if diff := cmp.Diff(map[pbxtest.Fault]int{pbxtest.Fault429: 2}, st.Faults); diff != "" {
		t.Errorf("Stats().Faults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"read": 4}, st.Requests); diff != "" {
		t.Errorf("Stats().Requests (-want +got):\n%s", diff)
	}
}
