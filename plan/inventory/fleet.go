package inventory

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Fleet is a fleet file with each PBX's inventory loaded.
type Fleet struct {
	File string      // the fleet file, as named
	Hash string      // SHA-256 (hex) over the fleet file's bytes and every PBX's inventory (its Inventory.Hash), in PBX name order
	PBXs []*FleetPBX // sorted by name
}

// FleetPBX is one PBX of a fleet.
type FleetPBX struct {
	Name        string
	URL         string     // as written, except a relative sim:PATH, made relative to the fleet file's directory (sim: + filepath.Join(dir, PATH))
	Credentials string     // the environment variables' middle part: PBX_<Credentials>_API_KEY
	Inventory   []string   // the inventory's paths (files or folders), each joined to the fleet file's directory when relative
	Inv         *Inventory // loaded
	Line        int        // where the PBX is named in the fleet file
	URLAt       Position   // where its url is written
}

// Env returns the environment variable of this PBX for what ("API_KEY", "USERNAME",
// "PASSWORD"): PBX_<Credentials>_<what>.
func (p *FleetPBX) Env(what string) string { return "PBX_" + p.Credentials + "_" + what }

// fleetKeys are the keys of a fleet file; x-... keys are ignored.
var fleetKeys = []string{"version", "pbxs"}

// fleetPBXKeys are the keys of a PBX of a fleet file; x-... keys are ignored.
var fleetPBXKeys = []string{"url", "inventory", "credentials"}

var (
	pbxNameRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	credentialsRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
)

// fleetPBX is a PBX as the fleet file writes it, with where it says what.
type fleetPBX struct {
	FleetPBX
	urlAt     *yaml.Node   // its url's value, nil when the url is missing or not valid
	server    string       // the url as compared with the others: scheme and host lower-cased, no final /; sim: an absolute path
	inventory *yaml.Node   // its inventory's value, nil when missing or not valid
	paths     []*yaml.Node // the paths of its inventory as written, one per Inventory
}

// OpenFleetFile reads the fleet file at file (a regular file, of at most an
// inventory's size) and checks it alone, as ReadFleetFile does.
func OpenFleetFile(file string) ([]*FleetPBX, error) {
	data, err := apiclient.ReadFile(file, apiclient.MaxInventoryFile)
	if err != nil {
		return nil, fmt.Errorf("read the fleet: %w", err)
	}
	return ReadFleetFile(file, data)
}

// ReadFleetFile checks a fleet file alone, without loading its inventories (which
// export --fleet is to write), and returns its PBXs sorted by name; every problem
// is reported at once as an *InventoryError.
func ReadFleetFile(file string, data []byte) ([]*FleetPBX, error) {
	l := &loader{file: file}
	pbxs := l.readFleet(data, filepath.Dir(file))
	if len(l.diags) > 0 {
		sortByLine(l.diags)
		return nil, &InventoryError{Diagnostics: l.diags}
	}
	slices.SortStableFunc(pbxs, func(a, b *fleetPBX) int { return strings.Compare(a.Name, b.Name) })
	out := make([]*FleetPBX, len(pbxs))
	for i, p := range pbxs {
		out[i] = &p.FleetPBX
	}
	return out, nil
}

// LoadFleet reads a fleet file, data being its content, and loads each PBX's
// inventory from disk (ReadFiles of the PBX's inventory paths, then LoadFiles
// with opts). Every problem of the fleet file and of every inventory is reported at
// once, as an *InventoryError (diagnostics FILE:LINE:COLUMN); warnings come back
// apart, as LoadFiles does.
//
// Relative inventory paths and sim:PATH urls are relative to the fleet file's
// directory. Nothing is sent anywhere: a url is checked, never connected to.
func LoadFleet(file string, data []byte, opts LoadOptions) (*Fleet, []Diagnostic, error) {
	return LoadFleetFor(file, data, opts, nil)
}

