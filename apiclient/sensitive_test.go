package apiclient_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// holder is a structure of a program that holds a value among others.
type holder struct {
	Field string
	Value apiclient.Value
	List  []apiclient.Value
	ByKey map[string]apiclient.Value
}

func TestMarkedValueIsRedactedByFmt(t *testing.T) {
	for _, v := range []apiclient.Value{
		apiclient.String(nightPIN).MarkSensitive(),
		apiclient.Number(ivrPIN).MarkSensitive(),
		apiclient.Int(77123998).MarkSensitive(),
	} {
		h := holder{Field: "nm_password", Value: v, List: []apiclient.Value{v}, ByKey: map[string]apiclient.Value{"a": v}}
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(format, v)
			want := apiclient.Redacted
			if format == "%q" {
				want = `"` + apiclient.Redacted + `"`
			}
			require.Equal(t, want, out, format)
			requireNoneOf(t, fmt.Sprintf(format, h), nightPIN, ivrPIN, bargePIN)
			requireNoneOf(t, fmt.Sprintf(format, &h), nightPIN, ivrPIN, bargePIN)
		}
		require.Equal(t, apiclient.Redacted, v.String())
		require.Equal(t, apiclient.Redacted, v.GoString())
		require.Equal(t, apiclient.Redacted, apiclient.Display("q_ringtime", v), "the mark decides, whatever the field")
		require.Equal(t, apiclient.Redacted, v.Any())
	}
}

func TestMarkedValueIsRedactedBySlog(t *testing.T) {
	v := apiclient.String(nightPIN).MarkSensitive()
	s := secretSettings()
	h := holder{Field: "nm_password", Value: v, List: []apiclient.Value{v}, ByKey: map[string]apiclient.Value{"a": v}}
	for name, handler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			log := slog.New(handler(&b))
			log.Info("values", "value", v, "settings", s, "holder", h, "pointer", &h)
			log.Info("values", slog.Any("value", v), slog.Group("g", "value", v))
			log.With("value", v).Info("with")
			requireNoneOf(t, b.String(), nightPIN, ivrPIN, bargePIN)
			require.Contains(t, b.String(), apiclient.Redacted)
		})
	}
}

func TestMarkedValueIsRedactedInJSON(t *testing.T) {
	v := apiclient.String(nightPIN).MarkSensitive()
	s := secretSettings()
	for name, doc := range map[string]any{
		"value":    v,
		"holder":   holder{Field: "nm_password", Value: v, List: []apiclient.Value{v}, ByKey: map[string]apiclient.Value{"a": v}},
		"settings": s,
		"company":  apiclient.Company{ID: "acme", Settings: s},
	} {
		b, err := json.Marshal(doc)
		require.NoError(t, err, name)
		requireNoneOf(t, string(b), nightPIN, ivrPIN, bargePIN)
		require.Contains(t, string(b), `"`+apiclient.Redacted+`"`, name)
	}
	require.Equal(t, `"(sensitive)"`, v.JSON())
}

func TestWireCarriesTheRealValue(t *testing.T) {
	v := apiclient.String(nightPIN).MarkSensitive()
	require.Equal(t, `"`+nightPIN+`"`, v.Reveal().JSON(), "Reveal gives the real text")
	require.False(t, v.Reveal().IsSensitive())
	require.Equal(t, nightPIN, v.Text(), "the content is there for comparing")

	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)
	got, err := c.Update(t.Context(), "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": v, "q_ringtime": apiclient.String("15")})})
	require.NoError(t, err)
	held, _ := srv.Company("acme")
	require.Equal(t, nightPIN, held.Settings.Get("nm_password").Text(), "the request carried the real PIN")

	for _, read := range []apiclient.Company{got, readOne(t, c, "acme")} {
		pin := read.Settings.Get("nm_password")
		require.True(t, pin.IsSensitive(), "a secret read from the server is marked")
		require.Equal(t, nightPIN, pin.Text(), "and holds its text, for comparing")
		require.False(t, read.Settings.Get("q_ringtime").IsSensitive())
		requireNoneOf(t, fmt.Sprint(read)+fmt.Sprintf("%#v", read), nightPIN)
	}

	entry, err := json.Marshal(apiclient.Entry{ID: 1, Name: "Acme", Data: held.Settings})
	require.NoError(t, err)
	require.Contains(t, string(entry), `"nm_password":"`+nightPIN+`"`, "a server's answer carries its secrets")
}

func readOne(t *testing.T, c *apiclient.Client, id string) apiclient.Company {
	t.Helper()
	co, err := c.Read(t.Context(), id)
	require.NoError(t, err)
	return co
}

// TestTheTableMarksSecrets: a secret field's value is marked wherever the table makes
// or keeps it, and marks do not change what a value is.
func TestTheTableMarksSecrets(t *testing.T) {
	f, ok := apiclient.LookupField("nm_password")
	require.True(t, ok)
	n, err := f.Normalize(apiclient.Int(4711))
	require.NoError(t, err)
	require.True(t, n.IsSensitive(), "normalised")
	require.Equal(t, "4711", n.Text())

	zone, _ := apiclient.LookupField("zone")
	n, err = zone.Normalize(apiclient.String("UTC"))
	require.NoError(t, err)
	require.False(t, n.IsSensitive(), "another field's value is not marked")
	n, err = zone.Normalize(apiclient.String("UTC").MarkSensitive())
	require.NoError(t, err)
	require.True(t, n.IsSensitive(), "a mark is kept")

	var s apiclient.Settings
	s.Set("nm_password", apiclient.String(nightPIN))
	s.Set("x_future", apiclient.String("x"))
	require.True(t, s.Get("nm_password").IsSensitive(), "set")
	require.True(t, s.Clone().Get("nm_password").IsSensitive(), "cloned")
	require.True(t, s.Get("ivr_password").IsSensitive(), "a secret field not held reads as a marked null")
	require.Equal(t, apiclient.KindNull, s.Get("ivr_password").Kind())
	require.False(t, s.Get("x_future").IsSensitive())

	var decoded apiclient.Settings
	require.NoError(t, json.Unmarshal([]byte(`{"barge_pin": "`+bargePIN+`"}`), &decoded))
	require.True(t, decoded.Get("barge_pin").IsSensitive(), "decoded")

	require.True(t, apiclient.Equal("nm_password", apiclient.String(nightPIN), s.Get("nm_password")), "a secret equals its own text")
	require.False(t, apiclient.Equal("nm_password", apiclient.String(ivrPIN), s.Get("nm_password")))
	require.False(t, apiclient.Equal("nm_password", apiclient.String("12a4").MarkSensitive(), apiclient.String("12b4").MarkSensitive()),
		"values the field refuses compare by their real text")
	require.False(t, apiclient.Equal("x_future", apiclient.String("a").MarkSensitive(), apiclient.String("b").MarkSensitive()))
}
