package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

func noEnv(string) string { return "" }

func TestServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--addr", "127.0.0.1:0", "--api-key", "demo-key", "--mode", "merge"}, outW, &stderr, noEnv)
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	require.NotEmpty(t, url, "the ready line names the URL: %q", line)
	require.Contains(t, line, "mode merge")

	client, err := apiclient.New(url, apiclient.WithAPIKey("demo-key"))
	require.NoError(t, err)
	_, err = client.Create(ctx, "acme", "Acme", "")
	require.NoError(t, err)
	all, err := client.ReadAll(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)

	wrong, err := apiclient.New(url, apiclient.WithAPIKey("other"))
	require.NoError(t, err)
	_, err = wrong.ReadAll(ctx)
	require.True(t, apiclient.IsRefused(err), "a key the simulator was not given is refused: %v", err)

	cancel()
	require.Equal(t, 0, <-code)
	logs := stderr.String()
	require.Equal(t, 3, strings.Count(logs, "msg=request"), "one log line per request:\n%s", logs)
	require.Contains(t, logs, "verb=create company=acme outcome=success")
	require.NotContains(t, logs, "demo-key", "keys never reach the log")
	require.Contains(t, logs, "msg=stopped requests=3\n", "the last line counts the requests")
	require.NotContains(t, logs, "wait=", "without --workers, nothing waits for one")
}

// With --workers, every request line has its wait, and the last line tells how
// many requests waited and the mean wait.
func TestWorkersLogTheirWait(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--addr", "127.0.0.1:0", "--api-key", "k", "--workers", "1", "--service-time", "20ms"}, outW, &stderr, noEnv)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	client, err := apiclient.New(regexp.MustCompile(`http://[0-9.:]+`).FindString(line), apiclient.WithAPIKey("k"))
	require.NoError(t, err)
	_, err = client.Create(ctx, "acme", "Acme", "")
	require.NoError(t, err)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = client.Read(ctx, "acme") })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	cancel()
	require.Equal(t, 0, <-code)
	logs := stderr.String()
	require.Len(t, regexp.MustCompile(`msg=request .* wait=\S+\n`).FindAllString(logs, -1), 4, "every request line has its wait:\n%s", logs)
	stopped := regexp.MustCompile(`msg=stopped requests=4 waited=([0-2]) mean_wait=\S+ max_wait=\S+ max_queued=[0-2]\n`).FindStringSubmatch(logs)
	require.NotNil(t, stopped, "the last line counts the requests and their waits:\n%s", logs)
}

func TestRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no credentials", []string{"--addr", "127.0.0.1:0"}, "no credentials"},
		{"bad mode", []string{"--api-key", "k", "--mode", "swap"}, "--mode must be move or merge"},
		{"bad rate", []string{"--api-key", "k", "--fault-rate", "1.5"}, "--fault-rate must be between 0 and 1"},
		{"bad fault", []string{"--api-key", "k", "--faults", "503,teapot"}, `unknown fault "teapot"`},
		{"user without password", []string{"--user", "ops"}, "PBX_PASSWORD"},
		{"extra argument", []string{"--api-key", "k", "serve"}, `unexpected argument "serve"`},
		{"unknown flag", []string{"--api-key", "k", "--port", "80"}, "unknown flag: --port"},
		{"company admin without a key", []string{"--api-key", "k", "--company-admin", "acme"}, "PBX_COMPANY_ADMIN_KEY"},
		{"no workers", []string{"--api-key", "k", "--workers", "0", "--service-time", "20ms"}, "--workers must be at least 1, not 0"},
		{"negative workers", []string{"--api-key", "k", "--workers", "-2", "--service-time", "20ms"}, "--workers must be at least 1, not -2"},
		{"workers without a service time", []string{"--api-key", "k", "--workers", "2"}, "--workers needs --service-time greater than 0"},
		{"a service time of zero", []string{"--api-key", "k", "--workers", "2", "--service-time", "0s"}, "--workers needs --service-time greater than 0"},
		{"a negative service time", []string{"--api-key", "k", "--workers", "2", "--service-time", "-5ms"}, "--workers needs --service-time greater than 0"},
		{"a service time without workers", []string{"--api-key", "k", "--service-time", "20ms"}, "--service-time needs --workers"},
		{"workers not a number", []string{"--api-key", "k", "--workers", "many"}, "invalid argument \"many\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr, noEnv)
			require.Equal(t, 1, code)
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "nothing is served, nothing printed on stdout")
		})
	}
}

func TestStateFileSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\ncompanies:\n  acme:\n    name: Acme\n    settings:\n      q_ringtime: \"15\"\n"), 0o600))

	serve := func(work func(url string)) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		outR, outW := io.Pipe()
		code := make(chan int, 1)
		go func() {
			code <- run(ctx, []string{"--addr", "127.0.0.1:0", "--api-key", "k", "--state", path}, outW, io.Discard, noEnv)
			outW.Close()
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		require.NoError(t, err)
		work(regexp.MustCompile(`http://[0-9.:]+`).FindString(line))
		cancel()
		require.Equal(t, 0, <-code)
	}

	serve(func(url string) {
		client, err := apiclient.New(url, apiclient.WithAPIKey("k"))
		require.NoError(t, err)
		acme, err := client.Read(t.Context(), "acme")
		require.NoError(t, err, "the company from the state file is served")
		require.Equal(t, `"15"`, acme.Settings.Get("q_ringtime").JSON())
		_, err = client.Create(t.Context(), "beta", "Beta", "")
		require.NoError(t, err)
		_, err = client.Group(t.Context(), "beta", "acme")
		require.NoError(t, err)
	})
	serve(func(url string) {
		client, err := apiclient.New(url, apiclient.WithAPIKey("k"))
		require.NoError(t, err)
		box, err := client.ReadContainer(t.Context(), "beta")
		require.NoError(t, err, "the company created before the restart is still there")
		require.Equal(t, []string{"acme", "beta"}, box.MemberIDs())
	})
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the state holds secrets")
}

// pbxsim speaks like pbxsync: --version, and --help with --long flags.
func TestVersionAndHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	require.Equal(t, 0, run(t.Context(), []string{"--version"}, &stdout, &stderr, noEnv))
	require.Regexp(t, `^pbxsim \S+ \(go\S+ \S+/\S+\)\n$`, stdout.String())
	stdout.Reset()
	require.Equal(t, 0, run(t.Context(), []string{"--help"}, &stdout, &stderr, noEnv))
	require.Contains(t, stderr.String(), "      --addr string ")
	require.Contains(t, stderr.String(), "      --version ")
}

// --company-admin accepts $PBX_COMPANY_ADMIN_KEY for the companies named: it reads
// them, reads no other, and its feature switches are ignored.
func TestCompanyAdminKey(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outR, outW := io.Pipe()
	env := func(k string) string {
		return map[string]string{"PBX_COMPANY_ADMIN_KEY": "tenant-key"}[k]
	}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--addr", "127.0.0.1:0", "--api-key", "admin-key", "--company-admin", "acme,beta"}, outW, io.Discard, env)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	admin, err := apiclient.New(url, apiclient.WithAPIKey("admin-key"))
	require.NoError(t, err)
	for _, id := range []string{"acme", "beta", "gamma"} {
		_, err = admin.Create(ctx, id, strings.ToUpper(id), "")
		require.NoError(t, err)
	}
	tenant, err := apiclient.New(url, apiclient.WithAPIKey("tenant-key"))
	require.NoError(t, err)
	_, err = tenant.ReadAll(ctx)
	require.True(t, apiclient.IsRefused(err), "a company administrator may not read every company: %v", err)
	_, err = tenant.Read(ctx, "beta")
	require.NoError(t, err)
	_, err = tenant.Read(ctx, "gamma")
	require.True(t, apiclient.IsRefused(err), "nor a company it does not administer: %v", err)
	got, err := tenant.Update(ctx, "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": apiclient.Bool(true)})})
	require.NoError(t, err)
	require.False(t, apiclient.Equal("nocallrec", got.Settings.Get("nocallrec"), apiclient.Bool(true)), "feature switches are ignored")
	cancel()
	require.Equal(t, 0, <-code)
}
