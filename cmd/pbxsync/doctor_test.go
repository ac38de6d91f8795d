package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/sync"
)

// doctor checks a server read-only, and suggests the parallelism it takes, found as
// --parallelism auto finds it: here a server that answers 429 above four requests in
// flight. It writes nothing.
func TestDoctor(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()),
		pbxtest.WithFaults(pbxtest.Faults{Latency: 20 * time.Millisecond, MaxInFlight: 4}))
	got := invoke(t, "", adminEnv(srv), "doctor", "--json")
	require.Equal(t, 0, got.code, got.stderr)
	var rep struct {
		Checks               []struct{ Name, Status, Detail string }
		Role                 string
		SuggestedParallelism int `json:"suggested_parallelism"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &rep))
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+" "+c.Status)
	}
	require.Equal(t, []string{"tls ok", "server ok", "credentials ok", "api version ok", "containers ok", "latency ok", "parallelism ok"}, names)
	require.Equal(t, "system_admin", rep.Role)
	require.GreaterOrEqual(t, rep.SuggestedParallelism, 2, "more than one at once")
	require.LessOrEqual(t, rep.SuggestedParallelism, 4, "never more than the server takes")
	require.Zero(t, srv.Stats().TotalWrites())
	require.Less(t, srv.Stats().TotalRequests(), 50)

	got = invoke(t, "", map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": "wrong-key"}, "doctor")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stdout, "\nfailed   credentials  the server refused to read every company")
	require.Contains(t, got.stdout, "\nskipped  latency      the credentials check failed\n", "the checks it stopped are listed")
	require.Contains(t, got.stderr, "doctor: a check failed")
}

// doctorCheckNames runs doctor --json with args on srv and returns its exit code, the
// report, and each check as "name status".
func doctorCheckNames(t *testing.T, srv *simtest.Server, args ...string) (outcome, sync.DoctorReport, []string) {
	t.Helper()
	got := invoke(t, "", adminEnv(srv), append([]string{"doctor", "--json"}, args...)...)
	var rep sync.DoctorReport
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &rep), got.stderr)
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+" "+c.Status)
	}
	return got, rep, names
}

// On a server that holds no company, doctor lists every check it lists on one that
// holds some (cli.md v0.3): --write-test needs no company, and the reads that need
// one are checked on its scratch companies; without it, those are skipped with the
// reason, and the others run on the list of companies.
func TestDoctorEmptyServer(t *testing.T) {
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		t.Run(string(mode), func(t *testing.T) {
			populated := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithMode(mode))
			empty := simtest.NewServer(t, pbxtest.WithMode(mode))
			_, _, want := doctorCheckNames(t, populated, "--write-test")
			got, rep, names := doctorCheckNames(t, empty, "--write-test")
			require.Equal(t, 0, got.code, got.stderr)
			require.Equal(t, want, names)
			require.Equal(t, []string{"tls ok", "server ok", "credentials ok", "api version ok", "containers ok", "latency ok", "parallelism ok",
				"group mode ok", "update ok", "features ok", "cleanup ok"}, names)
			require.Equal(t, string(mode), rep.GroupMode)
			require.NotNil(t, rep.FeatureSwitchesKept)
			require.Positive(t, rep.SuggestedParallelism)
			require.Equal(t, 3, empty.Stats().Writes["create"], "the scratch companies")
			require.Empty(t, empty.Snapshot().Companies, "and they are deleted")
		})
	}

	populated := simtest.NewServer(t, pbxtest.WithState(mixedState()))
	empty := simtest.NewServer(t)
	_, _, want := doctorCheckNames(t, populated)
	got, rep, names := doctorCheckNames(t, empty)
	require.Equal(t, 0, got.code, got.stderr)
	require.Equal(t, []string{"tls ok", "server ok", "credentials ok", "api version skipped", "containers skipped", "latency ok", "parallelism ok"}, names)
	require.Equal(t, len(want), len(names))
	for i := range want {
		require.Equal(t, strings.Fields(want[i])[0], strings.Fields(names[i])[0])
	}
	require.Contains(t, rep.Checks[3].Detail, "the server holds no company, whose fields would tell its version: --write-test")
	require.Contains(t, rep.Checks[4].Detail, "the server holds no company to read the container of: --write-test")
	require.Positive(t, rep.SuggestedParallelism)
	require.Zero(t, empty.Stats().TotalWrites())

	text := invoke(t, "", adminEnv(empty), "doctor")
	require.Equal(t, 0, text.code, text.stderr)
	require.Contains(t, text.stdout, "\nskipped  containers   the server holds no company to read the container of")
}

// doctor --write-test tells the group modes apart with three scratch companies, sees
// feature switches kept, and deletes the scratch companies, also when a step fails.
func TestDoctorWriteTest(t *testing.T) {
	for _, mode := range []pbxtest.Mode{pbxtest.ModeMove, pbxtest.ModeMerge} {
		srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithMode(mode))
		before := srv.Snapshot()
		got := invoke(t, "", adminEnv(srv), "doctor", "--write-test", "--json")
		require.Equal(t, 0, got.code, got.stderr)
		var rep struct {
			GroupMode           string `json:"group_mode"`
			FeatureSwitchesKept *bool  `json:"feature_switches_kept"`
			Checks              []struct{ Name, Status string }
		}
		require.NoError(t, json.Unmarshal([]byte(got.stdout), &rep))
		require.Equal(t, string(mode), rep.GroupMode)
		require.NotNil(t, rep.FeatureSwitchesKept)
		require.True(t, *rep.FeatureSwitchesKept)
		require.Equal(t, "cleanup", rep.Checks[len(rep.Checks)-1].Name)
		require.Equal(t, before.Companies, srv.Snapshot().Companies, "the scratch companies are gone")
	}

	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()),
		pbxtest.WithFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"group"}}))
	before := srv.Snapshot()
	got := invoke(t, "", adminEnv(srv), "doctor", "--write-test")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stdout, "failed   group mode")
	require.Contains(t, got.stdout, "\nskipped  update       the group mode check failed\nskipped  features     the group mode check failed\n")
	require.Contains(t, got.stdout, "ok       cleanup      the scratch companies are deleted")
	require.Equal(t, before.Companies, srv.Snapshot().Companies)

	// No scratch company can be created on a server that holds none: the write test
	// fails, and what needs its companies is skipped, saying why.
	srv = simtest.NewServer(t, pbxtest.WithFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.FaultFail: 1}, Verbs: []string{"create"}}))
	got, _, names := doctorCheckNames(t, srv, "--write-test")
	require.Equal(t, 1, got.code)
	require.Equal(t, []string{"tls ok", "server ok", "credentials ok", "api version skipped", "containers skipped", "latency ok", "parallelism ok",
		"write test failed", "group mode skipped", "update skipped", "features skipped", "cleanup ok"}, names)
	require.Empty(t, srv.Snapshot().Companies)
}

// An interrupt during the write test still deletes what it created.
func TestDoctorWriteTestInterrupted(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithFaults(pbxtest.Faults{Latency: 30 * time.Millisecond}))
	before := srv.Snapshot()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { // cancel once the first scratch company exists
		for ctx.Err() == nil {
			if len(srv.Snapshot().Companies) > len(before.Companies) {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var stderr lockedBuffer
	code, _ := invokeWith(ctx, strings.NewReader(""), &stderr, adminEnv(srv), "doctor", "--write-test")
	cancel()
	require.Equal(t, 1, code, stderr.String())
	require.Equal(t, before.Companies, srv.Snapshot().Companies, "the scratch companies are deleted after the interrupt")
}

// With a company administrator's key, doctor cannot read every company: it says to
// name one with --company, and with it reports the role, and (--write-test) that
// the server does not keep feature switches, having changed nothing.
func TestDoctorCompanyAdmin(t *testing.T) {
	const tenantKey = "tenant-key-for-beta-0123456789"
	srv := simtest.NewServer(t, pbxtest.WithState(mixedState()), pbxtest.WithAPIKey(tenantKey, pbxtest.CompanyAdmin("beta")))
	env := map[string]string{"PBX_URL": srv.URL, "PBX_API_KEY": tenantKey}
	before := srv.Snapshot()

	got := invoke(t, "", env, "doctor")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stdout, "then name one with --company ID")

	got = invoke(t, "", env, "doctor", "--company", "beta", "--write-test", "--json")
	require.Equal(t, 0, got.code, got.stderr)
	var rep struct {
		Checks              []struct{ Name, Status, Detail string }
		Role                string
		FeatureSwitchesKept *bool `json:"feature_switches_kept"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &rep))
	require.Equal(t, "company_admin", rep.Role)
	require.NotNil(t, rep.FeatureSwitchesKept)
	require.False(t, *rep.FeatureSwitchesKept)
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+" "+c.Status)
	}
	require.Equal(t, []string{"tls ok", "server ok", "credentials warning", "api version ok", "containers warning", "latency ok", "parallelism ok",
		"group mode skipped", "update skipped", "features warning", "cleanup ok"}, names)
	require.Contains(t, rep.Checks[7].Detail, "a company administrator's credentials cannot create the scratch companies")
	require.Contains(t, rep.Checks[9].Detail, "feature switches are not kept")
	require.Equal(t, "nocallrec of beta is as it was: nothing to set back", rep.Checks[10].Detail)
	require.Equal(t, before.Companies, srv.Snapshot().Companies, "nothing changed")

	// A company the key does not administer.
	got = invoke(t, "", env, "doctor", "--company", "acme_hq")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stdout, "failed   credentials  the server refused to read every company, and acme_hq:")

	// A System-Admin's key with --company: the switch test on it sets nocallrec back.
	got = invoke(t, "", adminEnv(srv), "doctor", "--company", "beta", "--write-test")
	require.Equal(t, 0, got.code, got.stderr)
	require.Contains(t, got.stdout, "group moves", "a System-Admin's write test uses scratch companies")
	require.Equal(t, before.Companies, srv.Snapshot().Companies)
}

