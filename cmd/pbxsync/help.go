package main

import (
	_ "embed"
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
)

// securityHelp is `pbxsync help security`, and the README's "Security model" says
// the same.
//
//go:embed help/security.txt
var securityHelp string

// inventoryHelp is pbxsync help inventory: the format, with the settings drawn
// from the field table.
func inventoryHelp() string {
	var secrets []string
	for _, f := range apiclient.Fields() {
		if f.Secret {
			secrets = append(secrets, f.Name)
		}
	}
	settings := &strings.Builder{}
	tw := tabwriter.NewWriter(settings, 0, 0, 2, ' ', 0)
	for _, f := range apiclient.Fields() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Allowed, fieldFlags(f))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	secretsText := wrap(fmt.Sprintf(`${VAR} is expanded only in the secret fields (%s), and only as
		the whole value: a secret is a literal value or exactly one ${VAR} (VAR: letters, digits
		and _, not starting with a digit). Everywhere else, in ids, names, descriptions and
		free-text settings, ${...} is literal text. An unset or empty variable is an error that
		names it (validate, which needs no secrets, warns); to clear a PIN, write "". A secret
		in plain text is a warning.`, oneOfWords(secrets, "and")), "  ", 84)
	b := &strings.Builder{}
	// Two strings into an embedded template, written to a strings.Builder: nothing
	// can fail (a test reads the whole topic).
	_ = inventoryTemplate.Execute(b, map[string]string{"Secrets": secretsText, "Settings": settings.String()})
	return strings.TrimSuffix(trimLineEnds(b.String()), "\n")
}

//go:embed help/inventory.txt
var inventoryText string

// inventoryTemplate is help/inventory.txt, with the secret fields and the settings
// drawn from the field table.
var inventoryTemplate = template.Must(template.New("inventory").Parse(inventoryText))

// trimLineEnds removes the spaces at the end of each line.
func trimLineEnds(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// oneOfWords lists words as "a, b and c" (or "or c").
func oneOfWords(words []string, and string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + and + " " + words[len(words)-1]
}

// planJSONHelp is pbxsync help plan-json: the JSON of plan.JSONPlan and of
// sync.JSONResult, as they are.
//
//go:embed help/plan-json.txt
var planJSONHelp string

// exitCodesHelp is pbxsync help exit-codes: help/exit-codes.txt, with the codes drawn
// from the table of exit codes.
func exitCodesHelp() string {
	b := &strings.Builder{}
	// Two strings into an embedded template, written to a strings.Builder: nothing
	// can fail (a test reads the whole topic).
	_ = exitCodesTemplate.Execute(b, map[string]string{"Codes": exitCodesText(exitCodesOf(""), "  ", 84), "Commands": exitCodesByCommand()})
	return strings.TrimSuffix(b.String(), "\n")
}

//go:embed help/exit-codes.txt
var exitCodesTemplateText string

var exitCodesTemplate = template.Must(template.New("exit-codes").Parse(exitCodesTemplateText))

// fleetHelp is pbxsync help fleet: the fleet file, its flags, moves, and the fleet
// plan's JSON, as cmd/pbxsync/fleet.go, plan/fleet.go and plan/fleetplan.go do them.
//
//go:embed help/fleet.txt
var fleetHelp string

// newHelpTopics returns the reference that ships with the binary, as cobra's help
// topics: pbxsync help TOPIC.
func newHelpTopics() []*cobra.Command {
	return []*cobra.Command{{
		Use:   "inventory",
		Short: "The inventory format: companies, settings, containers, profiles, many files",
		Long:  inventoryHelp(),
	}, {
		Use:   "plan-json",
		Short: "The JSON of plan --json and apply --json, for scripts",
		Long:  planJSONHelp,
	}, {
		Use:   "exit-codes",
		Short: "What each exit code of pbxsync means",
		Long:  exitCodesHelp(),
	}, {
		Use:   "fleet",
		Short: "Many PBXs from one repository: the fleet file, --pbx, moving companies between PBXs",
		Long:  fleetHelp,
	}, {
		Use:   "security",
		Short: "What pbxsync trusts, and how it keeps its secrets and your terminal safe",
		Long:  securityHelp,
	}}
}
