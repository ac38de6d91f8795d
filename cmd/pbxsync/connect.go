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
// in-process, with its state in PATH. Extra options (a pacer) go to the client too.
func connect(ctx context.Context, opts globalOptions, lookupEnv func(string) (string, bool), logger *slog.Logger, extra ...apiclient.Option) (*server, error) {
	getenv := func(name string) string { v, _ := lookupEnv(name); return v }
	url, from := opts.url, "--url"
	if url == "" {
		url, from = getenv("PBX_URL"), "PBX_URL"
	}
	if url == "" {
		return nil, errors.New("no server: set --url or PBX_URL (or use sim:FILE for the embedded simulator)")
	}
	var clientOpts []apiclient.Option
	if logger != nil {
		clientOpts = append(clientOpts, apiclient.WithLogger(logger))
	}
	clientOpts = append(clientOpts, extra...)
	if path, ok := strings.CutPrefix(url, "sim:"); ok {
		return startSim(ctx, path, clientOpts)
	}
	auth, err := credentials(getenv)
	if err != nil {
		return nil, err
	}
	clientOpts = append(clientOpts, auth)
	if opts.caCert != "" {
		pool, err := loadCA(opts.caCert)
		if err != nil {
			return nil, err
		}
		clientOpts = append(clientOpts, apiclient.WithRootCAs(pool))
	}
	c, err := apiclient.New(url, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return &server{Client: c, url: url}, nil
}

// startSim serves the simulator on a loopback port, seeded from the state file,
// which is created empty when missing.
func startSim(ctx context.Context, path string, clientOpts []apiclient.Option) (*server, error) {
	if path == "" {
		return nil, errors.New("sim: needs a state file: sim:FILE")
	}
	st, err := pbxtest.ReadStateFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulator state: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := pbxtest.WriteStateFile(path, st); err != nil {
			return nil, fmt.Errorf("simulator state: %w", err)
		}
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

// credentials picks the one way to authenticate that the environment gives. Its
// errors name the variables, never their values.
func credentials(getenv func(string) string) (apiclient.Option, error) {
	key, user, password := getenv("PBX_API_KEY"), getenv("PBX_USERNAME"), getenv("PBX_PASSWORD")
	switch {
	case key != "" && (user != "" || password != ""):
		return nil, errors.New("two kinds of credentials: set PBX_API_KEY, or PBX_USERNAME and PBX_PASSWORD, not both")
	case key != "":
		return apiclient.WithAPIKey(key), nil
	case user != "" && password == "":
		return nil, errors.New("PBX_USERNAME is set without PBX_PASSWORD")
	case user == "" && password != "":
		return nil, errors.New("PBX_PASSWORD is set without PBX_USERNAME")
	case user != "":
		return apiclient.WithLogin(user, password), nil
	}
	return nil, errors.New("no credentials: set PBX_API_KEY, or PBX_USERNAME and PBX_PASSWORD")
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
