package main

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// machinePaths are the absolute paths the docs may name: places on the reader's
// machine, never in the repository. Every other absolute path is a mistake, such as a
// path on the machine where the docs were written.
var machinePaths = []string{
	"/etc/pbxsync/",                    // the nightly job's inventory (README "Nightly reconciliation")
	"/var/lib/pbxsync/",                // the nightly job's report and lock file
	"/var/lib/node_exporter/textfile/", // node_exporter's textfile directory, for --metrics-file
	"/dev/null",                        // where a drift check sends the plan (help exit-codes)
	"/dev/zero",                        // an input that never ends (README "Security model")
}

// otherNames are the names of the form lower_snake that the docs may use beyond what
// a rule allows (a field of the table, a company-id of an example inventory or of a
// JSON example, a metric pbxsync writes, a key of a document it reads or writes).
// None is needed today; add one only with the reason it is right.
var otherNames = map[string]string{}

// TestDocs fails when README.md or a help topic names a file, flag, command or field
// that does not exist, or when the README links outside the repository. It reads the
// command tree, the help topics, the field table and the examples as they are when it
// runs, so that a new command, flag or topic needs no change here.
func TestDocs(t *testing.T) {
	root := repoRoot(t)
	readme := readmeDocs(t, root)
	topics := topicDocs(newHelpTopics())
	require.NotEmpty(t, topics.code, "the help topics have no text")
	all := append(slices.Clone(readme.code), topics.code...)
	commandLines := append(slices.Clone(readme.commands), topics.commands...)
	tree := newDocTree(t, root)

	t.Run("links", func(t *testing.T) {
		for _, l := range readme.links {
			if problem := linkProblem(root, l.text, readme.anchors); problem != "" {
				t.Errorf("%s: link (%s): %s", l.where, l.text, problem)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		for _, p := range all {
			for _, tok := range strings.Fields(p.text) {
				if problem := fileProblem(root, tok); problem != "" {
					t.Errorf("%s: %s", p.where, problem)
				}
			}
		}
	})

	t.Run("flags", func(t *testing.T) {
		for _, p := range all {
			for _, m := range flagToken.FindAllStringSubmatch(p.text, -1) {
				if !tree.anyFlag(m[1]) && !tree.simFlags[m[1]] {
					t.Errorf("%s: --%s is a flag of no pbxsync command and not of pbxsim", p.where, m[1])
				}
			}
		}
		// On a command line, a flag is one of that command.
		for _, p := range commandLines {
			for _, inv := range invocations(p.text) {
				for _, name := range inv.flags() {
					if cmd, ok := tree.takes(inv, name); !ok && (tree.anyFlag(name) || tree.simFlags[name]) {
						t.Errorf("%s: %s takes no --%s (in %q)", p.where, cmd, name, p.text)
					}
				}
			}
		}
	})

	t.Run("commands", func(t *testing.T) {
		for _, p := range commandLines {
			for _, inv := range invocations(p.text) {
				if problem := tree.commandProblem(inv); problem != "" {
					t.Errorf("%s: %s (in %q)", p.where, problem, p.text)
				}
			}
		}
	})

	t.Run("fields", func(t *testing.T) {
		known := knownNames(t, root, all)
		for _, p := range all {
			for _, tok := range nameToken.FindAllString(p.text, -1) {
				tok = strings.TrimRight(tok, ".")
				if snakeName.MatchString(tok) && !known[tok] {
					t.Errorf("%s: %q is not a field of apiclient.Fields(), a company-id of an example inventory or JSON, "+
						"a metric, a key of a document pbxsync reads or writes, nor in otherNames", p.where, tok)
				}
			}
		}
	})
}

var (
	flagToken = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])--([a-z][a-z0-9-]*)`)
	nameToken = regexp.MustCompile(`[A-Za-z0-9_./-]+`)
	snakeName = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$`)
	wordArg   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	progWord  = regexp.MustCompile(`\b(?:pbxsync|pbxsim)(?:\s|$)`)
	scheme    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	// A company-id in a JSON plan, report or comparison.
	jsonCompany = regexp.MustCompile(`"(?:company|target)":\s*"([^"]*)"`)
)

// repoRoot is the directory of go.mod: the tests of a package run in its directory.
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// docPiece is a piece of documentation and where it is, for the messages.
type docPiece struct {
	where string // README.md:LINE, or help topic "NAME" (Long):LINE
	text  string
}

