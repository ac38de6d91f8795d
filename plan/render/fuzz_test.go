package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

// fzHostile are the texts a hostile server or tenant writes (spec/api.md, "What the
// tool trusts"), to seed the corpus.
var fzHostile = []string{
	"\x1b]0;pwned\x07", "\x1b[2J", "\x1b[8m", "\r", "\n# Heading", "\n\n<img src=x onerror=alert(1)>",
	"```", "`", "``a``", "|", "| a | b |", "\u202e", "\u2066x\u2069", "\u2067\u2068", "\u009b31m", "\u0085",
	"\x7f", "\xff\xfe", "\xc0", "Verified: yes", "\rVerified: yes", "\u2028", "\u200b", "\ufeff", "\t",
	"*bold* _em_ [link](x) ![i](x) ~~s~~ &amp; \\", "",
}

// fzUnsafe returns what in out a terminal or viewer would act on: a control other
// than a line feed, DEL, a C1 control, a format character, a line or paragraph
// separator, bytes that are not UTF-8.
func fzUnsafe(out []byte) string {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRune(out[i:])
		bad := r == utf8.RuneError && size == 1 ||
			r != '\n' && (r < 0x20 || r == 0x7f) ||
			r >= 0x80 && r <= 0x9f ||
			unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029
		if bad {
			lo, hi := max(i-30, 0), min(i+size+30, len(out))
			return fmt.Sprintf("%q at byte %d in %q", out[i:i+size], i, out[lo:hi])
		}
		i += size
	}
	return ""
}

// fzTexts are the strings a plan is built from.
type fzTexts struct {
	id, name, target, field, before, after, warning, reason string
}

// neutral returns texts with the same pattern of equal strings, each made of plain
// letters, so that a renderer's layout can be compared: the same plan, tame.
func (x fzTexts) neutral() fzTexts {
	seen := map[string]string{}
	fixed := map[string]bool{"name": true}
	for _, f := range apiclient.Fields() {
		fixed[f.Name] = true // a known field renders as one, whatever its text
	}
	tame := func(s string) string {
		if fixed[s] || s == "" {
			return s
		}
		if t, ok := seen[s]; ok {
			return t
		}
		t := fmt.Sprintf("tame%c", 'a'+len(seen))
		seen[s] = t
		return t
	}
	return fzTexts{tame(x.id), tame(x.name), tame(x.target), tame(x.field), tame(x.before), tame(x.after), tame(x.warning), tame(x.reason)}
}

// object is a value of a kind the field table does not know, as a server sends it:
// raw JSON that holds s, its bytes that are not UTF-8 included.
func object(s string) apiclient.Value {
	var b strings.Builder
	b.WriteString(`{"k":"`)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`"}`)
	var v apiclient.Value
	if err := v.UnmarshalJSON([]byte(b.String())); err != nil || v.Kind() != apiclient.KindOther {
		panic(fmt.Sprintf("object %q: %v", b.String(), err))
	}
	return v
}

func (x fzTexts) plan() *plan.Plan {
	str := apiclient.String
	return &plan.Plan{
		Changes: []plan.Change{
			{Action: plan.Delete, Company: x.id},
			{Action: plan.Create, Company: x.id, Name: x.name, Fields: map[string]plan.FieldChange{
				"hs_access": {Before: apiclient.Null(), After: str(x.after)},
				"barge_pin": {Before: apiclient.Null(), After: str(x.after)},
				x.field:     {Before: apiclient.Null(), After: object(x.after)},
			}},
			{Action: plan.Update, Company: x.target, PartnerOf: []string{x.id}, Fields: map[string]plan.FieldChange{
				"name":      {Before: str(x.before), After: str(x.name)},
				"hs_access": {Before: object(x.before), After: str(x.after)},
				"barge_pin": {Before: str(x.before), After: str(x.after)},
				x.field:     {Before: str(x.before), After: str(x.after)},
			}},
			{Action: plan.Ungroup, Company: x.id},
			{Action: plan.Group, Company: x.id, Target: x.target, PartnerOf: []string{x.name, x.reason}},
		},
		Unmanaged:  []string{x.id, x.target},
		Warnings:   []string{x.warning, "unmanaged company " + x.id + " shares container " + x.target},
		NotPlanned: map[string]string{x.id: x.reason, x.target: "its container could not be read: " + x.reason},
	}
}

