package plan

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Inventory is the desired state of one PBX, loaded from YAML (spec/inventory.md).
type Inventory struct {
	File       string
	Hash       string             // SHA-256 of the file's bytes, in hex
	Defaults   apiclient.Settings // settings for every company that does not set its own
	Companies  []Company          // sorted by ID
	Containers []Container        // in the file's order
	Prune      *regexp.Regexp     // which absent companies --prune may delete; nil for none
}

// Company is a company as the inventory wants it.
type Company struct {
	ID          string
	Name        string
	Description string
	// Settings are the managed fields: the company's own over the defaults, each
	// normalised through the field table.
	Settings apiclient.Settings
	// Env names the variable each ${VAR} secret came from, so that a saved plan can
	// name it instead of holding its value.
	Env map[string]string
}

// Container is a set of companies that must share one container.
type Container struct {
	Label   string
	Members []string
}

// Company returns the inventory's company with the given id.
func (inv *Inventory) Company(id string) (Company, bool) {
	i, ok := slices.BinarySearchFunc(inv.Companies, id, func(c Company, id string) int { return strings.Compare(c.ID, id) })
	if !ok {
		return Company{}, false
	}
	return inv.Companies[i], true
}

// Diagnostic is one problem in an inventory, at a place in its file.
type Diagnostic struct {
	File         string
	Line, Column int
	Message      string
	Warning      bool
}

func (d Diagnostic) String() string {
	kind := ""
	if d.Warning {
		kind = "warning: "
	}
	// The text may quote a server's (an inventory built from a source in a migration,
	// a simulator's state file): printable, on one line.
	return apiclient.Printable(fmt.Sprintf("%s:%d:%d: %s%s", d.File, d.Line, d.Column, kind, d.Message))
}

// InventoryError lists every error found in an inventory.
type InventoryError struct {
	Diagnostics []Diagnostic
}

func (e *InventoryError) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// LoadOptions say how Load resolves the ${VAR} of secret fields (spec/inventory.md,
// "${VAR}: secrets only"). Everywhere else ${...} is literal text.
type LoadOptions struct {
	// Lookup resolves a variable: os.LookupEnv in the command. Nil means that no
	// variable is set.
	Lookup func(string) (string, bool)
	// Offline is for a check that sends nothing anywhere (validate), which needs no
	// secrets: a variable that is unset or empty is a warning instead of an error,
	// and its secret loads as "" (Company.Env still names the variable). Such an
	// inventory must never be planned or applied: an empty PIN would clear it.
	Offline bool
}

// Load reads an inventory from data, the content of file. It checks every rule of
// spec/inventory.md and reports all problems at once: the error is an
// *InventoryError when any rule is broken. Warnings come back either way.
func Load(file string, data []byte, opts LoadOptions) (*Inventory, []Diagnostic, error) {
	return load(file, data, opts, pieceSize)
}

// load is Load with the companies parsed size bytes at a time; 0 parses the file whole.
func load(file string, data []byte, opts LoadOptions, size int) (*Inventory, []Diagnostic, error) {
	l := &loader{file: file, opts: opts, pieceSize: size}
	inv := l.load(data)
	slices.SortStableFunc(l.diags, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	var errs, warnings []Diagnostic
	for _, d := range l.diags {
		if d.Warning {
			warnings = append(warnings, d)
		} else {
			errs = append(errs, d)
		}
	}
	if len(errs) > 0 {
		return nil, warnings, &InventoryError{Diagnostics: errs}
	}
	sum := sha256.Sum256(data)
	inv.File, inv.Hash = file, hex.EncodeToString(sum[:])
	return inv, warnings, nil
}

type loader struct {
	file        string
	opts        LoadOptions
	pieceSize   int // the companies' text parsed at once (pieces.go)
	diags       []Diagnostic
	defaultsEnv map[string]string // the variables of ${VAR} defaults, by field
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(n *yaml.Node, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...), Warning: true})
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func (l *loader) load(data []byte) *Inventory {
	if l.pieceSize > 0 {
		if c, ok := cutCompanies(data, l.pieceSize); ok && c.pieces != nil {
			if inv, ok := l.loadDoc(c.skeleton, &c); ok {
				return inv
			}
			*l = loader{file: l.file, opts: l.opts} // yaml.v3 disagrees with the cut: parse whole
		}
	}
	inv, _ := l.loadDoc(data, nil)
	return inv
}

