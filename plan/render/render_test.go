package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

func TestWriteTextColour(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{
		{Action: plan.Delete, Company: "old"},
		{Action: plan.Create, Company: "new", Name: "New", Fields: map[string]plan.FieldChange{"nm_password": {After: apiclient.String("4711")}}},
	}}
	var plain, colour bytes.Buffer
	require.NoError(t, render.PlanText(&plain, p, false))
	require.NoError(t, render.PlanText(&colour, p, true))

	require.NotContains(t, plain.String(), "\x1b", "no colour unless asked")
	require.Contains(t, colour.String(), "\x1b[31m- delete old\x1b[0m")
	require.Contains(t, colour.String(), "\x1b[32m+ create new (\"New\")\x1b[0m")
	require.Equal(t, strings.Split(plain.String(), "\n")[0], strings.Split(colour.String(), "\n")[0], "the summary line is the same")
	for _, out := range []string{plain.String(), colour.String()} {
		require.NotContains(t, out, "4711")
		require.Contains(t, out, "nm_password:  (sensitive)")
	}
}

func TestMarkdownCodeSpans(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{{Action: plan.Update, Company: "a", Fields: map[string]plan.FieldChange{
		"hs_access": {Before: apiclient.String("x`y"), After: apiclient.String("a|b")},
	}}}}
	var md bytes.Buffer
	require.NoError(t, render.PlanMarkdown(&md, p, render.MarkdownOptions{}))
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
	require.NoError(t, render.PlanMarkdown(&b, p, render.MarkdownOptions{MaxSize: 60_000, FullPlan: "in the job's artifacts (plan.json)"}))
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
	long := strings.Repeat("https://ci.example.com/artifacts/", 100) // longer than any fixed room kept for the line
	require.NoError(t, render.PlanMarkdown(&b, p, render.MarkdownOptions{MaxSize: 60_000, FullPlan: long}))
	require.LessOrEqual(t, len(b.String()), 60_000)
	require.Contains(t, b.String(), "; the whole plan is "+long+".\n")

	b.Reset()
	require.NoError(t, render.PlanMarkdown(&b, p, render.MarkdownOptions{}))
	require.NotContains(t, b.String(), "not shown")
	require.Equal(t, len(p.Changes), strings.Count(b.String(), "\n- "))
}

// diffSides are two snapshots that differ in every way a comparison looks at: a
// company on each side only, a name, a setting, a PIN, and grouping.
func diffSides() (from, to *state.State) {
	str := apiclient.String
	from = state.New([]apiclient.Company{
		{ID: "acme", Name: "Acme", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("US/Pacific"), "nm_password": str("31415926")})},
		{ID: "beta", Name: "Beta"},
		{ID: "old_only", Name: "Old"},
	}, map[string][]string{"box": {"acme", "beta"}})
	to = state.New([]apiclient.Company{
		{ID: "acme", Name: "Acme Inc", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("Europe/London"), "nm_password": str("27182818")})},
		{ID: "beta", Name: "Beta"},
		{ID: "new_only", Name: "New"},
	}, nil)
	return from, to
}

func TestComparisonMarkdown(t *testing.T) {
	from, to := diffSides()
	c, missing := state.CompareSnapshots(from, to, state.CompareOptions{})
	require.Empty(t, missing)
	var b strings.Builder
	require.NoError(t, render.ComparisonMarkdown(&b, c, "sim:from.yaml", "https://pbx.example.com", render.MarkdownOptions{MaxSize: 60_000}))
	want := "### pbxsync diff\n\n" +
		"**Differences between `sim:from.yaml` (--from) and `https://pbx.example.com` (--to): 1 only in --from, 1 only in --to, 2 different, of 4 companies compared.**\n" +
		"\n<details><summary>Only in --from (1)</summary>\n\n- `old_only`\n\n</details>\n" +
		"\n<details><summary>Only in --to (1)</summary>\n\n- `new_only`\n\n</details>\n" +
		"\n<details><summary>Different (2)</summary>\n\n" +
		"#### `acme`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
		"| `name` | `\"Acme\"` | `\"Acme Inc\"` |\n" +
		"| `nm_password` | (sensitive) differs | (sensitive) differs |\n" +
		"| `zone` | `\"US/Pacific\"` | `\"Europe/London\"` |\n" +
		"| container | `acme`, `beta` | `acme` |\n\n" +
		"#### `beta`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
		"| container | `acme`, `beta` | `beta` |\n\n" +
		"\n</details>\n"
	require.Equal(t, want, b.String())
	fzRequireMarkdownContained(t, "comparison", b.String())

	b.Reset()
	same, _ := state.CompareSnapshots(from, from, state.CompareOptions{})
	require.NoError(t, render.ComparisonMarkdown(&b, same, "sim:a.yaml", "sim:b.yaml", render.MarkdownOptions{}))
	require.Equal(t, "### pbxsync diff\n\n**No differences: 3 companies compared, the same on `sim:a.yaml` and `sim:b.yaml`.**\n", b.String())
}

