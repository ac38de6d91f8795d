// Command pbxsim serves the simulated PBX company API (apiclient/pbxtest) over HTTP,
// for demos, rehearsals and load tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	flag "github.com/spf13/pflag" // the flag package's API, with --long flags and GNU-style help

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `pbxsim serves a simulated PBX company API (version 6.5) over HTTP, as strict as
the real one, for demos, rehearsals and load tests.

Usage:
  pbxsim [flags]

State: pbxsim starts empty, or from --state FILE (the inventory format, as
pbxsync export writes it), and writes its state back to that file after changes.

Credentials: --api-key (or $PBX_API_KEY) is a System-Admin key; --user USER also
accepts a login of USER with the password in $PBX_PASSWORD. --company-admin IDS
also accepts the key in $PBX_COMPANY_ADMIN_KEY as a company administrator's of
those companies (read and update only; feature switches silently ignored), to
rehearse what pbxsync does with a tenant's key.

Capacity: --workers N --service-time D serve the API as a PBX does, with N
workers: at most N requests are served at once, each holding a worker for D, and
the others queue for one. --latency, the network's share, is spent before a
request joins the queue, and a request answered by a fault takes no worker
(--fault-rate). Each request's log line has its wait, and on exit one
line tells how many requests waited and the mean wait (over every request that
asked for a worker).

Examples:
  PBX_API_KEY=demo pbxsim --addr 127.0.0.1:8080 --latency 50ms --fault-rate 0.05
  PBX_API_KEY=demo pbxsim --workers 4 --service-time 20ms --latency 10ms

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs, o := newFlagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pbxsim: %v (see --help)\n", err)
		return 1
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "pbxsim %s (%s %s/%s)\n", apiclient.BuildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pbxsim: "+format+"\n", a...)
		return 1
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q (see --help)", fs.Arg(0))
	}
	o.workersSet, o.serviceTimeSet = fs.Changed("workers"), fs.Changed("service-time")
	log := slog.New(slog.NewTextHandler(stderr, nil))
	simOpts, err := o.simOptions(getenv, log)
	if err != nil {
		return fail("%v", err)
	}
	sim := pbxtest.New(simOpts...)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "pbxsim: serving the PBX company API at http://%s (mode %s); Ctrl-C stops it\n", ln.Addr(), o.mode)
	err = serve(ctx, ln, sim, o.statePath, stderr)
	logStopped(ctx, log, sim.Stats(), o.workers > 0)
	if err != nil {
		return fail("%v", err)
	}
	return 0
}

// logStopped logs the line pbxsim ends with: the requests it saw and, with
// workers, how many waited for one and the mean wait.
func logStopped(ctx context.Context, log *slog.Logger, st pbxtest.Stats, workers bool) {
	attrs := []slog.Attr{slog.Int("requests", st.TotalRequests())}
	if workers {
		attrs = append(attrs, slog.Int("waited", st.Pool.Waited), slog.Duration("mean_wait", st.Pool.MeanWait()),
			slog.Duration("max_wait", st.Pool.MaxWait), slog.Int("max_queued", st.Pool.MaxQueued))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "stopped", attrs...)
}

// options are pbxsim's flags.
type options struct {
	addr, apiKey, user, mode, version string
	latency, jitter, retryAfter       time.Duration
	faultRate                         float64
	faultKinds                        string
	seed                              uint64
	maxInFlight                       int
	workers                           int
	serviceTime                       time.Duration
	workersSet, serviceTimeSet        bool // given on the command line
	companyAdmin                      []string
	statePath                         string
	showVersion                       bool
}

// newFlagSet returns pbxsim's flags, set into the options it returns as they parse.
func newFlagSet(stderr io.Writer) (*flag.FlagSet, *options) {
	o := &options{}
	fs := flag.NewFlagSet("pbxsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&o.apiKey, "api-key", "", "System-Admin API key (default $PBX_API_KEY)")
	fs.StringVar(&o.user, "user", "", "also accept a login of this System-Admin user, password from $PBX_PASSWORD")
	fs.StringVar(&o.mode, "mode", "move", "what group does: move (the mover alone) or merge (its whole container)")
	fs.StringVar(&o.version, "server-version", "6.5", "the API version to simulate; older ones lack newer fields")
	fs.DurationVar(&o.latency, "latency", 0, "delay added to every request")
	fs.DurationVar(&o.jitter, "jitter", 0, "a further random delay, up to this")
	fs.Float64Var(&o.faultRate, "fault-rate", 0, "share of requests (0 to 1) that get a fault")
	fs.StringVar(&o.faultKinds, "faults", "", "comma-separated kinds of fault to inject (default all): "+kindList())
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the fault and jitter draws, so that a run repeats")
	fs.DurationVar(&o.retryAfter, "retry-after", time.Second, "Retry-After sent with 429 and 503")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 0, "answer 429 above this many requests at once (0: no limit)")
	fs.IntVar(&o.workers, "workers", 0, "serve at most `N` requests at once and queue the others, as a PBX's few API workers do (default: no queue)")
	fs.DurationVar(&o.serviceTime, "service-time", 0, "how long each request holds a worker (with --workers)")
	fs.StringSliceVar(&o.companyAdmin, "company-admin", nil, "also accept $PBX_COMPANY_ADMIN_KEY as a company administrator's key for these comma-separated company `IDS`")
	fs.StringVar(&o.statePath, "state", "", "keep the state in this inventory-format `FILE`: read at start, written after changes")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	return fs, o
}

// simOptions checks the options and turns them into the simulator's, logging to log.
func (o *options) simOptions(getenv func(string) string, log *slog.Logger) ([]pbxtest.Option, error) {
	opts := []pbxtest.Option{pbxtest.WithVersion(o.version), pbxtest.WithLogger(log)}
	creds, err := o.credentials(getenv)
	if err != nil {
		return nil, err
	}
	opts = append(opts, creds...)
	switch m := pbxtest.Mode(o.mode); m {
	case pbxtest.ModeMove, pbxtest.ModeMerge:
		opts = append(opts, pbxtest.WithMode(m))
	default:
		return nil, fmt.Errorf("--mode must be move or merge, not %q", o.mode)
	}
	faults, err := o.faults()
	if err != nil {
		return nil, err
	}
	opts = append(opts, pbxtest.WithFaults(faults))
	if err := o.checkWorkers(); err != nil {
		return nil, err
	}
	if o.workersSet {
		opts = append(opts, pbxtest.WithWorkers(o.workers, o.serviceTime))
	}
	if o.statePath != "" {
		st, err := pbxtest.ReadStateFile(o.statePath)
		if err != nil {
			return nil, err
		}
		opts = append(opts, pbxtest.WithState(st))
	}
	return opts, nil
}

// credentials returns the keys and the login the simulator accepts: the flags', with
// the keys and the password from the environment.
func (o *options) credentials(getenv func(string) string) ([]pbxtest.Option, error) {
	var opts []pbxtest.Option
	key := o.apiKey
	if key == "" {
		key = getenv("PBX_API_KEY")
	}
	if key == "" && o.user == "" {
		return nil, errors.New("no credentials to accept: pass --api-key KEY or set PBX_API_KEY (and/or --user USER with PBX_PASSWORD)")
	}
	if key != "" {
		opts = append(opts, pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()))
	}
	if o.user != "" {
		password := getenv("PBX_PASSWORD")
		if password == "" {
			return nil, errors.New("--user needs the password in PBX_PASSWORD")
		}
		opts = append(opts, pbxtest.WithUser(o.user, password, pbxtest.SystemAdmin()))
	}
	if len(o.companyAdmin) > 0 {
		tenantKey := getenv("PBX_COMPANY_ADMIN_KEY")
		if tenantKey == "" || tenantKey == key {
			return nil, errors.New("--company-admin needs the company administrator's key in PBX_COMPANY_ADMIN_KEY, other than the System-Admin's")
		}
		opts = append(opts, pbxtest.WithAPIKey(tenantKey, pbxtest.CompanyAdmin(o.companyAdmin...)))
	}
	return opts, nil
}

// faults returns the faults, latency and limits the flags ask for.
func (o *options) faults() (pbxtest.Faults, error) {
	if o.faultRate < 0 || o.faultRate > 1 {
		return pbxtest.Faults{}, errors.New("--fault-rate must be between 0 and 1")
	}
	var kinds []pbxtest.Fault
	if o.faultKinds != "" {
		for _, k := range strings.Split(o.faultKinds, ",") {
			k := pbxtest.Fault(strings.TrimSpace(k))
			if !slices.Contains(pbxtest.AllFaults(), k) {
				return pbxtest.Faults{}, fmt.Errorf("unknown fault %q: want some of %s", k, kindList())
			}
			kinds = append(kinds, k)
		}
	}
	return pbxtest.Faults{
		Seed: o.seed, Latency: o.latency, Jitter: o.jitter, Rates: pbxtest.SpreadRate(o.faultRate, kinds...),
		RetryAfter: o.retryAfter, MaxInFlight: o.maxInFlight,
	}, nil
}

// checkWorkers checks that --workers and --service-time come together and make sense.
func (o *options) checkWorkers() error {
	switch {
	case o.workersSet && o.workers < 1:
		return fmt.Errorf("--workers must be at least 1, not %d (leave it out for no queue)", o.workers)
	case o.workersSet && o.serviceTime <= 0:
		return errors.New("--workers needs --service-time greater than 0: how long each request holds a worker")
	case o.serviceTimeSet && !o.workersSet:
		return errors.New("--service-time needs --workers: how many requests are served at once")
	}
	return nil
}

// serve serves sim on ln until ctx ends, then shuts the server down. With a statePath,
// it saves the state there each second after changes, and once more at the end.
func serve(ctx context.Context, ln net.Listener, sim *pbxtest.Server, statePath string, stderr io.Writer) error {
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	saved := 0 // writes as of the last save
	save := func() error {
		if n := sim.Stats().TotalWrites(); statePath != "" && n != saved {
			saved = n
			return pbxtest.WriteStateFile(statePath, sim.Snapshot())
		}
		return nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case err := <-served:
			return err
		case <-tick.C:
			if err := save(); err != nil {
				fmt.Fprintf(stderr, "pbxsim: save the state: %v\n", err)
			}
		case <-ctx.Done():
			break loop
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	if err := save(); err != nil {
		return fmt.Errorf("save the state: %w", err)
	}
	return nil
}

func kindList() string {
	var names []string
	for _, k := range pbxtest.AllFaults() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