// LoadFleetFor is LoadFleet for a run of some PBXs (--pbx): the inventories of the
// PBXs chosen reports false for are loaded offline (their secrets' variables need
// not be set, since they are read, never written), and say no warning.
func LoadFleetFor(file string, data []byte, opts LoadOptions, chosen func(pbx string) bool) (*Fleet, []Diagnostic, error) {
	l := &loader{opts: opts, file: file}
	pbxs := l.readFleet(data, filepath.Dir(file))
	slices.SortStableFunc(pbxs, func(a, b *fleetPBX) int { return strings.Compare(a.Name, b.Name) })
	invDiags := l.loadFleetInventories(pbxs, chosen)
	sortByLine(l.diags)
	diags := append(l.diags, invDiags...)
	diags = append(diags, companiesOfTwoPBXs(pbxs)...)

	seen := map[Diagnostic]bool{} // a file of two inventories says its problems once
	diags = slices.DeleteFunc(diags, func(d Diagnostic) bool { dup := seen[d]; seen[d] = true; return dup })
	errs, warnings := splitDiagnostics(diags)
	if len(errs) > 0 {
		return nil, warnings, &InventoryError{Diagnostics: errs}
	}
	fleet := &Fleet{File: file}
	h := sha256.New()
	fmt.Fprintf(h, "%x\n", sha256.Sum256(data))
	for _, p := range pbxs {
		fmt.Fprintf(h, "%s\n", p.Inv.Hash)
		fleet.PBXs = append(fleet.PBXs, &p.FleetPBX)
	}
	fleet.Hash = hex.EncodeToString(h.Sum(nil))
	return fleet, warnings, nil
}

// loadFleetInventories loads each PBX's inventory, in the order of pbxs, once however
// many PBXs name it, and returns its diagnostics, which name its own files. The
// inventory of a PBX chosen reports false for is loaded offline and says no warning.
// A problem reaching an inventory is the loader's own, at the fleet file's line.
func (l *loader) loadFleetInventories(pbxs []*fleetPBX, chosen func(pbx string) bool) []Diagnostic {
	var diags []Diagnostic
	byPaths := map[string]*Inventory{}
	for _, p := range pbxs {
		if p.inventory == nil {
			continue
		}
		one := l.opts
		key := absPaths(p.Inventory)
		if chosen != nil && !chosen(p.Name) {
			one.Offline, key = true, key+"\x00offline"
		}
		if inv, ok := byPaths[key]; ok {
			p.Inv = inv
			continue
		}
		byPaths[key] = nil
		files, ok := l.readFleetFiles(p)
		if !ok {
			continue
		}
		inv, warns, err := LoadFiles(files, one)
		if one.Offline && !l.opts.Offline {
			warns = nil
		}
		var ie *InventoryError
		switch {
		case errors.As(err, &ie):
			diags = append(diags, ie.Diagnostics...)
		case err != nil:
			l.errorf(p.inventory, "PBX %s: inventory %s: %v", p.Name, inventoryText(p), err)
		}
		diags = append(diags, warns...)
		p.Inv = inv
		byPaths[key] = inv
	}
	l.noCompanies(pbxs, chosen)
	return diags
}

// absPaths is a PBX's inventory paths made absolute, as one key.
func absPaths(paths []string) string {
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i] = p
		if a, err := filepath.Abs(p); err == nil {
			abs[i] = a
		}
	}
	return strings.Join(abs, "\x00")
}

// readFleetFiles reads the files of a PBX's inventory paths, as -f would read
// them, reporting a path that cannot be read at the fleet file's line that names it.
func (l *loader) readFleetFiles(p *fleetPBX) ([]File, bool) {
	r := newFileReader(nil)
	ok := true
	for i, path := range p.Inventory {
		if err := r.read(path); err != nil {
			msg := strings.TrimPrefix(err.Error(), apiclient.Printable(path)+": ")
			l.errorf(p.paths[i], "PBX %s: inventory %s: %s", p.Name, p.paths[i].Value, msg)
			ok = false
		}
	}
	return r.files, ok
}