// What a server sends stays in its code span and its table cell, whatever it holds.
func TestComparisonMarkdownHostile(t *testing.T) {
	const id = "a|b`c\n</details>\n# x"
	str := apiclient.String
	from := state.New([]apiclient.Company{
		{ID: id, Name: "`|`", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("x\\|y</details>"), "barge_pin": str("4711|`")})},
		{ID: "only`\r\n<img src=x onerror=alert(1)>", Name: "n"},
	}, map[string][]string{"box": {id, "only`\r\n<img src=x onerror=alert(1)>"}})
	to := state.New([]apiclient.Company{
		{ID: id, Name: "\u202eevil\n| a | b | c |", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"zone": str("``"), "barge_pin": str("0815")})},
	}, map[string][]string{"box": {id}})
	c, _ := state.CompareSnapshots(from, to, state.CompareOptions{})
	var b strings.Builder
	require.NoError(t, render.ComparisonMarkdown(&b, c, "sim:from|`.yaml", "sim:to.yaml", render.MarkdownOptions{}))
	md := b.String()
	fzRequireMarkdownContained(t, "comparison", md)
	require.Empty(t, fzUnsafe([]byte(md)))
	require.Equal(t, 2, strings.Count(md, "\n</details>\n"), "only the renderer's sections close:\n%s", md)
	require.Equal(t, 2, strings.Count(md, "\n<details>"))
	require.NotContains(t, md, "4711")
	require.NotContains(t, md, "0815")
	require.Contains(t, md, "- ``only`\\r\\n<img src=x onerror=alert(1)>``\n")
	require.Contains(t, md, "#### ``a|b`c\\n</details>\\n# x``\n")
	require.Contains(t, md, "| `name` | ``\"`\\|`\"`` | `\"\\u202eevil\\n\\| a \\| b \\| c \\|\"` |\n",
		"pipes escaped in a cell, code spans or not; a bidi override and a line break made visible")
	require.Contains(t, md, "| `zone` | `\"x\\\\\\|y\\u003c/details\\u003e\"` | ```\"``\"``` |\n")
	require.Contains(t, md, "| `barge_pin` | (sensitive) differs | (sensitive) differs |\n")
	require.Contains(t, md, "| container | ``a\\|b`c\\n</details>\\n# x``, ``only`\\r\\n<img src=x onerror=alert(1)>`` | ``a\\|b`c\\n</details>\\n# x`` |\n")
	for _, row := range strings.Split(md, "\n") {
		if strings.HasPrefix(row, "| ") {
			require.Len(t, fzTableCells(row), 3, "one row, three cells: %q", row)
		}
	}
}

// A Markdown comparison fits where it is posted, as a Markdown plan does.
func TestComparisonMarkdownMaxSize(t *testing.T) {
	var fromCos, toCos []apiclient.Company
	for i := range 2000 {
		id := fmt.Sprintf("c%05d", i)
		fromCos = append(fromCos, apiclient.Company{ID: id, Name: "Before " + id, Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String("31415926")})})
		toCos = append(toCos, apiclient.Company{ID: id, Name: "After " + id, Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String("27182818")})})
	}
	fromCos = append(fromCos, apiclient.Company{ID: "zz_old"})
	toCos = append(toCos, apiclient.Company{ID: "zz_new"})
	c, _ := state.CompareSnapshots(state.New(fromCos, nil), state.New(toCos, nil), state.CompareOptions{})
	require.Len(t, c.Diffs, 2002)

	for _, tc := range []struct{ full, where string }{
		{"", `run pbxsync diff --format json for the whole comparison\.`},
		{"in the job's artifacts (diff.json)", `the whole comparison is in the job's artifacts \(diff\.json\)\.`},
		{strings.Repeat("x", 2000), `the whole comparison is x+\.`}, // longer than any fixed room for the line
	} {
		var b strings.Builder
		require.NoError(t, render.ComparisonMarkdown(&b, c, "sim:from.yaml", "sim:to.yaml", render.MarkdownOptions{MaxSize: 60_000, FullPlan: tc.full}))
		md := b.String()
		require.LessOrEqual(t, len(md), 60_000)
		require.Greater(t, len(md), 50_000, "the room is used")
		require.Equal(t, strings.Count(md, "<details>"), strings.Count(md, "</details>"))
		require.Contains(t, md, "<details><summary>Only in --from (1)</summary>\n\n- `zz_old`\n", "the sections come in order, the first one whole")
		require.Contains(t, md, "<details><summary>Different (2000)</summary>")
		m := regexp.MustCompile(`\n\*\*(\d+) differences not shown\*\*: this comparison is longer than 60000 characters; ` + tc.where + "\n$").FindStringSubmatch(md)
		require.NotNil(t, m, md[len(md)-300:])
		notShown, _ := strconv.Atoi(m[1])
		shown := strings.Count(md, "\n- ") + strings.Count(md, "\n#### ")
		require.Greater(t, notShown, 0)
		require.Equal(t, len(c.Diffs), shown+notShown)
		require.NotContains(t, md, "31415926")
		require.NotContains(t, md, "27182818")
		fzRequireMarkdownContained(t, "comparison", md)
	}

	var b strings.Builder
	require.NoError(t, render.ComparisonMarkdown(&b, c, "sim:from.yaml", "sim:to.yaml", render.MarkdownOptions{}))
	require.NotContains(t, b.String(), "not shown")
	require.Equal(t, 2, strings.Count(b.String(), "\n- "))
	require.Equal(t, 2000, strings.Count(b.String(), "\n#### "))
}

