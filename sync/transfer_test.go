package sync

import (
	"context"
	"log/slog"
	"slices"
	stdsync "sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// The source of the transfer tests holds a1 and a2 in one container, b and c each
// alone; all four were copied from it.
var transferCopies = []string{"a1", "a2", "b", "c"}

const transferInventory = `version: 1
companies:
  a1: {name: A1}
  a2: {name: A2}
  b: {name: B}
  c: {name: C}
containers:
  box: [a1, a2]
`

// transferSource starts the source and returns it, a client of it that tries each
// request once, and its snapshot, as read when the copies were planned.
func transferSource(t *testing.T) (*simtest.Server, *apiclient.Client, *state.State) {
	t.Helper()
	srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{
		Companies:  []apiclient.Company{{ID: "a1", Name: "A1"}, {ID: "a2", Name: "A2"}, {ID: "b", Name: "B"}, {ID: "c", Name: "C"}},
		Containers: map[string][]string{"box": {"a1", "a2"}},
	}))
	c, err := apiclient.New(srv.URL, apiclient.WithAPIKey(pbxtest.AdminKey), apiclient.WithRetryPolicy(apiclient.RetryPolicy{Attempts: 1}))
	require.NoError(t, err)
	snap, err := state.ReadSnapshot(t.Context(), c, 4)
	require.NoError(t, err)
	return srv, c, snap
}

