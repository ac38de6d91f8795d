package inventory

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Inventory is the desired state of one PBX, loaded from the YAML files of
// spec/inventory.md: one file, or many, directories included.
type Inventory struct {
	File       string             // the first file, as messages name it
	Files      []string           // every file read, in the order read
	Hash       string             // SHA-256 of the files (HashFiles), in hex
	Defaults   apiclient.Settings // the defaults of a one-file inventory (each company holds its own)
	Companies  []Company          // sorted by ID
	Containers []Container        // in the files' order
	Prune      *regexp.Regexp     // which absent companies --prune may delete; nil for none
	// Places says where each company is defined (its key), by id; nil for an
	// inventory not loaded from files.
	Places map[string]Position
}

// Company is a company as the inventory wants it.
type Company struct {
	ID          string
	Name        string
	Description string
	// Settings are the managed fields: the company's own over its profiles, over its
	// file's defaults, over the defaults of its folders (the nearest first), each
	// normalised through the field table.
	Settings apiclient.Settings
	// Env names the variable each ${VAR} secret came from, so that a saved plan can
	// name it instead of holding its value.
	Env map[string]string
	// Origin says where each setting was written (FILE:LINE), when LoadOptions.Explain
	// asks for it (plan --explain).
	Origin map[string]string
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
	// Kind is what a warning is about, the same for every warning of its kind (its
	// message with the particulars left out), so that many alike can be summed up.
	Kind string
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

// splitDiagnostics returns the errors and the warnings of ds, each in ds' order.
func splitDiagnostics(ds []Diagnostic) (errs, warnings []Diagnostic) {
	for _, d := range ds {
		if d.Warning {
			warnings = append(warnings, d)
		} else {
			errs = append(errs, d)
		}
	}
	return errs, warnings
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
// "${VAR}: secrets only"), and what else it records.
type LoadOptions struct {
	// Lookup resolves a variable: os.LookupEnv in the command. Nil means that no
	// variable is set.
	Lookup func(string) (string, bool)
	// Offline is for a check that sends nothing anywhere (validate), which needs no
	// secrets: a variable that is unset or empty is a warning instead of an error,
	// and its secret loads as "" (Company.Env still names the variable). Such an
	// inventory must never be planned or applied: an empty PIN would clear it.
	Offline bool
	// Explain records where each company's setting was written (Company.Origin).
	Explain bool
}

// File is one file of an inventory: its name as messages show it, and its content.
type File struct {
	Name string
	Data []byte
}

// Load reads a one-file inventory from data, the content of file; see LoadFiles.
func Load(file string, data []byte, opts LoadOptions) (*Inventory, []Diagnostic, error) {
	return LoadFiles([]File{{Name: file, Data: data}}, opts)
}

// LoadFiles reads an inventory made of files, as ReadFiles finds them. It checks every
// rule of spec/inventory.md and reports all problems, in every file, at once: the
// error is an *InventoryError when any rule is broken. Warnings come back either way.
func LoadFiles(files []File, opts LoadOptions) (*Inventory, []Diagnostic, error) {
	return loadFiles(files, opts, pieceSize)
}

// loadFiles is LoadFiles with the companies parsed size bytes at a time; 0 parses
// every file whole.
func loadFiles(files []File, opts LoadOptions, size int) (*Inventory, []Diagnostic, error) {
	if len(files) == 0 {
		return nil, nil, errors.New("no inventory file")
	}
	l := &loader{opts: opts, pieceSize: size}
	docs := make([]*fileDoc, len(files))
	for i, f := range files {
		docs[i] = l.readFile(f)
	}
	inv := l.merge(docs)
	order := make(map[string]int, len(files))
	for i, f := range files {
		order[f.Name] = i
	}
	slices.SortStableFunc(l.diags, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(order[a.File], order[b.File]), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	errs, warnings := splitDiagnostics(l.diags)
	if len(errs) > 0 {
		return nil, warnings, &InventoryError{Diagnostics: errs}
	}
	inv.File, inv.Hash = files[0].Name, HashFiles(files)
	for _, f := range files {
		inv.Files = append(inv.Files, f.Name)
	}
	return inv, warnings, nil
}

type loader struct {
	opts      LoadOptions
	pieceSize int // the companies' text parsed at once (pieces.go)
	diags     []Diagnostic
	file      string // the file being read or merged, for diagnostics
	// suggested is "did you mean" for each refused value, by field and value: many
	// companies may share one mistake, and a suggestion reads every time zone.
	suggested map[string]string
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(n *yaml.Node, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...), Warning: true, Kind: format})
}

// place names a node's position for another message: FILE:LINE.
func (l *loader) place(n *yaml.Node) string { return fmt.Sprintf("%s:%d", l.file, n.Line) }

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// A layer is the settings written in one place: a file's defaults, a profile, a
// company's own.
type layer struct {
	values apiclient.Settings
	env    map[string]string // the variables of ${VAR} values, by field
	origin map[string]string // FILE:LINE of each value, when explaining
}

// fileDoc is what one file says, before it is merged with the others.
type fileDoc struct {
	name, dir  string
	version    bool
	defaults   *layer
	profiles   []profile
	companies  []draft
	containers []draftContainer
	prune      *regexp.Regexp
	pruneAt    *yaml.Node
}

type profile struct {
	name  string
	at    *yaml.Node // its key
	where string
	layer *layer
}

// A draft is a company as its file writes it: its own settings, and the profiles it
// names, which another file may define.
type draft struct {
	Company
	line, column int // of its key
	own          *layer
	profiles     []*yaml.Node // the names, in order
}

// Position is a place in an inventory's files.
type Position struct {
	File         string
	Line, Column int
}

// String is FILE:LINE, as "first at" in messages.
func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// A draftContainer is a container as its file writes it, kept without its YAML
// nodes, so that the tree of a large file can go before its companies are read.
type draftContainer struct {
	label        string
	line, column int // of its label
	where        string
	members      []member
}

// A member is an entry of a container's list.
type member struct {
	id           string // the company-id, when scalar
	scalar       bool
	line, column int
}

// at returns a node at line and column, for a message about what was written there.
func at(line, column int) *yaml.Node { return &yaml.Node{Line: line, Column: column} }

// topKeys are the keys of an inventory file; x-... keys are ignored.
var topKeys = []string{"version", "defaults", "profiles", "companies", "containers", "prune"}

// companyKeys are the keys of a company; x-... keys are ignored.
var companyKeys = []string{"name", "description", "settings", "profiles"}

// readFile reads one file: in pieces where it can be cut (pieces.go), else whole.
func (l *loader) readFile(f File) *fileDoc {
	l.file = f.Name
	if l.pieceSize > 0 && len(f.Data) > l.pieceSize {
		if c, ok := cutCompanies(f.Data, l.pieceSize); ok && c.pieces != nil {
			mark := len(l.diags)
			if d, ok := l.readDoc(f, c.skeleton, &c); ok {
				return d
			}
			l.diags = l.diags[:mark] // yaml.v3 disagrees with the cut: parse whole
		}
	}
	d, _ := l.readDoc(f, f.Data, nil)
	return d
}

// readDoc reads data, the whole file, or with a cut its skeleton, whose companies
// come from the cut's pieces. With a cut, it returns ok false when yaml.v3 does not
// agree with the cut; what it reported then does not count.
func (l *loader) readDoc(f File, data []byte, c *cut) (*fileDoc, bool) {
	d := &fileDoc{name: f.Name, dir: filepath.Dir(f.Name)}
	if f.Name == "<stdin>" {
		d.dir = ""
	}
	root, ok := l.parse(data, c)
	switch {
	case !ok:
		return nil, false
	case root == nil:
		return d, true // its problem is reported
	}
	companies, containers := l.topKeys(d, root)
	if containers != nil && l.mapping(containers, "containers") {
		l.containers(d, containers)
	}
	// With a cut, nothing holds the skeleton's tree, containers included, while the
	// pieces are parsed.
	switch {
	case c != nil:
		return d, l.pieces(d, c)
	case companies != nil && l.mapping(companies, "companies"):
		l.companies(d, companies, map[string]int{})
	}
	return d, true
}

// parse parses data, which must be one YAML document, and returns its root mapping;
// nil after reporting why it is none. With a cut, data is the cut's skeleton, and ok
// false says that yaml.v3 does not agree with the cut: nothing is reported then.
func (l *loader) parse(data []byte, c *cut) (root *yaml.Node, ok bool) {
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
		l.errorf(&next, "a second YAML document: an inventory file is one document, and this one would be ignored")
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
		l.errorf(at(1, 1), "the file is empty: it needs at least version: 1")
		return nil, true
	}
	root = resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "an inventory file must be a mapping with version, companies, ...")
		return nil, true
	}
	return root, true
}