// The tls check names the certificate and warns a month before it expires; a
// certificate no CA vouches for fails with what to do.
func TestDoctorTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(pbxtest.New(pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()), pbxtest.WithState(mixedState())))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused are the test
	hs.StartTLS()
	t.Cleanup(hs.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, certPEM, 0o600))
	env := map[string]string{"PBX_URL": hs.URL, "PBX_API_KEY": pbxtest.AdminKey}

	got := invoke(t, "", env, "doctor", "--ca-cert", caFile)
	require.Equal(t, 0, got.code, got.stderr)
	first := strings.SplitN(got.stdout, "\n", 2)[0]
	require.Regexp(t, `^warning  tls          verified; for pbx\.test, issued by pbxsync test CA, valid until \d{4}-\d\d-\d\d: it expires in (9|10) days; renew it`, first)

	got = invoke(t, "", env, "doctor")
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stdout, "failed   tls          the server's certificate is not signed by a CA this machine trusts: if a private CA signed it, name its certificate with --ca-cert FILE")
	require.NotContains(t, got.stdout+got.stderr, pbxtest.AdminKey)
}

// An expired certificate fails the tls check, a far one is ok.
func TestDoctorTLSExpired(t *testing.T) {
	for _, c := range []struct {
		notBefore, notAfter time.Time
		want                string
	}{
		{time.Now().Add(-48 * time.Hour), time.Now().Add(-24 * time.Hour), "failed   tls          the server's certificate is not valid: "},
		{time.Now().Add(-time.Hour), time.Now().Add(400 * 24 * time.Hour), "ok       tls          verified; for pbx.test, issued by pbxsync test CA"},
	} {
		certPEM, keyPEM := selfSigned(t, c.notBefore, c.notAfter)
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		require.NoError(t, err)
		hs := httptest.NewUnstartedServer(pbxtest.New(pbxtest.WithAPIKey(pbxtest.AdminKey, pbxtest.SystemAdmin()), pbxtest.WithState(mixedState())))
		hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused are the test
		hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused are the test
		hs.StartTLS()
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(caFile, certPEM, 0o600))
		got := invoke(t, "", map[string]string{"PBX_URL": hs.URL, "PBX_API_KEY": pbxtest.AdminKey}, "doctor", "--ca-cert", caFile)
		hs.Close()
		require.True(t, strings.HasPrefix(got.stdout, c.want), got.stdout)
	}
}