// newTransfer is a transfer of every copy from the source, read again with the
// copies' inventory (their containers too).
func newTransfer(t *testing.T, source Source, snap *state.State, containers containerPolicy) *transfer {
	t.Helper()
	inv, _, err := inventory.Load("inventory.yaml", []byte(transferInventory), inventory.LoadOptions{Lookup: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return &transfer{source: source, snapshot: snap, reread: inv, copies: transferCopies, containers: containers,
		parallelism: 4, logger: slog.New(slog.DiscardHandler)}
}

func deletedOutcome() sourceOutcome { return sourceOutcome{action: sourceDeleted, verified: true} }

func keptOutcome(verified bool, note string) sourceOutcome {
	return sourceOutcome{action: sourceKept, verified: verified, note: note}
}

// leftOn returns the companies the server holds, sorted.
func leftOn(srv *simtest.Server) []string {
	var ids []string
	for _, c := range srv.Snapshot().Companies {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// transferCase is a transfer of TestTransfer and what it must do.
type transferCase struct {
	name       string
	containers containerPolicy
	copies     []string // transferCopies when empty
	// companiesOnly reads the source again without its containers, as a fleet does.
	companiesOnly bool
	unverified    map[string]string // the caller's verification
	// meanwhile changes the source after its snapshot.
	meanwhile func(context.Context, *apiclient.Client) error
	want      map[string]sourceOutcome
}

func transferCases() []transferCase {
	const notVerified = "its update on the target failed"
	return []transferCase{
		{name: "carried: verified and unchanged, all deleted", containers: carryContainers,
			want: map[string]sourceOutcome{"a1": deletedOutcome(), "a2": deletedOutcome(), "b": deletedOutcome(), "c": deletedOutcome()}},
		{name: "carried: a container-mate not copied is not deleted", containers: carryContainers, copies: []string{"a1", "b", "c"},
			want: map[string]sourceOutcome{"a1": deletedOutcome(), "b": deletedOutcome(), "c": deletedOutcome()}},
		{name: "left: read again without containers, all deleted", containers: leaveContainers, companiesOnly: true,
			want: map[string]sourceOutcome{"a1": deletedOutcome(), "a2": deletedOutcome(), "b": deletedOutcome(), "c": deletedOutcome()}},
		{name: "carried: a container-mate not verified keeps its container", containers: carryContainers,
			unverified: map[string]string{"a2": notVerified},
			want: map[string]sourceOutcome{
				"a1": keptOutcome(false, "kept with its container: a2 is not verified: "+notVerified),
				"a2": keptOutcome(false, "kept with its container: a2 is not verified: "+notVerified),
				"b":  deletedOutcome(), "c": deletedOutcome(),
			}},
		{name: "left: a company not verified is kept alone", containers: leaveContainers,
			unverified: map[string]string{"a2": notVerified},
			want:       map[string]sourceOutcome{"a1": deletedOutcome(), "a2": keptOutcome(false, notVerified), "b": deletedOutcome(), "c": deletedOutcome()}},
		{name: "carried: renamed since the snapshot, kept with its container", containers: carryContainers,
			meanwhile: func(ctx context.Context, c *apiclient.Client) error {
				_, err := c.Update(ctx, "a1", apiclient.Changes{Name: "A1 Renamed"})
				return err
			},
			want: map[string]sourceOutcome{
				"a1": keptOutcome(true, "kept with its container: a1 changed on the source since it was read (name); run again"),
				"a2": keptOutcome(true, "kept with its container: a1 changed on the source since it was read (name); run again"),
				"b":  deletedOutcome(), "c": deletedOutcome(),
			}},
		{name: "left: renamed since the snapshot, kept alone", containers: leaveContainers,
			meanwhile: func(ctx context.Context, c *apiclient.Client) error {
				_, err := c.Update(ctx, "a1", apiclient.Changes{Name: "A1 Renamed"})
				return err
			},
			want: map[string]sourceOutcome{
				"a1": keptOutcome(true, "kept: a1 changed on the source since it was read (name); run again"),
				"a2": deletedOutcome(), "b": deletedOutcome(), "c": deletedOutcome(),
			}},
		{name: "carried: regrouped since the snapshot, kept", containers: carryContainers,
			meanwhile: func(ctx context.Context, c *apiclient.Client) error { _, err := c.Group(ctx, "c", "b"); return err },
			want: map[string]sourceOutcome{
				"a1": deletedOutcome(), "a2": deletedOutcome(),
				"b": keptOutcome(true, "kept: b changed on the source since it was read (container); run again"),
				"c": keptOutcome(true, "kept: c changed on the source since it was read (container); run again"),
			}},
		{name: "left: regrouped since the snapshot, deleted all the same", containers: leaveContainers,
			meanwhile: func(ctx context.Context, c *apiclient.Client) error { _, err := c.Group(ctx, "c", "b"); return err },
			want:      map[string]sourceOutcome{"a1": deletedOutcome(), "a2": deletedOutcome(), "b": deletedOutcome(), "c": deletedOutcome()}},
		{name: "gone from the source since the snapshot", containers: leaveContainers,
			meanwhile: func(ctx context.Context, c *apiclient.Client) error { return c.DeleteConfirmed(ctx, "b") },
			want: map[string]sourceOutcome{
				"a1": deletedOutcome(), "a2": deletedOutcome(), "c": deletedOutcome(),
				"b": keptOutcome(true, "kept: b is no longer on the source; run again"),
			}},
	}
}

// TestTransfer runs a transfer of a1 and a2 (one container), b and c, under each
// container policy: a copy not verified, or changed on the source since its
// snapshot, is kept (with its container when the copies carry containers), the
// others are deleted; a container's change keeps a company only when containers
// are carried; a company not copied is never deleted.
func TestTransfer(t *testing.T) {
	for _, tt := range transferCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, snap := transferSource(t)
			if tt.meanwhile != nil {
				require.NoError(t, tt.meanwhile(t.Context(), c))
			}
			before := leftOn(srv)
			tr := newTransfer(t, c, snap, tt.containers)
			tr.unverified = tt.unverified
			if tt.copies != nil {
				tr.copies = tt.copies
			}
			if tt.companiesOnly {
				tr.reread = &inventory.Inventory{}
			}
			got, err := tr.run(t.Context())
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(sourceOutcome{})); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			left := slices.DeleteFunc(before, func(id string) bool { return tt.want[id].action == sourceDeleted })
			require.ElementsMatch(t, left, leftOn(srv), "the source keeps what is kept, and only that")
		})
	}
}