// noCompanies reports the PBXs whose inventory holds no company. In a fleet that is
// a warning (a PBX just added, or one retired by moving every company away), unless
// no PBX of the fleet has a company at all: then, as for -f, an error at each.
func (l *loader) noCompanies(pbxs []*fleetPBX, chosen func(pbx string) bool) {
	var empty []*fleetPBX
	for _, p := range pbxs {
		switch {
		case p.Inv == nil:
			return // not loaded: whether it has companies is unknown
		case len(p.Inv.Companies) == 0:
			empty = append(empty, p)
		}
	}
	for _, p := range empty {
		msg := fmt.Sprintf("PBX %s: inventory %s: %s", p.Name, inventoryText(p), noCompanies(len(p.paths)))
		switch {
		case len(empty) == len(pbxs):
			l.errorf(p.inventory, "%s", msg)
		case chosen == nil || chosen(p.Name):
			l.warnf(p.inventory, "%s: every company on its server is unmanaged, or moved to the PBX whose inventory lists it", msg)
		}
	}
}

// inventoryText is a PBX's inventory as the fleet file writes it: a path, or a list.
func inventoryText(p *fleetPBX) string {
	if p.inventory.Kind != yaml.SequenceNode {
		return p.inventory.Value
	}
	paths := make([]string, len(p.paths))
	for i, n := range p.paths {
		paths[i] = n.Value
	}
	return "[" + strings.Join(paths, ", ") + "]"
}

// companiesOfTwoPBXs reports each company that the inventories of two PBXs define,
// where the later one (in name order) defines it.
func companiesOfTwoPBXs(pbxs []*fleetPBX) []Diagnostic {
	type owner struct {
		pbx   string
		place Position
	}
	var diags []Diagnostic
	owners := map[string]owner{}
	for _, p := range pbxs {
		if p.Inv == nil {
			continue
		}
		for _, c := range p.Inv.Companies {
			at := p.Inv.Places[c.ID]
			if first, dup := owners[c.ID]; dup {
				diags = append(diags, Diagnostic{File: at.File, Line: at.Line, Column: at.Column,
					Message: fmt.Sprintf("company %s is in the inventories of two PBXs: %s (%s) and %s", c.ID, first.pbx, first.place, p.Name)})
				continue
			}
			owners[c.ID] = owner{p.Name, at}
		}
	}
	return diags
}

// sortByLine sorts the diagnostics of one file by where they are, keeping the order
// of those at one place.
func sortByLine(diags []Diagnostic) {
	slices.SortStableFunc(diags, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// readFleet checks the fleet file and returns its PBXs, in the file's order, those
// with errors included: what of them is valid is set.
func (l *loader) readFleet(data []byte, dir string) []*fleetPBX {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		l.yamlError(data, err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.errorf(&next, "a second YAML document: a fleet file is one document, and this one would be ignored")
		return nil
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(data, err)
		return nil
	}
	if len(doc.Content) == 0 {
		l.errorf(&yaml.Node{Line: 1, Column: 1}, "the file is empty: a fleet file needs version: 1 and pbxs")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "a fleet file must be a mapping with version and pbxs")
		return nil
	}
	var version bool
	var pbxsAt *yaml.Node
	var pbxs []*fleetPBX
	l.fields(root, func(key, value *yaml.Node) {
		switch key.Value {
		case "version":
			version = true
			if n, err := strconv.Atoi(value.Value); value.Kind != yaml.ScalarNode || err != nil || n != 1 {
				l.errorf(value, "version must be 1")
			}
		case "pbxs":
			pbxsAt = key
			pbxs = l.fleetPBXs(value, dir)
		default:
			if !strings.HasPrefix(key.Value, "x-") {
				l.errorf(key, "unknown key %q: want %s (x-... keys are free, for anchors)%s", key.Value, oneOf(fleetKeys), didYouMean(key.Value, fleetKeys))
			}
		}
	})
	if !version {
		l.errorf(root, "version is missing: the first line should be version: 1")
	}
	if pbxsAt == nil {
		l.errorf(root, "pbxs is missing: a fleet file names its PBXs under pbxs:")
	}

	// One server for two PBXs: reported at the later one's url.
	servers := map[string]*fleetPBX{}
	for _, p := range pbxs {
		if p.urlAt == nil {
			continue
		}
		if first, dup := servers[p.server]; dup {
			l.errorf(p.urlAt, "PBXs %s (line %d) and %s (line %d) have the same url: each PBX of a fleet is a server of its own", first.Name, first.Line, p.Name, p.Line)
			continue
		}
		servers[p.server] = p
	}
	return pbxs
}

// fleetPBXs reads the pbxs mapping.
func (l *loader) fleetPBXs(n *yaml.Node, dir string) []*fleetPBX {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			l.errorf(n, "pbxs is empty: a fleet file names at least one PBX")
		} else {
			l.errorf(n, "pbxs must be a mapping of PBX names to their url, inventory and credentials")
		}
		return nil
	}
	// A PBX named twice: said here, in words of PBXs, and left out of what fields reads.
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if key.Kind == yaml.ScalarNode && !isMerge(key) {
			if first, dup := lines[key.Value]; dup {
				l.errorf(key, "PBX %s is defined twice: first at line %d", key.Value, first)
				continue
			}
			lines[key.Value] = key.Line
		}
		m.Content = append(m.Content, key, n.Content[i+1])
	}
	var pbxs []*fleetPBX
	l.fields(m, func(key, value *yaml.Node) {
		pbxs = append(pbxs, l.fleetPBX(key, value, dir))
	})
	if len(pbxs) == 0 && len(n.Content) == 0 {
		l.errorf(n, "pbxs is empty: a fleet file names at least one PBX")
	}
	return pbxs
}

