package state_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// secretValue is what the variables of these tests hold: no free text may take it.
const secretValue = "987654"

// valueEqual compares values by kind and JSON text, so that "15" and 15 differ.
func valueEqual(a, b apiclient.Value) bool {
	return a.Kind() == b.Kind() && a.Reveal().JSON() == b.Reveal().JSON()
}

// cmpEnv treats a nil and an empty Env alike.
var cmpEnv = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Env" },
	cmp.Transformer("env", func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		return m
	}))

// TestExportRoundTripKeepsDollarText exports a company whose free text is
// ${PBX_API_KEY} and loads the export with that variable set: the text comes back.
func TestExportRoundTripKeepsDollarText(t *testing.T) {
	snap := state.New([]apiclient.Company{{
		ID: "acme", Name: "Acme",
		Settings: apiclient.SettingsOf(map[string]apiclient.Value{
			"hs_access":    apiclient.String("${PBX_API_KEY}"),
			"hs_access_nm": apiclient.String("a ${X} and ${1X}"),
			"nm_password":  apiclient.String("4711"),
		}),
	}}, nil)
	data, err := snap.Export(state.ExportOptions{})
	require.NoError(t, err)
	require.Contains(t, string(data), "${ACME_NM_PASSWORD}")
	require.NotContains(t, string(data), "4711")

	env := map[string]string{"PBX_API_KEY": secretValue, "X": secretValue}
	for k, v := range snap.Secrets([]string{"acme"}) {
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	inv, warns, err := inventory.Load("export.yaml", data, inventory.LoadOptions{Lookup: lookup})
	require.NoError(t, err, "%s", data)
	require.Empty(t, warns)
	want := []inventory.Company{{
		ID: "acme", Name: "Acme",
		Settings: apiclient.SettingsOf(map[string]apiclient.Value{
			"hs_access":    apiclient.String("${PBX_API_KEY}"),
			"hs_access_nm": apiclient.String("a ${X} and ${1X}"),
			"nm_password":  apiclient.String("4711"),
		}),
		Env: map[string]string{"nm_password": "ACME_NM_PASSWORD"},
	}}
	if diff := cmp.Diff(want, inv.Companies, cmp.Comparer(valueEqual), cmpEnv); diff != "" {
		t.Errorf("companies (-want +got):\n%s", diff)
	}
}

// TestExportSecretOfEveryKind pins that a secret field holding anything but null or
// "" is exported as ${VAR}, whatever JSON kind the server gave it, and that a
// migration carrying it gets an error naming the field, never the value.
func TestExportSecretOfEveryKind(t *testing.T) {
	raw := func(s string) apiclient.Value {
		var v apiclient.Value
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		return v
	}
	const ref = "${ACME_NM_PASSWORD}"
	const refused = `nm_password: not allowed; allowed: "" or digits (the value of environment variable ACME_NM_PASSWORD)`
	for _, tc := range []struct {
		name       string
		value      apiclient.Value
		shown      string // a text of the value that must not be in the export
		wantLine   string // the export's nm_password line, trimmed
		wantSecret string // what Secrets carries; "" for none
		wantErr    string // loading the export with Secrets; "" for no error
	}{
		{name: "string", value: apiclient.String("0042"), shown: "0042",
			wantLine: "nm_password: " + ref, wantSecret: "0042"},
		{name: "number", value: raw("5551234"), shown: "5551234",
			wantLine: "nm_password: " + ref, wantSecret: "5551234"},
		{name: "fraction", value: raw("55.5"), shown: "55.5",
			wantLine: "nm_password: " + ref, wantSecret: "55.5", wantErr: refused},
		{name: "true", value: apiclient.Bool(true), shown: "true",
			wantLine: "nm_password: " + ref, wantSecret: "true", wantErr: refused},
		{name: "false", value: apiclient.Bool(false), shown: "false",
			wantLine: "nm_password: " + ref, wantSecret: "false", wantErr: refused},
		{name: "object", value: raw(`{"pin": "5557"}`), shown: "5557",
			wantLine: "nm_password: " + ref, wantSecret: `{"pin": "5557"}`, wantErr: refused},
		{name: "array", value: raw(`["5558"]`), shown: "5558",
			wantLine: "nm_password: " + ref, wantSecret: `["5558"]`, wantErr: refused},
		{name: "empty string", value: apiclient.String(""), wantLine: `nm_password: ""`},
		{name: "null", value: apiclient.Null(), wantLine: "nm_password: null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := apiclient.Company{ID: "acme", Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": tc.value})}
			snap := state.New([]apiclient.Company{c}, nil)
			data, err := snap.Export(state.ExportOptions{})
			require.NoError(t, err)
			var line string
			for l := range strings.Lines(string(data)) {
				if strings.Contains(l, "nm_password") {
					line = strings.TrimSpace(l)
				}
			}
			if diff := cmp.Diff(tc.wantLine, line); diff != "" {
				t.Errorf("the export's line (-want +got):\n%s", diff)
			}
			if tc.shown != "" {
				require.NotContains(t, string(data), tc.shown, "a secret exported in plain text")
			}

			secrets := snap.Secrets([]string{"acme"})
			wantSecrets := map[string]string{}
			wantFields := []string(nil)
			if tc.wantSecret != "" {
				wantSecrets["ACME_NM_PASSWORD"] = tc.wantSecret
				wantFields = []string{"nm_password"}
			}
			if diff := cmp.Diff(wantSecrets, secrets); diff != "" {
				t.Errorf("Secrets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantFields, state.SecretFields(c)); diff != "" {
				t.Errorf("SecretFields (-want +got):\n%s", diff)
			}

			if tc.value.Kind() == apiclient.KindNull {
				return // no secret: what loading null means is the field table's business, not this test's
			}
			lookup := func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }
			inv, _, err := inventory.Load("export.yaml", data, inventory.LoadOptions{Lookup: lookup})
			if tc.wantErr == "" {
				require.NoError(t, err)
				got, _ := inv.Company("acme")
				require.True(t, apiclient.Equal("nm_password", tc.value, got.Settings.Get("nm_password")),
					"the loaded secret is the server's: %s", got.Settings.Get("nm_password").JSON())
				return
			}
			var ie *inventory.InventoryError
			require.ErrorAs(t, err, &ie)
			require.Len(t, ie.Diagnostics, 1)
			if diff := cmp.Diff(tc.wantErr, ie.Diagnostics[0].Message); diff != "" {
				t.Errorf("the error (-want +got):\n%s", diff)
			}
			require.NotContains(t, err.Error(), tc.shown)
		})
	}
}
