package inventory_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// Why no schema of one file can refuse an inventory that the loader refuses.
const (
	noZone    = "a schema cannot check that a time zone exists"
	notInFile = "whether a variable is set, and not empty, is in the environment, not in the file"
	duplicate = "a YAML reader refuses a duplicated key before a schema sees the value (and a JSON reader keeps one of them)"
	notYAML   = "not YAML: there is no value for a schema to check"
)

// beyondSchema are the cases of invalidInventories that the inventory's JSON Schema
// accepts, or never sees, and why. The loader refuses every one of them; the list is
// exact (TestSchemaRefusesInvalidInventories).
var beyondSchema = map[string]string{
	"zone/Mars":              noZone,
	"zone/Local":             noZone + " (Local is a name Go knows, but no zone)",
	"zone/in defaults":       noZone,
	"zone/case":              noZone + " (names are told apart by case)",
	"env/not a secret field": "${ZONE} is literal text outside a secret field: " + noZone,
	"env/unset":              notInFile,
	"env/unset in defaults":  notInFile,
	"env/empty":              notInFile,

	"container/member not a company":      "a member must be a company of the inventory, which may be defined in another file",
	"container/company in two containers": "a schema cannot relate the members of one container to those of another",

	"prune/invalid expression": "a schema cannot check that a string is a regular expression of Go's syntax (format regex means ECMA-262's, and is only an annotation)",

	"duplicated key/top level":       duplicate,
	"duplicated key/company-id":      duplicate,
	"duplicated key/setting":         duplicate,
	"duplicated key/company field":   duplicate,
	"duplicated key/container label": duplicate,

	"yaml/tab indentation":                   notYAML,
	"yaml/tab after spaces":                  notYAML,
	"yaml/a key indented between two levels": notYAML,
	"yaml/colon in a plain value":            notYAML,
	"yaml/unterminated quote":                notYAML,
	"yaml/unclosed flow sequence":            notYAML,
	"yaml/unknown alias":                     notYAML,
}

// compileSchema compiles inventory.Schema as a draft 2020-12 validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(inventory.Schema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("inventory.schema.json", doc))
	sch, err := c.Compile("inventory.schema.json")
	require.NoError(t, err)
	return sch
}

// yamlToJSON reads a YAML document as a YAML language server does before it
// validates: decoded into plain values (merge keys and aliases resolved), map keys
// as strings, then as JSON.
func yamlToJSON(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	data, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// stringKeys returns v with every map's keys made strings.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = stringKeys(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = stringKeys(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stringKeys(x)
		}
		return out
	}
	return v
}

func TestSchemaIsDraft2020(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(inventory.Schema(), &doc))
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
	compileSchema(t)
}

func TestSchemaIsDeterministic(t *testing.T) {
	first := inventory.Schema()
	for range 5 {
		require.Equal(t, string(first), string(inventory.Schema()))
	}
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, first, "", "  "))
	require.Equal(t, string(first), indented.String(), "indented JSON, one newline at the end")
}

