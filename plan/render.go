package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// FormatVersion is the version of the JSON plan's format (spec/cli.md).
const FormatVersion = 1

// JSONPlan is the JSON form of a plan, the contract scripts rely on.
type JSONPlan struct {
	FormatVersion int          `json:"format_version"`
	Changes       []JSONChange `json:"changes"`
	Summary       JSONSummary  `json:"summary"`
	Unmanaged     int          `json:"unmanaged"`
	// Partial is true for a plan of chosen companies (--company, --match).
	Partial bool `json:"partial,omitempty"`
	// UnmanagedCompanies are the companies counted in Unmanaged, sorted.
	UnmanagedCompanies []string `json:"unmanaged_companies"`
	Warnings           []string `json:"warnings"`
	// NotPlanned are the companies whose changes are not planned, since the server
	// could not be read for them; the plan is incomplete when there is any.
	NotPlanned []JSONNotPlanned `json:"not_planned,omitempty"`
}

// JSONNotPlanned is a company left out of a plan, and why.
type JSONNotPlanned struct {
	Company string `json:"company"`
	Reason  string `json:"reason"`
}

// JSONChange is one change in a JSON plan. Secret values read "(sensitive)".
type JSONChange struct {
	Action  Action `json:"action"`
	Company string `json:"company"`
	Name    string `json:"name,omitempty"`
	// Description is a create's description, sent with it; never read back.
	Description string                     `json:"description,omitempty"`
	Target      string                     `json:"target,omitempty"`
	Settings    map[string]json.RawMessage `json:"settings,omitempty"`
	Fields      map[string]JSONField       `json:"fields,omitempty"`
}

// JSONField is a field's value before and after an update.
type JSONField struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// JSONSummary counts the changes by action.
type JSONSummary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Ungroup int `json:"ungroup"`
	Group   int `json:"group"`
	Delete  int `json:"delete"`
}

// JSON returns the plan's JSON form.
func (p *Plan) JSON() JSONPlan {
	n := p.Count()
	out := JSONPlan{
		FormatVersion:      FormatVersion,
		Changes:            make([]JSONChange, 0, len(p.Changes)),
		Summary:            JSONSummary{Create: n[Create], Update: n[Update], Ungroup: n[Ungroup], Group: n[Group], Delete: n[Delete]},
		Partial:            p.Partial,
		Unmanaged:          len(p.Unmanaged),
		UnmanagedCompanies: append([]string{}, p.Unmanaged...),
		Warnings:           append([]string{}, p.Warnings...),
	}
	for _, id := range p.NotPlannedIDs() {
		out.NotPlanned = append(out.NotPlanned, JSONNotPlanned{Company: id, Reason: p.NotPlanned[id]})
	}
	for _, c := range p.Changes {
		jc := JSONChange{Action: c.Action, Company: c.Company, Name: c.Name, Description: c.Description, Target: c.Target}
		switch c.Action {
		case Create:
			jc.Settings = make(map[string]json.RawMessage, len(c.Fields))
			for _, f := range fieldsOf(c) {
				jc.Settings[f.name] = jsonValue(f.After)
			}
		case Update:
			jc.Fields = make(map[string]JSONField, len(c.Fields))
			for _, f := range fieldsOf(c) {
				jc.Fields[f.name] = JSONField{Before: jsonValue(f.Before), After: jsonValue(f.After)}
			}
		}
		out.Changes = append(out.Changes, jc)
	}
	return out
}

// jsonValue is a value in a JSON document: a marked one as "(sensitive)".
func jsonValue(v apiclient.Value) json.RawMessage { return json.RawMessage(v.JSON()) }

// A namedField is a field of a change, with its name.
type namedField struct {
	name string
	FieldChange
}

// fieldsOf returns the fields of a change in name order, the values of a secret field
// marked sensitive: a plan made by Diff holds them marked, but one built by a program
// or a test may not, and the renderers show each value as its mark says.
func fieldsOf(c Change) []namedField {
	out := make([]namedField, 0, len(c.Fields))
	for _, name := range slices.Sorted(maps.Keys(c.Fields)) {
		f := c.Fields[name]
		if apiclient.IsSecret(name) {
			f.Before, f.After = f.Before.MarkSensitive(), f.After.MarkSensitive()
		}
		out = append(out, namedField{name, f})
	}
	return out
}

