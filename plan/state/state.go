package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// Reader is what reading the server's state needs from a client.
type Reader interface {
	ReadAll(ctx context.Context) ([]apiclient.Company, error)
	Read(ctx context.Context, id string) (apiclient.Company, error)
	ReadContainer(ctx context.Context, company string) (apiclient.Container, error)
}

// State is what the server holds, as far as the plan needs to know.
type State struct {
	Companies map[string]apiclient.Company // every company read, by ID
	// Containers maps each container read to its members, sorted. Only containers
	// holding a managed company are read.
	Containers map[string][]string
	// Grouping reports whether the containers could be read: a company
	// administrator's key may read its companies but no containers.
	Grouping bool
	// Unread holds the companies whose container could not be read, after the
	// client's retries, with the error: the plan leaves them alone (Plan.NotPlanned)
	// rather than ending the run.
	Unread   map[string]error
	Requests int // requests sent to read all this
}

// New returns the state of a server that holds companies and containers, read
// whole, as ReadSnapshot returns it.
func New(companies []apiclient.Company, containers map[string][]string) *State {
	st := &State{Companies: make(map[string]apiclient.Company, len(companies)), Containers: containers, Grouping: true, Unread: map[string]error{}}
	if st.Containers == nil {
		st.Containers = map[string][]string{}
	}
	for _, c := range companies {
		st.Companies[c.ID] = c
	}
	return st
}

// refusedRetryWait is how long a read refused for a company that the read of all
// companies has just shown waits before it is sent once more (spec/api.md: a passing
// refusal cannot be told from a lasting one by its wording): the first wait of the
// reader's retry policy, when it has one (apiclient.Client does), as for any other
// passing failure.
func refusedRetryWait(r Reader) time.Duration {
	if p, ok := r.(interface{ RetryPolicy() apiclient.RetryPolicy }); ok {
		return p.RetryPolicy().BaseDelay
	}
	return apiclient.DefaultRetryPolicy.BaseDelay
}

// Read reads what the plan needs: one read of all companies, then readContainer
// only for containers that hold a managed company, each container once, with at most
// parallelism requests in flight. With credentials that may not read all companies
// (a company administrator's), it reads the inventory's companies one by one and
// leaves grouping alone.
func Read(ctx context.Context, r Reader, inv *inventory.Inventory, parallelism int) (*State, error) {
	parallelism = max(parallelism, 1)
	st := New(nil, nil)
	all, err := r.ReadAll(ctx)
	st.Requests++
	switch {
	case apiclient.IsRefused(err):
		// A company administrator may read its companies, one at a time, but no
		// containers. When not one company can be read, the credentials are refused.
		st.Grouping = false
		switch eachErr := readEach(ctx, r, inv, parallelism, st); {
		case errors.Is(eachErr, errNothingReadable) || (eachErr == nil && len(st.Companies) == 0):
			return nil, fmt.Errorf("read companies: %w", err)
		case eachErr != nil:
			return nil, eachErr
		}
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read companies: %w", err)
	}
	for _, c := range all {
		st.Companies[c.ID] = c
	}
	return st, readContainers(ctx, r, inv, parallelism, st)
}

// readEach reads the inventory's companies one at a time; a refused read means the
// company does not exist, or these credentials may not see it. When the first
// refusedEnough reads are all refused, it stops: the credentials are refused, and a
// wrong key should not cost a request per company.
func readEach(ctx context.Context, r Reader, inv *inventory.Inventory, parallelism int, st *State) error {
	const refusedEnough = 20
	var mu sync.Mutex
	refused := 0
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, want := range inv.Companies {
		g.Go(func() error {
			c, err := r.Read(ctx, want.ID)
			mu.Lock()
			defer mu.Unlock()
			st.Requests++
			switch {
			case err == nil:
				st.Companies[c.ID] = c
			case !apiclient.IsRefused(err):
				return fmt.Errorf("read company %q: %w", want.ID, err)
			default:
				refused++
				if refused >= refusedEnough && len(st.Companies) == 0 {
					return errNothingReadable
				}
			}
			return nil
		})
	}
	return g.Wait()
}

var errNothingReadable = errors.New("not one company could be read")

