package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
	"github.com/pbxsync/pbxsync/sync"
)

// loadInventory reads and checks the inventory that -f names (files, directories,
// "-" for stdin) for a command that talks to a server: every secret's ${VAR} must be
// set. Warnings go to stderr; errors come back as one error listing every problem.
func (a *app) loadInventory(files []string) (*inventory.Inventory, error) {
	return a.loadInventoryWith(files, inventory.LoadOptions{Lookup: a.lookupEnv})
}

// loadInventoryWith is loadInventory with opts: validate loads offline.
func (a *app) loadInventoryWith(paths []string, opts inventory.LoadOptions) (*inventory.Inventory, error) {
	if len(paths) == 0 {
		return nil, errors.New("no inventory: pass -f FILE or -f DIRECTORY, as often as needed (-f - for standard input)")
	}
	files, err := inventory.ReadFiles(paths, a.input)
	if err != nil {
		return nil, fmt.Errorf("read the inventory: %w", err)
	}
	return a.loadFiles(paths, files, opts)
}

// loadFiles checks an inventory's files, read already from the paths -f names, as
// loadInventoryWith does: an inventory with no company is an error too.
func (a *app) loadFiles(paths []string, files []inventory.File, opts inventory.LoadOptions) (*inventory.Inventory, error) {
	inv, warnings, err := inventory.LoadFiles(files, opts)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if err := a.inventoryProblems(names, warnings, err); err != nil {
		return nil, err
	}
	if err := inventory.RequireCompanies(inv, paths); err != nil {
		return nil, err
	}
	return inv, nil
}

// inventoryProblems prints the warnings and, for an *InventoryError, every problem of
// the inventory (or fleet) that files name, and returns the run's error: one line
// naming the files and counting the problems, or err as it is.
func (a *app) inventoryProblems(files []string, warnings []inventory.Diagnostic, err error) error {
	a.warnings(warnings)
	var invErr *inventory.InventoryError
	if errors.As(err, &invErr) {
		for _, d := range invErr.Diagnostics {
			a.diagnostic(d)
		}
		return inventoryFailed(files, len(invErr.Diagnostics))
	}
	return err
}

// noPositional is the Args of a command that takes none: a file given without -f
// gets "did you mean -f FILE?".
func noPositional(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case inventoryLike(args[0]):
		return fmt.Errorf("%s takes no argument: did you mean -f %s?", cmd.Name(), args[0])
	}
	return fmt.Errorf("%s takes no argument, and %q is not one of its commands", cmd.Name(), args[0])
}

// inventoryLike reports whether an argument names what -f takes: a .yaml or .yml
// file, or a directory.
func inventoryLike(arg string) bool {
	if ext := filepath.Ext(arg); ext == ".yaml" || ext == ".yml" {
		return true
	}
	info, err := os.Stat(arg)
	return err == nil && info.IsDir()
}

// diagnostic prints a problem of the inventory on stderr: FILE:LINE:COLUMN: message,
// or with --log-format json a JSON line with file, line, column and message.
func (a *app) diagnostic(d inventory.Diagnostic) {
	if a.opts.logFormat != "json" || a.logger == nil {
		fmt.Fprintln(a.stderr, d)
		return
	}
	log := a.logger.Error
	if d.Warning {
		log = a.logger.Warn
	}
	log("inventory", "file", d.File, "line", d.Line, "column", d.Column, "problem", d.Message)
}

// warningsOfAKind is how many warnings of one kind are shown; the others are counted
// on one line after the last shown (validate --json lists every one).
const warningsOfAKind = 5

// warnings prints the warnings of an inventory in their order, at most
// warningsOfAKind of each kind: 20,000 PINs in plain text are five lines and a count,
// not 20,000 lines.
func (a *app) warnings(ws []inventory.Diagnostic) {
	of := map[string]int{}
	for _, w := range ws {
		of[w.Kind]++
	}
	shown := map[string]int{}
	for _, w := range ws {
		if shown[w.Kind]++; shown[w.Kind] > warningsOfAKind {
			continue
		}
		a.diagnostic(w)
		if more := of[w.Kind] - warningsOfAKind; shown[w.Kind] == warningsOfAKind && more > 0 {
			a.moreWarnings(w, more)
		}
	}
}

// moreWarnings says that n more warnings of w's kind were not shown.
func (a *app) moreWarnings(w inventory.Diagnostic, n int) {
	msg := fmt.Sprintf("... and %s of this kind (validate -f ... --json lists them all)", plural(n, "more warning", "more warnings"))
	if a.opts.logFormat != "json" || a.logger == nil {
		fmt.Fprintln(a.stderr, "warning: "+msg)
		return
	}
	a.logger.Warn("inventory", "problem", msg, "more", n, "like", w.Message)
}

