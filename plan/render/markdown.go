package render

import (
	"fmt"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

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

// plural writes n and the noun that fits it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// tableCell makes Markdown, code spans included, fit in a cell of a GFM table: a
// table splits its rows at every pipe not right after a backslash, code spans or
// not, and then drops that backslash, so every pipe gets one.
func tableCell(md string) string { return strings.ReplaceAll(md, "|", `\|`) }
