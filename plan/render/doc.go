// Package render owns how a plan, a fleet plan and a comparison of two servers look
// to a person: their text (for a terminal, in colour when asked), their Markdown (for
// a change ticket or a pull request, cut to fit where it is posted), and the writing
// of their JSON documents, which packages plan and state define as their data forms.
//
// It decides nothing: what a plan does, what differs and what is secret are
// packages plan's and state's answers, and a renderer only shows them. Every string
// that came from a server or an inventory is made printable (apiclient.Printable),
// and in Markdown stands in a code span or is escaped, so that no server string can
// move the cursor, reorder a line, or open markup; a secret shows as (sensitive),
// never its value.
package render