// fleetPBX reads one PBX.
func (l *loader) fleetPBX(key, value *yaml.Node, dir string) *fleetPBX {
	p := &fleetPBX{FleetPBX: FleetPBX{Name: key.Value, Line: key.Line}}
	if !pbxNameRE.MatchString(p.Name) {
		l.errorf(key, "PBX name %q is not allowed: use letters, digits, _ and -, 1 to 64 characters", p.Name)
	}
	p.Credentials = strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))
	if value.Kind != yaml.MappingNode {
		l.errorf(value, "PBX %s must be a mapping with url and inventory", p.Name)
		return p
	}
	var hasURL, hasInventory bool
	l.fields(value, func(k, v *yaml.Node) {
		switch k.Value {
		case "url":
			hasURL = true
			if s, ok := l.fleetString(p.Name, v, "url"); ok {
				l.fleetURL(p, v, s, dir)
			}
		case "inventory":
			hasInventory = true
			l.fleetInventory(p, v, dir)
		case "credentials":
			// Never quoted: a key pasted here by mistake stays out of the messages.
			if s, ok := l.fleetString(p.Name, v, "credentials"); ok {
				if !credentialsRE.MatchString(s) {
					l.errorf(v, "PBX %s: credentials must be letters, digits and _ (1 to 64): they name the environment variables PBX_<credentials>_API_KEY, or PBX_<credentials>_USERNAME and PBX_<credentials>_PASSWORD; credentials never go in the file", p.Name)
				} else {
					p.Credentials = strings.ToUpper(s)
				}
			}
		default:
			if !strings.HasPrefix(k.Value, "x-") {
				l.errorf(k, "unknown key %q in PBX %s: want %s%s", k.Value, p.Name, oneOf(fleetPBXKeys), didYouMean(k.Value, fleetPBXKeys))
			}
		}
	})
	if !hasURL {
		l.errorf(key, "PBX %s has no url: want https://host[:port], http://host[:port] or sim:FILE", p.Name)
	}
	if !hasInventory {
		l.errorf(key, "PBX %s has no inventory: want a file or a folder, or a list of them, relative to the fleet file", p.Name)
	}
	return p
}

// fleetInventory reads a PBX's inventory: a path, or a non-empty list of paths, each
// a file or a folder relative to the fleet file's directory dir.
func (l *loader) fleetInventory(p *fleetPBX, n *yaml.Node, dir string) {
	items := []*yaml.Node{n}
	switch {
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		l.errorf(n, "PBX %s: inventory is an empty list: want a file or a folder, or a list of them", p.Name)
		return
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		l.errorf(n, "PBX %s: inventory must be a file or a folder, or a list of them", p.Name)
		return
	}
	var paths []string
	var at []*yaml.Node
	for _, item := range items {
		item = resolve(item)
		what := "inventory"
		if n.Kind == yaml.SequenceNode {
			what = "each path of inventory"
		}
		s, ok := l.fleetString(p.Name, item, what)
		switch {
		case !ok:
		case s == "-":
			l.errorf(item, "PBX %s: inventory - (standard input) is not allowed in a fleet file: name a file or a folder", p.Name)
		default:
			if !filepath.IsAbs(s) {
				s = filepath.Join(dir, s)
			}
			paths, at = append(paths, s), append(at, item)
		}
	}
	if len(at) == len(items) {
		p.Inventory, p.inventory, p.paths = paths, n, at
	}
}

