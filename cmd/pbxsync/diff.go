package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

type diffOptions struct {
	from, to    string
	companies   []string
	match       string
	format      string
	json        bool
	maxSize     int
	parallelism int
}

func (a *app) newDiffCmd() *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff --from URL --to URL",
		Short: "Compare the companies of two servers; change nothing",
		Long: `Compare two servers (or a server and a sim:FILE snapshot) company by company:
companies on one side only, names, every known setting (secrets are compared, and
shown only as (sensitive)), and grouping: which companies share a container, whatever
the containers are called. Fields this pbxsync does not know, descriptions (which the
API cannot read) and numeric ids are not compared.

--company and --match choose companies on either side; the companies that share a
container with them, on either side, come along. Nothing is written to either server.

--format markdown writes the differences for a pull request or a ticket: a summary
line, then one collapsible section per kind (only in --from, only in --to, different,
each company's fields as a table), at most --max-size characters; past it, a line says
how many differences are not shown.

Credentials come from the environment, one set per side: PBX_FROM_API_KEY (or
PBX_FROM_USERNAME and PBX_FROM_PASSWORD) for --from, PBX_TO_API_KEY (or PBX_TO_USERNAME
and PBX_TO_PASSWORD) for --to. A sim:FILE side needs none.`,
		Example: `  # Did the migration carry everything over?
  pbxsync diff --from https://old-pbx.example.com --to https://new-pbx.example.com --match '^acme_'

  # What changed on the server since this export?
  pbxsync export -o snap.yaml --include-secrets
  pbxsync diff --from sim:snap.yaml --to https://pbx.example.com

  # For a script: one JSON document; exit 2 when they differ.
  pbxsync diff --from sim:snap.yaml --to https://pbx.example.com --json > diff.json

  # For a pull request or a job summary: Markdown, cut to fit.
  pbxsync diff --from sim:snap.yaml --to https://pbx.example.com --format markdown >> "$GITHUB_STEP_SUMMARY"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.diff(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "one server's `URL`, or sim:FILE")
	f.StringVar(&o.to, "to", "", "the other server's `URL`, or sim:FILE")
	selectionFlags(cmd, &o.companies, &o.match, "")
	f.StringVar(&o.format, "format", "text", "output `FORMAT`: text, json or markdown (--json is the short form)")
	completeValues(cmd, "format", "text", "json", "markdown")
	f.IntVar(&o.maxSize, "max-size", 60_000, "markdown: at most `N` characters (a GitHub comment holds 65,536); the rest is cut, with a line saying how many differences are not shown (0: no limit)")
	f.BoolVar(&o.json, "json", false, "print the differences as one JSON document (same as --format json)")
	a.parallelismFlag(cmd, &o.parallelism)
	return cmd
}

// checkSides rejects what cannot work before anything is read: a side missing,
// --url (which names one server), the same server twice, as its URLs tell
// (apiclient.Resolver: their host names are looked up).
func (a *app) checkSides(ctx context.Context, from, to string) error {
	switch {
	case a.opts.url != "":
		return errors.New("--url names one server: name the two with --from and --to")
	case from == "":
		return errors.New("no source: pass --from URL (or sim:FILE)")
	case to == "":
		return errors.New("no target: pass --to URL (or sim:FILE)")
	}
	twins, err := a.resolver.Twins(ctx, []string{from, to})
	if err != nil {
		return err
	}
	if len(twins) > 0 {
		return &apiclient.OneServerError{A: "--from", B: "--to", Why: twins[0].Why}
	}
	return nil
}

// selectionFlags gives cmd --company and --match, the same on every command that
// chooses companies: --company is repeatable and takes comma-separated ids (a
// company-id has no comma); more says what else the choice means.
func selectionFlags(cmd *cobra.Command, companies *[]string, match *string, more string) {
	f := cmd.Flags()
	f.StringSliceVar(companies, "company", nil, "only this company `ID` and its container partners (repeatable, or comma-separated)"+more)
	f.StringVar(match, "match", "", "only companies whose id matches `REGEX`, and their container partners")
}

// compileMatch compiles --match; "" is no filter.
func compileMatch(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid --match: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

func (a *app) diff(cmd *cobra.Command, o diffOptions) (err error) {
	format, err := planFormat(o.format, o.json, o.maxSize)
	if err != nil {
		return err
	}
	o.format = format
	ctx := cmd.Context()
	if err := a.checkSides(ctx, o.from, o.to); err != nil {
		return err
	}
	re, err := compileMatch(o.match)
	if err != nil {
		return err
	}
	from, err := connectSide(ctx, o.from, "--from", "PBX_FROM", a.opts, false, a.lookupEnv, a.logger)
	if err != nil {
		return err
	}
	defer func() { err = closeServer(from, err) }()
	to, err := connectSide(ctx, o.to, "--to", "PBX_TO", a.opts, false, a.lookupEnv, a.logger)
	if err != nil {
		return err
	}
	defer func() { err = closeServer(to, err) }()

	c, oneServer, err := sync.Compare(ctx, from, to, sync.CompareOptions{Select: state.CompareOptions{Companies: o.companies, Match: re},
		Parallelism: o.parallelism, From: o.from, To: o.to})
	if err != nil {
		return err
	}
	if oneServer != "" {
		a.logger.LogAttrs(ctx, slog.LevelWarn, "--from and --to may be one server under two names: then the comparison can find no difference",
			slog.String("why", oneServer))
	}
	switch o.format {
	case "json":
		err = render.ComparisonJSON(a.stdout, c, from.url, to.url)
	case "markdown":
		err = render.ComparisonMarkdown(a.stdout, c, from.url, to.url, render.MarkdownOptions{MaxSize: o.maxSize})
	default:
		err = render.ComparisonText(a.stdout, c, from.url, to.url)
	}
	if err != nil {
		return err
	}
	if !c.Equal() {
		return errChanges
	}
	return nil
}
