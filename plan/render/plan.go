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
	var listed []plan.NamedField
	empty := 0
	for _, f := range c.SortedFields() {
		// A create's empty values (all of them, for a company moved with every
		// setting) are counted, not listed; a secret is always listed, as
		// (sensitive), so that not even its emptiness shows.
		if c.Action == plan.Create && blank(f.After) && f.Origin == "" && !f.After.IsSensitive() {
			empty++
			continue
		}
		listed = append(listed, f)
	}
	width := 0
	for _, f := range listed {
		width = max(width, len(f.Name))
	}
	for _, f := range listed {
		fmt.Fprintf(b, "      %-*s  %s\n", width+1, apiclient.Printable(f.Name)+":", textField(c.Action, f.FieldChange))
	}
	if empty > 0 {
		fmt.Fprintf(b, "      (and %s)\n", plural(empty, "empty field", "empty fields"))
	}
}

func textField(a plan.Action, f plan.FieldChange) string {
	var text string
	switch {
	case a == plan.Create:
		text = apiclient.Printable(f.After.String())
	case f.Before.IsSensitive() || f.After.IsSensitive():
		text = apiclient.Redacted + " changed"
	default:
		text = apiclient.Printable(f.Before.JSON()) + " -> " + apiclient.Printable(f.After.JSON())
	}
	if f.Origin != "" {
		text += "   (set at " + apiclient.Printable(f.Origin) + ")"
	}
	return text
}

// blank reports whether a value is empty: "" or null, which a create's and a move's
// text count rather than list.
func blank(v apiclient.Value) bool { j := v.Reveal().JSON(); return j == `""` || j == "null" }

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
	for _, f := range c.SortedFields() {
		switch {
		case c.Action == plan.Create:
			fmt.Fprintf(b, "  - %s: %s", code(f.Name), code(f.After.String()))
		case f.Before.IsSensitive() || f.After.IsSensitive():
			fmt.Fprintf(b, "  - %s: %s", code(f.Name), code(apiclient.Redacted)+" changed")
		default:
			fmt.Fprintf(b, "  - %s: %s → %s", code(f.Name), code(f.Before.JSON()), code(f.After.JSON()))
		}
		if f.Origin != "" {
			fmt.Fprintf(b, " (set at %s)", code(f.Origin))
		}
		b.WriteString("\n")
	}
	return b.String()
}
