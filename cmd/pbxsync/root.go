package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

const helpFooter = `
Environment:
  PBX_URL        the server, when --url is not given
  PBX_API_KEY    the API key to authenticate with
  PBX_USERNAME   a user to log in as instead, with PBX_PASSWORD
  PBX_PASSWORD   the password of PBX_USERNAME
  PBX_FROM_API_KEY, PBX_FROM_USERNAME, PBX_FROM_PASSWORD
  PBX_TO_API_KEY, PBX_TO_USERNAME, PBX_TO_PASSWORD
                 migrate and diff: the credentials of --from and of --to
  PBX_<NAME>_API_KEY, PBX_<NAME>_USERNAME, PBX_<NAME>_PASSWORD
                 with --fleet: the credentials of each PBX (pbxsync help fleet)
  NO_COLOR       when set, output has no colour (as --no-color, or TERM=dumb)
`

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "pbxsync",
		Short: "Keep the companies of a multi-tenant PBX in line with a YAML inventory",
		Long: `pbxsync keeps the companies (tenants) of a multi-tenant PBX in line with a YAML
inventory kept in git. It shows what would change before anything does, applies the
changes after confirmation, and suits nightly reconciliation from cron as well as the
migration of companies from one server to another.

Credentials come from the environment only, never from the command line. They travel
inside each request, so http:// is accepted only to this machine (localhost,
127.0.0.0/8, ::1): any other server needs https://, unless --allow-http is given.`,
		Version:       apiclient.BuildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// cobra's suggestion would run onto the error's line: usageHint gives it one
		// of its own.
		DisableSuggestions:         true,
		SuggestionsMinimumDistance: 2,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			logger, err := newLogger(a.logOut, a.opts.logFormat, a.opts.logLevel)
			if err != nil {
				return err
			}
			if err := a.startDeadline(cmd); err != nil {
				return err
			}
			a.logger = logger
			a.started = true
			if err := checkOutputs(cmd, args, a.lookupEnv); err != nil {
				return err // before the trace starts: nothing is written
			}
			if a.opts.trace != "" {
				a.opts.recorder = apiclient.NewTrace()
			}
			return nil
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetHelpTemplate(root.HelpTemplate() + helpFooter)
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		help(cmd, args)
		fmt.Fprint(cmd.OutOrStdout(), exitCodesFooter(cmd))
	})
	root.SetVersionTemplate(versionLine() + "\n")

	pf := root.PersistentFlags()
	pf.StringVar(&a.opts.url, "url", "", "the server's `URL`, https://host[:port] (default $PBX_URL)")
	pf.StringVar(&a.opts.caCert, "ca-cert", "", "trust the certificate authority in this PEM `FILE`")
	pf.StringVar(&a.opts.logFormat, "log-format", "text", "log `FORMAT` on stderr: text or json")
	pf.StringVar(&a.opts.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	pf.DurationVar(&a.opts.timeout, "timeout", 0, "end the whole run after `DURATION` (90s, 30m): nothing new starts, requests in flight end, exit 1 (default none)")
	pf.BoolVar(&a.opts.noColor, "no-color", false, "no colour, as NO_COLOR or TERM=dumb")
	pf.StringVar(&a.opts.trace, "trace", "", "write every request and answer to `FILE` as an HTTP Archive (HAR 1.2), keys, passwords, sessions and PINs redacted: for a bug report")
	pf.BoolVar(&a.opts.allowHTTP, "allow-http", false, "accept http:// to a host other than this machine: the credentials then travel in the clear")
	// Declared here so that cobra does not take -v for it.
	root.Flags().Bool("version", false, "print the version")

	topics := newHelpTopics()
	root.AddCommand(topics...)
	completeValues(root, "log-format", "text", "json")
	completeValues(root, "log-level", "debug", "info", "warn", "error")
	root.AddCommand(a.newValidateCmd(), a.newPlanCmd(), a.newApplyCmd(), a.newExportCmd(), a.newMigrateCmd(),
		a.newDiffCmd(), a.newDoctorCmd(), a.newSchemaCmd(), a.newExplainCmd(), a.newVersionCmd())
	completeHelpTopics(root, topics)
	for _, cmd := range root.Commands() {
		completeNames(cmd)
	}
	return root
}

