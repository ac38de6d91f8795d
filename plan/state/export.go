package state

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// ExportOptions choose what an export holds.
type ExportOptions struct {
	Companies      []string       // only these companies (and their container partners); all when empty
	Match          *regexp.Regexp // only companies whose id matches (and their container partners)
	IncludeSecrets bool           // write secret values instead of ${VAR} references
	// Compact moves a value that most companies share to defaults, and writes a
	// company's own settings only where they differ (compactDefaults).
	Compact bool
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
	st := New(all, nil)
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
// ACME_HQ_NM_PASSWORD), led by "_" where the company-id starts with a digit, since
// a variable's name may not (7eleven's is _7ELEVEN_NM_PASSWORD).
func SecretVariable(company, field string) string {
	name := strings.ToUpper(company + "_" + field)
	if name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// Export writes the selected companies as an inventory: sorted, without server ids,
// containers labelled with the server's container names, every known field with the
// server's value, fields unknown to this pbxsync as comments (an inventory may not
// manage them), and secrets as ${VAR} unless opts.IncludeSecrets. Exporting the same
// server twice gives the same bytes.
//
// It writes the YAML itself, a line at a time: the format is fixed, and yaml.v3's
// emitter cost a second and a gigabyte of garbage for 20,000 companies
// (BenchmarkExport). Every string is either plain, where plainSafe proves that YAML
// reads it back as that string, or double-quoted with every character that is not
// plainly printable escaped (TestExportReadsBack, FuzzExportString).
func (s *State) Export(opts ExportOptions) ([]byte, error) {
	selected, err := s.Select(opts)
	if err != nil {
		return nil, err
	}
	chosen := make(map[string]bool, len(selected))
	for _, id := range selected {
		chosen[id] = true
	}
	var b bytes.Buffer
	b.Grow(len(selected) * 512)
	b.WriteString("# Exported by pbxsync: the server's companies, settings and containers.\n")
	if !opts.IncludeSecrets {
		b.WriteString("# Secrets are ${VAR} references: set each variable (COMPANY_FIELD, upper case) before planning.\n")
	} else {
		b.WriteString("# It holds secrets in plain text: keep it private.\n")
	}
	b.WriteString("version: 1\n")
	var defaults apiclient.Settings
	if opts.Compact {
		defaults = s.compactDefaults(selected)
		if defaults.Len() > 0 {
			b.WriteString("defaults:\n")
			for _, f := range fieldsByName {
				if v, ok := defaults.Lookup(f.Name); ok {
					b.WriteString("  " + f.Name + ": ")
					writeValue(&b, v)
					b.WriteByte('\n')
				}
			}
		}
	}
	if len(selected) == 0 {
		b.WriteString("companies: {}\n")
	} else {
		b.WriteString("companies:\n")
		for _, id := range selected {
			c := s.Companies[id]
			if defaults.Len() > 0 { // the company's own settings: those that differ
				own := apiclient.Settings{}
				for name, v := range c.Settings.All() {
					if d, ok := defaults.Lookup(name); !ok || d != v {
						own.Set(name, v)
					}
				}
				c.Settings = own
			}
			exportCompany(&b, c, opts)
		}
	}
	started := false
	for _, name := range slices.Sorted(maps.Keys(s.Containers)) {
		members := s.Containers[name]
		if len(members) < 2 || !chosen[members[0]] {
			continue
		}
		if !started {
			b.WriteString("containers:\n")
			started = true
		}
		b.WriteString("  ")
		writeString(&b, name)
		b.WriteString(": [")
		for i, id := range members {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(&b, id)
		}
		b.WriteString("]\n")
	}
	return b.Bytes(), nil
}

// exportCompany writes a company of an export.
func exportCompany(b *bytes.Buffer, c apiclient.Company, opts ExportOptions) {
	b.WriteString("  ")
	writeString(b, c.ID)
	b.WriteString(":\n    name: ")
	writeString(b, c.Name)
	b.WriteByte('\n')
	settings, known := false, 0
	for _, f := range fieldsByName {
		v, ok := c.Settings.Lookup(f.Name)
		if !ok {
			continue
		}
		known++
		if !settings {
			b.WriteString("    settings:\n")
			settings = true
		}
		b.WriteString("      ")
		b.WriteString(f.Name) // the field table's names are plain
		b.WriteString(": ")
		if f.Secret && holdsSecret(v) && !opts.IncludeSecrets {
			ref := "${" + SecretVariable(c.ID, f.Name) + "}"
			if inventory.IsSecretRef(ref) {
				b.WriteString(ref) // plain, as a person writes it: letters, digits and _ in ${}
			} else {
				writeString(b, ref)
			}
		} else {
			writeValue(b, v.Reveal()) // a secret's text only when asked (IncludeSecrets)
		}
		b.WriteByte('\n')
	}
	if known < c.Settings.Len() {
		var unknown []string
		for _, name := range c.Settings.Names() {
			if _, ok := apiclient.LookupField(name); !ok {
				unknown = append(unknown, fmt.Sprintf("%s: %s", name, c.Settings.Get(name).JSON()))
			}
		}
		b.WriteString("    # ")
		b.WriteString(apiclient.Printable("fields this pbxsync does not know, not managed: " + strings.Join(unknown, ", ")))
		b.WriteByte('\n')
	}
}

// compactDefaults returns, for each known field that every selected company holds, the
// value more than half of them share: written once as a default, it leaves in each
// company only what differs. A PIN stays with its company (a default would give every
// company one; an empty one may be a default), and so does a field some company lacks
// (an older server's), since a default would make it managed there.
func (s *State) compactDefaults(selected []string) apiclient.Settings {
	defaults := apiclient.Settings{}
	if len(selected) < 2 {
		return defaults
	}
	for _, f := range fieldsByName {
		counts := map[apiclient.Value]int{}
		everyone := true
		for _, id := range selected {
			v, ok := s.Companies[id].Settings.Lookup(f.Name)
			if !ok {
				everyone = false
				break
			}
			counts[v]++
		}
		if !everyone {
			continue
		}
		for v, n := range counts {
			if 2*n > len(selected) && !(f.Secret && holdsSecret(v)) {
				defaults.Set(f.Name, v)
			}
		}
	}
	return defaults
}

// fieldsByName is the field table in the order of the names, as an export writes
// a company's settings.
var fieldsByName = func() []apiclient.Field {
	fields := apiclient.Fields()
	slices.SortFunc(fields, func(a, b apiclient.Field) int { return strings.Compare(a.Name, b.Name) })
	return fields
}()

// writeValue writes a value as the YAML scalar of its type: the server's "15" stays
// a quoted string, 15 a number, and a value of a kind the field table does not know
// (an array, an object) its JSON text as a string.
func writeValue(b *bytes.Buffer, v apiclient.Value) {
	switch v.Kind() {
	case apiclient.KindString:
		writeString(b, v.Text())
	case apiclient.KindNumber:
		b.WriteString(v.Text()) // JSON's number grammar is a part of YAML's
	case apiclient.KindBool, apiclient.KindNull:
		b.WriteString(v.JSON())
	default:
		writeString(b, v.JSON())
	}
}

// writeString writes a string as a YAML scalar that reads back as the same string,
// on one line: plain where plainSafe allows, else double-quoted, with every
// character a terminal, an editor or a YAML reader would not take as it is escaped.
func writeString(b *bytes.Buffer, s string) {
	if plainSafe(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\uFFFD`) // a byte that is not UTF-8: YAML has no way to carry it
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case !apiclient.IsPrintable(string(r)):
			if r > 0xffff {
				fmt.Fprintf(b, `\U%08x`, r)
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// plainSafe reports whether s may be written as a plain scalar, in a block or in a
// flow sequence, and read back as the string s by any YAML reader: letters, digits
// and a few harmless marks, starting with a letter, _ or /, not ending with a space,
// and not a word that YAML 1.1 reads as a boolean or null. It is strict on purpose:
// a string it refuses is quoted, which is never wrong.
func plainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == '/':
		case i > 0 && ('0' <= c && c <= '9' || strings.IndexByte(" .@+-()", c) >= 0):
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
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
			out[SecretVariable(c.ID, name)] = secretText(c.Settings.Get(name))
		}
	}
	return out
}

// SecretFields returns the company's secret fields that hold a value, sorted: those
// that Export writes as ${VAR} references and Secrets returns.
func SecretFields(c apiclient.Company) []string {
	var names []string
	for _, name := range c.Settings.Names() {
		if f, ok := apiclient.LookupField(name); ok && f.Secret && holdsSecret(c.Settings.Get(name)) {
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
	return v.Reveal().JSON()
}

// plural writes n and the noun that fits it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