// inventoryFailed is the error of an inventory with n problems, named on their own.
func inventoryFailed(files []string, n int) error {
	return fmt.Errorf("%s: %s: nothing was sent to any server", inventoryName(files), plural(n, "error", "errors"))
}

// inventoryName names an inventory in a message: its file, made printable, or how
// many files.
func inventoryName(names []string) string {
	if len(names) == 1 {
		return apiclient.Printable(names[0])
	}
	return fmt.Sprintf("the inventory (%d files)", len(names))
}

// formatFlag gives cmd --format (text or json) beside its --json: either sets *json,
// so that every command that prints a result takes the same flag (cli.md).
func formatFlag(cmd *cobra.Command, json *bool) {
	var format string
	cmd.Flags().StringVar(&format, "format", "text", "output `FORMAT`: text or json (--json is the short form)")
	completeValues(cmd, "format", "text", "json")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		switch format {
		case "text":
		case "json":
			*json = true
		default:
			return fmt.Errorf("invalid --format %q: want text or json", format)
		}
		return run(c, args)
	}
}

// fileFlagUsage is -f's, repeatable: the inventory's files and directories.
const fileFlagUsage = "an inventory `FILE` or DIRECTORY (every *.yaml and *.yml in it and below it); repeat for more; - for standard input"

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (a *app) newValidateCmd() *cobra.Command {
	var files []string
	var asJSON bool
	var fo fleetOptions
	cmd := &cobra.Command{
		Use:   "validate -f FILE...",
		Short: "Check an inventory offline; no server needed",
		Long: `Check an inventory against every rule of the format and the field table, offline.
Every problem is reported as FILE:LINE:COLUMN: message, all at once. No secret is
needed: a ${VAR} that is unset is a warning here, and an error for plan and apply.

With --format json (or --json) the result is one JSON document on standard output,
problems included: {"format_version": 1, "valid", "files", "companies", "containers",
"errors": [{"file", "line", "column", "message"}], "warnings": [...]}.`,
		Example: `  pbxsync validate -f inventory.yaml
  pbxsync validate -f inventory/ -f profiles.yaml --json | jq '.errors[].message'`,
		Args: noPositional,
		RunE: func(*cobra.Command, []string) error {
			if fo.file != "" {
				if err := a.checkFleet(fo, files); err != nil {
					return err
				}
				if asJSON {
					return errors.New("validate --fleet prints text only: --json documents one inventory (validate -f DIR --json, for each PBX's inventory)")
				}
				return a.validateFleet(fo)
			}
			opts := inventory.LoadOptions{Lookup: a.lookupEnv, Offline: true}
			if asJSON {
				return a.validateJSON(files, opts)
			}
			inv, err := a.loadInventoryWith(files, opts)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%s: valid: %s, %s\n", inventoryName(inv.Files),
				plural(len(inv.Companies), "company", "companies"), plural(len(inv.Containers), "container", "containers"))
			return err
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, fileFlagUsage)
	completeFiles(cmd, "file", "yaml", "yml")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result, problems included, as one JSON document")
	formatFlag(cmd, &asJSON)
	fleetFlags(cmd, &fo, false)
	return cmd
}

// validateJSON checks the inventory as validate does, and prints the result as one
// document: the problems go into it, not to standard error. Files that cannot be
// read are an error, as for every command.
func (a *app) validateJSON(paths []string, opts inventory.LoadOptions) error {
	if len(paths) == 0 {
		return errors.New("no inventory: pass -f FILE or -f DIRECTORY, as often as needed (-f - for standard input)")
	}
	files, err := inventory.ReadFiles(paths, a.input)
	if err != nil {
		return fmt.Errorf("read the inventory: %w", err)
	}
	inv, warnings, err := inventory.LoadFiles(files, opts)
	var invErr *inventory.InventoryError
	if err != nil && !errors.As(err, &invErr) {
		return err
	}
	if invErr == nil {
		if err := inventory.RequireCompanies(inv, paths); err != nil {
			return err
		}
	}
	doc := plan.NewValidation(files, inv, warnings, invErr)
	if werr := apiclient.WriteJSON(a.stdout, doc); werr != nil {
		return werr
	}
	if invErr != nil {
		return inventoryFailed(doc.Files, len(invErr.Diagnostics))
	}
	return nil
}