// docs is what the checks read of one source of documentation.
type docs struct {
	code     []docPiece      // what names files, flags and fields: code, or every line of plain text
	commands []docPiece      // what may hold command lines (README.md: all its code)
	links    []docPiece      // Markdown link targets
	anchors  map[string]bool // the anchors of the headings
}

// readmeDocs splits README.md into its code (a line of a fenced block, with its
// continuation lines, or an inline code span), its links and its headings.
func readmeDocs(t *testing.T, root string) docs {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	d := docs{anchors: map[string]bool{}}
	slugs := map[string]int{}
	fenced := false
	continued := -1 // the index in d.code of a fenced line that ends with a backslash
	for i, line := range strings.Split(string(data), "\n") {
		where := "README.md:" + strconv.Itoa(i+1)
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced, continued = !fenced, -1
			continue
		}
		if fenced {
			if continued < 0 {
				d.code = append(d.code, docPiece{where, ""})
				continued = len(d.code) - 1
			}
			d.code[continued].text = strings.TrimSpace(d.code[continued].text + " " + strings.TrimSuffix(line, `\`))
			if !strings.HasSuffix(line, `\`) {
				continued = -1
			}
			continue
		}
		prose := inlineCode.ReplaceAllStringFunc(line, func(span string) string {
			d.code = append(d.code, docPiece{where, strings.Trim(span, "`")})
			return ""
		})
		for _, m := range mdLink.FindAllStringSubmatch(prose, -1) {
			d.links = append(d.links, docPiece{where, m[1] + m[2] + m[3]})
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			s := slug(m[1])
			if n := slugs[s]; n > 0 {
				d.anchors[s+"-"+strconv.Itoa(n)] = true
			} else {
				d.anchors[s] = true
			}
			slugs[s]++
		}
	}
	d.commands = d.code
	return d
}

var (
	inlineCode = regexp.MustCompile("`+[^`]+`+")
	// A link or an image, [text](target "title"); a reference definition, [id]: target;
	// an autolink, <scheme:...>. Each match has the target in one of its groups.
	mdLink  = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?[^)]*\)|^ {0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s|$)|<([A-Za-z][A-Za-z0-9+.-]*:[^>\s]*)>`)
	heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// slug is the anchor GitHub gives a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// topicDocs reads the help topics. They are plain text, so every line of them is read
// for files, flags and fields. Prose names the program too ("pbxsync holds a key"),
// so the command check reads only what is clearly a command: the lines of an
// example, inline code, "pbxsync help TOPIC", and a run of a program whose command
// word ends the line or is followed by a flag, a shell operator or a closing quote.
func topicDocs(topics []*cobra.Command) docs {
	var d docs
	for _, topic := range topics {
		for _, part := range []struct {
			name, text string
			example    bool
		}{{"Short", topic.Short, false}, {"Long", topic.Long, false}, {"Example", topic.Example, true}} {
			if part.text == "" {
				continue
			}
			for i, line := range strings.Split(part.text, "\n") {
				where := fmtWhere(topic.Name(), part.name, i+1)
				d.code = append(d.code, docPiece{where, line})
				if part.example {
					d.commands = append(d.commands, docPiece{where, line})
					continue
				}
				for _, span := range inlineCode.FindAllString(line, -1) {
					d.commands = append(d.commands, docPiece{where, strings.Trim(span, "`")})
				}
				for _, loc := range progWord.FindAllStringIndex(line, -1) {
					if run := line[loc[0]:]; isCommandRun(line, run) {
						d.commands = append(d.commands, docPiece{where, run})
					}
				}
			}
		}
	}
	return d
}

// isCommandRun reports whether run, the rest of line from the name of a program, is
// a command rather than prose.
func isCommandRun(line, run string) bool {
	words := strings.Fields(run)
	isShell := func(w string) bool { return strings.HasPrefix(w, "-") || strings.ContainsAny(w[:1], "><|;&") }
	switch {
	case len(words) == 1 || isShell(words[1]):
		return true
	case !wordArg.MatchString(strings.TrimRight(words[1], "\"'`)")):
		return false
	case words[1] == "help" || strings.ContainsAny(words[1][len(words[1])-1:], "\"'`)"):
		return true
	case len(words) == 2:
		return strings.TrimPrefix(strings.TrimSpace(line), "$ ") == run
	}
	return isShell(words[2])
}

func fmtWhere(topic, part string, line int) string {
	return "help topic " + strconv.Quote(topic) + " (" + part + "):" + strconv.Itoa(line)
}