// WriteJSON writes the plan as one indented JSON document.
func (p *Plan) WriteJSON(w io.Writer) error {
	return apiclient.WriteJSON(w, p.JSON())
}

// Summary is the plan's first line, such as "Plan: 2 to create, 5 to update, 1 to delete."
func (p *Plan) Summary() string {
	if p.Empty() {
		return "No changes: the server matches the inventory."
	}
	n := p.Count()
	var parts []string
	for _, a := range []Action{Create, Update, Ungroup, Group, Delete} {
		if n[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", n[a], a))
		}
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// The marks and colours of the text form.
var marks = map[Action]struct{ sign, color string }{
	Delete:  {"-", "\x1b[31m"},
	Create:  {"+", "\x1b[32m"},
	Update:  {"~", "\x1b[33m"},
	Ungroup: {"<", "\x1b[36m"},
	Group:   {">", "\x1b[36m"},
}

const reset = "\x1b[0m"

// WriteText writes the plan for a person: the summary line first, then each change,
// deletes on top, fields as before -> after. Colour only when color is true. What
// came from the server is made printable (apiclient.Printable).
func (p *Plan) WriteText(w io.Writer, color bool) error {
	b := &strings.Builder{}
	b.WriteString(p.Summary())
	if len(p.Unmanaged) > 0 {
		fmt.Fprintf(b, " %s (on the server, not in the inventory).", plural(len(p.Unmanaged), "unmanaged company", "unmanaged companies"))
		fmt.Fprintf(b, "\nUnmanaged: %s.", firstOf(p.Unmanaged, 20, apiclient.Printable))
	}
	if p.Partial {
		b.WriteString("\nPartial: only the companies --company and --match chose, and their container partners.")
	}
	b.WriteString("\n")
	for _, c := range p.Changes {
		m := marks[c.Action]
		head := fmt.Sprintf("%s %s %s", m.sign, c.Action, apiclient.Printable(c.Company))
		switch c.Action {
		case Create:
			head += fmt.Sprintf(" (%q)", c.Name)
			if c.Description != "" {
				head += fmt.Sprintf(", described %q", c.Description)
			}
		case Group:
			head += " into the container of " + apiclient.Printable(c.Target)
		case Ungroup:
			head += " into a container of its own"
		}
		if color {
			head = m.color + head + reset
		}
		fmt.Fprintf(b, "\n  %s\n", head)
		var listed []namedField
		empty := 0
		for _, f := range fieldsOf(c) {
			// A create's empty values (all of them, for a company moved with every
			// setting) are counted, not listed; a secret is always listed, as
			// (sensitive), so that not even its emptiness shows.
			if c.Action == Create && blank(f.After) && f.Origin == "" && !f.After.IsSensitive() {
				empty++
				continue
			}
			listed = append(listed, f)
		}
		width := 0
		for _, f := range listed {
			width = max(width, len(f.name))
		}
		for _, f := range listed {
			fmt.Fprintf(b, "      %-*s  %s\n", width+1, apiclient.Printable(f.name)+":", textField(c.Action, f.FieldChange))
		}
		if empty > 0 {
			fmt.Fprintf(b, "      (and %s)\n", plural(empty, "empty field", "empty fields"))
		}
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

func textField(a Action, f FieldChange) string {
	var text string
	switch {
	case a == Create:
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

// MarkdownOptions say where a Markdown plan is posted.
type MarkdownOptions struct {
	// MaxSize is the most characters the plan may have (a GitHub comment holds
	// 65,536); past it the changes are cut, with a line that says how many are not
	// shown. 0 for no limit.
	MaxSize int
	// FullPlan says where the whole plan is, for that line ("the JSON plan of this
	// job's artifacts"); "" to say only how to make it.
	FullPlan string
}

// planHeading opens a Markdown plan.
const planHeading = "### pbxsync plan\n\n"

// WriteMarkdown writes the plan for a change ticket or a pull request: the summary,
// then one collapsible section per action, cut to opts.MaxSize.
func (p *Plan) WriteMarkdown(w io.Writer, opts MarkdownOptions) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s**%s**", planHeading, p.Summary())
	if p.Partial {
		b.WriteString(" Partial: only the companies --company and --match chose, and their container partners.")
	}
	if len(p.Unmanaged) > 0 {
		fmt.Fprintf(b, " %s (on the server, not in the inventory): %s.", plural(len(p.Unmanaged), "unmanaged company", "unmanaged companies"), firstOf(p.Unmanaged, 20, code))
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
	for _, a := range Actions {
		var section []Change
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

// markdownSection is one collapsible section of a Markdown document: its title, and
// its n items, each written only when it is shown.
type markdownSection struct {
	title string
	n     int
	item  func(i int) string
}

// markdownCut names what a cut Markdown document leaves out: its items ("change",
// "changes"), the document ("plan"), and how to get the whole of it when
// MarkdownOptions.FullPlan does not say where it is.
type markdownCut struct{ one, many, doc, hint string }

// writeMarkdownSections writes into b each section that has items, as <details> with
// its count, then end. Past opts.MaxSize the items are cut: the open section closes,
// no other opens, and a line says how many items are not shown and where the whole
// document is. The room that line and the closing need is kept from the start, so
// that the document fits when what comes before the sections and end do.
func writeMarkdownSections(b *strings.Builder, sections []markdownSection, end string, opts MarkdownOptions, names markdownCut) {
	total := 0
	for _, s := range sections {
		total += s.n
	}
	where := names.hint
	if opts.FullPlan != "" {
		where = "the whole " + names.doc + " is " + escapeMarkdown(opts.FullPlan)
	}
	cutLine := func(notShown int) string {
		return fmt.Sprintf("\n**%s not shown**: this %s is longer than %d characters; %s.\n",
			plural(notShown, names.one, names.many), names.doc, opts.MaxSize, where)
	}
	const closing = "\n</details>\n"
	room := len(cutLine(total)) + len(closing) // at least as long as the line of any cut
	limit := func(extra int) bool {
		return opts.MaxSize > 0 && b.Len()+extra+len(end)+room > opts.MaxSize
	}
	shown, cut := 0, false
	for _, s := range sections {
		if s.n == 0 {
			continue
		}
		open := fmt.Sprintf("\n<details><summary>%s (%d)</summary>\n\n", s.title, s.n)
		if limit(len(open)) {
			cut = true
			break
		}
		b.WriteString(open)
		for i := range s.n {
			item := s.item(i)
			if limit(len(item)) {
				cut = true
				break
			}
			b.WriteString(item)
			shown++
		}
		b.WriteString(closing)
		if cut {
			break
		}
	}
	if cut {
		b.WriteString(cutLine(total - shown))
	}
	b.WriteString(end)
}

// markdownChange writes one change as a list item, its fields under it.
func markdownChange(c Change) string {
	b := &strings.Builder{}
	switch c.Action {
	case Create:
		fmt.Fprintf(b, "- %s, named %s", code(c.Company), code(c.Name))
		if c.Description != "" {
			fmt.Fprintf(b, ", described %s", code(c.Description))
		}
		b.WriteString("\n")
	case Group:
		fmt.Fprintf(b, "- %s joins the container of %s\n", code(c.Company), code(c.Target))
	default:
		fmt.Fprintf(b, "- %s\n", code(c.Company))
	}
	for _, f := range fieldsOf(c) {
		switch {
		case c.Action == Create:
			fmt.Fprintf(b, "  - %s: %s", code(f.name), code(f.After.String()))
		case f.Before.IsSensitive() || f.After.IsSensitive():
			fmt.Fprintf(b, "  - %s: %s", code(f.name), code(apiclient.Redacted)+" changed")
		default:
			fmt.Fprintf(b, "  - %s: %s → %s", code(f.name), code(f.Before.JSON()), code(f.After.JSON()))
		}
		if f.Origin != "" {
			fmt.Fprintf(b, " (set at %s)", code(f.Origin))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// code writes s as a Markdown code span, fenced by more backticks than s holds. s is
// made printable first: with no line break left in it, nothing in s can end the list
// item it stands in, and within the span nothing is markup.
func code(s string) string {
	s = apiclient.Printable(s)
	if s == "" {
		return "`\"\"`" // two backticks alone are no code span: they would pair with others
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`,
	"|", `\|`, "#", `\#`, "&", `\&`, "~", `\~`, "!", `\!`)

// escapeMarkdown writes s as Markdown text that shows s as it is: printable (no line
// break, so it stays in its paragraph), with every character that could start markup
// escaped.
func escapeMarkdown(s string) string { return markdownEscaper.Replace(apiclient.Printable(s)) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