type planOptions struct {
	files            []string
	companies        []string
	match            string
	maxSize          int
	fullPlan         string
	explain          bool
	format           string
	json             bool
	out              string
	detailedExitcode bool
	parallelism      int
	prune            bool
	maxDelete        int
	metricsFile      string
	fleet            fleetOptions
}

func (a *app) newPlanCmd() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan -f FILE...",
		Short: "Read the server and show what apply would change; change nothing",
		Long: `Read the server and show the changes that would make it match the inventory:
creates, updates of managed fields, ungroups and groups, and with --prune deletes.
Nothing is written to the server. With --fleet FILE, every PBX of a fleet and the
companies moved between them (pbxsync help fleet).

--metrics-file FILE writes the drift the plan found as Prometheus metrics for
node_exporter's textfile collector, replaced atomically whatever the outcome, so that
a drift check can alert without correcting anything: pbxsync_plan_changes{action}
(create, update, ungroup, group, delete: as the summary counts them),
pbxsync_plan_unmanaged, pbxsync_plan_not_planned, pbxsync_plan_success (1 when the
plan was made with the server read whole; 0, and no counts, when it was not) and
pbxsync_plan_last_run_timestamp_seconds, labelled server; with --fleet labelled pbx
too, with pbxsync_plan_moves and pbxsync_plan_conflicts for each PBX.`,
		Example: `  pbxsync plan -f inventory.yaml --url sim:state.yaml
  pbxsync plan -f inventory.yaml --json > plan.json
  pbxsync plan -f inventory.yaml --format markdown >> "$GITHUB_STEP_SUMMARY"
  pbxsync plan -f inventory.yaml --detailed-exitcode   # exit 2 when there are changes
  pbxsync plan -f inventory.yaml --metrics-file /var/lib/node_exporter/textfile/pbxsync-drift.prom
  pbxsync plan -f inventory/resellers/ -f inventory/direct.yaml --explain`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.plan(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, fileFlagUsage)
	selectionFlags(cmd, &o.companies, &o.match, "; the plan says it is partial")
	f.BoolVar(&o.explain, "explain", false, "say for each changed value the file and line that set it")
	f.StringVar(&o.format, "format", "text", "output `FORMAT`: text, json or markdown")
	completeValues(cmd, "format", "text", "json", "markdown")
	completeFiles(cmd, "file", "yaml", "yml")
	f.IntVar(&o.maxSize, "max-size", 60_000, "markdown: at most `N` characters (a GitHub comment holds 65,536); the rest is cut, with a line saying how many changes are not shown (0: no limit)")
	f.StringVar(&o.fullPlan, "full-plan", "", "markdown: where the whole plan is, for the line of a cut plan (`TEXT`, such as a link to the job's artifacts)")
	f.BoolVar(&o.json, "json", false, "print the plan as one JSON document (same as --format json)")
	f.StringVarP(&o.out, "out", "o", "", "also save the plan to `PLANFILE` for a later apply PLANFILE")
	f.BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	a.parallelismFlag(cmd, &o.parallelism)
	f.BoolVar(&o.prune, "prune", false, "also plan deletes of absent companies that prune.match selects")
	f.IntVar(&o.maxDelete, "max-delete", 0, "exit 3 after printing a plan with more than `N` deletes: apply would refuse it")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write the drift the plan found as Prometheus metrics to `FILE` (node_exporter textfile; pbxsync_plan_...), even when it fails")
	fleetFlags(cmd, &o.fleet, true)
	return cmd
}

func (a *app) plan(cmd *cobra.Command, o planOptions) error {
	format, err := planFormat(o.format, o.json, o.maxSize)
	if err != nil {
		return err
	}
	o.format = format
	if _, err := compileMatch(o.match); err != nil {
		return err
	}
	if o.maxDelete < 0 {
		return fmt.Errorf("invalid --max-delete %d: 0 or more", o.maxDelete)
	}
	if o.fleet.file != "" {
		if err := a.checkFleet(o.fleet, o.files); err != nil {
			return err
		}
		if len(o.companies) > 0 || o.match != "" {
			return errors.New("--fleet does not take --company or --match: narrow a fleet run with --pbx, or plan one PBX's inventory with -f and --url")
		}
		o.fleet.explain = o.explain
		return a.planFleet(cmd.Context(), o, o.fleet)
	}
	if o.out != "" && slices.Contains(o.files, "-") {
		return errors.New("--out needs the inventory in files (-f FILE), so that apply can read it again")
	}
	ctx := cmd.Context()
	p, err := a.planInventory(ctx, o)
	server := a.serverLabel()
	return a.finishPlan(ctx, o.metricsFile, func(w io.Writer, now time.Time) error { return sync.WritePlanMetrics(w, now, p, server) }, err)
}

