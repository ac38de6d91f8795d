package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

func (a *app) newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain [FIELD]",
		Short: "Describe the settings fields: type, allowed values, secret, feature switch, version",
		Long: `Without FIELD, list every setting an inventory may manage, with its type on the
server, its allowed values and its flags: secret, feature switch, the first server
version that has it, deprecated. With FIELD, say everything pbxsync knows about that
one, with the vendor's description.

Secret fields are never shown, logged or written to a plan, and take their value
from the environment as ${VAR}. Feature switches need System-Admin credentials: for
anyone else the server ignores them without an error. pbxsync help inventory
describes the file that holds the settings.`,
		Example: `  pbxsync explain
  pbxsync explain q_ringtime`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, f := range apiclient.Fields() {
				if len(args) == 0 && strings.HasPrefix(f.Name, toComplete) {
					names = append(names, f.Name)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return writeFieldTable(a.stdout)
			}
			f, ok := apiclient.LookupField(args[0])
			if !ok {
				return unknownField(args[0])
			}
			return writeField(a.stdout, f)
		},
	}
}

// fieldFlags lists what sets a field apart: secret, feature switch, since which
// version, deprecated.
func fieldFlags(f apiclient.Field) string {
	var flags []string
	if f.Secret {
		flags = append(flags, "secret")
	}
	if f.Feature {
		flags = append(flags, "feature switch")
	}
	if f.Since != "" {
		flags = append(flags, "since "+f.Since)
	}
	if f.Deprecated {
		flags = append(flags, "deprecated")
	}
	return strings.Join(flags, ", ")
}

// writeFieldTable writes every field of the table, one line each, in the table's
// order.
func writeFieldTable(w io.Writer) error {
	b := &strings.Builder{}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tALLOWED\tFLAGS")
	for _, f := range apiclient.Fields() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Type, f.Allowed, fieldFlags(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(b.String()) {
		out.WriteString(strings.TrimRight(line, " \n") + "\n") // no padding after the last column
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// writeField writes everything pbxsync knows about one field, as kubectl explain
// does for a resource's field.
func writeField(w io.Writer, f apiclient.Field) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "FIELD:      %s <%s>\n\n", f.Name, f.Type)
	fmt.Fprintf(b, "DESCRIPTION:\n%s\n", wrap(f.Description, "    ", 80))
	fmt.Fprintf(b, "ALLOWED:    %s\n", f.Allowed)
	if f.Numeric() {
		b.WriteString("NUMBERS:    a YAML number and a quoted string of digits are one value\n")
	}
	yesNo := func(is bool, yes string) string {
		if is {
			return "yes: " + yes
		}
		return "no"
	}
	fmt.Fprintf(b, "SECRET:     %s\n", yesNo(f.Secret, "never shown, logged or written to a plan; write ${VAR} to take it from the environment"))
	fmt.Fprintf(b, "FEATURE:    %s\n", yesNo(f.Feature, "needs System-Admin; for anyone else the server ignores it, without an error"))
	since := "every version"
	if f.Since != "" {
		since = f.Since + " (an older server does not know the field)"
	}
	fmt.Fprintf(b, "SINCE:      %s\n", since)
	fmt.Fprintf(b, "DEPRECATED: %s\n", yesNo(f.Deprecated, "still accepted; pbxsync warns when an inventory manages it"))
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks text into lines of at most width bytes, each led by indent, at spaces.
func wrap(text, indent string, width int) string {
	b := &strings.Builder{}
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// unknownField is the error for a FIELD that the table does not have, with the
// nearest field's name when one is near enough.
func unknownField(name string) error {
	if near := nearestField(name); near != "" {
		return fmt.Errorf("unknown field %q: did you mean %q? pbxsync explain lists the fields", name, near)
	}
	return fmt.Errorf("unknown field %q: pbxsync explain lists the fields", name)
}

// nearestField returns the field whose name is nearest to name (inventory.Nearest);
// "" when none is near enough.
func nearestField(name string) string {
	var names []string
	for _, f := range apiclient.Fields() {
		names = append(names, f.Name)
	}
	return inventory.Nearest(name, names)
}