// comparison compares two snapshots built from x, with fuzzed company-ids, names,
// settings and container names.
func (x fzTexts) comparison() *state.Comparison {
	str := apiclient.String
	from := state.New([]apiclient.Company{
		{ID: x.id, Name: x.name, Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": str(x.before), "barge_pin": str(x.before), "hs_access_nm": str(x.before)})},
		{ID: x.target, Name: x.name},
	}, map[string][]string{x.reason: {x.id, x.target}})
	to := state.New([]apiclient.Company{
		{ID: x.id, Name: x.after, Settings: apiclient.SettingsOf(map[string]apiclient.Value{"hs_access": object(x.after), "barge_pin": str(x.after), "hs_access_nm": str(x.warning)})},
		{ID: x.warning, Name: x.name},
	}, map[string][]string{x.warning: {x.warning}})
	c, _ := state.CompareSnapshots(from, to, state.CompareOptions{})
	return c
}

// fzRender renders p and c in every form: the name of each form and its bytes.
func fzRender(t *testing.T, x fzTexts) map[string][]byte {
	out := map[string][]byte{}
	p := x.plan()
	var b bytes.Buffer
	if err := render.PlanText(&b, p, false); err != nil {
		t.Fatalf("PlanText: %v", err)
	}
	out["text"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := render.PlanMarkdown(&b, p, render.MarkdownOptions{}); err != nil {
		t.Fatalf("PlanMarkdown: %v", err)
	}
	out["markdown"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := render.PlanMarkdown(&b, p, render.MarkdownOptions{MaxSize: 1, FullPlan: x.name}); err != nil {
		t.Fatalf("PlanMarkdown, cut: %v", err)
	}
	out["markdown cut"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := render.PlanJSON(&b, p); err != nil {
		t.Fatalf("PlanJSON: %v", err)
	}
	out["json"] = bytes.Clone(b.Bytes())
	if c := x.comparison(); c != nil {
		b.Reset()
		if err := render.ComparisonText(&b, c, x.reason, x.warning); err != nil {
			t.Fatalf("ComparisonText: %v", err)
		}
		out["comparison text"] = bytes.Clone(b.Bytes())
		b.Reset()
		if err := render.ComparisonJSON(&b, c, x.reason, x.warning); err != nil {
			t.Fatalf("ComparisonJSON: %v", err)
		}
		out["comparison json"] = bytes.Clone(b.Bytes())
		b.Reset()
		if err := render.ComparisonMarkdown(&b, c, x.reason, x.warning, render.MarkdownOptions{}); err != nil {
			t.Fatalf("ComparisonMarkdown: %v", err)
		}
		out["comparison markdown"] = bytes.Clone(b.Bytes())
		b.Reset()
		if err := render.ComparisonMarkdown(&b, c, x.reason, x.warning, render.MarkdownOptions{MaxSize: 1, FullPlan: x.name}); err != nil {
			t.Fatalf("ComparisonMarkdown, cut: %v", err)
		}
		out["comparison markdown cut"] = bytes.Clone(b.Bytes())
	}
	return out
}

// FuzzRenderers renders plans and comparisons made of any strings: every form stays
// inert text (no control, C1, format character or invalid UTF-8), the JSON forms stay
// one valid document, and Markdown has as many lines, each starting as the renderer
// writes one, as for tame strings: no string breaks out of its line or code span.
func FuzzRenderers(f *testing.F) {
	for i, h := range fzHostile {
		next := fzHostile[(i+1)%len(fzHostile)]
		f.Add(h, "Name "+h, "t"+next, "x_"+h, h+next, next, "warning "+h, "reason "+next)
	}
	all := strings.Join(fzHostile, "")
	f.Add(all, all, all+"2", all, all, all, all, all)
	f.Add("acme", "name", "acme", "name", "", "", "", "")
	// An empty string makes "``", which is no code span: it pairs with the next run
	// of two backticks on its line, and the text after that run is Markdown again.
	f.Add("", "n", "``<img src=x onerror=alert(1)>", "x", "", "", "w", "r")
	f.Fuzz(func(t *testing.T, id, name, target, field, before, after, warning, reason string) {
		x := fzTexts{id, name, target, field, before, after, warning, reason}
		got := fzRender(t, x)
		for form, data := range got {
			if bad := fzUnsafe(data); bad != "" {
				t.Errorf("%s holds %s", form, bad)
			}
			if strings.Contains(form, "json") && !json.Valid(data) {
				t.Errorf("%s is not valid JSON: %q", form, data)
			}
		}
		// A comparison's layout depends on which values the field table finds equal
		// (bytes that are not UTF-8 and U+FFFD are one value), so only the plan's
		// forms are held to the tame layout.
		tame := fzRender(t, x.neutral())
		for _, form := range []string{"text", "markdown"} {
			if n, want := bytes.Count(got[form], []byte("\n")), bytes.Count(tame[form], []byte("\n")); n != want {
				t.Errorf("%s has %d lines, %d with tame strings:\n%s", form, n, want, got[form])
			}
		}
		for form, data := range got {
			if strings.Contains(form, "markdown") {
				fzRequireMarkdownContained(t, form, string(data))
			}
		}
	})
}

// fzRequireMarkdownContained checks that each line of a Markdown plan or comparison
// starts as PlanMarkdown or ComparisonMarkdown writes one; that, outside code spans, a list item, a
// heading and a bold line hold no character that starts markup unless it is escaped;
// and that every row of a table has its three cells, none with markup outside code
// spans.
func fzRequireMarkdownContained(t *testing.T, form, md string) {
	t.Helper()
	prefixes := []string{"### pbxsync plan", "### pbxsync diff", "**Plan: ", "**No changes", "**No differences: ", "**Differences between ",
		"#### ", "- ", "  - ", "| ", "<details><summary>", "</details>"}
	cutLine := regexp.MustCompile(`^\*\*\d+ (changes?|differences?) not shown\*\*: this (plan|comparison) is longer than \d+ characters; `)
	details := regexp.MustCompile(`^(<details><summary>([A-Z][a-z]+|Only in --from|Only in --to) \(\d+\)</summary>|</details>)$`)
	for i, line := range strings.Split(strings.TrimSuffix(md, "\n"), "\n") {
		if line == "" {
			continue
		}
		ok := cutLine.MatchString(line)
		for _, p := range prefixes {
			ok = ok || strings.HasPrefix(line, p)
		}
		if !ok || strings.HasPrefix(line, "<") && !details.MatchString(line) {
			t.Errorf("%s line %d does not start as the renderer writes one: %q", form, i+1, line)
			continue
		}
		switch {
		case strings.HasPrefix(line, "- "), strings.HasPrefix(line, "  - "):
			fzRequireNoMarkup(t, form, i+1, line, fzOutsideCodeSpans(line))
		case strings.HasPrefix(line, "#### "):
			fzRequireNoMarkup(t, form, i+1, line, fzOutsideCodeSpans(strings.TrimPrefix(line, "#### ")))
		case strings.HasPrefix(line, "**"):
			// The renderer's bold opens the line and its first closing "**" ends it: a
			// "**" from a string would close it early, and leave the renderer's behind.
			outside := fzOutsideCodeSpans(strings.TrimPrefix(line, "**"))
			before, after, closed := strings.Cut(outside, "**")
			if !closed {
				t.Errorf("%s line %d: bold that does not close: %q", form, i+1, line)
			}
			fzRequireNoMarkup(t, form, i+1, line, before+after)
		case strings.HasPrefix(line, "| "):
			cells := fzTableCells(line)
			if len(cells) != 3 {
				t.Errorf("%s line %d: a table row of %d cells, not 3: %q", form, i+1, len(cells), line)
			}
			for _, cell := range cells {
				fzRequireNoMarkup(t, form, i+1, line, fzOutsideCodeSpans(cell))
			}
		}
	}
}

// fzRequireNoMarkup checks that outside, a line without its code spans, holds no
// character that starts markup unless a backslash escapes it.
func fzRequireNoMarkup(t *testing.T, form string, n int, line, outside string) {
	t.Helper()
	for j := 0; j < len(outside); j++ {
		switch {
		case outside[j] == '\\':
			j++ // the escaped character
		case strings.IndexByte("<>|#`*[]_&!~", outside[j]) >= 0:
			t.Errorf("%s line %d has markup %q outside a code span: %q", form, n, outside[j], line)
			return
		}
	}
}

// fzTableCells splits a row of a GFM table into its cells as cmark-gfm does: at
// every pipe that no backslash right before it escapes (whatever stands before that
// backslash, code spans or not), without the pipes that open and close the row; then
// drops the backslash before each pipe and trims the cell.
func fzTableCells(row string) []string {
	row = strings.TrimPrefix(row, "|")
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '|' && (i == 0 || row[i-1] != '\\') {
			cells = append(cells, row[start:i])
			start = i + 1
		}
	}
	if rest := row[start:]; strings.TrimSpace(rest) != "" {
		cells = append(cells, rest)
	}
	for i, cell := range cells {
		cells[i] = strings.TrimSpace(strings.ReplaceAll(cell, `\|`, "|"))
	}
	return cells
}

// fzOutsideCodeSpans returns line without its code spans (CommonMark: a run of n
// backticks opens a span that the next run of exactly n backticks closes; a run that
// nothing closes is literal text).
func fzOutsideCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			b.WriteString(line[i : i+2])
			i += 2
			continue
		case line[i] != '`':
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		j, closed := i+n, false
		for j < len(line) {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				closed = true
				break
			}
			j += m
		}
		if !closed { // literal backticks, as CommonMark reads them
			b.WriteString(line[i : i+n])
			i += n
			continue
		}
		b.WriteByte(' ')
		i = j + n
	}
	return b.String()
}
