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
	"sync"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// ExportOptions choose what an export holds.
type ExportOptions struct {
	Companies      []string       // only these companies (and their container partners); all when empty
	Match          *regexp.Regexp // only companies whose id matches (and their container partners)
	IncludeSecrets bool           // write secret values instead of ${VAR} references
}

// Snapshot is a server's companies and containers, read in full.
type Snapshot struct {
	Companies  []apiclient.Company // sorted by ID
	Containers map[string][]string // container name -> members, sorted; every container read
	Requests   int
}

// ReadSnapshot reads every company and every container: one read of all, then one
// readContainer per container, up to parallelism at once.
func ReadSnapshot(ctx context.Context, r Reader, parallelism int) (*Snapshot, error) {
	all, err := r.ReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("read companies: %w", err)
	}
	snap := &Snapshot{Companies: all, Containers: map[string][]string{}, Requests: 1}
	var mu sync.Mutex
	covered := map[string]bool{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallelism, 1))
	for _, c := range all {
		mu.Lock()
		done := covered[c.ID]
		mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error {
			mu.Lock()
			done := covered[c.ID]
			mu.Unlock()
			if done {
				return nil
			}
			box, err := r.ReadContainer(ctx, c.ID)
			mu.Lock()
			defer mu.Unlock()
			snap.Requests++
			if err != nil {
				return fmt.Errorf("read the container of %q: %w", c.ID, err)
			}
			snap.Containers[box.Name] = box.MemberIDs()
			for _, id := range box.MemberIDs() {
				covered[id] = true
			}
			return nil
		})
	}
	return snap, g.Wait()
}

// Select keeps the companies opts names or matches, and their container partners. It
// returns the selection, sorted; all companies when opts selects none.
func (s *Snapshot) Select(opts ExportOptions) ([]string, error) {
	ids := make(map[string]bool, len(s.Companies))
	for _, c := range s.Companies {
		ids[c.ID] = true
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
func (s *Snapshot) Export(opts ExportOptions) ([]byte, error) {
	selected, err := s.Select(opts)
	if err != nil {
		return nil, err
	}
	chosen := map[string]bool{}
	for _, id := range selected {
		chosen[id] = true
	}
	companies := &yaml.Node{Kind: yaml.MappingNode}
	for _, c := range s.Companies {
		if !chosen[c.ID] {
			continue
		}
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
			if f.Secret && v.Text() != "" && !opts.IncludeSecrets {
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
			k.FootComment = "fields this pbxsync does not know, not managed: " + strings.Join(unknown, ", ")
		}
		companies.Content = append(companies.Content, k, body)
	}

	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key("version"), {Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"}, key("companies"), companies}}
	containers := &yaml.Node{Kind: yaml.MappingNode}
	for _, name := range slices.Sorted(maps.Keys(s.Containers)) {
		members := s.Containers[name]
		if len(members) < 2 || !chosen[members[0]] {
			continue
		}
		list := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, id := range members {
			list.Content = append(list.Content, str(id))
		}
		containers.Content = append(containers.Content, key(name), list)
	}
	if len(containers.Content) > 0 {
		root.Content = append(root.Content, key("containers"), containers)
	}
	var buf bytes.Buffer
	buf.WriteString("# Exported by pbxsync: the server's companies, settings and containers.\n")
	if !opts.IncludeSecrets {
		buf.WriteString("# Secrets are ${VAR} references: set each variable (COMPANY_FIELD, upper case) before planning.\n")
	} else {
		buf.WriteString("# It holds secrets in plain text: keep it private.\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Secrets returns the secret values of the selected companies by the variable names
// Export writes, for a migration that carries them in memory.
func (s *Snapshot) Secrets(selected []string) map[string]string {
	chosen := map[string]bool{}
	for _, id := range selected {
		chosen[id] = true
	}
	out := map[string]string{}
	for _, c := range s.Companies {
		if !chosen[c.ID] {
			continue
		}
		for name, v := range c.Settings {
			if f, ok := apiclient.LookupField(name); ok && f.Secret && v.Text() != "" {
				out[SecretVariable(c.ID, name)] = v.Text()
			}
		}
	}
	return out
}

func key(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

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
