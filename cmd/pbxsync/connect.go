package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

// server is the PBX a command works on: a client, and for sim:PATH the embedded
// simulator whose state close writes back.
type server struct {
	*apiclient.Client
	url string // as the user named it
	sim *pbxtest.Running
}

// close stops an embedded simulator and writes its state back when it changed.
func (s *server) close() error {
	if s.sim == nil {
		return nil
	}
	return s.sim.Close()
}

// connect makes the client for the server that the flags and the environment name.
// Credentials come from the environment only. A sim:PATH URL starts the simulator
// in-process, with its state in PATH, which must exist unless writes (a command that
// writes, such as apply, starts an empty one). Extra options (a pacer) go to the
// client too.
func connect(ctx context.Context, opts globalOptions, writes bool, lookupEnv func(string) (string, bool), logger *slog.Logger, extra ...apiclient.Option) (*server, error) {
	url, from := serverURL(opts, lookupEnv)
	if url == "" {
		return nil, errors.New("no server: set --url or PBX_URL (or use sim:FILE for the embedded simulator)")
	}
	return dial(ctx, url, from, "PBX", opts, writes, lookupEnv, logger, extra...)
}

// serverURL is the server the flags and the environment name: --url, else PBX_URL;
// from says which ("" for neither).
func serverURL(opts globalOptions, lookupEnv func(string) (string, bool)) (url, from string) {
	if opts.url != "" {
		return opts.url, "--url"
	}
	if url, _ = lookupEnv("PBX_URL"); url != "" {
		return url, "PBX_URL"
	}
	return "", ""
}

// connectSide makes the client for one side of a migration or a comparison: the
// server named by flag (--from or --to), with credentials from the environment
// variables of prefix (PBX_FROM: PBX_FROM_API_KEY, or PBX_FROM_USERNAME with
// PBX_FROM_PASSWORD). --ca-cert serves both sides: one PEM file may hold several CAs.
func connectSide(ctx context.Context, url, flag, prefix string, opts globalOptions, writes bool, lookupEnv func(string) (string, bool), logger *slog.Logger, extra ...apiclient.Option) (*server, error) {
	if url == "" {
		return nil, fmt.Errorf("no server: set %s URL (or sim:FILE for the embedded simulator)", flag)
	}
	srv, err := dial(ctx, url, "", prefix, opts, writes, lookupEnv, logger, extra...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return srv, nil
}

// dial connects to url with the credentials of the environment variables of prefix,
// and the CA and http:// policy of opts (--ca-cert, --allow-http). An invalid URL is
// reported as the value of from (a flag, PBX_URL), unless from is "".
func dial(ctx context.Context, url, from, prefix string, opts globalOptions, writes bool, lookupEnv func(string) (string, bool), logger *slog.Logger, extra ...apiclient.Option) (*server, error) {
	getenv := func(name string) string { v, _ := lookupEnv(name); return v }
	clientOpts := append([]apiclient.Option(nil), opts.clientOptions...)
	if opts.parallelism > 0 || opts.maxParallelism > 0 { // a command that talks to servers: each its own limit
		clientOpts = append(clientOpts, apiclient.WithLimiter(apiclient.NewLimiter(opts.parallelism, opts.maxParallelism)))
	}
	if logger != nil {
		clientOpts = append(clientOpts, apiclient.WithLogger(logger))
	}
	clientOpts = append(clientOpts, extra...)
	if opts.recorder != nil {
		clientOpts = append(clientOpts, apiclient.WithTrace(opts.recorder))
	}
	if path, ok := strings.CutPrefix(url, "sim:"); ok {
		return startSim(ctx, path, writes, logger, clientOpts)
	}
	auth, err := apiclient.CredentialsFrom(prefix, getenv)
	if err != nil {
		return nil, err
	}
	clientOpts = append(clientOpts, auth)
	if opts.allowHTTP {
		clientOpts = append(clientOpts, apiclient.WithAllowHTTP())
	}
	if opts.caCert != "" {
		pool, err := apiclient.LoadCA(opts.caCert)
		if err != nil {
			return nil, err
		}
		clientOpts = append(clientOpts, apiclient.WithRootCAs(pool))
	}
	c, err := apiclient.New(url, clientOpts...)
	if err != nil && from != "" {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	if err != nil {
		return nil, err
	}
	return &server{Client: c, url: url}, nil
}

// startSim serves the simulator of the state file path on a loopback port
// (pbxtest.ServeFile), and makes its client.
func startSim(ctx context.Context, path string, writes bool, logger *slog.Logger, clientOpts []apiclient.Option) (*server, error) {
	sim, err := pbxtest.ServeFile(ctx, path, writes)
	if err != nil {
		return nil, err
	}
	if sim.Created && logger != nil {
		logger.Info("started an empty simulator: its state file did not exist", "file", path)
	}
	c, err := apiclient.New(sim.URL, append(clientOpts, apiclient.WithAPIKey(sim.Key))...)
	if err != nil {
		_ = sim.Close()
		return nil, err
	}
	return &server{Client: c, url: "sim:" + path, sim: sim}, nil
}
