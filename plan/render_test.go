package plan_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

func TestWriteTextColour(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{
		{Action: plan.Delete, Company: "old"},
		{Action: plan.Create, Company: "new", Name: "New", Fields: map[string]plan.FieldChange{"nm_password": {After: apiclient.String("4711")}}},
	}}
	var plain, colour bytes.Buffer
	require.NoError(t, p.WriteText(&plain, false))
	require.NoError(t, p.WriteText(&colour, true))

	require.NotContains(t, plain.String(), "\x1b", "no colour unless asked")
	require.Contains(t, colour.String(), "\x1b[31m- delete old\x1b[0m")
	require.Contains(t, colour.String(), "\x1b[32m+ create new (\"New\")\x1b[0m")
	require.Equal(t, strings.Split(plain.String(), "\n")[0], strings.Split(colour.String(), "\n")[0], "the summary line is the same")
	for _, out := range []string{plain.String(), colour.String()} {
		require.NotContains(t, out, "4711")
		require.Contains(t, out, "nm_password:  (sensitive)")
	}
}

func TestSummary(t *testing.T) {
	require.Equal(t, "No changes: the server matches the inventory.", (&plan.Plan{}).Summary())
	p := &plan.Plan{Changes: []plan.Change{
		{Action: plan.Delete, Company: "a"}, {Action: plan.Create, Company: "b"}, {Action: plan.Create, Company: "c"},
		{Action: plan.Update, Company: "d"}, {Action: plan.Group, Company: "e", Target: "b"},
	}}
	require.Equal(t, "Plan: 2 to create, 1 to update, 1 to group, 1 to delete.", p.Summary())
}

func TestMarkdownCodeSpans(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{{Action: plan.Update, Company: "a", Fields: map[string]plan.FieldChange{
		"hs_access": {Before: apiclient.String("x`y"), After: apiclient.String("a|b")},
	}}}}
	var md bytes.Buffer
	require.NoError(t, p.WriteMarkdown(&md))
	require.Contains(t, md.String(), "- `hs_access`: ``\"x`y\"`` → `\"a|b\"`", "a backtick in a value widens the fence")
}
