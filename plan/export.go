package plan

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// ExportOptions choose what an export holds.
type ExportOptions struct {
	Companies      []string       // only these companies (and their container partners); all when empty
	Match          *regexp.Regexp // only companies whose id matches (and their container partners)
	IncludeSecrets bool           // write secret values instead of ${VAR} references
}

// ReadSnapshot reads the whole server: every company and every container, with one
// read of all, then one readContainer per container (see readAllContainers for the
// bound), up to parallelism at once. A container that cannot be read is an error: a
// snapshot is whole or it is not.
func ReadSnapshot(ctx context.Context, r Reader, parallelism int) (*State, error) {
	all, err := r.ReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("read companies: %w", err)
	}
	st := NewState(all, nil)
	st.Requests = 1
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	if err := readAllContainers(ctx, r, ids, max(parallelism, 1), st); err != nil {
		return nil, err
	}
	if len(st.Unread) > 0 {
		first := slices.Min(slices.Collect(maps.Keys(st.Unread)))
		return nil, fmt.Errorf("the containers of %s could not be read: %w", plural(len(st.Unread), "company", "companies"), st.Unread[first])
	}
	return st, nil
}

// Select keeps the companies opts names or matches, and their container partners. It
// returns the selection, sorted; all companies when opts selects none.
func (s *State) Select(opts ExportOptions) ([]string, error) {
	ids := make(map[string]bool, len(s.Companies))
	for id := range s.Companies {
		ids[id] = true
	}
	if len(opts.Companies) == 0 && opts.Match == nil {
		return slices.Sorted(maps.Keys(ids)), nil
	}
	chosen := map[string]bool{}
	for _, id := range opts.Companies {
		if !ids[id] {
			return nil, fmt.Errorf("company %q is not on the server", id)
		}
		chosen[id] = true
	}
	if opts.Match != nil {
		for id := range ids {
			if opts.Match.MatchString(id) {
				chosen[id] = true
			}
		}
	}
	for _, members := range s.Containers { // partners come along, so no grouping is cut
		if slices.ContainsFunc(members, func(id string) bool { return chosen[id] }) {
			for _, id := range members {
				chosen[id] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(chosen)), nil
}

// SecretVariable is the environment variable an export names for a secret: the
// company-id and the field, upper case, joined by "_" (acme_hq's nm_password is
// ACME_HQ_NM_PASSWORD).
func SecretVariable(company, field string) string {
	return strings.ToUpper(company + "_" + field)
}

// Export writes the selected companies as an inventory: sorted, without server ids,
// containers labelled with the server's container names, every known field with the
// server's value, fields unknown to this pbxsync as comments (an inventory may not
// manage them), and secrets as ${VAR} unless opts.IncludeSecrets. Exporting the same
// server twice gives the same bytes.
func (s *State) Export(opts ExportOptions) ([]byte, error) {
	selected, err := s.Select(opts)
	if err != nil {
		return nil, err
	}
	chosen := map[string]bool{}
	for _, id := range selected {
		chosen[id] = true
	}
	var buf bytes.Buffer
	buf.WriteString("# Exported by pbxsync: the server's companies, settings and containers.\n")
	if !opts.IncludeSecrets {
		buf.WriteString("# Secrets are ${VAR} references: set each variable (COMPANY_FIELD, upper case) before planning.\n")
	} else {
		buf.WriteString("# It holds secrets in plain text: keep it private.\n")
	}
	buf.WriteString("version: 1\n")
	if len(selected) == 0 {
		buf.WriteString("companies: {}\n")
	} else {
		buf.WriteString("companies:\n")
		w := &nestedWriter{out: &buf}
		for _, id := range selected {
			if err := w.add(exportCompany(s.Companies[id], opts)); err != nil {
				return nil, err
			}
		}
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	w := &nestedWriter{out: &buf}
	for _, name := range slices.Sorted(maps.Keys(s.Containers)) {
		members := s.Containers[name]
		if len(members) < 2 || !chosen[members[0]] {
			continue
		}
		if len(w.chunk) == 0 && !w.started {
			buf.WriteString("containers:\n")
		}
		list := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, id := range members {
			list.Content = append(list.Content, str(id))
		}
		if err := w.add(key(name), list); err != nil {
			return nil, err
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	return apiclient.PrintableJSON(buf.Bytes()), nil
}

// exportCompany returns the key and the body of a company in an export.
func exportCompany(c apiclient.Company, opts ExportOptions) (*yaml.Node, *yaml.Node) {
	settings := &yaml.Node{Kind: yaml.MappingNode}
	var unknown []string
	for _, name := range c.Settings.Names() {
		v := c.Settings[name]
		f, known := apiclient.LookupField(name)
		if !known {
			unknown = append(unknown, fmt.Sprintf("%s: %s", name, v.JSON()))
			continue
		}
		value := scalar(v)
		if f.Secret && holdsSecret(v) && !opts.IncludeSecrets {
			value = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "${" + SecretVariable(c.ID, name) + "}"}
		}
		settings.Content = append(settings.Content, key(name), value)
	}
	body := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key("name"), str(c.Name)}}
	if len(settings.Content) > 0 {
		body.Content = append(body.Content, key("settings"), settings)
	}
	k := key(c.ID)
	if len(unknown) > 0 {
		k.FootComment = apiclient.Printable("fields this pbxsync does not know, not managed: " + strings.Join(unknown, ", "))
	}
	return k, body
}

// exportChunk is how many entries of a mapping a nestedWriter encodes at once.
const exportChunk = 4

// nestedWriter writes the entries of a mapping that is the value of a top-level key,
// indented by two spaces, as one encoding of the whole document would write them, a
// few entries at a time. yaml.v3's emitter keeps every event of a document until
// its end, and the nodes of 20,000 companies would be held at once: one document
// costs seconds and gigabytes where chunks of exportChunk entries, each encoded
// once built, cost a fraction (BenchmarkExport).
type nestedWriter struct {
	out     *bytes.Buffer
	chunk   []*yaml.Node // keys and values not yet written
	part    bytes.Buffer
	started bool // a chunk was written
	foot    bool // the last entry written has a foot comment
}

func (w *nestedWriter) add(k, v *yaml.Node) error {
	w.chunk = append(w.chunk, k, v)
	if len(w.chunk) < 2*exportChunk {
		return nil
	}
	return w.flush()
}

// flush writes the entries added since the last flush.
func (w *nestedWriter) flush() error {
	if len(w.chunk) == 0 {
		return nil
	}
	if w.foot {
		w.out.WriteString("\n") // in one document, an empty line follows a foot comment when an entry follows
	}
	w.part.Reset()
	enc := yaml.NewEncoder(&w.part)
	enc.SetIndent(2)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: w.chunk}}}
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	for line := range bytes.Lines(w.part.Bytes()) {
		if len(line) > 1 { // an empty line stays empty
			w.out.WriteString("  ")
		}
		w.out.Write(line)
	}
	w.foot = w.chunk[len(w.chunk)-2].FootComment != ""
	w.started = true
	w.chunk = w.chunk[:0]
	return nil
}