// parallelismFlag gives cmd --parallelism auto|N and --max-parallelism M, checked
// before the command runs (api.md "A PBX is shared"). Each server the command talks
// to gets a limit of its own (connect: a.opts.limiter), shared by every phase: auto
// finds it while running, between 1 and M; N pins it. *n is what the command's
// phases may start at once: N, or M for auto, the limit deciding what is sent.
func (a *app) parallelismFlag(cmd *cobra.Command, n *int) {
	p := &parallelism{auto: true}
	cmd.Flags().Var(p, "parallelism", "requests in flight on each server: auto (the default) finds what the server answers without queueing; `N` pins it")
	most := cmd.Flags().Int("max-parallelism", apiclient.DefaultMaxParallelism, "with --parallelism auto: at most `M` requests in flight on each server")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		switch {
		case !p.auto && p.n < 1:
			return fmt.Errorf("invalid --parallelism %d: at least 1, or auto", p.n)
		case *most < 1:
			return fmt.Errorf("invalid --max-parallelism %d: at least 1", *most)
		}
		a.opts.parallelism, a.opts.maxParallelism = p.n, *most
		*n = p.n
		if p.auto {
			*n = *most
		}
		return run(c, args)
	}
}

// parallelism is the value of --parallelism: auto, or N.
type parallelism struct {
	auto bool
	n    int
}

func (p *parallelism) String() string {
	if p.auto {
		return "auto"
	}
	return strconv.Itoa(p.n)
}

func (p *parallelism) Set(s string) error {
	if s == "auto" {
		p.auto, p.n = true, 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want auto, or a number of requests")
	}
	p.auto, p.n = false, n
	return nil
}

func (*parallelism) Type() string { return "auto|N" }

// planFormat checks plan's and diff's --format (text, json or markdown; --json sets
// json) and --max-size, and returns the format.
func planFormat(format string, json bool, maxSize int) (string, error) {
	if json {
		format = "json"
	}
	switch format {
	case "text", "json", "markdown":
	default:
		return "", fmt.Errorf("invalid --format %q: want text, json or markdown", format)
	}
	if maxSize < 0 || maxSize > 0 && maxSize < 1000 {
		return "", fmt.Errorf("invalid --max-size %d: 0 (no limit) or at least 1000", maxSize)
	}
	return format, nil
}

// usageHint is what follows an error in how pbxsync was called, one line each: the
// command or flag that was probably meant, then where the usage is.
func usageHint(cmd *cobra.Command, err error) string {
	hint := fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())
	if meant := meantInstead(cmd, err); meant != "" {
		hint = "Did you mean " + meant + "?\n" + hint
	}
	return hint
}

// meantInstead names the flags or commands of cmd nearest to an unknown one that err
// is about, or "".
func meantInstead(cmd *cobra.Command, err error) string {
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) {
		if unknown.GetSpecifiedShortnames() != "" {
			return "" // -x: one letter is too little to go by
		}
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if near := inventory.Nearest(unknown.GetSpecifiedName(), names); near != "" {
			return "--" + near
		}
		return ""
	}
	// cobra gives an unknown command no type of error of its own: its message it is.
	var word string
	if _, serr := fmt.Sscanf(err.Error(), "unknown command %q", &word); serr != nil {
		return ""
	}
	var quoted []string
	for _, s := range slices.Sorted(slices.Values(cmd.SuggestionsFor(word))) {
		quoted = append(quoted, strconv.Quote(s))
	}
	return oneOfWords(quoted, "or")
}

// completeValues makes the shell complete a flag of cmd with one of values.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// completeHelpTopics makes the shell complete pbxsync help with the help topics too:
// cobra's help command offers only the commands that run.
func completeHelpTopics(root *cobra.Command, topics []*cobra.Command) {
	root.InitDefaultHelpCmd()
	for _, help := range root.Commands() {
		if help.Name() != "help" {
			continue
		}
		commands := help.ValidArgsFunction
		help.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			got, directive := commands(cmd, args, toComplete)
			if len(args) > 0 {
				return got, directive
			}
			for _, t := range topics {
				if strings.HasPrefix(t.Name(), toComplete) {
					got = append(got, cobra.CompletionWithDesc(t.Name(), t.Short))
				}
			}
			slices.Sort(got)
			return got, directive
		}
	}
}

