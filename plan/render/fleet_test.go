package render_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

// member is a PBX of a fleet: its one-file inventory, and the companies its server holds.
func member(t *testing.T, name, src string, companies ...apiclient.Company) plan.FleetMember {
	t.Helper()
	inv, _, err := inventory.Load(name+".yaml", []byte(src), inventory.LoadOptions{Lookup: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return plan.FleetMember{Name: name, Inv: inv, State: state.New(companies, nil)}
}

func company(id, name string, kv ...string) apiclient.Company {
	s := apiclient.Settings{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Set(kv[i], apiclient.String(kv[i+1]))
	}
	return apiclient.Company{ID: id, Name: name, Settings: s}
}

// What a move shows: secrets as (sensitive) in text, JSON and Markdown, hostile
// values made printable and kept in their code spans.
func TestFleetPlanOutput(t *testing.T) {
	hostile := "x`|</details>\x1b[31m\u202e"
	fp, err := plan.DiffFleet([]plan.FleetMember{
		member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme", "nm_password", "9876", "vm_silent", hostile)),
		member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme}\n"),
	}, plan.FleetOptions{MaxMove: 1})
	require.NoError(t, err)
	var text, md, js strings.Builder
	require.NoError(t, render.FleetText(&text, fp, false))
	require.NoError(t, render.FleetMarkdown(&md, fp, render.MarkdownOptions{MaxSize: 60000}))
	require.NoError(t, render.FleetJSON(&js, fp))
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()} {
		require.NotContains(t, out, "9876", name)
		require.NotContains(t, out, "\x1b", name)
		require.NotContains(t, out, "\u202e", name)
	}
	require.True(t, strings.HasPrefix(text.String(), "Fleet: 2 PBXs; 1 move; paris: 1 to create.\n\n  -> move acme from london to paris\n"), text.String())
	require.Contains(t, text.String(), "nm_password:  (sensitive)")
	require.Contains(t, js.String(), `"kind": "fleet"`)
	require.Contains(t, js.String(), `"nm_password": "(sensitive)"`)
	require.Contains(t, md.String(), "- move `acme` from `london` to `paris`")
	require.True(t, strings.HasPrefix(md.String(), "## pbxsync fleet plan\n\n**Fleet: 2 PBXs; 1 move; paris: 1 to create.**\n\n### Moves\n"), md.String())
	require.Contains(t, md.String(), "### PBX `paris`\n\n**Plan: 1 to create.**")
	require.NotContains(t, md.String(), "### pbxsync plan", "each PBX's heading stands for its plan's")
	require.Equal(t, 1, strings.Count(md.String(), "</details>")-strings.Count(md.String(), "<details>")+1, fmt.Sprintf("no </details> from the server:\n%s", md.String()))
}

// A conflict in each rendering, against testdata/fleet/conflict/: the fields that
// differ with their values on each PBX, secrets as (sensitive), a hostile name
// made printable; and the companies paris's plan leaves alone for it.
func TestFleetConflictOutput(t *testing.T) {
	hostile := "Acme`|</details>\x1b[31m\u202e"
	fp, err := plan.DiffFleet([]plan.FleetMember{
		member(t, "london", "version: 1\ncompanies: {}\n", company("acme", hostile, "barge_pin", "6666", "callerid", "0666", "phonebook", "3")),
		member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme}\n  gamma: {name: Gamma}\n  delta: {name: Delta}\ncontainers:\n  acme: [acme, gamma]\n",
			company("acme", "Acme Paris", "barge_pin", "1234", "callerid", "0123"), company("gamma", "Gamma")),
	}, plan.FleetOptions{})
	require.NoError(t, err)
	var text, md, js strings.Builder
	require.NoError(t, render.FleetText(&text, fp, false))
	require.NoError(t, render.FleetMarkdown(&md, fp, render.MarkdownOptions{MaxSize: 60000}))
	require.NoError(t, render.FleetJSON(&js, fp))
	for name, out := range map[string]string{"plan.txt": text.String(), "plan.md": md.String(), "plan.json": js.String()} {
		for _, leak := range []string{"6666", "1234", "\x1b", "\u202e"} {
			require.NotContains(t, out, leak, name)
		}
		golden(t, filepath.Join("testdata", "fleet", "conflict", name), []byte(out))
	}
}

// A move, against testdata/fleet/move/: its carried settings and its create, an
// empty PIN counted with the empty fields in both (never (sensitive), which would
// read as a PIN that is set), the PIN that is set as (sensitive); Markdown lists what
// text lists, and JSON holds the same values.
func TestFleetMoveOutput(t *testing.T) {
	fp, err := plan.DiffFleet([]plan.FleetMember{
		member(t, "london", "version: 1\ncompanies: {}\n", company("acme", "Acme",
			"nm_password", "9876", "barge_pin", "", "ivr_password", "", "callerid", "", "phonebook", "2", "zone", "Europe/London")),
		member(t, "paris", "version: 1\ncompanies:\n  acme: {name: Acme, settings: {zone: Europe/Paris}}\n"),
	}, plan.FleetOptions{MaxMove: 1})
	require.NoError(t, err)
	var text, md, js strings.Builder
	require.NoError(t, render.FleetText(&text, fp, false))
	require.NoError(t, render.FleetMarkdown(&md, fp, render.MarkdownOptions{MaxSize: 60000}))
	require.NoError(t, render.FleetJSON(&js, fp))
	for name, out := range map[string]string{"plan.txt": text.String(), "plan.md": md.String(), "plan.json": js.String()} {
		require.NotContains(t, out, "9876", name)
		golden(t, filepath.Join("testdata", "fleet", "move", name), []byte(out))
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		require.NotContains(t, out, "barge_pin", name, "an empty PIN is counted, not listed")
		require.NotContains(t, out, "ivr_password", name)
	}
	require.Equal(t, 2, strings.Count(js.String(), `"barge_pin": "",`), "JSON: as it is, in the move and the create")
	require.Equal(t, 2, strings.Count(js.String(), `"nm_password": "(sensitive)",`))
	require.Contains(t, text.String(), "      nm_password:  (sensitive)\n      phonebook:    \"2\"\n      zone:         \"Europe/London\"\n      (and 3 empty fields, carried as they are)\n")
	require.Contains(t, md.String(), "  - `nm_password`: `(sensitive)`\n  - `phonebook`: `\"2\"`\n  - `zone`: `\"Europe/London\"`\n  - (and 3 empty fields, carried as they are)\n")
	require.Contains(t, text.String(), "      (and 3 empty fields)\n", "the create on paris counts them too")
	require.Contains(t, md.String(), "  - (and 3 empty fields)\n")
}