// topKeys reads the keys of a file's root mapping into d, but for its companies and
// containers, which it returns.
func (l *loader) topKeys(d *fileDoc, root *yaml.Node) (companies, containers *yaml.Node) {
	l.fields(root, func(key, value *yaml.Node) {
		switch key.Value {
		case "version":
			d.version = true
			if n, err := strconv.Atoi(value.Value); value.Kind != yaml.ScalarNode || err != nil || n != 1 {
				l.errorf(value, "version must be 1")
			}
		case "defaults":
			d.defaults = l.settings(value)
		case "profiles":
			if l.mapping(value, "profiles") {
				l.fields(value, func(k, v *yaml.Node) {
					d.profiles = append(d.profiles, profile{name: k.Value, at: k, where: l.place(k), layer: l.settings(v)})
				})
			}
		case "companies":
			companies = value
		case "containers":
			containers = value
		case "prune":
			d.prune, d.pruneAt = l.prune(value), key
		default:
			if !strings.HasPrefix(key.Value, "x-") {
				l.errorf(key, "unknown key %q: want %s (x-... keys are free, for anchors)%s", key.Value, oneOf(topKeys), didYouMean(key.Value, topKeys))
			}
		}
	})
	if !d.version {
		l.errorf(root, "version is missing: the first line should be version: 1")
	}
	return companies, containers
}