// loadDoc loads data, the whole file, or with a cut its skeleton, whose companies
// come from the cut's pieces. With a cut, it returns ok false, having reported
// nothing that counts, when yaml.v3 does not agree with the cut.
func (l *loader) loadDoc(data []byte, c *cut) (*Inventory, bool) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		if c != nil {
			return nil, false
		}
		l.yamlError(data, err)
		return nil, true
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		if c != nil {
			return nil, false
		}
		l.errorf(&next, "a second YAML document: an inventory is one document, and this one would be ignored")
		return nil, true
	} else if !errors.Is(err, io.EOF) {
		if c != nil {
			return nil, false
		}
		l.yamlError(data, err)
		return nil, true
	}
	if c != nil {
		// The skeleton's companies: the empty value of the line at the cut's header.
		if m := c.companiesOf(&doc); m == nil || m.Kind != yaml.ScalarNode || m.Tag != "!!null" || m.Value != "" || m.Anchor != "" {
			return nil, false
		}
	}
	if len(doc.Content) == 0 {
		l.errorf(&yaml.Node{Line: 1, Column: 1}, "the inventory is empty: it needs at least version: 1")
		return nil, true
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "the inventory must be a mapping with version, companies, ...")
		return nil, true
	}
	inv := &Inventory{}
	var companies, containers *yaml.Node
	var version bool
	l.fields(root, func(key, value *yaml.Node) {
		switch key.Value {
		case "version":
			version = true
			if n, err := strconv.Atoi(value.Value); value.Kind != yaml.ScalarNode || err != nil || n != 1 {
				l.errorf(value, "version must be 1")
			}
		case "defaults":
			inv.Defaults, l.defaultsEnv = l.settings(value)
		case "companies":
			companies = value
		case "containers":
			containers = value
		case "prune":
			inv.Prune = l.prune(value)
		default:
			l.errorf(key, "unknown key %q: want version, defaults, companies, containers or prune", key.Value)
		}
	})
	if !version {
		l.errorf(root, "version is missing: the first line should be version: 1")
	}
	switch {
	case c != nil:
		seen := map[string]int{}
		for _, p := range c.pieces {
			m, ok := c.parsePiece(p)
			if !ok {
				return nil, false
			}
			inv.Companies = l.companies(m, seen, inv.Companies, inv.Defaults)
		}
	case companies != nil && l.mapping(companies, "companies"):
		inv.Companies = l.companies(companies, map[string]int{}, nil, inv.Defaults)
	}
	slices.SortFunc(inv.Companies, func(a, b Company) int { return strings.Compare(a.ID, b.ID) })
	if containers != nil {
		inv.Containers = l.containers(containers, inv)
	}
	return inv, true
}

// yamlParserProblems are the errors of yaml.v3's parser, whose line it reports
// counted from 0 (its scanner's from 1).
var yamlParserProblems = []string{
	"did not find expected key", "did not find expected node content",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
}

var unknownAnchorRE = regexp.MustCompile(`unknown anchor '(.*)' referenced`)

func (l *loader) yamlError(data []byte, err error) {
	line := 1
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimLeft(yamlLineRE.ReplaceAllString(msg, ""), ": ")
		if slices.Contains(yamlParserProblems, msg) {
			line++
		}
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
	}
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: line, Column: 1, Message: "not valid YAML: " + msg})
}

// fields calls fn for each key of a mapping node, reporting duplicated keys and
// keys that are not plain strings.
func (l *loader) fields(m *yaml.Node, fn func(key, value *yaml.Node)) {
	l.fieldsSeen(m, map[string]int{}, fn)
}

// fieldsSeen is fields with the keys met before, and their lines, in seen.
func (l *loader) fieldsSeen(m *yaml.Node, seen map[string]int, fn func(key, value *yaml.Node)) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], resolve(m.Content[i+1])
		if key.Kind != yaml.ScalarNode {
			l.errorf(key, "a key must be a plain string")
			continue
		}
		if first, dup := seen[key.Value]; dup {
			l.errorf(key, "duplicated key %q (first at line %d)", key.Value, first)
			continue
		}
		seen[key.Value] = key.Line
		fn(key, value)
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (l *loader) mapping(n *yaml.Node, what string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return false // an empty section
	}
	l.errorf(n, "%s must be a mapping", what)
	return false
}