// readContainers reads the container of every managed company on the server, each
// container once.
//
// The bound: 1 + the containers holding a managed company, when the server is grouped
// as the inventory says. The reads go in two waves: first one company of each of the
// inventory's containers (and each company it wants alone), all at once up to
// parallelism; then, once those answers are in, only the companies that no answer has
// covered. In the common case the second wave is empty. The bound is exceeded only
// when the server groups differently from the inventory: two companies of the first
// wave that share a container on the server may be read at once, and a refused read
// is sent once more.
func readContainers(ctx context.Context, r Reader, inv *inventory.Inventory, parallelism int, st *State) error {
	var first, rest []string
	grouped := map[string]bool{}
	for _, c := range inv.Containers {
		for i, id := range c.Members {
			grouped[id] = true
			if i == 0 {
				first = append(first, id)
			} else {
				rest = append(rest, id)
			}
		}
	}
	for _, c := range inv.Companies {
		if !grouped[c.ID] {
			first = append(first, c.ID)
		}
	}
	return ReadContainers(ctx, r, st, parallelism, first, rest)
}

// ReadContainers reads into st the containers of the companies of each wave, a wave
// once the one before has ended, up to parallelism requests at once, each container
// once: a company whose container an earlier answer (or st.Containers) holds, or that
// st.Companies does not hold, is not read. The members an answer lists that st does
// not hold are added to it. A container that cannot be read goes to st.Unread; only refused
// credentials or the end of ctx end the reading with an error.
func ReadContainers(ctx context.Context, r Reader, st *State, parallelism int, waves ...[]string) error {
	cr := newContainerReader(r, st)
	for _, wave := range waves {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(parallelism, 1))
		for _, id := range wave {
			if cr.skip(id) {
				continue
			}
			g.Go(func() error {
				// g.Go starts this once a slot is free: the reads that finished while
				// it waited may have covered id.
				if cr.skip(id) {
					return nil
				}
				return cr.read(gctx, id)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// readAllContainers reads the container of every company of ids, sorted, each
// container once, with no inventory to say which companies share one. Companies that
// share a container mostly sort next to each other (acme_hq, acme_west), so ids is cut
// into parallelism runs of neighbours, each read in order by one goroutine that skips
// what its last answer covered: a container is read twice only where it spans two
// runs, at most parallelism-1 times in all (and when a refused read is sent again).
func readAllContainers(ctx context.Context, r Reader, ids []string, parallelism int, st *State) error {
	cr := newContainerReader(r, st)
	g, gctx := errgroup.WithContext(ctx)
	size := max((len(ids)+parallelism-1)/parallelism, 1)
	for start := 0; start < len(ids); start += size {
		run := ids[start:min(start+size, len(ids))]
		g.Go(func() error {
			for _, id := range run {
				if cr.skip(id) {
					continue
				}
				if err := cr.read(gctx, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// containerReader reads containers into a State: the one place where an answer of
// readContainer becomes state. The members of an answer need no read of their own.
type containerReader struct {
	r       Reader
	mu      sync.Mutex // guards st and covered
	st      *State
	covered map[string]bool // members of the containers read so far
}

// newContainerReader reads into st, whose containers count as read.
func newContainerReader(r Reader, st *State) *containerReader {
	if st.Unread == nil {
		st.Unread = map[string]error{}
	}
	cr := &containerReader{r: r, st: st, covered: map[string]bool{}}
	for _, members := range st.Containers {
		for _, id := range members {
			cr.covered[id] = true
		}
	}
	return cr
}

// skip tells a company to be created (no container yet), or one whose container was
// read with another's.
func (cr *containerReader) skip(id string) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	_, onServer := cr.st.Companies[id]
	return !onServer || cr.covered[id]
}

// read reads the container of id. A refusal is sent once more after a short wait,
// since id was just seen in the read of all companies; a container that cannot be
// read goes to State.Unread, and only an interruption or refused credentials end
// the reading.
func (cr *containerReader) read(ctx context.Context, id string) error {
	box, err := cr.r.ReadContainer(ctx, id)
	if apiclient.IsRefused(err) { // it was just read: a refusal may be passing
		cr.mu.Lock()
		cr.st.Requests++
		cr.mu.Unlock()
		if err := apiclient.Wait(ctx, refusedRetryWait(cr.r)); err != nil {
			return err
		}
		box, err = cr.r.ReadContainer(ctx, id)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	st := cr.st
	st.Requests++
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("read the container of %q: %w", id, context.Cause(ctx))
	case apiclient.IsFatal(err):
		return fmt.Errorf("read the container of %q: %w", id, err)
	case err != nil:
		st.Unread[id] = err // this company's changes are not planned; the others are
		return nil
	}
	members := box.MemberIDs()
	if !slices.Contains(members, id) {
		st.Unread[id] = fmt.Errorf("read the container of %q: the answer (container %q) does not hold it", id, box.Name)
		return nil
	}
	st.Containers[box.Name] = members
	for _, m := range box.Members {
		cr.covered[m.ID] = true
		if _, ok := st.Companies[m.ID]; !ok {
			st.Companies[m.ID] = m // created since the read of all companies
		}
	}
	return nil
}
