package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/pbxsync/pbxsync/apiclient"
)

// connect makes the client for the server that the flags and the environment name.
// Credentials come from the environment only.
func connect(ctx context.Context, opts globalOptions, getenv func(string) string, logger *slog.Logger) (*apiclient.Client, error) {
	server, from := opts.url, "--url"
	if server == "" {
		server, from = getenv("PBX_URL"), "PBX_URL"
	}
	if server == "" {
		return nil, errors.New("no server: set --url or PBX_URL")
	}
	auth, err := credentials(getenv)
	if err != nil {
		return nil, err
	}
	clientOpts := []apiclient.Option{auth}
	if logger != nil {
		clientOpts = append(clientOpts, apiclient.WithLogger(logger))
	}
	if opts.caCert != "" {
		pool, err := loadCA(opts.caCert)
		if err != nil {
			return nil, err
		}
		clientOpts = append(clientOpts, apiclient.WithRootCAs(pool))
	}
	c, err := apiclient.New(server, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return c, nil
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