// selfSigned makes a CA certificate for pbx.test and 127.0.0.1, valid between the
// given times, and its key, both PEM.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pbxsync test CA"},
		DNSNames:              []string{"pbx.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestDoctorSwitchSetBackAfterInterrupt: doctor --company ID --write-test flips a
// feature switch of a real tenant; interrupted once the update is sent, it still sets
// the switch back, and says so (cli.md doctor v0.3). The server keeps switches for
// these credentials here: a System-Admin's key whose read of every company is refused
// once, so that doctor takes it for a company administrator's.
func TestDoctorSwitchSetBackAfterInterrupt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := newHostileServer(t, hostileOptions{failFirst: map[string]int{"read": 1}, hook: func(_ *hostileServer, _ int, verb string) {
		if verb == "update" {
			cancel() // the update is still forwarded: the switch flips on the server
		}
	}}, pbxtest.WithState(mixedState()))
	beta, ok := h.sim.Company("beta")
	require.True(t, ok)
	before := beta.Settings.Get("nocallrec")

	var stderr lockedBuffer
	code, stdout := invokeWith(ctx, strings.NewReader(""), &stderr, map[string]string{"PBX_URL": h.URL, "PBX_API_KEY": hostileKey},
		"doctor", "--company", "beta", "--write-test")
	require.Equal(t, 1, code, "interrupted: %s\n%s", stdout, stderr.String())
	require.Equal(t, 1, h.sim.Stats().Writes["update"]-1, "the switch was flipped, and set back: %v", h.sim.Stats().Writes)
	beta, _ = h.sim.Company("beta")
	require.True(t, apiclient.Equal("nocallrec", before, beta.Settings.Get("nocallrec")), "nocallrec of beta is as it was: %s", beta.Settings.Get("nocallrec").JSON())
	require.Contains(t, stdout, "cleanup      nocallrec of beta was set back to")
}