// TestSchemaSettingsAreTheFieldTable: the settings of the schema are the field
// table's fields, each with the field's own schema.
func TestSchemaSettingsAreTheFieldTable(t *testing.T) {
	var doc struct {
		Defs struct {
			Settings struct {
				Properties           map[string]any `json:"properties"`
				AdditionalProperties bool           `json:"additionalProperties"`
			} `json:"settings"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(inventory.Schema(), &doc))
	want := map[string]any{}
	for _, f := range apiclient.Fields() {
		data, err := json.Marshal(f.JSONSchema())
		require.NoError(t, err)
		var s any
		require.NoError(t, json.Unmarshal(data, &s))
		want[f.Name] = s
	}
	if diff := cmp.Diff(want, doc.Defs.Settings.Properties); diff != "" {
		t.Errorf("settings (-field table +schema):\n%s", diff)
	}
	require.False(t, doc.Defs.Settings.AdditionalProperties)
}

// exampleInventories returns the YAML files under examples that the loader accepts,
// with every ${VAR} set: each file that Load takes alone (the inventories, and the
// simulator's state files, which are in the inventory format too), and each file of
// a directory tree that LoadFiles takes as one inventory, as -f naming the directory
// and those under it reads it (files that name profiles of another file). Kubernetes
// manifests and workflows are neither.
func exampleInventories(t *testing.T) []string {
	t.Helper()
	opts := inventory.LoadOptions{Lookup: func(string) (string, bool) { return "4711", true }}
	found := map[string]bool{}
	var dirs []string
	err := filepath.WalkDir(filepath.Join("..", "..", "examples"), func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, path)
		case strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if _, _, err := inventory.Load(path, data, opts); err == nil {
				found[path] = true
			}
		}
		return nil
	})
	require.NoError(t, err)
	for _, dir := range dirs {
		var tree []string
		require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, path)
			}
			return err
		}))
		files, err := inventory.ReadFiles(tree, nil)
		if err != nil || len(files) < 2 {
			continue
		}
		if _, _, err := inventory.LoadFiles(files, opts); err == nil {
			for _, f := range files {
				found[f.Name] = true
			}
		}
	}
	require.NotEmpty(t, found)
	return slices.Sorted(maps.Keys(found))
}

func TestSchemaAcceptsTheExamples(t *testing.T) {
	sch := compileSchema(t)
	for _, path := range exampleInventories(t) {
		name, err := filepath.Rel(filepath.Join("..", ".."), path)
		require.NoError(t, err)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			doc, err := yamlToJSON(data)
			require.NoError(t, err)
			require.NoError(t, sch.Validate(doc))
		})
	}
}

// TestSchemaAcceptsWhatTheFormatAllows: the parts of the format that the examples
// may not show, which the loader takes too.
func TestSchemaAcceptsWhatTheFormatAllows(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range []struct {
		name string
		src  string
	}{
		{"minimal", "version: 1\n"},
		{"empty sections", "version: 1\ndefaults:\nprofiles:\ncompanies:\ncontainers:\nprune:\n"},
		{"x- keys and merge keys", `version: 1
x-common: &common
  zone: Europe/London
  q_ringtime: 15
companies:
  acme_hq:
    name: Acme HQ
    x-note: anything
    settings:
      <<: *common
      q_ringtime: "20"
`},
		{"profiles", `version: 1
profiles:
  queues: {q_ringtime: 15, q_wraptime: "30"}
  locked: {nocallrec: true, nobarge: null, noext: qhf}
companies:
  acme_hq: {name: Acme HQ, profiles: [queues, locked], settings: {zone: US/Pacific}}
`},
		{"every kind of value", `version: 1
defaults:
  record: 3
  vm_callback: "-1"
  nm_password: ${ACME_NM_PIN}
  ivr_password: "0815"
  barge_pin: ""
  hs_nm: ""
  callerid: -0123
  vm_maxmsgs: "0100"
  hs_access: ${not_a_secret}
  crm_url: ""
companies:
  acme_hq: {name: "Acme HQ, Ltd.; West-1_a", description: "${anything} goes"}
  acme_west: {name: Acme West}
containers:
  acme: [acme_hq, acme_west]
prune:
  match: ^cust_
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := yamlToJSON([]byte(tc.src))
			require.NoError(t, err)
			require.NoError(t, sch.Validate(doc))
			loadValid(t, tc.src) // and the loader takes it too
		})
	}
}

// TestSchemaRefusesInvalidInventories: every inventory the loader refuses, the
// schema refuses, but for those of beyondSchema, which it must accept.
func TestSchemaRefusesInvalidInventories(t *testing.T) {
	sch := compileSchema(t)
	var names []string
	for _, tc := range invalidInventories() {
		names = append(names, tc.name)
		t.Run(tc.name, func(t *testing.T) {
			reason, beyond := beyondSchema[tc.name]
			doc, err := yamlToJSON([]byte(tc.src))
			if err == nil {
				err = sch.Validate(doc)
				switch {
				case err != nil && beyond:
					t.Errorf("the schema refuses it, but beyondSchema says %q: take it off the list\n%v", reason, err)
				case err == nil && !beyond:
					t.Errorf("the schema accepts it: refuse it in the schema, or say in beyondSchema (plan/inventory/schema_test.go) why no schema can")
				}
				return
			}
			require.True(t, beyond, "a YAML reader refuses it before the schema sees it (%v): say so in beyondSchema (plan/inventory/schema_test.go)", err)
		})
	}
	for name := range beyondSchema {
		require.True(t, slices.Contains(names, name), "beyondSchema names %q, which is no case of invalidInventories", name)
	}
}