// linkProblem says what is wrong with a link target, or "".
func linkProblem(root, target string, anchors map[string]bool) string {
	if scheme.MatchString(target) {
		if u, err := url.Parse(target); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			return ""
		}
		return "only http(s) URLs and paths inside the repository may be linked"
	}
	p, anchor, _ := strings.Cut(target, "#")
	p, _, _ = strings.Cut(p, "?")
	if p == "" {
		if anchor == "" || !anchors[anchor] {
			return "no heading of README.md has the anchor #" + anchor
		}
		return ""
	}
	p, err := url.PathUnescape(p)
	if err != nil {
		return "not a path: " + err.Error()
	}
	return repoPathProblem(root, p)
}

// repoPathProblem says why p, a path relative to the repository's root, is not a
// file or directory in it, or "".
func repoPathProblem(root, p string) string {
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "an absolute path, outside the repository"
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return p + " is outside the repository"
	}
	full := filepath.Join(root, filepath.FromSlash(clean))
	real, err := filepath.EvalSymlinks(full)
	if errors.Is(err, fs.ErrNotExist) {
		return p + " does not exist in the repository"
	}
	if err != nil {
		return err.Error()
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p + " leads outside the repository"
	}
	return ""
}

// repoDirs are the beginnings of a path that names a part of the repository.
var repoDirs = []string{"examples/", "cmd/", "plan/", "sync/", "apiclient/", ".ci/", "testdata/", "spec/"}

// fileProblem says what is wrong with a token of code that names a file, or "" when
// it names none or one that exists. A name without a slash is the reader's own file
// (pbx.yaml, -o snap.yaml, inventory.schema.json) and is not checked.
func fileProblem(root, tok string) string {
	tok = strings.Trim(tok, "\"'`()[]{},;")
	if _, value, ok := strings.Cut(tok, "="); ok { // --flag=FILE, VAR=value
		tok = value
	}
	tok = strings.TrimPrefix(tok, "sim:")
	tok = strings.TrimSuffix(tok, ":")
	if strings.Contains(tok, "://") || strings.Contains(tok, "$") || !strings.Contains(tok, "/") {
		return ""
	}
	if tok[0] == '/' {
		if len(tok) == 1 || tok[1] == '/' { // a Go comment, a lone slash
			return ""
		}
		for _, prefix := range machinePaths {
			if strings.HasPrefix(tok, prefix) {
				return ""
			}
		}
		return tok + " is an absolute path outside the repository (a place on the reader's machine belongs in machinePaths)"
	}
	if pkgs, ok := strings.CutSuffix(tok, "/..."); ok && strings.HasPrefix(tok, "./") { // go test ./plan/...
		return repoPathProblem(root, pkgs)
	}
	// ./cmd/pbxsync of a go command is read as any other path, and so
	// ./inventory.schema.json stays the reader's own file.
	tok = strings.TrimRight(strings.TrimPrefix(tok, "./"), ".")
	if !strings.Contains(tok, "/") {
		return ""
	}
	looksLikeRepo := slices.ContainsFunc(repoDirs, func(dir string) bool { return strings.HasPrefix(tok, dir) })
	switch path.Ext(tok) {
	case ".yaml", ".yml", ".go", ".md", ".json":
		looksLikeRepo = true
	}
	if !looksLikeRepo {
		return ""
	}
	return repoPathProblem(root, beforePlaceholder(tok))
}

// beforePlaceholder cuts p before its first segment that stands for others:
// plan/testdata/golden/<case>/ is checked as plan/testdata/golden.
func beforePlaceholder(p string) string {
	segments := strings.Split(p, "/")
	for i, s := range segments {
		if strings.ContainsAny(s, "<>*{}") {
			return strings.Join(segments[:i], "/")
		}
	}
	return p
}

// invocation is a run of pbxsync or pbxsim on a command line.
type invocation struct {
	prog string   // pbxsync or pbxsim
	args []string // up to the end of the command, a pipe or a redirection
}

// invocations finds the runs of pbxsync and pbxsim in a line of shell, by the name of
// the program or of its package (go run ./cmd/pbxsync).
func invocations(line string) []invocation {
	var found []invocation
	var cur *invocation
	redirected := false
	for _, tok := range strings.Fields(line) {
		switch {
		case strings.HasPrefix(tok, "#"): // a comment
			return found
		case tok == "|" || tok == "||" || tok == "&&" || tok == ";":
			cur, redirected = nil, false
		case strings.HasPrefix(tok, ">") || strings.HasPrefix(tok, "<") || strings.HasPrefix(tok, "2>"):
			redirected = true
		case cur == nil && (path.Base(tok) == "pbxsync" || path.Base(tok) == "pbxsim"):
			found = append(found, invocation{prog: path.Base(tok)})
			cur = &found[len(found)-1]
		case cur != nil && !redirected:
			arg, closed := closeQuote(tok)
			cur.args = append(cur.args, arg)
			if closed { // echo "drift: run pbxsync apply"
				cur = nil
			}
		}
	}
	return found
}

