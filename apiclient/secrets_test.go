package apiclient_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// The PINs are long and odd, so that finding one in output cannot be chance.
const (
	nightPIN = "90817263"
	ivrPIN   = "55501234"
	bargePIN = "77123998"
)

func secretSettings() apiclient.Settings {
	return apiclient.SettingsOf(map[string]apiclient.Value{
		"nm_password":  apiclient.String(nightPIN),
		"ivr_password": apiclient.String(ivrPIN),
		"barge_pin":    apiclient.String(bargePIN),
		"q_ringtime":   apiclient.String("15"),
	})
}

var formats = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"}

// requireNoneOf fails when out holds one of the secrets, as text or in hex (%x).
func requireNoneOf(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.NotContains(t, out, s)
		require.NotContains(t, out, hex.EncodeToString([]byte(s)))
	}
}

func TestSettingsAreRedacted(t *testing.T) {
	s := secretSettings()
	co := apiclient.Company{ID: "acme", Num: 1001, Name: "Acme", Settings: s}
	for _, tc := range []struct {
		name string
		arg  any
	}{
		{"Settings", s},
		{"*Settings", &s},
		{"Company", co},
		{"*Company", &co},
		{"Container", apiclient.Container{Name: "acme", Num: 501, Members: []apiclient.Company{co}}},
		{"Changes", apiclient.Changes{Name: "x", Settings: s}},
	} {
		for _, format := range formats {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				out := fmt.Sprintf(format, tc.arg)
				requireNoneOf(t, out, nightPIN, ivrPIN, bargePIN)
			})
		}
	}

	t.Run("String shows (sensitive) and the rest", func(t *testing.T) {
		require.Equal(t, `{barge_pin: (sensitive), ivr_password: (sensitive), nm_password: (sensitive), q_ringtime: "15"}`, s.String())
		require.Equal(t, s.String(), fmt.Sprintf("%#v", s))
	})

	for _, tc := range []struct {
		name    string
		handler func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		t.Run("slog "+tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(tc.handler(&buf))
			log.Info("settings", "settings", s, slog.Any("company", co.Settings))
			out := buf.String()
			require.Contains(t, out, apiclient.Redacted)
			require.Contains(t, out, "q_ringtime")
			requireNoneOf(t, out, nightPIN, ivrPIN, bargePIN)
		})
	}

	t.Run("Display", func(t *testing.T) {
		require.Equal(t, apiclient.Redacted, apiclient.Display("nm_password", apiclient.String(nightPIN)))
		require.Equal(t, `"15"`, apiclient.Display("q_ringtime", apiclient.String("15")))
	})
}

func TestClientHidesCredentials(t *testing.T) {
	const (
		key      = "key-3c8f2a1e9d7b"
		password = "pw-6d1f9e2c7a"
	)
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()),
		pbxtest.WithUser(testUser, password, pbxtest.SystemAdmin()))

	byKey, err := apiclient.New(srv.URL, apiclient.WithAPIKey(key), apiclient.WithRetryPolicy(fastRetries))
	require.NoError(t, err)
	byLogin, err := apiclient.New(srv.URL, apiclient.WithLogin(testUser, password), apiclient.WithRetryPolicy(fastRetries))
	require.NoError(t, err)
	_, err = byLogin.Read(t.Context(), "acme") // so that it holds a session too
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		client *apiclient.Client
	}{
		{"key", byKey},
		{"login", byLogin},
	} {
		for _, format := range formats {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				out := fmt.Sprintf(format, tc.client)
				requireNoneOf(t, out, key, password)
			})
		}
		t.Run(tc.name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("client", "client", tc.client)
			requireNoneOf(t, buf.String(), key, password)
		})
	}
}

func TestClientLogsNoCredentials(t *testing.T) {
	const (
		key      = "key-a1b2c3d4e5f6"
		password = "pw-f6e5d4c3b2a1"
	)
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()),
		pbxtest.WithUser(testUser, password, pbxtest.SystemAdmin()),
		pbxtest.WithFaults(pbxtest.Faults{Seed: faultSeed, Rates: map[pbxtest.Fault]float64{pbxtest.Fault503: 0.5}}))

	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, auth := range []apiclient.Option{apiclient.WithAPIKey(key), apiclient.WithLogin(testUser, password)} {
		c, err := apiclient.New(srv.URL, auth, apiclient.WithRetryPolicy(fastRetries), apiclient.WithLogger(log))
		require.NoError(t, err)
		_, err = c.Update(t.Context(), "acme", apiclient.Changes{Settings: secretSettings()})
		require.NoError(t, err)
		_, err = c.Read(t.Context(), "acme")
		require.NoError(t, err)
	}
	out := buf.String()
	require.Contains(t, out, "msg=retrying", "the log saw the retries")
	require.Contains(t, out, "msg=request")
	requireNoneOf(t, out, key, password, nightPIN, ivrPIN, bargePIN)
}

func TestRefusedCredentialsAreNotEchoed(t *testing.T) {
	const (
		key      = "key-wrong-4e1d7a"
		password = "pw-wrong-8b2c5f"
	)
	srv := newLoginServer(t)
	for _, tc := range []struct {
		name string
		auth apiclient.Option
	}{
		{"key", apiclient.WithAPIKey(key)},
		{"password", apiclient.WithLogin(testUser, password)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apiclient.New(srv.URL, tc.auth, apiclient.WithRetryPolicy(fastRetries))
			require.NoError(t, err)
			_, err = c.Update(t.Context(), "acme", apiclient.Changes{Settings: secretSettings()})
			require.Error(t, err)
			for _, format := range []string{"%v", "%+v", "%#v"} {
				requireNoneOf(t, fmt.Sprintf(format, err), key, password, nightPIN)
			}
		})
	}
}

func TestMalformedSecretIsNotEchoed(t *testing.T) {
	// A value that is not valid JSON (such as a PIN an inventory wrote as 0x1F2E) is
	// caught before sending; the error must still not carry the secret.
	const pin = "0x1F2E9A"
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)

	_, err := c.Update(t.Context(), "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.Number(pin)})})
	require.Error(t, err)
	require.Contains(t, err.Error(), "nm_password")
	require.NotContains(t, err.Error(), pin)
	require.Zero(t, srv.Stats().Requests["update"], "nothing was sent")
}
