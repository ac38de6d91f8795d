package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// localhostIs127 resolves localhost to 127.0.0.1 and every other name to nothing,
// so that no test asks a real resolver.
func localhostIs127(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "localhost" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// runResolving runs pbxsync as run does, with host names looked up by lookup.
func runResolving(t *testing.T, lookup func(context.Context, string, string) ([]netip.Addr, error), vars map[string]string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), input: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: env(vars), logOut: &logLines{w: &stderr},
		resolver: apiclient.Resolver{Lookup: lookup}}
	a.opts.clientOptions = []apiclient.Option{fastRetries}
	code := a.execute(t.Context(), a.newRootCmd(), args)
	return outcome{code, stdout.String(), stderr.String()}
}

// oneServerTwice serves one simulator, holding acme and beta, at two loopback ports:
// one server under two URLs that neither their spelling nor a resolver can link.
func oneServerTwice(t *testing.T) (srv *simtest.Server, other string) {
	t.Helper()
	srv = simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("acme", "Acme"), co("beta", "Beta")}}))
	hs := httptest.NewServer(srv.Server)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

// localhostURL is srv's URL with localhost for 127.0.0.1.
func localhostURL(srv *simtest.Server) string {
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// migrate --from 127.0.0.1:P --to localhost:P --delete-source is refused before a
// request, exit 1, naming both: the company is still on the server.
func TestMigrateOneServerResolved(t *testing.T) {
	srv, _ := oneServerTwice(t)
	vars := map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": pbxtest.AdminKey}
	for _, args := range [][]string{
		{"migrate", "--from", srv.URL, "--to", localhostURL(srv), "--delete-source", "--max-delete", "10", "--auto-approve"},
		{"migrate", "--from", localhostURL(srv), "--to", srv.URL + "/", "--delete-source", "--max-delete", "10", "--auto-approve"},
		{"diff", "--from", srv.URL, "--to", localhostURL(srv)},
	} {
		got := runResolving(t, localhostIs127, vars, args...)
		require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
		requireOneErrorLine(t, got.stderr, "--from and --to name one server (http://")
		require.Contains(t, got.stderr, " both reach "+srv.URL+")")
	}
	require.Zero(t, srv.Stats().TotalRequests())
	require.Len(t, srv.Snapshot().Companies, 2)
}

// Two URLs of one server that nothing but their companies link: migrate reads both,
// finds the same companies with the same numeric ids, and refuses before any write;
// diff, which writes nothing, compares and warns.
func TestMigrateOneServerByCompanies(t *testing.T) {
	srv, other := oneServerTwice(t)
	vars := map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": pbxtest.AdminKey}
	got := runResolving(t, localhostIs127, vars, "migrate", "--from", srv.URL, "--to", other, "--delete-source", "--max-delete", "10", "--auto-approve")
	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	requireOneErrorLine(t, got.stderr, fmt.Sprintf("the source %s and the target %s name one server (both hold the same 2 companies with the same numeric ids)", srv.URL, other))
	require.Zero(t, srv.Stats().TotalWrites())
	require.Len(t, srv.Snapshot().Companies, 2)

	got = runResolving(t, localhostIs127, vars, "diff", "--from", srv.URL, "--to", other)
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Contains(t, got.stderr, `level=WARN msg="--from and --to may be one server under two names: then the comparison can find no difference" why="both hold the same 2 companies with the same numeric ids"`)
}

// Two servers that hold the same company ids, but not with the same numeric ids, are
// two: the migration goes on.
func TestMigrateSameIDsTwoServers(t *testing.T) {
	src := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("acme", "Acme"), co("beta", "Beta")}}))
	dst := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{co("beta", "Beta"), co("acme", "Acme")}}))
	vars := map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": pbxtest.AdminKey}
	got := runResolving(t, localhostIs127, vars, "migrate", "--from", src.URL, "--to", dst.URL, "--auto-approve")
	require.Equal(t, 0, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
}

