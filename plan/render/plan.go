package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// PlanJSON writes the plan's JSON form (plan.JSONPlan) as one indented document.
func PlanJSON(w io.Writer, p *plan.Plan) error {
	return apiclient.WriteJSON(w, p.JSON())
}

// The marks and colours of the text form.
var marks = map[plan.Action]struct{ sign, color string }{
	plan.Delete:  {"-", "\x1b[31m"},
	plan.Create:  {"+", "\x1b[32m"},
	plan.Update:  {"~", "\x1b[33m"},
	plan.Ungroup: {"<", "\x1b[36m"},
	plan.Group:   {">", "\x1b[36m"},
}

const reset = "\x1b[0m"

// PlanText writes the plan for a person: the summary line first, then each change,
// deletes on top, fields as before -> after. Colour only when color is true. What
// came from the server is made printable (apiclient.Printable).
func PlanText(w io.Writer, p *plan.Plan, color bool) error {
	b := &strings.Builder{}
	b.WriteString(p.Summary())
	if len(p.Unmanaged) > 0 {
		fmt.Fprintf(b, " %s (on the server, not in the inventory).", plural(len(p.Unmanaged), "unmanaged company", "unmanaged companies"))
		fmt.Fprintf(b, "\nUnmanaged: %s.", plan.FirstOf(p.Unmanaged, 20, apiclient.Printable))
	}
	if p.Partial {
		b.WriteString("\nPartial: only the companies --company and --match chose, and their container partners.")
	}
	b.WriteString("\n")
	for _, c := range p.Changes {
		textChange(b, c, color)
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, warning := range p.Warnings {
			fmt.Fprintf(b, "  ! %s\n", apiclient.Printable(warning))
		}
	}
	if len(p.NotPlanned) > 0 {
		b.WriteString("\nNot planned (the plan is incomplete; run again):\n")
		for _, id := range p.NotPlannedIDs() {
			fmt.Fprintf(b, "  ! %s: %s\n", apiclient.Printable(id), apiclient.Printable(p.NotPlanned[id]))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textChange writes one change of a text plan: its head line, then its fields.
func textChange(b *strings.Builder, c plan.Change, color bool) {
	m := marks[c.Action]
	head := fmt.Sprintf("%s %s %s", m.sign, c.Action, apiclient.Printable(c.Company))
	switch c.Action {
	case plan.Create:
		head += fmt.Sprintf(" (%q)", c.Name)
		if c.Description != "" {
			head += fmt.Sprintf(", described %q", c.Description)
		}
	case plan.Group:
		head += " into the container of " + apiclient.Printable(c.Target)
	case plan.Ungroup:
		head += " into a container of its own"
	}
	if color {
		head = m.color + head + reset
	}
	fmt.Fprintf(b, "\n  %s\n", head)
	if len(c.PartnerOf) > 0 {
		fmt.Fprintf(b, "      %s\n", partnerLine(c, apiclient.Printable))
	}
	listed, empty := shownFields(c.SortedFields(), c.Action == plan.Create)
	textFields(b, c.Action, listed)
	if empty > 0 {
		fmt.Fprintf(b, "      (and %s)\n", plural(empty, "empty field", "empty fields"))
	}
}

// partnerLine says why a partial plan holds a change of a company that --company and
// --match did not choose, names shown by show.
func partnerLine(c plan.Change, show func(string) string) string {
	ids := c.PartnerOf
	switch n := len(ids); {
	case n == 1:
		return fmt.Sprintf("(container partner of %s, brought in with it)", show(ids[0]))
	case n <= 5:
		return fmt.Sprintf("(container partner of %s and %s, brought in with them)", plan.FirstOf(ids[:n-1], n, show), show(ids[n-1]))
	}
	return fmt.Sprintf("(container partner of %s, brought in with them)", plan.FirstOf(ids, 5, show))
}

// shownFields returns the fields a plan lists, and with count the number of those it
// counts instead: the empty ones ("" or null, a secret's too), which a create (all of
// them, for a company moved with every setting) and a move would list by the dozen,
// unless --explain says where one was set.
func shownFields(fields []plan.NamedField, count bool) (listed []plan.NamedField, empty int) {
	for _, f := range fields {
		if count && plan.Blank(f.After) && f.Origin == "" {
			empty++
			continue
		}
		listed = append(listed, f)
	}
	return listed, empty
}

// textFields writes the fields of a change, one a line, their values aligned.
func textFields(b *strings.Builder, a plan.Action, fields []plan.NamedField) {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.Name))
	}
	for _, f := range fields {
		fmt.Fprintf(b, "      %-*s  %s\n", width+1, apiclient.Printable(f.Name)+":", textField(a, f.FieldChange))
	}
}

