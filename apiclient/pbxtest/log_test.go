package pbxtest_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// lockedBuffer is a log destination that the server writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLoggerWritesOneLinePerRequestWithoutSecrets(t *testing.T) {
	const (
		key      = "key-that-must-not-be-logged"
		password = "password-that-must-not-be-logged"
		pin      = "97531"
	)
	var logs lockedBuffer
	srv := simtest.NewServer(t, companies("acme"),
		pbxtest.WithAPIKey(key, pbxtest.SystemAdmin()),
		pbxtest.WithUser("ops", password, pbxtest.SystemAdmin()),
		pbxtest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))

	login(t, srv, "ops", password)
	status, resp := call(t, srv, key, "update", scope("acme"), obj{"nm_password": pin, "barge_pin": pin})
	requireSuccess(t, status, resp)
	status, resp = call(t, srv, key, "read", scope("ghost"), nil)
	requireFail(t, status, resp)
	srv.SetFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.FaultHTML: 1}})
	r, err := send(t.Context(), srv.URL, "read", ops(key, scope("acme"), nil), nil)
	require.Equal(t, "html", outcome(r, err))

	text := logs.String()
	for _, secret := range []string{key, password, pin} {
		require.NotContains(t, text, secret, "a log line carries a secret")
	}
	type line struct {
		Level, Verb, Company, Outcome string
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &entry), "log line %q", l)
		s := func(k string) string { v, _ := entry[k].(string); return v }
		got = append(got, line{Level: s("level"), Verb: s("verb"), Company: s("company"), Outcome: s("outcome")})
	}
	want := []line{
		{Level: "INFO", Verb: "login", Outcome: "success"},
		{Level: "INFO", Verb: "update", Company: "acme", Outcome: "success"},
		{Level: "INFO", Verb: "read", Company: "ghost", Outcome: "fail"},
		{Level: "INFO", Verb: "read", Company: "acme", Outcome: "html"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}
