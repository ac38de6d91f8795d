package plan

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// oneDocument is Export as one encoding of the whole document: what the chunks of
// nestedWriter must add up to, byte for byte.
func oneDocument(t *testing.T, s *State, opts ExportOptions) []byte {
	t.Helper()
	selected, err := s.Select(opts)
	require.NoError(t, err)
	companies := &yaml.Node{Kind: yaml.MappingNode}
	for _, id := range selected {
		k, body := exportCompany(s.Companies[id], opts)
		companies.Content = append(companies.Content, k, body)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key("version"), {Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"}, key("companies"), companies}}
	containers := &yaml.Node{Kind: yaml.MappingNode}
	for _, name := range slices.Sorted(maps.Keys(s.Containers)) {
		members := s.Containers[name]
		if len(members) < 2 || !slices.Contains(selected, members[0]) {
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
	if opts.IncludeSecrets {
		buf.WriteString("# It holds secrets in plain text: keep it private.\n")
	} else {
		buf.WriteString("# Secrets are ${VAR} references: set each variable (COMPANY_FIELD, upper case) before planning.\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	require.NoError(t, enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}))
	require.NoError(t, enc.Close())
	return buf.Bytes()
}

// trickySnapshot is a snapshot of up to 40 companies with values that YAML writes in
// every style (quoted, literal blocks with empty lines, numbers as strings), unknown
// fields (foot comments), company-ids that read as numbers, and containers.
func trickySnapshot(r *rand.Rand) *State {
	texts := []string{"", "plain", "a: b # not a comment", "multi\nline\n\nwith an empty line", "  leading", "trailing  ",
		"x\n  \ny", "#hash", "- dash", "ünïcode ✓", "tab\there", "\n", `quote'"both`, "${NOT_A_VAR}",
		"long " + strings.Repeat("word ", 40), "null", "true", "15", "0042"}
	containers := map[string][]string{}
	var companies []apiclient.Company
	var ids []string
	for i := range r.IntN(40) {
		id := fmt.Sprintf("c%03d", i)
		if r.IntN(8) == 0 {
			id = fmt.Sprint(100 + i)
		}
		ids = append(ids, id)
		settings := apiclient.Settings{}
		for _, f := range []string{"hs_access", "crm_url", "nm_password", "q_ringtime", "nocallrec", "record"} {
			switch r.IntN(4) {
			case 0:
				settings[f] = apiclient.String(texts[r.IntN(len(texts))])
			case 1:
				settings[f] = apiclient.Int(int64(r.IntN(30)))
			case 2:
				settings[f] = apiclient.Bool(r.IntN(2) == 0)
			}
		}
		if r.IntN(3) == 0 {
			settings["future_field"] = apiclient.String(texts[r.IntN(len(texts))])
		}
		companies = append(companies, apiclient.Company{ID: id, Name: "Company " + id, Settings: settings})
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for len(ids) > 1 && r.IntN(4) > 0 {
		members := slices.Sorted(slices.Values(ids[:min(1+r.IntN(4), len(ids))]))
		containers[members[0]] = members
		ids = ids[len(members):]
	}
	return NewState(companies, containers)
}

// TestExportChunks checks that Export, which encodes a few companies at a time,
// writes the bytes of one encoding of the whole document.
func TestExportChunks(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			snap := trickySnapshot(rand.New(rand.NewPCG(seed, 11)))
			options := []ExportOptions{{}, {IncludeSecrets: true}}
			if ids := slices.Sorted(maps.Keys(snap.Companies)); len(ids) > 3 {
				options = append(options, ExportOptions{Companies: []string{ids[3]}})
			}
			for _, opts := range options {
				got, err := snap.Export(opts)
				require.NoError(t, err)
				if diff := cmp.Diff(string(oneDocument(t, snap, opts)), string(got)); diff != "" {
					t.Fatalf("options %+v (-one document +chunks):\n%s", opts, diff)
				}
			}
		})
	}
}