// closeQuote removes from the end of tok a quote or parenthesis that closes what
// began before the run of a program, and reports whether there was one.
func closeQuote(tok string) (string, bool) {
	for _, q := range []string{`"`, "'", "`"} {
		if strings.HasSuffix(tok, q) && strings.Count(tok, q)%2 == 1 {
			return strings.TrimSuffix(tok, q), true
		}
	}
	if strings.HasSuffix(tok, ")") && strings.Count(tok, ")") > strings.Count(tok, "(") {
		return strings.TrimSuffix(tok, ")"), true
	}
	return tok, false
}

// flags are the long flags the invocation names.
func (inv invocation) flags() []string {
	var names []string
	for _, arg := range inv.args {
		if name, ok := strings.CutPrefix(arg, "--"); ok && name != "" {
			name, _, _ = strings.Cut(name, "=")
			names = append(names, name)
		}
	}
	return names
}

// docTree is what the docs may name: pbxsync's command tree, as the package builds
// it, and pbxsim's flags.
type docTree struct {
	root     *cobra.Command
	topics   map[string]bool // the help topics: pbxsync help TOPIC
	simFlags map[string]bool
}

func newDocTree(t *testing.T, root string) docTree {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, lookupEnv: env(nil)}
	tree := docTree{root: a.newRootCmd(), topics: map[string]bool{}}
	// What cobra adds when it executes: the help and completion commands, --help.
	tree.root.InitDefaultHelpCmd()
	tree.root.InitDefaultCompletionCmd()
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.InitDefaultHelpFlag()
		cmd.InheritedFlags() // merges the persistent flags of its parents into Flags()
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(tree.root)
	for _, topic := range newHelpTopics() {
		tree.topics[topic.Name()] = true
	}
	tree.simFlags = simFlags(t, filepath.Join(root, "cmd", "pbxsim"))
	return tree
}

// anyFlag reports whether some command of the tree has the flag name.
func (tree docTree) anyFlag(name string) bool {
	var has func(*cobra.Command) bool
	has = func(cmd *cobra.Command) bool {
		return cmd.Flags().Lookup(name) != nil || slices.ContainsFunc(cmd.Commands(), has)
	}
	return has(tree.root)
}

// command finds a command of the root by its name or an alias, help topics included.
func (tree docTree) command(name string) *cobra.Command {
	for _, cmd := range tree.root.Commands() {
		if cmd.Name() == name || cmd.HasAlias(name) {
			return cmd
		}
	}
	return nil
}

// commandProblem says what is wrong with the command that inv names, or "".
func (tree docTree) commandProblem(inv invocation) string {
	if inv.prog != "pbxsync" || len(inv.args) == 0 || !wordArg.MatchString(inv.args[0]) {
		return ""
	}
	word := inv.args[0]
	cmd := tree.command(word)
	switch {
	case cmd == nil:
		return "pbxsync has no command " + strconv.Quote(word)
	case cmd.IsAdditionalHelpTopicCommand():
		return strconv.Quote(word) + " is a help topic: pbxsync help " + word
	case cmd.Name() != "help" || len(inv.args) < 2 || !wordArg.MatchString(strings.TrimRight(inv.args[1], ".,;:")):
		return ""
	}
	if topic := strings.TrimRight(inv.args[1], ".,;:"); !tree.topics[topic] && tree.command(topic) == nil {
		return "pbxsync has no help topic or command " + strconv.Quote(topic)
	}
	return ""
}

// takes reports whether the command that inv runs has the flag name, and names it.
// A command line that names no command of the tree (checked elsewhere) takes all.
func (tree docTree) takes(inv invocation, name string) (string, bool) {
	if inv.prog == "pbxsim" {
		return "pbxsim", tree.simFlags[name]
	}
	cmd, _, err := tree.root.Find(inv.args)
	if err != nil {
		return "", true
	}
	cmd.InheritedFlags()
	return cmd.CommandPath(), cmd.Flags().Lookup(name) != nil
}

