package render

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/state"
)

// ComparisonJSON writes the comparison's JSON form (state.JSONComparison) as one
// indented document, from and to naming the sides.
func ComparisonJSON(w io.Writer, c *state.Comparison, from, to string) error {
	return apiclient.WriteJSON(w, c.JSON(from, to))
}

// ComparisonText writes the differences for a person, from and to naming the sides:
// a summary line, then each company in id order: "-" only in --from, "+" only in
// --to, "~" different, with each field as from -> to, secrets as (sensitive), and
// the container-mates on each side.
func ComparisonText(w io.Writer, c *state.Comparison, from, to string) error {
	b := &strings.Builder{}
	if c.Equal() {
		fmt.Fprintf(b, "No differences: %s compared, the same on %s and %s.\n", plural(c.Compared, "company", "companies"),
			apiclient.Printable(from), apiclient.Printable(to))
		_, err := io.WriteString(w, b.String())
		return err
	}
	n := c.Count()
	fmt.Fprintf(b, "Differences between %s (--from) and %s (--to): %d only in --from, %d only in --to, %d different, of %s compared.\n",
		apiclient.Printable(from), apiclient.Printable(to), n[state.OnlyFrom], n[state.OnlyTo], n[state.Differs], plural(c.Compared, "company", "companies"))
	for _, d := range c.Diffs {
		switch d.Kind {
		case state.OnlyFrom:
			fmt.Fprintf(b, "\n  - %s: only in --from\n", apiclient.Printable(d.Company))
			continue
		case state.OnlyTo:
			fmt.Fprintf(b, "\n  + %s: only in --to\n", apiclient.Printable(d.Company))
			continue
		}
		fmt.Fprintf(b, "\n  ~ %s\n", apiclient.Printable(d.Company))
		names := fieldNames(d)
		width := len("container")
		for _, name := range names {
			width = max(width, len(name))
		}
		for _, name := range names {
			f := d.Fields[name]
			value := apiclient.Printable(f.From.JSON()) + " -> " + apiclient.Printable(f.To.JSON())
			if sensitive(f) {
				value = apiclient.Redacted + " differs"
			}
			fmt.Fprintf(b, "      %-*s  %s\n", width+1, name+":", value)
		}
		if d.Mates != nil {
			fmt.Fprintf(b, "      %-*s  [%s] -> [%s]\n", width+1, "container:",
				apiclient.Printable(strings.Join(d.Mates[0], " ")), apiclient.Printable(strings.Join(d.Mates[1], " ")))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fieldNames returns the fields that differ: the name first, then the settings in
// name order.
func fieldNames(d state.CompanyDiff) []string {
	names := slices.Sorted(maps.Keys(d.Fields))
	if i := slices.Index(names, "name"); i > 0 {
		names = append([]string{"name"}, slices.Delete(names, i, i+1)...)
	}
	return names
}

// sensitive reports whether the field is a secret's, shown only as differing.
func sensitive(f state.FieldDiff) bool { return f.From.IsSensitive() || f.To.IsSensitive() }

// ComparisonMarkdown writes the differences for a ticket or a pull request, from and
// to naming the sides: a summary line with the counts, then one collapsible section
// per kind (only in --from, only in --to, different), the fields of a company that
// differs as a table of its values on each side (a secret as "(sensitive) differs")
// with its container-mates on each side; cut to opts.MaxSize, as a Markdown plan is.
// Every text that came from a server stands in a code span, pipes escaped in a table.
func ComparisonMarkdown(w io.Writer, c *state.Comparison, from, to string, opts MarkdownOptions) error {
	b := &strings.Builder{}
	b.WriteString("### pbxsync diff\n\n")
	if c.Equal() {
		fmt.Fprintf(b, "**No differences: %s compared, the same on %s and %s.**\n",
			plural(c.Compared, "company", "companies"), code(from), code(to))
		_, err := io.WriteString(w, b.String())
		return err
	}
	n := c.Count()
	fmt.Fprintf(b, "**Differences between %s (--from) and %s (--to): %d only in --from, %d only in --to, %d different, of %s compared.**\n",
		code(from), code(to), n[state.OnlyFrom], n[state.OnlyTo], n[state.Differs], plural(c.Compared, "company", "companies"))
	byKind := map[state.Difference][]state.CompanyDiff{}
	for _, d := range c.Diffs {
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	only := func(kind state.Difference) func(int) string {
		return func(i int) string { return "- " + code(byKind[kind][i].Company) + "\n" }
	}
	sections := []markdownSection{
		{title: "Only in --from", n: n[state.OnlyFrom], item: only(state.OnlyFrom)},
		{title: "Only in --to", n: n[state.OnlyTo], item: only(state.OnlyTo)},
		{title: "Different", n: n[state.Differs], item: func(i int) string { return markdownCompanyDiff(byKind[state.Differs][i]) }},
	}
	writeMarkdownSections(b, sections, "", opts, markdownCut{
		one: "difference", many: "differences", doc: "comparison", hint: "run pbxsync diff --format json for the whole comparison",
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownCompanyDiff writes a company that differs: its id as a heading, then a
// table of what differs, the name first, the container last.
func markdownCompanyDiff(d state.CompanyDiff) string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "#### %s\n\n| field | --from | --to |\n| --- | --- | --- |\n", code(d.Company))
	for _, name := range fieldNames(d) {
		f := d.Fields[name]
		from, to := code(f.From.JSON()), code(f.To.JSON())
		if sensitive(f) {
			from, to = apiclient.Redacted+" differs", apiclient.Redacted+" differs"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", tableCell(code(name)), tableCell(from), tableCell(to))
	}
	if d.Mates != nil {
		mates := func(ids []string) string {
			shown := make([]string, len(ids))
			for i, id := range ids {
				shown[i] = code(id)
			}
			return tableCell(strings.Join(shown, ", "))
		}
		fmt.Fprintf(b, "| container | %s | %s |\n", mates(d.Mates[0]), mates(d.Mates[1]))
	}
	b.WriteString("\n")
	return b.String()
}