// companies appends the companies of a mapping to out; seen holds the line of each
// company-id met so far, in this mapping or an earlier piece of the file.
func (l *loader) companies(n *yaml.Node, seen map[string]int, out []Company, defaults apiclient.Settings) []Company {
	l.fieldsSeen(n, seen, func(key, value *yaml.Node) {
		c := Company{ID: key.Value}
		if !apiclient.ValidCompanyID(c.ID) {
			l.errorf(key, "company-id %q is not allowed: use letters, digits and _, 1 to 32 characters", c.ID)
		}
		var named bool
		var own apiclient.Settings
		if value.Kind == yaml.MappingNode {
			l.fields(value, func(k, v *yaml.Node) {
				switch k.Value {
				case "name":
					named = true
					c.Name = l.text(v, "name")
					if v.Kind == yaml.ScalarNode && v.Tag != "!!null" && !apiclient.ValidName(c.Name) {
						l.errorf(v, "name %q is not allowed: use letters, digits, space and . , ; - _, 1 to 240 characters", c.Name)
					}
				case "description":
					c.Description = l.text(v, "description")
				case "settings":
					own, c.Env = l.settings(v)
				default:
					l.errorf(k, "unknown key %q in company %s: want name, description or settings", k.Value, c.ID)
				}
			})
		} else {
			l.errorf(value, "company %s must be a mapping with at least a name", c.ID)
			named = true // reported already
		}
		if !named {
			l.errorf(key, "company %s has no name: a name is required to create it", c.ID)
		}
		for name, from := range l.defaultsEnv {
			if _, overridden := own[name]; !overridden {
				c.Env = setEnv(c.Env, name, from)
			}
		}
		// The company's own settings over the defaults, in the map of its own.
		c.Settings = own
		if c.Settings == nil {
			c.Settings = make(apiclient.Settings, len(defaults))
		}
		for name, v := range defaults {
			if _, set := c.Settings[name]; !set {
				c.Settings[name] = v
			}
		}
		out = append(out, c)
	})
	return out
}

// text reads a string scalar as written: ${...} in it is literal text.
func (l *loader) text(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errorf(n, "%s must be a string", what)
		return ""
	}
	return n.Value
}

var decimalRE = regexp.MustCompile(`^-?[0-9]+$`)

// secretRefRE is a secret field's whole value when it names a variable.
var secretRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// secretRef reads a secret field's string scalar: a literal value, or exactly one
// ${VAR} taking the variable's value. It returns the value, the variable's name
// ("" for a literal) and false after reporting a problem. No message holds the
// scalar or a variable's value: either may be a secret.
func (l *loader) secretRef(f apiclient.Field, n *yaml.Node) (string, string, bool) {
	if !strings.Contains(n.Value, "${") {
		return n.Value, "", true
	}
	m := secretRefRE.FindStringSubmatch(n.Value)
	if m == nil {
		l.errorf(n, "%s: a secret is a literal value or exactly one ${VAR}, the whole value (VAR: letters, digits and _, not starting with a digit)", f.Name)
		return "", "", false
	}
	name := m[1]
	var v string
	var set bool
	if l.opts.Lookup != nil {
		v, set = l.opts.Lookup(name)
	}
	report, then := l.errorf, ""
	if l.opts.Offline {
		report, then = l.warnf, " (plan and apply need it)" // validate needs no secrets
	}
	switch {
	case !set:
		report(n, "environment variable %s is not set%s", name, then)
	case v == "":
		report(n, `environment variable %s is empty: an empty secret would clear the PIN; write "" to clear it on purpose%s`, name, then)
	default:
		return v, name, true
	}
	return "", name, l.opts.Offline // offline, the secret is unknown: "", its variable named in Env
}

