package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
)

// server is the PBX a command works on: a client, and for sim:PATH the embedded
// simulator whose state close writes back.
type server struct {
	*apiclient.Client
	url     string // as the user named it
	sim     *pbxtest.Server
	simPath string
	stop    func()
}

// close stops an embedded simulator and writes its state back when it changed.
func (s *server) close() error {
	if s.sim == nil {
		return nil
	}
	s.stop()
	if s.sim.Stats().TotalWrites() == 0 {
		return nil
	}
	if err := pbxtest.WriteStateFile(s.simPath, s.sim.Snapshot()); err != nil {
		return fmt.Errorf("save the simulator's state: %w", err)
	}
	return nil
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
	auth, err := credentials(prefix, getenv)
	if err != nil {
		return nil, err
	}
	clientOpts = append(clientOpts, auth)
	if opts.allowHTTP {
		clientOpts = append(clientOpts, apiclient.WithAllowHTTP())
	}
	if opts.caCert != "" {
		pool, err := loadCA(opts.caCert)
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

// startSim serves the simulator on a loopback port, seeded from the state file. A
// missing file is an error for a command that only reads, so that a mistyped path
// never plans against an empty server; a command that writes starts it empty, and
// says so.
func startSim(ctx context.Context, path string, writes bool, logger *slog.Logger, clientOpts []apiclient.Option) (*server, error) {
	if path == "" {
		return nil, errors.New("sim: needs a state file: sim:FILE")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !writes {
			return nil, fmt.Errorf("sim:%s: no such state file: this command only reads, and would see an empty server (apply starts one)", path)
		}
		if err := pbxtest.WriteStateFile(path, pbxtest.State{}); err != nil {
			return nil, fmt.Errorf("simulator state: %w", err)
		}
		if logger != nil {
			logger.Info("started an empty simulator: its state file did not exist", "file", path)
		}
	}
	st, err := pbxtest.ReadStateFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulator state: %w", err)
	}
	key := rand.Text()
	sim := pbxtest.New(pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()), pbxtest.WithState(st))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	stop := func() {
		_ = hs.Close()
		<-done
	}
	c, err := apiclient.New("http://"+ln.Addr().String(), append(clientOpts, apiclient.WithAPIKey(key))...)
	if err != nil {
		stop()
		return nil, err
	}
	return &server{Client: c, url: "sim:" + path, sim: sim, simPath: path, stop: stop}, nil
}

// credentials picks the one way to authenticate that the environment variables of
// prefix give (PBX: PBX_API_KEY, or PBX_USERNAME with PBX_PASSWORD). Its errors
// name the variables, never their values.
func credentials(prefix string, getenv func(string) string) (apiclient.Option, error) {
	keyVar, userVar, passwordVar := prefix+"_API_KEY", prefix+"_USERNAME", prefix+"_PASSWORD"
	key, user, password := getenv(keyVar), getenv(userVar), getenv(passwordVar)
	switch {
	case key != "" && (user != "" || password != ""):
		return nil, fmt.Errorf("two kinds of credentials: set %s, or %s and %s, not both", keyVar, userVar, passwordVar)
	case key != "":
		return apiclient.WithAPIKey(key), nil
	case user != "" && password == "":
		return nil, fmt.Errorf("%s is set without %s", userVar, passwordVar)
	case user == "" && password != "":
		return nil, fmt.Errorf("%s is set without %s", passwordVar, userVar)
	case user != "":
		return apiclient.WithLogin(user, password), nil
	}
	return nil, fmt.Errorf("no credentials: set %s, or %s and %s", keyVar, userVar, passwordVar)
}

func loadCA(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in the file", file)
	}
	return pool, nil
}