// simFlags reads the names of pbxsim's flags from its source: it defines them on a
// standard flag.FlagSet inside run, so they cannot be read from the outside.
func simFlags(t *testing.T, dir string) map[string]bool {
	defines := map[string]bool{} // the methods of flag.FlagSet that define a flag
	for _, m := range []string{"Bool", "BoolVar", "BoolFunc", "Duration", "DurationVar", "Float64", "Float64Var", "Func",
		"Int", "IntVar", "Int64", "Int64Var", "String", "StringVar", "TextVar", "Uint", "UintVar", "Uint64", "Uint64Var", "Var"} {
		defines[m] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	names := map[string]bool{"help": true, "h": true} // the flag package answers these itself
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		flagSets := map[string]bool{"flag": true} // the package's own functions define on flag.CommandLine
		ast.Inspect(f, func(n ast.Node) bool {
			if assign, ok := n.(*ast.AssignStmt); ok && len(assign.Lhs) == 1 && len(assign.Rhs) == 1 {
				if id, ok := assign.Lhs[0].(*ast.Ident); ok && isCall(assign.Rhs[0], "flag", "NewFlagSet") {
					flagSets[id.Name] = true
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !defines[sel.Sel.Name] {
				return true
			}
			if recv, ok := sel.X.(*ast.Ident); !ok || !flagSets[recv.Name] {
				return true
			}
			for _, arg := range call.Args { // the name is the first string: after the pointer of a ...Var
				if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					names[name] = true
					break
				}
			}
			return true
		})
	}
	require.Greater(t, len(names), 2, "found no flag in the source of pbxsim: does it still use the flag package?")
	return names
}

func isCall(e ast.Expr, pkg, fn string) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg && sel.Sel.Name == fn
}

// knownNames are the lower_snake names the docs may use: the fields of the table, the
// company-ids of the example inventories and of the JSON in pieces, the metrics of --metrics-file, the keys of
// the documents pbxsync reads and writes (the json and yaml tags of the module's
// types), and otherNames.
func knownNames(t *testing.T, root string, pieces []docPiece) map[string]bool {
	known := map[string]bool{}
	for _, p := range pieces { // "company": "cust_old" in an example of JSON names a company
		for _, m := range jsonCompany.FindAllStringSubmatch(p.text, -1) {
			known[m[1]] = true
		}
	}
	for _, f := range apiclient.Fields() {
		known[f.Name] = true
	}
	for name := range otherNames {
		known[name] = true
	}

	var metrics bytes.Buffer
	require.NoError(t, (&sync.Report{}).WriteMetrics(&metrics, time.Time{}, "", nil))
	require.NoError(t, sync.MigrationReport{}.WriteMetrics(&metrics, time.Time{}, "", ""))
	require.NoError(t, (&sync.FleetReport{Servers: map[string]string{"pbx": "host"}}).WriteMetrics(&metrics, time.Time{}, nil))
	require.NoError(t, sync.WriteFleetPlanMetrics(&metrics, time.Time{}, &plan.FleetPlan{PBXs: map[string]*plan.Plan{"pbx": {}}}, map[string]string{"pbx": "host"}))
	for _, line := range strings.Split(metrics.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			known[f[2]] = true
		}
	}

	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.IsDir() && p != root && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata"):
			return filepath.SkipDir
		case e.IsDir():
			return nil
		case strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go"):
			return tagNames(p, known)
		case strings.HasPrefix(p, filepath.Join(root, "examples")+string(filepath.Separator)) &&
			(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")):
			return companyIDs(p, known)
		}
		return nil
	})
	require.NoError(t, err)
	return known
}

// tagNames adds the names of the json and yaml tags of the struct types in a Go file.
func tagNames(file string, names map[string]bool) error {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		field, ok := n.(*ast.Field)
		if !ok || field.Tag == nil {
			return true
		}
		tag, err := strconv.Unquote(field.Tag.Value)
		if err != nil {
			return true
		}
		for _, key := range []string{"json", "yaml"} {
			if name, _, _ := strings.Cut(reflect.StructTag(tag).Get(key), ","); name != "" && name != "-" {
				names[name] = true
			}
		}
		return true
	})
	return nil
}

// companyIDs adds the company-ids of an inventory: the keys of its companies.
func companyIDs(file string, ids map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			if top[i].Value != "companies" || top[i+1].Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j < len(top[i+1].Content); j += 2 {
				ids[top[i+1].Content[j].Value] = true
			}
		}
	}
}
