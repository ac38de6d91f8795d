package apiclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

var transientFaults = []pbxtest.Fault{
	pbxtest.Fault500, pbxtest.Fault503, pbxtest.Fault429, pbxtest.FaultHTML, pbxtest.FaultTruncated, pbxtest.FaultDropBefore, pbxtest.FaultDropAfter,
}

// safeVerb is one call of a verb the client may repeat, the company its errors
// name, and a check of what the server holds after the call succeeded.
type safeVerb struct {
	verb, company string
	call          func(context.Context, *apiclient.Client) error
	done          func(*testing.T, *simtest.Server)
}

func nothingChanged(t *testing.T, srv *simtest.Server) {
	t.Helper()
	require.Empty(t, srv.Stats().Writes)
}

func inContainer(id, want string) func(*testing.T, *simtest.Server) {
	return func(t *testing.T, srv *simtest.Server) {
		t.Helper()
		box, _, ok := srv.ContainerOf(id)
		require.True(t, ok)
		require.Equal(t, want, box)
	}
}

var safeVerbs = []safeVerb{
	{"read", "acme", func(ctx context.Context, c *apiclient.Client) error {
		_, err := c.Read(ctx, "acme")
		return err
	}, nothingChanged},
	{"readContainer", "acme", func(ctx context.Context, c *apiclient.Client) error {
		_, err := c.ReadContainer(ctx, "acme")
		return err
	}, nothingChanged},
	{"update", "acme", func(ctx context.Context, c *apiclient.Client) error {
		_, err := c.Update(ctx, "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"q_ringtime": apiclient.Int(25)})})
		return err
	}, func(t *testing.T, srv *simtest.Server) {
		require.Equal(t, `"25"`, serverCompany(t, srv, "acme").Settings.Get("q_ringtime").JSON())
	}},
	{"group", "gamma", func(ctx context.Context, c *apiclient.Client) error {
		_, err := c.Group(ctx, "gamma", "acme")
		return err
	}, inContainer("gamma", "acme")},
	{"ungroup", "beta", func(ctx context.Context, c *apiclient.Client) error {
		_, err := c.Ungroup(ctx, "beta")
		return err
	}, inContainer("beta", "beta")},
}

// faultSeed makes the simulator fault the first request of a verb at rate 0.5, and
// never four in a row among the first twenty (the tests check that a fault happened).
const faultSeed = 6

// droppySeeds fault the first request at rate 0.5 and never four in a row at the start.
var droppySeeds = []uint64{1, 3, 6, 8}

func TestSafeVerbsRetryTransientFaults(t *testing.T) {
	t.Parallel()
	const calls = 6
	for _, v := range safeVerbs {
		for _, fault := range transientFaults {
			t.Run(v.verb+"/"+string(fault)+"/recovers", func(t *testing.T) {
				t.Parallel()
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Seed: faultSeed, Verbs: []string{v.verb}, Rates: map[pbxtest.Fault]float64{fault: 0.5},
				}))
				c := newClient(t, srv.URL)

				for i := range calls {
					require.NoError(t, v.call(t.Context(), c), "call %d", i)
				}
				st := srv.Stats()
				require.Positive(t, st.Faults[fault], "the seed must inject the fault at least once")
				require.Equal(t, calls+st.Faults[fault], st.Requests[v.verb], "one more request per fault")
				v.done(t, srv)
			})

			t.Run(v.verb+"/"+string(fault)+"/gives up", func(t *testing.T) {
				t.Parallel()
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Verbs: []string{v.verb}, Rates: map[pbxtest.Fault]float64{fault: 1},
				}))
				c := newClient(t, srv.URL)

				err := v.call(t.Context(), c)
				require.Error(t, err)
				require.True(t, apiclient.IsTransient(err), "got %v", err)
				require.False(t, apiclient.IsRefused(err))
				require.Contains(t, err.Error(), fmt.Sprintf("%s of %q", v.verb, v.company))
				require.Equal(t, fastRetries.Attempts, srv.Stats().Requests[v.verb])
			})
		}

		for _, tc := range []struct {
			fault   pbxtest.Fault
			check   func(t *testing.T, err error)
			message string
		}{
			{pbxtest.FaultFail, func(t *testing.T, err error) {
				var apiErr *apiclient.APIError
				require.ErrorAs(t, err, &apiErr)
				if diff := cmp.Diff(apiclient.APIError{Verb: v.verb, Company: v.company, Message: "temporarily unavailable, try again"}, *apiErr); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			}, "temporarily unavailable, try again"},
		} {
			t.Run(v.verb+"/"+string(tc.fault)+"/not retried", func(t *testing.T) {
				t.Parallel()
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Verbs: []string{v.verb}, Rates: map[pbxtest.Fault]float64{tc.fault: 1},
				}))
				c := newClient(t, srv.URL)

				err := v.call(t.Context(), c)
				require.Error(t, err)
				require.False(t, apiclient.IsTransient(err), "got %v", err)
				tc.check(t, err)
				require.Contains(t, err.Error(), fmt.Sprintf("%s of %q", v.verb, v.company))
				require.Contains(t, err.Error(), tc.message)
				require.Equal(t, 1, srv.Stats().Requests[v.verb])
				require.Empty(t, srv.Stats().Writes)
			})
		}
	}
}