// TestTransferStopsAGroupAtItsFirstFailure: every delete fails. The delete of a2 is
// never sent once a1's failed (a container half deleted would be copied apart), b's
// and c's are sent all the same.
func TestTransferStopsAGroupAtItsFirstFailure(t *testing.T) {
	srv, c, snap := transferSource(t)
	srv.SetFaults(pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"delete"}})
	got, err := newTransfer(t, c, snap, carryContainers).run(t.Context())
	require.NoError(t, err)
	for _, id := range []string{"a1", "b", "c"} {
		require.Equal(t, sourceFailed, got[id].action, id)
		require.NotEmpty(t, got[id].note, "%s: the delete's error", id)
	}
	require.Equal(t, keptOutcome(true, "not deleted: the delete of a1 failed"), got["a2"])
	require.Equal(t, 3, srv.Stats().Requests["delete"], "a1, b and c: a2's delete is not sent")
	require.Equal(t, transferCopies, leftOn(srv))
}

// interruptingSource interrupts the run as the first delete is sent.
type interruptingSource struct {
	*apiclient.Client
	once      stdsync.Once
	interrupt context.CancelFunc
}

func (s *interruptingSource) DeleteConfirmed(ctx context.Context, id string) error {
	s.once.Do(s.interrupt)
	return s.Client.DeleteConfirmed(ctx, id)
}

// TestTransferFinishesAStartedGroupAfterAnInterrupt: the run is interrupted as a1's
// delete is sent, one group at a time. a1 and a2 are deleted all the same (a group
// started is finished within the grace), b and c, not started, are kept.
func TestTransferFinishesAStartedGroupAfterAnInterrupt(t *testing.T) {
	srv, c, snap := transferSource(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tr := newTransfer(t, &interruptingSource{Client: c, interrupt: cancel}, snap, carryContainers)
	tr.parallelism = 1
	got, err := tr.run(ctx)
	require.NoError(t, err)
	interrupted := keptOutcome(true, "interrupted before it was deleted")
	want := map[string]sourceOutcome{"a1": deletedOutcome(), "a2": deletedOutcome(), "b": interrupted, "c": interrupted}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sourceOutcome{})); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	require.Equal(t, []string{"b", "c"}, leftOn(srv))
}

// TestTransferReadsTheSourceAgainForVerifiedCopiesOnly: with no copy verified, the
// source is not read again, nothing is sent to it; when it cannot be read again,
// the error says why and nothing is deleted.
func TestTransferReadsTheSourceAgainForVerifiedCopiesOnly(t *testing.T) {
	t.Run("none verified", func(t *testing.T) {
		srv, c, snap := transferSource(t)
		srv.ResetStats()
		tr := newTransfer(t, c, snap, leaveContainers)
		tr.unverified = map[string]string{"a1": "differs", "a2": "differs", "b": "differs", "c": "differs"}
		got, err := tr.run(t.Context())
		require.NoError(t, err)
		for _, id := range transferCopies {
			require.Equal(t, keptOutcome(false, "differs"), got[id], id)
		}
		require.Zero(t, srv.Stats().TotalRequests(), "nothing sent to the source")
	})
	t.Run("the source cannot be read again", func(t *testing.T) {
		srv, c, snap := transferSource(t)
		srv.SetFaults(pbxtest.Faults{Seed: 1, Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"read"}})
		tr := newTransfer(t, c, snap, carryContainers)
		tr.unverified = map[string]string{"b": "differs"}
		got, err := tr.run(t.Context())
		require.Error(t, err)
		want := map[string]sourceOutcome{"b": keptOutcome(false, "differs")}
		for _, id := range []string{"a1", "a2", "c"} {
			want[id] = keptOutcome(true, "not deleted: the source could not be read again: "+err.Error())
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(sourceOutcome{})); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		require.Zero(t, srv.Stats().Writes["delete"])
	})
}