func textField(a plan.Action, f plan.FieldChange) string {
	var text string
	switch {
	case a == plan.Create:
		text = apiclient.Printable(f.After.String())
	case f.Before.IsSensitive() && f.After.IsSensitive():
		text = apiclient.Redacted + " changed"
	default: // a secret set or cleared shows which, its value as (sensitive)
		text = apiclient.Printable(f.Before.String()) + " -> " + apiclient.Printable(f.After.String())
	}
	if f.Origin != "" {
		text += "   (set at " + apiclient.Printable(f.Origin) + ")"
	}
	return text
}

// planHeading opens a Markdown plan.
const planHeading = "### pbxsync plan\n\n"

// PlanMarkdown writes the plan for a change ticket or a pull request: the summary,
// then one collapsible section per action, cut to opts.MaxSize.
func PlanMarkdown(w io.Writer, p *plan.Plan, opts MarkdownOptions) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s**%s**", planHeading, p.Summary())
	if p.Partial {
		b.WriteString(" Partial: only the companies --company and --match chose, and their container partners.")
	}
	if len(p.Unmanaged) > 0 {
		fmt.Fprintf(b, " %s (on the server, not in the inventory): %s.", plural(len(p.Unmanaged), "unmanaged company", "unmanaged companies"), plan.FirstOf(p.Unmanaged, 20, code))
	}
	b.WriteString("\n")
	// The end is written first, so that the cut knows how much room it needs.
	var end strings.Builder
	if len(p.Warnings) > 0 {
		end.WriteString("\n#### Warnings\n\n")
		for _, warning := range p.Warnings {
			fmt.Fprintf(&end, "- %s\n", escapeMarkdown(warning))
		}
	}
	if len(p.NotPlanned) > 0 {
		end.WriteString("\n#### Not planned (the plan is incomplete)\n\n")
		for _, id := range p.NotPlannedIDs() {
			fmt.Fprintf(&end, "- %s: %s\n", code(id), escapeMarkdown(p.NotPlanned[id]))
		}
	}
	var sections []markdownSection
	for _, a := range plan.Actions {
		var section []plan.Change
		for _, c := range p.Changes {
			if c.Action == a {
				section = append(section, c)
			}
		}
		sections = append(sections, markdownSection{
			title: strings.ToUpper(string(a[:1])) + string(a[1:]),
			n:     len(section),
			item:  func(i int) string { return markdownChange(section[i]) },
		})
	}
	writeMarkdownSections(b, sections, end.String(), opts, markdownCut{
		one: "change", many: "changes", doc: "plan", hint: "run pbxsync plan --format json for the whole plan",
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownChange writes one change as a list item, its fields under it.
func markdownChange(c plan.Change) string {
	b := &strings.Builder{}
	switch c.Action {
	case plan.Create:
		fmt.Fprintf(b, "- %s, named %s", code(c.Company), code(c.Name))
		if c.Description != "" {
			fmt.Fprintf(b, ", described %s", code(c.Description))
		}
		b.WriteString("\n")
	case plan.Group:
		fmt.Fprintf(b, "- %s joins the container of %s\n", code(c.Company), code(c.Target))
	default:
		fmt.Fprintf(b, "- %s\n", code(c.Company))
	}
	if len(c.PartnerOf) > 0 {
		fmt.Fprintf(b, "  - %s\n", partnerLine(c, code))
	}
	listed, empty := shownFields(c.SortedFields(), c.Action == plan.Create)
	markdownFields(b, c.Action, listed)
	if empty > 0 {
		fmt.Fprintf(b, "  - (and %s)\n", plural(empty, "empty field", "empty fields"))
	}
	return b.String()
}

// markdownFields writes the fields of a change as list items under it.
func markdownFields(b *strings.Builder, a plan.Action, fields []plan.NamedField) {
	for _, f := range fields {
		switch {
		case a == plan.Create:
			fmt.Fprintf(b, "  - %s: %s", code(f.Name), code(f.After.String()))
		case f.Before.IsSensitive() && f.After.IsSensitive():
			fmt.Fprintf(b, "  - %s: %s", code(f.Name), code(apiclient.Redacted)+" changed")
		default:
			fmt.Fprintf(b, "  - %s: %s → %s", code(f.Name), code(f.Before.String()), code(f.After.String()))
		}
		if f.Origin != "" {
			fmt.Fprintf(b, " (set at %s)", code(f.Origin))
		}
		b.WriteString("\n")
	}
}
