package state_test

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// A tenant's free text may hold anything; an export shows it escaped (no raw escape
// sequence or bidirectional override reaches a terminal, an editor or a review in
// git), and loads back as the very same text.
func TestExportEscapesHostileText(t *testing.T) {
	hostile := []string{
		"\x1b]0;pwned\x07", "\x1b[2J\x1b[8mhidden", "ok\rVerified: yes", "a\n# Heading",
		"\u202eevil\u202c", "\u2066iso\u2069", "zero\u200bwidth", "csi\u009b2J", "del\x7f", "sep\u2028x",
		"${PBX_API_KEY}",
	}
	for _, text := range hostile {
		snap := state.New([]apiclient.Company{
			{ID: "acme", Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": apiclient.String(text), "future" + text: apiclient.String(text)})},
			{ID: "beta", Name: "Beta"},
		}, map[string][]string{"box\u202e" + text: {"acme", "beta"}})
		data, err := snap.Export(state.ExportOptions{})
		require.NoError(t, err)
		require.True(t, utf8.Valid(data))
		for _, r := range string(data) {
			require.False(t, r != '\n' && !apiclient.IsPrintable(string(r)), "raw %U in the export of %q:\n%s", r, text, data)
		}
		inv, _, err := inventory.Load("export.yaml", data, inventory.LoadOptions{Lookup: func(string) (string, bool) { return "leaked", true }})
		require.NoError(t, err, "export of %q:\n%s", text, data)
		acme, ok := inv.Company("acme")
		require.True(t, ok)
		require.Equal(t, text, acme.Settings.Get("hs_access").Text(), "the export of %q loads back as the same text", text)
		require.Len(t, inv.Containers, 1)
		require.Equal(t, "box\u202e"+text, inv.Containers[0].Label)
	}
}