// planInventory plans the inventory of -f on the server of --url, prints the plan
// and saves it (--out). The plan is nil when none was made.
func (a *app) planInventory(ctx context.Context, o planOptions) (*plan.Plan, error) {
	inv, err := a.loadInventoryWith(o.files, inventory.LoadOptions{Lookup: a.lookupEnv, Explain: o.explain})
	if err != nil {
		return nil, err
	}
	srv, err := connect(ctx, a.opts, false, a.lookupEnv, a.logger)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	st, err := state.Read(ctx, srv, inv, o.parallelism)
	if err != nil {
		return nil, err
	}
	a.logger.Debug("read the server", "companies", len(st.Companies), "containers", len(st.Containers), "requests", st.Requests)
	opts := plan.Options{Prune: o.prune, MaxDelete: o.maxDelete, Companies: o.companies, Match: o.match}
	p, diffErr := plan.Diff(inv, st, opts)
	if p == nil {
		return nil, diffErr
	}
	if err := writePlan(a, p, o, render.PlanJSON, render.PlanMarkdown, render.PlanText); err != nil {
		return p, err
	}
	if refused(diffErr) {
		return p, plan.ApplyWouldRefuse(diffErr)
	}
	if err := p.Incomplete(); err != nil {
		return p, err // not saved either: apply would refuse it
	}
	if o.out != "" {
		if err := a.savePlan(o.out, p, srv.url, inv, o.files, opts); err != nil {
			return p, err
		}
	}
	if o.detailedExitcode && !p.Empty() {
		return p, errChanges
	}
	return p, nil
}

// finishPlan writes --metrics-file (metrics), whatever the plan's outcome err, and
// returns err. A file that could not be written is the error of a plan that
// succeeded, with changes (--detailed-exitcode) too: exit 1, not 0 or 2.
func (a *app) finishPlan(ctx context.Context, file string, metrics func(io.Writer, time.Time) error, err error) error {
	runErr := err
	if errors.Is(err, errChanges) {
		runErr = nil
	}
	if werr := a.outputs(false, "", file).Write(ctx, sync.Outcome{Metrics: metrics}, false, runErr); werr != nil {
		return werr
	}
	return err
}

// writePlan prints p, one PBX's plan or a fleet's, on stdout in the format of
// --format, with the renderers of its kind.
func writePlan[P any](a *app, p P, o planOptions, asJSON func(io.Writer, P) error,
	asMarkdown func(io.Writer, P, render.MarkdownOptions) error, asText func(io.Writer, P, bool) error) error {
	switch o.format {
	case "json":
		return asJSON(a.stdout, p)
	case "markdown":
		return asMarkdown(a.stdout, p, render.MarkdownOptions{MaxSize: o.maxSize, FullPlan: o.fullPlan})
	}
	return asText(a.stdout, p, a.colorful(a.stdout))
}

// savePlan writes the plan for apply PLANFILE, with the paths it records relative
// to its folder (planfile.Paths).
func (a *app) savePlan(path string, p *plan.Plan, server string, inv *inventory.Inventory, sources []string, opts plan.Options) error {
	rel, server, err := planfile.Paths(path, sources, server)
	if err == nil {
		err = sync.WriteFileAtomic(path, func(w io.Writer) error { return planfile.Save(w, p, server, inv, rel, opts) })
	}
	if err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	fmt.Fprintf(a.stderr, "Saved the plan to %s: apply it with pbxsync apply %s -f %s, to the same server (--url or PBX_URL)\n",
		apiclient.Printable(path), apiclient.Printable(path), apiclient.Printable(strings.Join(sources, " -f ")))
	return nil
}

// colorful reports whether output to w gets colour: w is a terminal, and neither
// --no-color, NO_COLOR (no-color.org) nor TERM=dumb says otherwise.
func (a *app) colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && terminal(f) && colorWanted(a.opts.noColor, a.lookupEnv)
}

// colorWanted is the part of colorful that is not the terminal.
func colorWanted(noColor bool, lookupEnv func(string) (string, bool)) bool {
	if v, _ := lookupEnv("NO_COLOR"); v != "" || noColor {
		return false
	}
	term, _ := lookupEnv("TERM")
	return term != "dumb"
}