// A create's empty values are counted, not listed, unless --explain says where one
// was set; an empty secret is one of them, never (sensitive), which would read as a
// PIN that is set. An update lists every field, and shows a PIN set or cleared as
// such. Markdown shows what text shows, and JSON the same values.
func TestEmptyFieldsCounted(t *testing.T) {
	secret := func(s string) apiclient.Value { return apiclient.String(s).MarkSensitive() } // as Diff holds a PIN
	p := &plan.Plan{Changes: []plan.Change{
		{Action: plan.Create, Company: "new", Name: "New", Fields: map[string]plan.FieldChange{
			"zone":         {After: apiclient.String("Europe/Paris")},
			"callerid":     {After: apiclient.String("")},
			"nocallrec":    {After: apiclient.Null()},
			"crm_url":      {After: apiclient.String(""), Origin: "inv.yaml:4"},
			"barge_pin":    {After: secret("")},
			"ivr_password": {After: apiclient.String("")}, // unmarked, as a program may build it
			"nm_password":  {After: secret("4711")},
		}},
		{Action: plan.Update, Company: "old", Fields: map[string]plan.FieldChange{
			"callerid":     {Before: apiclient.String("-1"), After: apiclient.String("")},
			"barge_pin":    {Before: secret("1234"), After: secret("")},
			"ivr_password": {Before: secret(""), After: secret("5678")},
			"nm_password":  {Before: secret("1111"), After: apiclient.String("2222")},
		}},
	}}
	var text, md, js bytes.Buffer
	require.NoError(t, render.PlanText(&text, p, false))
	require.NoError(t, render.PlanMarkdown(&md, p, render.MarkdownOptions{}))
	require.NoError(t, render.PlanJSON(&js, p))
	require.Equal(t, `Plan: 1 to create, 1 to update.

  + create new ("New")
      crm_url:      ""   (set at inv.yaml:4)
      nm_password:  (sensitive)
      zone:         "Europe/Paris"
      (and 4 empty fields)

  ~ update old
      barge_pin:     (sensitive) -> ""
      callerid:      "-1" -> ""
      ivr_password:  "" -> (sensitive)
      nm_password:   (sensitive) changed
`, text.String())
	require.Contains(t, md.String(), "- `new`, named `New`\n"+
		"  - `crm_url`: `\"\"` (set at `inv.yaml:4`)\n"+
		"  - `nm_password`: `(sensitive)`\n"+
		"  - `zone`: `\"Europe/Paris\"`\n"+
		"  - (and 4 empty fields)\n")
	require.Contains(t, md.String(), "- `old`\n"+
		"  - `barge_pin`: `(sensitive)` → `\"\"`\n"+
		"  - `callerid`: `\"-1\"` → `\"\"`\n"+
		"  - `ivr_password`: `\"\"` → `(sensitive)`\n"+
		"  - `nm_password`: `(sensitive)` changed\n")
	var doc plan.JSONPlan
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	got := map[string]string{}
	for name, v := range doc.Changes[0].Settings {
		got["create "+name] = string(v)
	}
	for name, f := range doc.Changes[1].Fields {
		got["update "+name] = string(f.Before) + " -> " + string(f.After)
	}
	require.Equal(t, map[string]string{
		"create zone": `"Europe/Paris"`, "create callerid": `""`, "create nocallrec": "null", "create crm_url": `""`,
		"create barge_pin": `""`, "create ivr_password": `""`, "create nm_password": `"(sensitive)"`,
		"update callerid": `"-1" -> ""`, "update barge_pin": `"(sensitive)" -> ""`,
		"update ivr_password": `"" -> "(sensitive)"`, "update nm_password": `"(sensitive)" -> "(sensitive)"`,
	}, got)
	for _, out := range []string{text.String(), md.String(), js.String()} {
		for _, pin := range []string{"4711", "1234", "5678", "1111", "2222"} {
			require.NotContains(t, out, pin)
		}
	}
}