// Secrets returns the secret values of the selected companies by the variable names
// Export writes, for a migration that carries them in memory.
func (s *State) Secrets(selected []string) map[string]string {
	out := map[string]string{}
	for _, id := range selected {
		c, ok := s.Companies[id]
		if !ok {
			continue
		}
		for _, name := range SecretFields(c) {
			out[SecretVariable(c.ID, name)] = secretText(c.Settings[name])
		}
	}
	return out
}

// SecretFields returns the company's secret fields that hold a value, sorted: those
// that Export writes as ${VAR} references and Secrets returns.
func SecretFields(c apiclient.Company) []string {
	var names []string
	for _, name := range c.Settings.Names() {
		if f, ok := apiclient.LookupField(name); ok && f.Secret && holdsSecret(c.Settings[name]) {
			names = append(names, name)
		}
	}
	return names
}

// holdsSecret reports whether a secret field's value must not be exported in plain
// text: every value but null and "", whatever its kind. A number, a boolean or an
// array is no PIN, but it is what the server holds in a secret field.
func holdsSecret(v apiclient.Value) bool {
	return v.Kind() != apiclient.KindNull && (v.Kind() != apiclient.KindString || v.Text() != "")
}

// secretText is a secret's value as its ${VAR} carries it: the text of a string or
// a number, the JSON text of anything else, which the field table then refuses with
// a message that names the field, not the value.
func secretText(v apiclient.Value) string {
	if k := v.Kind(); k == apiclient.KindString || k == apiclient.KindNumber {
		return v.Text()
	}
	return v.JSON()
}

func key(s string) *yaml.Node { return str(s) }

// str is a string scalar. One that a terminal or an editor would not show as it is
// (escape sequences, bidirectional overrides: a server's text) is double-quoted, so
// that every such character is written as an escape (yaml.v3's own, or Export's
// apiclient.PrintableJSON for those yaml.v3 leaves raw).
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if !apiclient.IsPrintable(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// scalar writes a value as the YAML scalar of its type: the server's "15" stays a
// quoted string, 15 an integer.
func scalar(v apiclient.Value) *yaml.Node {
	switch v.Kind() {
	case apiclient.KindString:
		return str(v.Text())
	case apiclient.KindNumber:
		if _, err := strconv.ParseInt(v.Text(), 10, 64); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v.Text()}
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: v.Text()}
	case apiclient.KindBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case apiclient.KindNull:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	return str(v.JSON())
}