// completeNames makes the shell complete, where cmd has them, --pbx with the PBXs of
// the fleet file that --fleet names, and --company with the companies of the
// inventory that -f names, both read from the line being completed. Nothing is
// asked of a server, nor read from standard input.
func completeNames(cmd *cobra.Command) {
	flags := cmd.Flags()
	if flags.Lookup("pbx") != nil && flags.Lookup("fleet") != nil {
		_ = cmd.RegisterFlagCompletionFunc("pbx", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			given, _ := cmd.Flags().GetStringArray("pbx")
			names := slices.DeleteFunc(fleetPBXNames(cmd), func(name string) bool { return slices.Contains(given, name) })
			return withPrefix(toComplete, names), cobra.ShellCompDirectiveNoFileComp
		})
	}
	if flags.Lookup("company") != nil && flags.Lookup("file") != nil {
		_ = cmd.RegisterFlagCompletionFunc("company", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			// --company takes a list: complete its last id, after those typed.
			i := strings.LastIndex(toComplete, ",") + 1
			typed := strings.Split(toComplete[:i], ",")
			var got []cobra.Completion
			for _, id := range withPrefix(toComplete[i:], inventoryCompanyIDs(cmd)) {
				if !slices.Contains(typed, id) {
					got = append(got, toComplete[:i]+id)
				}
			}
			return got, cobra.ShellCompDirectiveNoFileComp
		})
	}
}

// fleetPBXNames are the names of the PBXs in the fleet file that cmd's --fleet
// names; none without one, or when it cannot be read.
func fleetPBXNames(cmd *cobra.Command) []string {
	path, _ := cmd.Flags().GetString("fleet")
	if path == "" {
		return nil
	}
	pbxs, err := inventory.OpenFleetFile(path)
	if err != nil {
		return nil
	}
	var names []string
	for _, p := range pbxs {
		names = append(names, p.Name)
	}
	return names
}

// inventoryCompanyIDs are the company-ids of the inventory that cmd's -f names,
// loaded as validate loads it (no secret needed); none when it is not valid.
func inventoryCompanyIDs(cmd *cobra.Command) []string {
	paths, _ := cmd.Flags().GetStringArray("file")
	paths = slices.DeleteFunc(paths, func(p string) bool { return p == "-" })
	if len(paths) == 0 {
		return nil
	}
	files, err := inventory.ReadFiles(paths, nil)
	if err != nil {
		return nil
	}
	inv, _, err := inventory.LoadFiles(files, inventory.LoadOptions{Offline: true})
	if err != nil {
		return nil
	}
	var ids []string
	for _, c := range inv.Companies {
		ids = append(ids, c.ID)
	}
	return ids
}

// withPrefix returns the words that start with prefix, printable: a completion is
// shown on the terminal.
func withPrefix(prefix string, words []string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) && apiclient.Printable(w) == w {
			out = append(out, w)
		}
	}
	return out
}

// completeFiles makes the shell complete a flag of cmd with files of these
// extensions (and directories); none for any file.
func completeFiles(cmd *cobra.Command, flag string, exts ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if len(exts) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	})
}

func (a *app) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pbxsync and of Go it was built with",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(a.stdout, versionLine())
			return err
		},
	}
}

// versionLine names the module version and the commit the binary was built from
// (go build stamps it from git; go run does not), and the Go it was built with.
func versionLine() string {
	commit := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "+changes"
			}
		}
		if rev != "" {
			commit = "commit " + rev + dirty + ", "
		}
	}
	return fmt.Sprintf("pbxsync %s (%s%s %s/%s)", apiclient.BuildVersion(), commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// newLogger is the one place where logging is configured: slog on stderr.
func newLogger(stderr io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	switch level {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: printableAttr}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		opts.ReplaceAttr = jsonAttr
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", format)
}

// jsonAttr is printableAttr, with durations in seconds: JSON's consumers (log
// pipelines, jq) read a number of seconds, not Go's nanoseconds.
func jsonAttr(groups []string, attr slog.Attr) slog.Attr {
	if attr.Value.Kind() == slog.KindDuration {
		attr.Value = slog.Float64Value(attr.Value.Duration().Seconds())
		return attr
	}
	return printableAttr(groups, attr)
}

// printableAttr makes every string, list of strings and error of a log line printable
// (apiclient.Printable): a log line may carry a server's text (a company-id, an error
// message), and neither handler escapes all that a terminal or a log viewer acts on.
func printableAttr(_ []string, attr slog.Attr) slog.Attr {
	switch v := attr.Value; v.Kind() {
	case slog.KindString:
		attr.Value = slog.StringValue(apiclient.Printable(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			attr.Value = slog.StringValue(apiclient.Printable(x.Error()))
		case []string:
			shown := make([]string, len(x))
			for i, s := range x {
				shown[i] = apiclient.Printable(s)
			}
			attr.Value = slog.AnyValue(shown)
		}
	}
	return attr
}
