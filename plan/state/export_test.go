package state

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// readBack parses an export with yaml.v3 and returns, for each company, its name and
// the settings as YAML typed them, and the containers: what any YAML reader sees.
func readBack(t *testing.T, data []byte) (names map[string]string, settings map[string]apiclient.Settings, containers map[string][]string) {
	t.Helper()
	var doc struct {
		Version   int
		Companies map[string]struct {
			Name     string
			Settings map[string]yaml.Node
		}
		Containers map[string][]string
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&doc), "%s", data)
	require.Equal(t, 1, doc.Version)
	names, settings = map[string]string{}, map[string]apiclient.Settings{}
	for id, c := range doc.Companies {
		names[id] = c.Name
		var s apiclient.Settings
		for field, n := range c.Settings {
			var v apiclient.Value
			switch n.Tag {
			case "!!str":
				v = apiclient.String(n.Value)
			case "!!int", "!!float":
				v = apiclient.Number(n.Value)
			case "!!bool":
				v = apiclient.Bool(n.Value == "true")
			case "!!null":
				v = apiclient.Null()
			default:
				t.Fatalf("%s.%s: tag %s", id, field, n.Tag)
			}
			s.Set(field, v)
		}
		settings[id] = s
	}
	return names, settings, doc.Containers
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
				settings.Set(f, apiclient.String(texts[r.IntN(len(texts))]))
			case 1:
				settings.Set(f, apiclient.Int(int64(r.IntN(30))))
			case 2:
				settings.Set(f, apiclient.Bool(r.IntN(2) == 0))
			}
		}
		if r.IntN(3) == 0 {
			settings.Set("future_field", apiclient.String(texts[r.IntN(len(texts))]))
		}
		companies = append(companies, apiclient.Company{ID: id, Name: "Company " + id, Settings: settings})
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for len(ids) > 1 && r.IntN(4) > 0 {
		members := slices.Sorted(slices.Values(ids[:min(1+r.IntN(4), len(ids))]))
		containers[members[0]] = members
		ids = ids[len(members):]
	}
	return New(companies, containers)
}

// TestExportReadsBack checks that what Export writes reads back, with any YAML
// reader, as the snapshot's companies, values (kind and text), secrets as ${VAR}
// unless asked for, and containers; unknown fields as comments only.
func TestExportReadsBack(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			snap := trickySnapshot(rand.New(rand.NewPCG(seed, 11)))
			options := []ExportOptions{{}, {IncludeSecrets: true}}
			if ids := slices.Sorted(maps.Keys(snap.Companies)); len(ids) > 3 {
				options = append(options, ExportOptions{Companies: []string{ids[3]}})
			}
			for _, opts := range options {
				data, err := snap.Export(opts)
				require.NoError(t, err)
				selected, err := snap.Select(opts)
				require.NoError(t, err)
				names, settings, containers := readBack(t, data)
				require.ElementsMatch(t, selected, slices.Collect(maps.Keys(names)))
				for _, id := range selected {
					c := snap.Companies[id]
					require.Equal(t, c.Name, names[id])
					want := apiclient.Settings{}
					for field, v := range c.Settings.All() {
						f, known := apiclient.LookupField(field)
						switch {
						case !known:
							require.Contains(t, string(data), "# fields this pbxsync does not know, not managed: ")
							continue
						case f.Secret && holdsSecret(v) && !opts.IncludeSecrets:
							v = apiclient.String("${" + SecretVariable(id, field) + "}")
						case v.Kind() == apiclient.KindOther:
							v = apiclient.String(v.JSON())
						}
						want.Set(field, v)
					}
					if diff := cmp.Diff(want, settings[id], cmp.AllowUnexported(apiclient.Value{})); diff != "" {
						t.Fatalf("company %s, options %+v (-snapshot +export):\n%s\n%s", id, opts, diff, data)
					}
				}
				for name, members := range snap.Containers {
					if slices.Contains(selected, members[0]) && len(members) > 1 {
						require.Equal(t, members, containers[name])
					}
				}
			}
		})
	}
}

// FuzzExportString: a string that Export writes reads back as the same string, in a
// block and in a flow sequence, written on one line of printable characters.
func FuzzExportString(f *testing.F) {
	for _, s := range []string{"", "plain", "Company 7", "a: b", "#x", " x", "x ", "yes", "No", "null", "~", "15", "-1",
		"0x1F", ".inf", "1e3", "2001-12-14", "<<", "a,b", "[x]", "{x}", "'q'", `"q"`, "\\", "x\n\ty", "\x1b[2J",
		"\u202e", "\u2028", "\U0001F600", "\xff", "\u0085", "${VAR}", "@x", "%x", "!x", "&x", "*x", "|", ">", "?", "-", "- x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // what a server sends is JSON-decoded: always UTF-8
		}
		var b bytes.Buffer
		writeString(&b, s)
		out := b.String()
		for _, r := range out {
			if !apiclient.IsPrintable(string(r)) || r == '\n' {
				t.Fatalf("%q written as %q: %U is raw", s, out, r)
			}
		}
		var block map[string]yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte("k: "+out+"\n"), &block), "%q written as %q", s, out)
		if n := block["k"]; n.Tag != "!!str" || n.Value != s {
			t.Fatalf("%q written as %q reads back as %s %q", s, out, n.Tag, n.Value)
		}
		var flow map[string][]yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte("k: [a, "+out+"]\n"), &flow), "%q written as %q", s, out)
		if l := flow["k"]; len(l) != 2 || l[1].Tag != "!!str" || l[1].Value != s {
			t.Fatalf("%q written as %q reads back in a list as %v", s, out, l)
		}
	})
}

// A company-id may start with a digit, a variable's name may not: the export's
// ${VAR} for such a company loads back.
func TestExportSecretOfCompanyStartingWithDigit(t *testing.T) {
	snap := New([]apiclient.Company{{ID: "7eleven", Name: "7-Eleven", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nm_password": apiclient.String("0042")})}}, nil)
	data, err := snap.Export(ExportOptions{})
	require.NoError(t, err)
	require.Contains(t, string(data), "nm_password: ${_7ELEVEN_NM_PASSWORD}\n")
	inv, _, err := inventory.Load("export.yaml", data, inventory.LoadOptions{Lookup: func(name string) (string, bool) { return "0042", name == "_7ELEVEN_NM_PASSWORD" }})
	require.NoError(t, err)
	require.Equal(t, "0042", inv.Companies[0].Settings.Get("nm_password").Text())
}
