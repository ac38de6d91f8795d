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

Example:
  PBX_API_KEY=demo pbxsim --addr 127.0.0.1:8080 --latency 50ms --fault-rate 0.05

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("pbxsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	apiKey := fs.String("api-key", "", "System-Admin API key (default $PBX_API_KEY)")
	user := fs.String("user", "", "also accept a login of this System-Admin user, password from $PBX_PASSWORD")
	mode := fs.String("mode", "move", "what group does: move (the mover alone) or merge (its whole container)")
	version := fs.String("server-version", "6.5", "the API version to simulate; older ones lack newer fields")
	latency := fs.Duration("latency", 0, "delay added to every request")
	jitter := fs.Duration("jitter", 0, "a further random delay, up to this")
	faultRate := fs.Float64("fault-rate", 0, "share of requests (0 to 1) that get a fault")
	faultKinds := fs.String("faults", "", "comma-separated kinds of fault to inject (default all): "+kindList())
	seed := fs.Uint64("seed", 1, "seed of the fault and jitter draws, so that a run repeats")
	retryAfter := fs.Duration("retry-after", time.Second, "Retry-After sent with 429 and 503")
	maxInFlight := fs.Int("max-in-flight", 0, "answer 429 above this many requests at once (0: no limit)")
	companyAdmin := fs.StringSlice("company-admin", nil, "also accept $PBX_COMPANY_ADMIN_KEY as a company administrator's key for these comma-separated company `IDS`")
	statePath := fs.String("state", "", "keep the state in this inventory-format `FILE`: read at start, written after changes")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pbxsim: %v (see --help)\n", err)
		return 1
	}
	if *showVersion {
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

	opts := []pbxtest.Option{pbxtest.WithVersion(*version),
		pbxtest.WithLogger(slog.New(slog.NewTextHandler(stderr, nil)))}
	key := *apiKey
	if key == "" {
		key = getenv("PBX_API_KEY")
	}
	if key == "" && *user == "" {
		return fail("no credentials to accept: pass --api-key KEY or set PBX_API_KEY (and/or --user USER with PBX_PASSWORD)")
	}
	if key != "" {
		opts = append(opts, pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()))
	}
	if *user != "" {
		password := getenv("PBX_PASSWORD")
		if password == "" {
			return fail("--user needs the password in PBX_PASSWORD")
		}
		opts = append(opts, pbxtest.WithUser(*user, password, pbxtest.SystemAdmin()))
	}
	if len(*companyAdmin) > 0 {
		tenantKey := getenv("PBX_COMPANY_ADMIN_KEY")
		if tenantKey == "" || tenantKey == key {
			return fail("--company-admin needs the company administrator's key in PBX_COMPANY_ADMIN_KEY, other than the System-Admin's")
		}
		opts = append(opts, pbxtest.WithAPIKey(tenantKey, pbxtest.CompanyAdmin(*companyAdmin...)))
	}
	switch m := pbxtest.Mode(*mode); m {
	case pbxtest.ModeMove, pbxtest.ModeMerge:
		opts = append(opts, pbxtest.WithMode(m))
	default:
		return fail("--mode must be move or merge, not %q", *mode)
	}
	if *faultRate < 0 || *faultRate > 1 {
		return fail("--fault-rate must be between 0 and 1")
	}
	var kinds []pbxtest.Fault
	if *faultKinds != "" {
		for _, k := range strings.Split(*faultKinds, ",") {
			k := pbxtest.Fault(strings.TrimSpace(k))
			if !slices.Contains(pbxtest.AllFaults(), k) {
				return fail("unknown fault %q: want some of %s", k, kindList())
			}
			kinds = append(kinds, k)
		}
	}
	opts = append(opts, pbxtest.WithFaults(pbxtest.Faults{
		Seed: *seed, Latency: *latency, Jitter: *jitter, Rates: pbxtest.SpreadRate(*faultRate, kinds...),
		RetryAfter: *retryAfter, MaxInFlight: *maxInFlight,
	}))

	if *statePath != "" {
		st, err := pbxtest.ReadStateFile(*statePath)
		if err != nil {
			return fail("%v", err)
		}
		opts = append(opts, pbxtest.WithState(st))
	}
	sim := pbxtest.New(opts...)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail("%v", err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "pbxsim: serving the PBX company API at http://%s (mode %s); Ctrl-C stops it\n", ln.Addr(), *mode)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	saved := 0 // writes as of the last save
	save := func() error {
		if n := sim.Stats().TotalWrites(); *statePath != "" && n != saved {
			saved = n
			return pbxtest.WriteStateFile(*statePath, sim.Snapshot())
		}
		return nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case err := <-served:
			return fail("%v", err)
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
		return fail("shutdown: %v", err)
	}
	<-served
	if err := save(); err != nil {
		return fail("save the state: %v", err)
	}
	return 0
}

func kindList() string {
	var names []string
	for _, k := range pbxtest.AllFaults() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