// A fleet whose london and paris are 127.0.0.1:P and localhost:P is refused before a
// request by plan, apply and export, naming both; validate, which looks nothing up,
// compares the urls as written.
func TestFleetOneServerResolved(t *testing.T) {
	srv, _ := oneServerTwice(t)
	dir := t.TempDir()
	fleet := writeFile(t, dir, "fleet.yaml", "version: 1\npbxs:\n"+
		"  paris: {url: "+localhostURL(srv)+", inventory: paris.yaml}\n"+
		"  london: {url: "+srv.URL+", inventory: london.yaml}\n")
	writeFile(t, dir, "london.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n")
	writeFile(t, dir, "paris.yaml", "version: 1\ncompanies:\n  acme: {name: Acme}\n")
	vars := map[string]string{"PBX_LONDON_API_KEY": pbxtest.AdminKey, "PBX_PARIS_API_KEY": pbxtest.AdminKey}
	want := fmt.Sprintf("%s:4:17: PBXs paris (line 3) and london (line 4) are one server (%s and %s both reach %[3]s): each PBX of a fleet is a server of its own",
		fleet, localhostURL(srv), srv.URL)
	for _, args := range [][]string{
		{"plan", "--fleet", fleet},
		{"apply", "--fleet", fleet, "--auto-approve", "--max-move", "10"},
		{"export", "--fleet", fleet},
	} {
		got := runResolving(t, localhostIs127, vars, args...)
		require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
		require.Contains(t, got.stderr, want+"\n")
	}
	require.Zero(t, srv.Stats().TotalRequests())

	got := runResolving(t, localhostIs127, vars, "validate", "--fleet", fleet)
	require.Equal(t, 0, got.code, got.stderr)
}

// A fleet plan saved while localhost did not resolve is refused by apply PLANFILE
// once localhost resolves to the other PBX's address, before any request.
func TestSavedFleetPlanOneServerResolved(t *testing.T) {
	srv := simtest.NewServer(t)
	dir := t.TempDir()
	fleet := writeFile(t, dir, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+srv.URL+", inventory: london.yaml}\n"+
		"  paris: {url: "+localhostURL(srv)+", inventory: paris.yaml}\n")
	writeFile(t, dir, "london.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n")
	writeFile(t, dir, "paris.yaml", "version: 1\ncompanies:\n  acme: {name: Acme}\n")
	vars := map[string]string{"PBX_LONDON_API_KEY": pbxtest.AdminKey, "PBX_PARIS_API_KEY": pbxtest.AdminKey}
	nowhere := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	saved := filepath.Join(dir, "fleet.plan")
	got := runResolving(t, nowhere, vars, "plan", "--fleet", fleet, "--out", saved)
	require.Equal(t, 0, got.code, got.stderr)
	srv.ResetStats()

	got = runResolving(t, localhostIs127, vars, "apply", saved, "--fleet", fleet)
	require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
	require.Contains(t, got.stderr, "PBXs london (line 3) and paris (line 4) are one server")
	require.Zero(t, srv.Stats().TotalRequests())
}

// A fleet whose two PBXs are one server at two ports: each holds the company of the
// other's inventory, which without the check is planned as two half-done moves that
// delete the only copies. ReadFleet finds the same companies with the same numeric
// ids and refuses before any write.
func TestFleetOneServerByCompanies(t *testing.T) {
	srv, other := oneServerTwice(t)
	dir := t.TempDir()
	fleet := writeFile(t, dir, "fleet.yaml", "version: 1\npbxs:\n"+
		"  london: {url: "+srv.URL+", inventory: london.yaml}\n"+
		"  paris: {url: "+other+", inventory: paris.yaml}\n")
	writeFile(t, dir, "london.yaml", "version: 1\ncompanies:\n  beta: {name: Beta}\n")
	writeFile(t, dir, "paris.yaml", "version: 1\ncompanies:\n  acme: {name: Acme}\n")
	vars := map[string]string{"PBX_LONDON_API_KEY": pbxtest.AdminKey, "PBX_PARIS_API_KEY": pbxtest.AdminKey}
	for _, args := range [][]string{
		{"plan", "--fleet", fleet},
		{"apply", "--fleet", fleet, "--auto-approve", "--max-move", "10"},
		{"apply", "--fleet", fleet, "--pbx", "paris", "--auto-approve", "--max-move", "10"},
	} {
		got := runResolving(t, localhostIs127, vars, args...)
		require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
		requireOneErrorLine(t, lastLine(got.stderr), "PBX london (line 3) and PBX paris (line 4) name one server (both hold the same 2 companies with the same numeric ids)")
	}
	require.Zero(t, srv.Stats().TotalWrites())
	require.Len(t, srv.Snapshot().Companies, 2)
}

// lastLine is the last line of out.
func lastLine(out string) string {
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return ls[len(ls)-1] + "\n"
}
