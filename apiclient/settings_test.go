package apiclient_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

func TestSettingsHoldFieldsOfTheTableAndOthers(t *testing.T) {
	var s apiclient.Settings
	require.Equal(t, 0, s.Len())
	require.False(t, s.Has("zone"))
	require.Equal(t, null, s.Get("zone"), "an absent field reads as null")

	s.Set("zone", str("UTC"))
	s.Set("x_future", str("42"))
	s.Set("nocallrec", yes)
	s.Set("a_future", apiclient.Number("1.5"))
	s.Set("nokeevio", no)
	s.Set("record", num(3))
	s.Set("zone", str("US/Pacific")) // set again: replaced

	require.Equal(t, 6, s.Len())
	v, ok := s.Lookup("zone")
	require.True(t, ok)
	require.Equal(t, str("US/Pacific"), v)
	require.Equal(t, yes, s.Get("nocallrec"))
	require.Equal(t, no, s.Get("nokeevio"), "false is held, not taken for absent")
	require.Equal(t, str("42"), s.Get("x_future"))
	require.Equal(t, []string{"a_future", "nocallrec", "nokeevio", "record", "x_future", "zone"}, s.Names(),
		"in name order, the table's fields and the others together")

	var got []string
	for name, v := range s.All() {
		got = append(got, name+"="+v.JSON())
	}
	require.Equal(t, []string{`a_future=1.5`, `nocallrec=true`, `nokeevio=false`, `record=3`, `x_future="42"`, `zone="US/Pacific"`}, got)

	s.Delete("nocallrec")
	s.Delete("x_future")
	s.Delete("not_there")
	require.Equal(t, []string{"a_future", "nokeevio", "record", "zone"}, s.Names())
	require.False(t, s.Has("nocallrec"))
	require.Equal(t, null, s.Get("nocallrec"))
}

func TestSettingsAreSharedByCopiesAndNotByClones(t *testing.T) {
	s := apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("UTC"), "x_future": str("1")})
	shared, clone := s, s.Clone()
	shared.Set("zone", str("US/Pacific"))
	shared.Set("x_future", str("2"))
	require.Equal(t, str("US/Pacific"), s.Get("zone"), "a copy shares the values, as a map would")
	require.Equal(t, str("2"), s.Get("x_future"))
	require.Equal(t, str("UTC"), clone.Get("zone"), "a clone keeps its own")
	require.Equal(t, str("1"), clone.Get("x_future"))

	clone.Set("record", num(1))
	require.False(t, s.Has("record"))
}

func TestSettingsEqual(t *testing.T) {
	a := apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("UTC"), "x_future": str("1")})
	require.True(t, a.Equal(a.Clone()))
	require.True(t, apiclient.Settings{}.Equal(apiclient.SettingsOf(nil)))
	for name, b := range map[string]apiclient.Settings{
		"a value differs":       apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("utc"), "x_future": str("1")}),
		"an unknown differs":    apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("UTC"), "x_future": num(1)}),
		"a field is missing":    apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("UTC")}),
		"another field is held": apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("UTC"), "y_future": str("1")}),
	} {
		require.False(t, a.Equal(b), name)
		require.False(t, b.Equal(a), name)
		require.NotEmpty(t, cmp.Diff(a, b), name)
	}
	require.Empty(t, cmp.Diff(a, a.Clone()))
}

func TestSettingsJSON(t *testing.T) {
	var s apiclient.Settings
	require.NoError(t, json.Unmarshal([]byte(`{"zone": "UTC", "record": 7, "nocallrec": null, "x_future": {"a": [1]}, "hs_access": "caf\u00e9 \"x\""}`), &s))
	require.Equal(t, []string{"hs_access", "nocallrec", "record", "x_future", "zone"}, s.Names())
	require.Equal(t, str(`café "x"`), s.Get("hs_access"))
	require.Equal(t, apiclient.KindOther, s.Get("x_future").Kind())
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"hs_access": "café \"x\"", "nocallrec": null, "record": 7, "x_future": {"a": [1]}, "zone": "UTC"}`, string(b))

	require.NoError(t, json.Unmarshal([]byte(`{"zone": "Europe/London"}`), &s))
	require.Equal(t, []string{"zone"}, s.Names(), "decoding replaces what was held")
	require.Error(t, json.Unmarshal([]byte(`["zone"]`), &s))
}

// TestValueDecodesStringsAsJSONDoes: the shortcut for plain strings gives what
// encoding/json gives, and leaves every other string to it.
func TestValueDecodesStringsAsJSONDoes(t *testing.T) {
	for _, in := range []string{`""`, `"US/Pacific"`, `"a b~"`, `"\u0041"`, `"tab\there"`, `"caf\u00e9"`, `"café"`, `"\ud83d\ude00"`, "\"\xff\"", `"quote\"d"`, `"back\\slash"`} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		var v apiclient.Value
		require.NoError(t, v.UnmarshalJSON([]byte(in)), in)
		require.Equal(t, apiclient.KindString, v.Kind(), in)
		require.Equal(t, want, v.Text(), in)
	}
	for _, in := range []string{`"open`, `"`, "\"ctl\x01\""} {
		var v apiclient.Value
		require.Error(t, v.UnmarshalJSON([]byte(in)), in)
	}
}

func TestSettingsPrintWithSecretsRedacted(t *testing.T) {
	s := apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": str("4711"), "zone": str("UTC")})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		require.Equal(t, `{nm_password: (sensitive), zone: "UTC"}`, fmt.Sprintf(verb, s), verb)
	}
}