func TestUnsafeVerbsAreSentOnce(t *testing.T) {
	transient := map[pbxtest.Fault]bool{}
	for _, f := range transientFaults {
		transient[f] = true
	}
	for _, tc := range []struct {
		verb string
		call func(context.Context, *apiclient.Client) error
	}{
		{"create", func(ctx context.Context, c *apiclient.Client) error {
			_, err := c.Create(ctx, "delta", "Delta", "d")
			return err
		}},
		{"delete", func(ctx context.Context, c *apiclient.Client) error { return c.Delete(ctx, "gamma") }},
	} {
		for _, fault := range pbxtest.AllFaults() {
			t.Run(tc.verb+"/"+string(fault), func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Verbs: []string{tc.verb}, Rates: map[pbxtest.Fault]float64{fault: 1},
				}))
				c := newClient(t, srv.URL)

				err := tc.call(t.Context(), c)
				require.Error(t, err)
				require.Equal(t, transient[fault], apiclient.IsTransient(err), "transient? got %v", err)
				require.Equal(t, fault == pbxtest.FaultFail, apiclient.IsRefused(err), "refused? got %v", err)
				if diff := cmp.Diff(map[string]int{tc.verb: 1}, srv.Stats().Requests); diff != "" {
					t.Errorf("requests: sent once, never read back (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// clearFaultsAfter returns a server whose faults are removed once n requests of verb
// have been served, before any further request is looked at.
func clearFaultsAfter(t *testing.T, verb string, n int, faults pbxtest.Faults) (*pbxtest.Server, string) {
	t.Helper()
	srv := pbxtest.New(pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()), pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(faults))
	seen := 0
	h := &hooked{h: srv, after: func(r *http.Request) {
		if r.URL.Path == "/rest/ops/"+verb+"/" {
			if seen++; seen == n {
				srv.SetFaults(pbxtest.Faults{})
			}
		}
	}}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

func TestCreateConfirmed(t *testing.T) {
	once := func(f pbxtest.Fault) pbxtest.Faults {
		return pbxtest.Faults{Verbs: []string{"create"}, Rates: map[pbxtest.Fault]float64{f: 1}}
	}
	for _, tc := range []struct {
		name         string
		faults       pbxtest.Faults
		clearAfter   int // requests of create after which the faults end; 0 for never
		wantRequests int
	}{
		{"no fault", pbxtest.Faults{}, 0, 1},
		{"drop-after: created, answer lost", once(pbxtest.FaultDropAfter), 0, 1},
		{"truncated: created, answer cut", once(pbxtest.FaultTruncated), 0, 1},
		{"drop-before once: not created, sent again", once(pbxtest.FaultDropBefore), 1, 2},
		{"503 once: not created, sent again", once(pbxtest.Fault503), 1, 2},
		{"html twice", once(pbxtest.FaultHTML), 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := clearFaultsAfter(t, "create", tc.clearAfter, tc.faults)
			c := newClient(t, url)

			got, err := c.CreateConfirmed(t.Context(), "delta", "Delta", "new branch")
			require.NoError(t, err)
			want, ok := srv.Company("delta")
			require.True(t, ok)
			if diff := cmp.Diff(want, got, valueJSON, cmpIgnoreEmptySettings(got)); diff != "" {
				t.Errorf("CreateConfirmed (-want +got):\n%s", diff)
			}
			st := srv.Stats()
			require.Equal(t, tc.wantRequests, st.Requests["create"])
			require.Equal(t, 1, st.Writes["create"], "created exactly once")
			require.Equal(t, "new branch", srv.Description("delta"))
		})
	}

	t.Run("drop-before at rate 0.5", func(t *testing.T) {
		for _, seed := range droppySeeds {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Seed: seed, Verbs: []string{"create"}, Rates: map[pbxtest.Fault]float64{pbxtest.FaultDropBefore: 0.5},
				}))
				c := newClient(t, srv.URL)
				_, err := c.CreateConfirmed(t.Context(), "delta", "Delta", "")
				require.NoError(t, err)
				st := srv.Stats()
				require.Equal(t, 1, st.Writes["create"])
				require.Positive(t, st.Faults[pbxtest.FaultDropBefore])
				require.Equal(t, st.Faults[pbxtest.FaultDropBefore]+1, st.Requests["create"])
				_, ok := srv.Company("delta")
				require.True(t, ok)
			})
		}
	})

	t.Run("drop-after at rate 0.5 never says already exists", func(t *testing.T) {
		for _, seed := range droppySeeds {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Seed: seed, Verbs: []string{"create"}, Rates: map[pbxtest.Fault]float64{pbxtest.FaultDropAfter: 0.5},
				}))
				c := newClient(t, srv.URL)
				for _, id := range []string{"d1", "d2", "d3", "d4"} {
					_, err := c.CreateConfirmed(t.Context(), id, "D", "")
					require.NoError(t, err, id)
				}
				st := srv.Stats()
				require.Equal(t, 4, st.Writes["create"])
				require.Positive(t, st.Faults[pbxtest.FaultDropAfter])
				require.Equal(t, 4, st.Requests["create"], "a create whose answer was lost is read back, not sent again")
			})
		}
	})

	t.Run("drop-before always: gives up transient", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(once(pbxtest.FaultDropBefore)))
		c := newClient(t, srv.URL)
		_, err := c.CreateConfirmed(t.Context(), "delta", "Delta", "")
		require.True(t, apiclient.IsTransient(err), "got %v", err)
		require.Contains(t, err.Error(), `create of "delta"`)
		st := srv.Stats()
		require.Equal(t, fastRetries.Attempts, st.Requests["create"])
		require.Equal(t, fastRetries.Attempts-1, st.Requests["read"], "read back before each new create")
		require.Empty(t, st.Writes)
	})

	t.Run("a company that existed before is refused", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		_, err := c.CreateConfirmed(t.Context(), "acme", "Acme", "")
		require.True(t, apiclient.IsRefused(err), "got %v", err)
		require.Equal(t, 1, srv.Stats().Requests["create"])
	})

	t.Run("fail is not retried", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(once(pbxtest.FaultFail)))
		c := newClient(t, srv.URL)
		_, err := c.CreateConfirmed(t.Context(), "delta", "Delta", "")
		require.True(t, apiclient.IsRefused(err), "got %v", err)
		if diff := cmp.Diff(map[string]int{"create": 1}, srv.Stats().Requests); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

