package plan_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
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
	require.NoError(t, p.WriteMarkdown(&md, plan.MarkdownOptions{}))
	require.Contains(t, md.String(), "- `hs_access`: ``\"x`y\"`` → `\"a|b\"`", "a backtick in a value widens the fence")
}

// A Markdown plan fits where it is posted: past MaxSize the changes are cut, every
// section still closes, and a line says how many are not shown and where the rest is.
func TestMarkdownMaxSize(t *testing.T) {
	p := &plan.Plan{}
	for i := range 3000 {
		p.Changes = append(p.Changes, plan.Change{Action: plan.Update, Company: fmt.Sprintf("c%05d", i), Fields: map[string]plan.FieldChange{
			"zone": {Before: apiclient.String("Europe/London"), After: apiclient.String("US/Pacific")},
		}})
	}
	p.Changes = append(p.Changes, plan.Change{Action: plan.Create, Company: "newco", Name: "New Co", Description: "Head office"})
	plan.SortChanges(p.Changes)
	var b strings.Builder
	require.NoError(t, p.WriteMarkdown(&b, plan.MarkdownOptions{MaxSize: 60_000, FullPlan: "in the job's artifacts (plan.json)"}))
	md := b.String()
	require.LessOrEqual(t, len(md), 60_000)
	require.Equal(t, strings.Count(md, "<details>"), strings.Count(md, "</details>"))
	shown := strings.Count(md, "\n- ")
	m := regexp.MustCompile(`\*\*(\d+) changes not shown\*\*: this plan is longer than 60000 characters; the whole plan is in the job's artifacts \(plan\.json\)\.`).FindStringSubmatch(md)
	require.NotNil(t, m, md[len(md)-300:])
	notShown, _ := strconv.Atoi(m[1])
	require.Equal(t, len(p.Changes), shown+notShown)
	require.Contains(t, md, "- `newco`, named `New Co`, described `Head office`", "creates come before updates, and show their description")

	b.Reset()
	require.NoError(t, p.WriteMarkdown(&b, plan.MarkdownOptions{}))
	require.NotContains(t, b.String(), "not shown")
	require.Equal(t, len(p.Changes), strings.Count(b.String(), "\n- "))
}
