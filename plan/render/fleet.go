package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// FleetJSON writes the fleet plan's JSON form (plan.JSONFleetPlan) as one indented
// document.
func FleetJSON(w io.Writer, fp *plan.FleetPlan) error { return apiclient.WriteJSON(w, fp.JSON()) }

// moveLine is how text names a move.
func moveLine(mv plan.Move) string {
	line := fmt.Sprintf("-> move %s from %s to %s", apiclient.Printable(mv.Company), apiclient.Printable(mv.From), apiclient.Printable(mv.To))
	if mv.Adopt {
		line += " (on both already: finished by the delete on " + apiclient.Printable(mv.From) + ")"
	}
	return line
}

// conflictLine is how text and Markdown name a conflict, names shown by show.
func conflictLine(c plan.Conflict, show func(string) string) string {
	return fmt.Sprintf("conflict %s on %s and %s: not a move; neither copy is written, delete the wrong one", show(c.Company), show(c.From), show(c.To))
}

// conflictValues shows a field of a conflict: "(sensitive)" for a secret, else its
// value on each PBX, each shown by show.
func conflictValues(c plan.Conflict, f plan.FieldConflict, show func(string) string) string {
	if apiclient.IsSecret(f.Field) || f.To.IsSensitive() || f.From.IsSensitive() {
		return apiclient.Redacted
	}
	return fmt.Sprintf("%s on %s, %s on %s", show(apiclient.Display(f.Field, f.To)), show(c.To), show(apiclient.Display(f.Field, f.From)), show(c.From))
}

// FleetText writes the fleet plan for a person: the summary, the moves with the
// settings they carry (secrets as (sensitive)), the conflicts with the fields that
// differ (secrets as (sensitive)), then each PBX's plan (PlanText) under its name; a
// PBX that could not be read, with why.
func FleetText(w io.Writer, fp *plan.FleetPlan, color bool) error {
	b := &strings.Builder{}
	b.WriteString(fp.Summary() + "\n")
	for _, mv := range fp.Moves {
		fmt.Fprintf(b, "\n  %s\n", moveLine(mv))
		listed, empty := shownFields(mv.CarriedFields(), true)
		textFields(b, plan.Create, listed)
		if empty > 0 {
			fmt.Fprintf(b, "      (and %s, carried as they are)\n", plural(empty, "empty field", "empty fields"))
		}
	}
	for _, c := range fp.Conflicts {
		fmt.Fprintf(b, "\n  !! %s\n", conflictLine(c, apiclient.Printable))
		width := 0
		for _, f := range c.Fields {
			width = max(width, len(f.Field))
		}
		for _, f := range c.Fields {
			fmt.Fprintf(b, "      %-*s  %s\n", width+1, f.Field+":", conflictValues(c, f, apiclient.Printable))
		}
	}
	for _, name := range fp.Names {
		fmt.Fprintf(b, "\n== %s\n", apiclient.Printable(name))
		if err := fp.Failed[name]; err != nil {
			fmt.Fprintf(b, "Not read: %s\n", apiclient.Printable(err.Error()))
			continue
		}
		if err := PlanText(b, fp.PBXs[name], color); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FleetMarkdown writes the fleet plan for a pull request: the summary, the moves and
// the conflicts, then each PBX's plan (PlanMarkdown) under a heading of its own, the size limit
// shared among them.
func FleetMarkdown(w io.Writer, fp *plan.FleetPlan, opts MarkdownOptions) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "## pbxsync fleet plan\n\n**%s**\n", escapeMarkdown(fp.Summary()))
	if len(fp.Moves) > 0 {
		b.WriteString("\n### Moves\n\n")
		for _, mv := range fp.Moves {
			fmt.Fprintf(b, "- move %s from %s to %s", code(mv.Company), code(mv.From), code(mv.To))
			if mv.Adopt {
				b.WriteString(" (on both already)")
			}
			b.WriteString("\n")
			listed, empty := shownFields(mv.CarriedFields(), true)
			markdownFields(b, plan.Create, listed)
			if empty > 0 {
				fmt.Fprintf(b, "  - (and %s, carried as they are)\n", plural(empty, "empty field", "empty fields"))
			}
		}
	}
	if len(fp.Conflicts) > 0 {
		b.WriteString("\n### Conflicts\n\n")
		for _, c := range fp.Conflicts {
			fmt.Fprintf(b, "- %s\n", conflictLine(c, code))
			for _, f := range c.Fields {
				fmt.Fprintf(b, "  - %s: %s\n", code(f.Field), conflictValues(c, f, code))
			}
		}
	}
	for _, name := range fp.Names {
		fmt.Fprintf(b, "\n### PBX %s\n\n", code(name))
		if err := fp.Failed[name]; err != nil {
			fmt.Fprintf(b, "Not read: %s\n", code(err.Error()))
			continue
		}
		one := opts
		if opts.MaxSize > 0 {
			one.MaxSize = max(1000, (opts.MaxSize-b.Len())/max(1, len(fp.PBXs)))
		}
		var pbx strings.Builder
		if err := PlanMarkdown(&pbx, fp.PBXs[name], one); err != nil {
			return err
		}
		b.WriteString(strings.TrimPrefix(pbx.String(), planHeading)) // the PBX's heading stands for it
	}
	_, err := io.WriteString(w, b.String())
	return err
}