// containers reads the containers of a mapping into d, as draftContainers.
func (l *loader) containers(d *fileDoc, n *yaml.Node) {
	l.fields(n, func(key, value *yaml.Node) {
		if value.Kind != yaml.SequenceNode {
			l.errorf(value, "container %s must be a list of company-ids", key.Value)
			return
		}
		ct := draftContainer{label: key.Value, line: key.Line, column: key.Column, where: l.place(key)}
		for _, m := range value.Content {
			m = resolve(m)
			ct.members = append(ct.members, member{id: m.Value, scalar: m.Kind == yaml.ScalarNode, line: m.Line, column: m.Column})
		}
		d.containers = append(d.containers, ct)
	})
}

// pieces reads the companies of a cut into d, a piece at a time. It returns false
// when yaml.v3 does not agree with the cut.
func (l *loader) pieces(d *fileDoc, c *cut) bool {
	n := 0
	for _, p := range c.pieces {
		n += len(p.keys)
	}
	d.companies = make([]draft, 0, n)
	seen := make(map[string]int, n)
	for _, p := range c.pieces {
		m, ok := c.parsePiece(p)
		if !ok {
			return false
		}
		l.companies(d, m, seen)
	}
	return true
}

// companies reads the companies of a mapping into d; seen holds the line of each
// company-id met so far in the file.
func (l *loader) companies(d *fileDoc, n *yaml.Node, seen map[string]int) {
	l.fieldsSeen(n, seen, func(key, value *yaml.Node) {
		c := draft{Company: Company{ID: key.Value}, line: key.Line, column: key.Column}
		if !apiclient.ValidCompanyID(c.ID) {
			l.errorf(key, "company-id %q is not allowed: use letters, digits and _, 1 to 32 characters", c.ID)
		}
		var named bool
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
					c.own = l.settings(v)
				case "profiles":
					if v.Kind != yaml.SequenceNode {
						l.errorf(v, "profiles must be a list of profile names")
						return
					}
					for _, p := range v.Content {
						if p = resolve(p); p.Kind != yaml.ScalarNode {
							l.errorf(p, "a profile is named by a string")
							continue
						}
						c.profiles = append(c.profiles, p)
					}
				default:
					if !strings.HasPrefix(k.Value, "x-") {
						l.errorf(k, "unknown key %q in company %s: want %s%s", k.Value, c.ID, oneOf(companyKeys), didYouMean(k.Value, companyKeys))
					}
				}
			})
		} else {
			l.errorf(value, "company %s must be a mapping with at least a name", c.ID)
			named = true // reported already
		}
		if !named {
			hint := ""
			if slices.Contains(companyKeys, c.ID) {
				hint = fmt.Sprintf(" (if %s: belongs to the company above, indent it under that company)", c.ID)
			}
			l.errorf(key, "company %s has no name: a name is required to create it%s", c.ID, hint)
		}
		d.companies = append(d.companies, c)
	})
}

// merge makes one inventory of the files: companies defined once across them,
// profiles and container labels too, prune in one file at most, and every company's
// settings resolved from its layers.
func (l *loader) merge(docs []*fileDoc) *Inventory {
	l.warnDefaultsAlone(docs)
	inv := &Inventory{Prune: l.mergePrune(docs)}
	inv.Companies, inv.Places = l.mergeCompanies(docs, l.mergeProfiles(docs))
	if len(docs) == 1 && docs[0].defaults != nil {
		inv.Defaults = docs[0].defaults.values
	}
	inv.Containers = l.mergeContainers(docs, inv)
	return inv
}

// warnDefaultsAlone warns of defaults that apply to no company: those of a file
// without companies, in an inventory of many files, that is not a _defaults.yaml.
func (l *loader) warnDefaultsAlone(docs []*fileDoc) {
	for _, d := range docs {
		if len(docs) > 1 && d.defaults != nil && len(d.companies) == 0 && filepath.Base(d.name) != DefaultsFile {
			l.file = d.name
			l.warnf(at(1, 1), "defaults apply to the companies of their file, and this file has none: name it %s to apply them to its directory", DefaultsFile)
		}
	}
}

// mergePrune returns the prune.match of the one file that sets it, reporting the
// files after it that set it too.
func (l *loader) mergePrune(docs []*fileDoc) *regexp.Regexp {
	var prune *regexp.Regexp
	var pruneAt string
	for _, d := range docs {
		l.file = d.name
		switch {
		case d.pruneAt == nil:
		case pruneAt != "":
			l.errorf(d.pruneAt, "prune is set in two files: first at %s; keep it in one", pruneAt)
		default:
			pruneAt, prune = l.place(d.pruneAt), d.prune
		}
	}
	return prune
}

// mergeProfiles returns the profiles of every file by name, each defined once.
func (l *loader) mergeProfiles(docs []*fileDoc) map[string]profile {
	profiles := map[string]profile{}
	for _, d := range docs {
		l.file = d.name
		for _, p := range d.profiles {
			if first, dup := profiles[p.name]; dup {
				l.errorf(p.at, "profile %s is defined twice: first at %s", p.name, first.where)
				continue
			}
			profiles[p.name] = p
		}
	}
	return profiles
}

// mergeCompanies returns the companies of every file, each defined once, sorted by
// ID, with their settings resolved, and where each is defined. It lets go of the
// files' drafts.
func (l *loader) mergeCompanies(docs []*fileDoc, profiles map[string]profile) ([]Company, map[string]Position) {
	dirDefaults := map[string]*layer{}
	n := 0
	for _, d := range docs {
		if filepath.Base(d.name) == DefaultsFile && d.defaults != nil {
			dirDefaults[d.dir] = d.defaults
		}
		n += len(d.companies)
	}
	companies := slices.Grow([]Company(nil), n) // nil when there are none
	seen := make(map[string]Position, n)
	for _, d := range docs {
		l.file = d.name
		base := folderDefaults(d, dirDefaults)
		if d.defaults != nil {
			base = append(base, d.defaults)
		}
		for i := range d.companies {
			c := &d.companies[i]
			if first, dup := seen[c.ID]; dup {
				l.errorf(at(c.line, c.column), "company %s is defined twice: first at %s", c.ID, first)
				continue
			}
			seen[c.ID] = Position{d.name, c.line, c.column}
			c.resolve(l.layers(c, base, profiles), l.opts.Explain)
			companies = append(companies, c.Company)
		}
		d.companies = nil
	}
	slices.SortFunc(companies, func(a, b Company) int { return strings.Compare(a.ID, b.ID) })
	return companies, seen
}

// folderDefaults returns the defaults of the _defaults.yaml files that apply to the
// companies of d, outermost first: those of its folder and of every folder above it
// that the inventory holds one of (inventory.md v0.3), its own excepted. Standard
// input has no folder.
func folderDefaults(d *fileDoc, dirDefaults map[string]*layer) []*layer {
	var base []*layer
	for dir := d.dir; dir != ""; {
		if dd := dirDefaults[dir]; dd != nil && dd != d.defaults {
			base = append(base, dd)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	slices.Reverse(base)
	return base
}

// layers returns the layers of a company, lowest first: base (its folders' and its
// file's defaults), the profiles it names, its own settings.
func (l *loader) layers(c *draft, base []*layer, profiles map[string]profile) []*layer {
	layers := slices.Clone(base)
	for _, name := range c.profiles {
		p, ok := profiles[name.Value]
		if !ok {
			hint := didYouMean(name.Value, slices.Sorted(maps.Keys(profiles)))
			if hint == "" {
				hint = ": profiles are defined under profiles: in any file of the inventory; is that file among those -f names?"
			}
			l.errorf(name, "unknown profile %q%s", name.Value, hint)
			continue
		}
		layers = append(layers, p.layer)
	}
	if c.own != nil {
		layers = append(layers, c.own)
	}
	return layers
}

// mergeContainers returns the containers of every file, each label defined once,
// each holding companies of inv that no other container holds.
func (l *loader) mergeContainers(docs []*fileDoc, inv *Inventory) []Container {
	var containers []Container
	labels := map[string]string{}
	where := map[string]string{} // company -> label of its container
	for _, d := range docs {
		l.file = d.name
		for _, dc := range d.containers {
			c := Container{Label: dc.label}
			if first, dup := labels[c.Label]; dup {
				l.errorf(at(dc.line, dc.column), "container %s is defined twice: first at %s", c.Label, first)
				continue
			}
			labels[c.Label] = dc.where
			for _, m := range dc.members {
				if l.member(m, c.Label, inv, where) {
					where[m.id] = c.Label
					c.Members = append(c.Members, m.id)
				}
			}
			if len(dc.members) < 2 {
				l.errorf(at(dc.line, dc.column), "container %s has fewer than two members: a company alone needs no container entry", c.Label)
			}
			containers = append(containers, c)
		}
	}
	return containers
}

// member reports whether m may join the container label: a company-id of inv that no
// container holds yet (where). It reports why not.
func (l *loader) member(m member, label string, inv *Inventory, where map[string]string) bool {
	_, known := inv.Company(m.id)
	other, dup := where[m.id]
	switch {
	case !m.scalar:
		l.errorf(at(m.line, m.column), "a container member must be a company-id")
	case !known:
		l.errorf(at(m.line, m.column), "%s is not a company of the inventory", m.id)
	case dup && other == label:
		l.errorf(at(m.line, m.column), "%s is listed twice in container %s", m.id, label)
	case dup:
		l.errorf(at(m.line, m.column), "%s is in two containers: %s and %s", m.id, other, label)
	default:
		return true
	}
	return false
}

// resolve sets the company's settings from its layers, lowest first (folder
// defaults, outermost first; file defaults; profiles in the order listed; its own):
// each field takes the value, and the variable of a ${VAR}, of the last layer that
// sets it. The company's own settings are the result, so that the common case
// copies nothing.
func (c *draft) resolve(layers []*layer, explain bool) {
	c.Settings = apiclient.Settings{}
	if c.own != nil {
		c.Settings = c.own.values
	}
	for i := len(layers) - 1; i >= 0; i-- {
		ly := layers[i]
		for name, v := range ly.values.All() {
			if ly != c.own {
				if _, set := c.Settings.Lookup(name); set {
					continue
				}
				c.Settings.Set(name, v)
			}
			if _, taken := c.Env[name]; !taken {
				if from, ok := ly.env[name]; ok {
					c.Env = setEnv(c.Env, name, from)
				}
			}
			if explain {
				if _, taken := c.Origin[name]; !taken {
					c.Origin = setEnv(c.Origin, name, ly.origin[name])
				}
			}
		}
	}
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
	line, column := 1, 1
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimLeft(yamlLineRE.ReplaceAllString(msg, ""), ": ")
		if slices.Contains(yamlParserProblems, msg) {
			line++
		}
	}
	lines := bytes.Split(data, []byte("\n"))
	switch {
	case unknownAnchorRE.MatchString(msg):
		if i := bytes.Index(data, []byte("*"+unknownAnchorRE.FindStringSubmatch(msg)[1])); i >= 0 {
			line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
	case strings.Contains(msg, "tab character") || line <= len(lines) && bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t")):
		// yaml.v3 names a line near the tab: point at the tab itself.
		for i := max(line-1, 0); i < len(lines); i++ {
			if indent := bytes.TrimLeft(lines[i], " "); len(indent) > 0 && indent[0] == '\t' {
				line, column = i+1, len(lines[i])-len(indent)+1
				msg = "a tab in the indentation: YAML indents with spaces only"
				break
			}
		}
	case msg == "did not find expected key" || msg == "did not find expected '-' indicator":
		// yaml.v3 names the start of the mapping (or list) that broke, which may be
		// the whole companies section: find the first line that breaks it, the
		// shortest start of the file that fails the same way.
		if first := firstFailingLine(lines, line, msg); first > 0 {
			line = first
			msg += ": this line is not indented like the lines it belongs with"
		}
	case msg == "mapping values are not allowed in this context":
		msg += `: a "key: value" where a plain value was expected (check this line's indentation, or quote a value that holds ": ")`
	}
	l.diags = append(l.diags, Diagnostic{File: l.file, Line: line, Column: column, Message: "not valid YAML: " + msg})
}

// firstFailingLine returns the first line n (from 1) after from such that the file's
// first n lines fail to parse with msg, by bisection; 0 when it finds none. Files of
// more than a few megabytes are not searched: the error path stays fast.
func firstFailingLine(lines [][]byte, from int, msg string) int {
	if len(lines) > 200_000 {
		return 0
	}
	fails := func(n int) bool {
		_, err := parseOne(bytes.Join(lines[:n], []byte("\n")))
		return err != nil && strings.HasSuffix(err.Error(), msg)
	}
	lo, hi := max(from, 1), len(lines)
	if !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// fields calls fn for each key of a mapping node, reporting duplicated keys and
// keys that are not plain strings. A merge key (<<: *base, <<: [*a, *b]) brings in
// the keys of the mappings it names that the mapping does not set itself, the
// earlier of them first (YAML's merge key).
func (l *loader) fields(m *yaml.Node, fn func(key, value *yaml.Node)) {
	l.fieldsSeen(m, map[string]int{}, fn)
}

// fieldsSeen is fields with the keys met before, and their lines, in seen.
func (l *loader) fieldsSeen(m *yaml.Node, seen map[string]int, fn func(key, value *yaml.Node)) {
	var merged []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], resolve(m.Content[i+1])
		if isMerge(key) {
			mappings, bad := mergeSources(value)
			for _, item := range bad {
				l.errorf(item, "<< merges a mapping: write <<: *name, or <<: [*a, *b]")
			}
			merged = append(merged, mappings...)
			continue
		}
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
	visited := map[*yaml.Node]bool{}
	for _, mm := range merged {
		l.merged(mm, seen, fn, visited, 0)
	}
}

// merged calls fn for the keys of a merged mapping that are not set yet. A mapping
// merged twice adds nothing the second time, so it is visited once: merge keys that
// name the same anchors over and over (a "billion laughs") cost no more than once.
func (l *loader) merged(m *yaml.Node, seen map[string]int, fn func(key, value *yaml.Node), visited map[*yaml.Node]bool, depth int) {
	if visited[m] {
		return
	}
	visited[m] = true
	if depth > 32 {
		l.errorf(m, "merge keys nested too deep")
		return
	}
	var inner []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], resolve(m.Content[i+1])
		if isMerge(key) {
			mappings, _ := mergeSources(value) // what is no mapping was reported where it was written
			inner = append(inner, mappings...)
			continue
		}
		if _, set := seen[key.Value]; set || key.Kind != yaml.ScalarNode {
			continue
		}
		seen[key.Value] = key.Line
		fn(key, value)
	}
	for _, mm := range inner {
		l.merged(mm, seen, fn, visited, depth+1)
	}
}

// isMerge reports whether key is YAML's merge key, <<.
func isMerge(key *yaml.Node) bool { return key.Kind == yaml.ScalarNode && key.Tag == "!!merge" }

// mergeSources returns the mappings a merge key's value names (one, or a list), and
// the items that are no mapping.
func mergeSources(value *yaml.Node) (mappings, bad []*yaml.Node) {
	items := []*yaml.Node{value}
	if value.Kind == yaml.SequenceNode {
		items = value.Content
	}
	for _, item := range items {
		if item = resolve(item); item.Kind == yaml.MappingNode {
			mappings = append(mappings, item)
		} else {
			bad = append(bad, item)
		}
	}
	return mappings, bad
}

// oneOf lists words as "a, b or c".
func oneOf(words []string) string {
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// didYouMean returns ` (did you mean "x"?)` for the option Nearest to word, or "".
func didYouMean(word string, options []string) string {
	if best := Nearest(word, options); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// Nearest returns the option nearest to word, ignoring case, when it is near enough:
// an edit distance of at most a third of the word's length (at least 1); else "".
// Of two as near, the earlier.
func Nearest(word string, options []string) string {
	best, bestDist := "", max(1, len(word)/3)+1
	for _, o := range options {
		if d := editDistance(strings.ToLower(word), strings.ToLower(o)); d < bestDist {
			best, bestDist = o, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
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

// IsSecretRef reports whether s is a secret field's value that names a variable as the
// loader reads it: exactly one ${VAR}, the whole value.
func IsSecretRef(s string) bool { return secretRefRE.MatchString(s) }

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

// settings reads a mapping of setting fields, checking each through the field table,
// into a layer: the normalised values, the variables of those from ${VAR}, and when
// explaining, where each was written.
func (l *loader) settings(n *yaml.Node) *layer {
	if !l.mapping(n, "settings") {
		return nil
	}
	out := &layer{values: apiclient.Settings{}}
	l.fields(n, func(key, value *yaml.Node) {
		f, ok := apiclient.LookupField(key.Value)
		if !ok {
			l.errorf(key, "unknown setting %q%s", key.Value, didYouMean(key.Value, fieldNames))
			return
		}
		v, from, ok := l.value(f, value)
		if !ok {
			return
		}
		if f.Secret {
			v = v.MarkSensitive() // from here on, it shows as (sensitive) wherever it goes
		}
		norm, err := f.Normalize(v)
		if err != nil {
			if from != "" { // Normalize never echoes a secret's value: name where it came from
				err = fmt.Errorf("%w (the value of environment variable %s)", err, from)
			} else if !f.Secret && v.Kind() == apiclient.KindString {
				err = fmt.Errorf("%w%s", err, l.suggestValue(f, v.Text()))
			}
			l.errorf(value, "%v", err)
			return
		}
		out.values.Set(f.Name, norm)
		if from != "" {
			out.env = setEnv(out.env, f.Name, from)
		} else if f.Secret && norm.Text() != "" {
			l.warnf(value, "%s is a secret written in plain text: use ${VAR} and keep the value in the environment", f.Name)
		}
		if f.Deprecated && norm.Text() != "" {
			l.warnf(key, "%s is deprecated", f.Name)
		}
		if l.opts.Explain {
			out.origin = setEnv(out.origin, f.Name, l.place(value))
		}
	})
	return out
}

// suggestValue is didYouMean for a value of f that Normalize refused, found once for
// each value.
func (l *loader) suggestValue(f apiclient.Field, text string) string {
	key := f.Name + "\x00" + text
	if s, ok := l.suggested[key]; ok {
		return s
	}
	if l.suggested == nil {
		l.suggested = map[string]string{}
	}
	l.suggested[key] = didYouMean(text, f.Values())
	return l.suggested[key]
}

// fieldNames are the names of the field table, for suggestions.
var fieldNames = func() []string {
	var names []string
	for _, f := range apiclient.Fields() {
		names = append(names, f.Name)
	}
	return names
}()

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