// fleetString reads a PBX's string scalar, that must not be empty.
func (l *loader) fleetString(pbx string, n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		l.errorf(n, "PBX %s: %s must be a non-empty string", pbx, what)
		return "", false
	}
	return n.Value, true
}

// fleetURL checks a PBX's url, as apiclient.New and --url would, and sets it. The url
// is never quoted: it may hold a password.
func (l *loader) fleetURL(p *fleetPBX, n *yaml.Node, raw, dir string) {
	if path, ok := strings.CutPrefix(raw, "sim:"); ok {
		if path == "" {
			l.errorf(n, "PBX %s: sim: needs a state file: sim:FILE", p.Name)
			return
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
			raw = "sim:" + path
		}
		p.URL, p.urlAt, p.server = raw, n, apiclient.ServerKey(raw)
		p.URLAt = Position{File: l.file, Line: n.Line, Column: n.Column}
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err == nil && u.User != nil:
		l.errorf(n, "PBX %s: url: credentials belong in the environment, not in the URL", p.Name)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		l.errorf(n, "PBX %s: url is not valid: want https://host[:port], http://host[:port] or sim:FILE", p.Name)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		l.errorf(n, "PBX %s: url takes no query or fragment", p.Name)
	default:
		p.URL, p.urlAt = raw, n
		p.server = apiclient.ServerKey(raw)
		p.URLAt = Position{File: l.file, Line: n.Line, Column: n.Column}
	}
}

// CheckServers refuses a fleet with two PBXs that are one server because their
// host names resolve to a common address (apiclient.Resolver), naming both at the
// later one's url, as an *InventoryError. Loading a fleet compares urls by their
// canonical forms only and looks nothing up; this looks host names up, for a run
// about to connect to the PBXs. The error is the context's when it ends first.
func CheckServers(ctx context.Context, pbxs []*FleetPBX, r apiclient.Resolver) error {
	inFile := slices.SortedFunc(slices.Values(pbxs), func(a, b *FleetPBX) int { return cmp.Compare(a.Line, b.Line) })
	urls := make([]string, len(inFile))
	for i, p := range inFile {
		urls[i] = p.URL
	}
	twins, err := r.Twins(ctx, urls)
	if err != nil {
		return err
	}
	var diags []Diagnostic
	for _, t := range twins {
		first, p := inFile[t.First], inFile[t.Second]
		diags = append(diags, Diagnostic{File: p.URLAt.File, Line: p.URLAt.Line, Column: p.URLAt.Column,
			Message: fmt.Sprintf("PBXs %s (line %d) and %s (line %d) are one server (%s): each PBX of a fleet is a server of its own", first.Name, first.Line, p.Name, p.Line, t.Why)})
	}
	if len(diags) > 0 {
		return &InventoryError{Diagnostics: diags}
	}
	return nil
}

// CheckPBXs refuses a PBX named for a run (--pbx) that the fleet file does not
// have, with the nearest name as a suggestion.
func CheckPBXs(file string, pbxs []*FleetPBX, chosen []string) error {
	var names []string
	for _, p := range pbxs {
		names = append(names, p.Name)
	}
	for _, name := range chosen {
		if !slices.Contains(names, name) {
			msg := fmt.Sprintf("--pbx %s: the fleet %s has no such PBX (it has %s)", name, file, strings.Join(names, ", "))
			if near := Nearest(name, names); near != "" {
				msg += fmt.Sprintf(": did you mean %s?", near)
			}
			return errors.New(msg)
		}
	}
	return nil
}