// settings reads a mapping of setting fields, checking each through the field table.
// It returns the normalised values and, for those from ${VAR}, the variable names.
func (l *loader) settings(n *yaml.Node) (apiclient.Settings, map[string]string) {
	if !l.mapping(n, "settings") {
		return nil, nil
	}
	out := apiclient.Settings{}
	var env map[string]string
	l.fields(n, func(key, value *yaml.Node) {
		f, ok := apiclient.LookupField(key.Value)
		if !ok {
			l.errorf(key, "unknown setting %q", key.Value)
			return
		}
		v, from, ok := l.value(f, value)
		if !ok {
			return
		}
		norm, err := f.Normalize(v)
		if err != nil {
			if from != "" { // Normalize never echoes a secret's value: name where it came from
				err = fmt.Errorf("%w (the value of environment variable %s)", err, from)
			}
			l.errorf(value, "%v", err)
			return
		}
		out[f.Name] = norm
		if from != "" {
			env = setEnv(env, f.Name, from)
		} else if f.Secret && norm.Text() != "" {
			l.warnf(value, "%s is a secret written in plain text: use ${VAR} and keep the value in the environment", f.Name)
		}
		if f.Deprecated && norm.Text() != "" {
			l.warnf(key, "%s is deprecated", f.Name)
		}
	})
	return out, env
}

// value turns a YAML scalar into a Value as YAML typed it: 15 is a number, "15" a
// string, true a boolean, ~ null. In a secret field, a string that is one ${VAR}
// takes the variable's value; everywhere else a string is kept as written.
func (l *loader) value(f apiclient.Field, n *yaml.Node) (apiclient.Value, string, bool) {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, "%s must be a single value, not a list or mapping", f.Name)
		return apiclient.Value{}, "", false
	}
	switch n.Tag {
	case "!!null":
		return apiclient.Null(), "", true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			l.errorf(n, "%s: not true or false", f.Name)
			return apiclient.Value{}, "", false
		}
		return apiclient.Bool(b), "", true
	case "!!int":
		if decimalRE.MatchString(n.Value) {
			return apiclient.Number(n.Value), "", true // as written: the field table decides
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			l.errorf(n, "%s: not a whole number in range", f.Name)
			return apiclient.Value{}, "", false
		}
		return apiclient.Int(i), "", true
	case "!!float":
		return apiclient.Number(n.Value), "", true
	}
	if !f.Secret {
		return apiclient.String(n.Value), "", true
	}
	s, from, ok := l.secretRef(f, n)
	return apiclient.String(s), from, ok
}

func (l *loader) containers(n *yaml.Node, inv *Inventory) []Container {
	if !l.mapping(n, "containers") {
		return nil
	}
	var out []Container
	where := map[string]string{} // company -> label of its container
	l.fields(n, func(key, value *yaml.Node) {
		c := Container{Label: key.Value}
		if value.Kind != yaml.SequenceNode {
			l.errorf(value, "container %s must be a list of company-ids", c.Label)
			return
		}
		for _, m := range value.Content {
			m = resolve(m)
			if m.Kind != yaml.ScalarNode {
				l.errorf(m, "a container member must be a company-id")
				continue
			}
			id := m.Value
			if _, ok := inv.Company(id); !ok {
				l.errorf(m, "%s is not a company of the inventory", id)
				continue
			}
			if other, dup := where[id]; dup {
				if other == c.Label {
					l.errorf(m, "%s is listed twice in container %s", id, c.Label)
				} else {
					l.errorf(m, "%s is in two containers: %s and %s", id, other, c.Label)
				}
				continue
			}
			where[id] = c.Label
			c.Members = append(c.Members, id)
		}
		if len(value.Content) < 2 {
			l.errorf(key, "container %s has fewer than two members: a company alone needs no container entry", c.Label)
		}
		out = append(out, c)
	})
	return out
}

func (l *loader) prune(n *yaml.Node) *regexp.Regexp {
	if !l.mapping(n, "prune") {
		return nil
	}
	var re *regexp.Regexp
	l.fields(n, func(key, value *yaml.Node) {
		if key.Value != "match" {
			l.errorf(key, "unknown key %q in prune: want match", key.Value)
			return
		}
		if value.Kind != yaml.ScalarNode || value.Value == "" {
			l.errorf(value, "prune.match must be a regular expression")
			return
		}
		var err error
		if re, err = regexp.Compile(value.Value); err != nil {
			l.errorf(value, "prune.match is not a valid regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	})
	return re
}

// setEnv sets m[k] = v, making m when it is nil.
func setEnv(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