// cmpIgnoreEmptySettings lets a create's answer (which carries no settings) match the
// server's company when no read back happened.
func cmpIgnoreEmptySettings(got apiclient.Company) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		return got.Settings.Len() == 0 && p.Last().String() == ".Settings"
	}, cmp.Ignore())
}

func TestDeleteConfirmed(t *testing.T) {
	once := func(f pbxtest.Fault) pbxtest.Faults {
		return pbxtest.Faults{Verbs: []string{"delete"}, Rates: map[pbxtest.Fault]float64{f: 1}}
	}
	for _, tc := range []struct {
		name         string
		faults       pbxtest.Faults
		clearAfter   int
		wantRequests int
	}{
		{"no fault", pbxtest.Faults{}, 0, 1},
		{"drop-after: deleted, answer lost", once(pbxtest.FaultDropAfter), 0, 1},
		{"truncated: deleted, answer cut", once(pbxtest.FaultTruncated), 0, 1},
		{"drop-before once: sent again", once(pbxtest.FaultDropBefore), 1, 2},
		{"429 once: sent again", once(pbxtest.Fault429), 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := clearFaultsAfter(t, "delete", tc.clearAfter, tc.faults)
			c := newClient(t, url)

			require.NoError(t, c.DeleteConfirmed(t.Context(), "gamma"))
			_, exists := srv.Company("gamma")
			require.False(t, exists)
			st := srv.Stats()
			require.Equal(t, tc.wantRequests, st.Requests["delete"])
			require.Equal(t, 1, st.Writes["delete"], "deleted exactly once")
		})
	}

	t.Run("drop-before at rate 0.5", func(t *testing.T) {
		for _, seed := range droppySeeds {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
					Seed: seed, Verbs: []string{"delete"}, Rates: map[pbxtest.Fault]float64{pbxtest.FaultDropBefore: 0.5},
				}))
				c := newClient(t, srv.URL)
				require.NoError(t, c.DeleteConfirmed(t.Context(), "beta"))
				st := srv.Stats()
				require.Equal(t, 1, st.Writes["delete"])
				require.Positive(t, st.Faults[pbxtest.FaultDropBefore])
				require.Equal(t, st.Faults[pbxtest.FaultDropBefore]+1, st.Requests["delete"])
			})
		}
	})

	t.Run("an unknown company is refused", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		err := c.DeleteConfirmed(t.Context(), "nope")
		require.True(t, apiclient.IsRefused(err), "got %v", err)
		require.Equal(t, 1, srv.Stats().Requests["delete"])
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	patient := fastRetries
	patient.MaxRetryAfter = time.Hour

	for _, fault := range []pbxtest.Fault{pbxtest.Fault429, pbxtest.Fault503} {
		t.Run(string(fault)+" is waited for until the deadline", func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
				Rates: map[pbxtest.Fault]float64{fault: 1}, RetryAfter: 30 * time.Second,
			}))
			c := newClient(t, srv.URL, apiclient.WithRetryPolicy(patient))
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()

			_, err := c.Read(ctx, "acme")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, 1, srv.Stats().Requests["read"], "it waited instead of trying again")
		})

		t.Run(string(fault)+" without Retry-After backs off briefly", func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
				Rates: map[pbxtest.Fault]float64{fault: 1},
			}))
			c := newClient(t, srv.URL, apiclient.WithRetryPolicy(patient))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			_, err := c.Read(ctx, "acme")
			require.True(t, apiclient.IsTransient(err), "got %v", err)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, patient.Attempts, srv.Stats().Requests["read"])
		})
	}

	t.Run("MaxRetryAfter cuts a long Retry-After", func(t *testing.T) {
		t.Parallel()
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
			Rates: map[pbxtest.Fault]float64{pbxtest.Fault429: 1}, RetryAfter: 30 * time.Second,
		}))
		short := fastRetries
		short.MaxRetryAfter = time.Millisecond
		c := newClient(t, srv.URL, apiclient.WithRetryPolicy(short))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()

		_, err := c.Read(ctx, "acme")
		var te *apiclient.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, http.StatusTooManyRequests, te.Status)
		require.Equal(t, 30*time.Second, te.RetryAfter)
		require.True(t, te.Transient)
		require.Equal(t, short.Attempts, srv.Stats().Requests["read"])
	})

	t.Run("a Retry-After never shortens the backoff", func(t *testing.T) {
		t.Parallel()
		// A policy that leaves MaxRetryAfter zero must not make a server that asks
		// for 30 s be tried again at once, faster than one that asks for nothing.
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
			Rates: map[pbxtest.Fault]float64{pbxtest.Fault429: 1}, RetryAfter: 30 * time.Second,
		}))
		slow := apiclient.RetryPolicy{Attempts: 4, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second}
		c := newClient(t, srv.URL, apiclient.WithRetryPolicy(slow))
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()

		_, err := c.Read(ctx, "acme")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, srv.Stats().Requests["read"], "it waited at least the backoff")
	})

	t.Run("cancelling ends the wait", func(t *testing.T) {
		t.Parallel()
		// The server asks for an hour; the guard below is ten seconds, so a wait
		// that ignores the cancellation cannot pass by chance.
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithFaults(pbxtest.Faults{
			Rates: map[pbxtest.Fault]float64{pbxtest.Fault503: 1}, RetryAfter: time.Hour,
		}))
		waiting := &signalHandler{msg: "retrying", seen: make(chan struct{})}
		c := newClient(t, srv.URL, apiclient.WithRetryPolicy(patient), apiclient.WithLogger(slog.New(waiting)))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		errc := make(chan error, 1)
		go func() { _, err := c.ReadContainer(ctx, "acme"); errc <- err }()
		select {
		case <-waiting.seen:
		case err := <-errc:
			t.Fatalf("the call ended without waiting to retry: %v", err)
		}
		cancel()
		var err error
		select {
		case err = <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("the call still waits ten seconds after its context was cancelled")
		}

		require.ErrorIs(t, err, context.Canceled)
		require.False(t, apiclient.IsTransient(err), "a cancelled call is not worth trying again")
		require.Equal(t, 1, srv.Stats().Requests["readContainer"], "it was waiting, not trying again")
	})
}

// signalHandler closes seen at the first log record with message msg.
type signalHandler struct {
	msg  string
	once sync.Once
	seen chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }
