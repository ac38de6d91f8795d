package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/sync"
)

func TestSchemaCommand(t *testing.T) {
	got := runCLI(t, "schema")
	require.Equal(t, 0, got.code, got.stderr)
	require.Empty(t, got.stderr)
	require.True(t, json.Valid([]byte(got.stdout)), "the schema is JSON")
	if diff := cmp.Diff(string(inventory.Schema()), got.stdout); diff != "" {
		t.Errorf("pbxsync schema prints inventory.Schema (-want +got):\n%s", diff)
	}

	help := runCLI(t, "schema", "--help")
	require.Equal(t, 0, help.code)
	require.Contains(t, help.stdout, "pbxsync schema > inventory.schema.json")
	require.Contains(t, help.stdout, "# yaml-language-server: $schema=./inventory.schema.json")
}

func TestExplainTable(t *testing.T) {
	got := runCLI(t, "explain")
	require.Equal(t, 0, got.code, got.stderr)
	require.Empty(t, got.stderr)
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	fields := apiclient.Fields()
	require.Len(t, lines, 1+len(fields), "a header and a line for each field")
	require.Equal(t, []string{"FIELD", "TYPE", "ALLOWED", "FLAGS"}, strings.Fields(lines[0]))
	for i, f := range fields {
		line := lines[i+1]
		require.True(t, strings.HasPrefix(line, f.Name+" "), "line %d: %q", i+1, line)
		require.Contains(t, line, f.Type.String())
		require.Contains(t, line, f.Allowed)
		require.Equal(t, strings.TrimRight(line, " "), line, "no spaces at the end of %q", line)
	}
	for _, tc := range []struct{ field, flags string }{
		{"nm_password", "secret"},
		{"crm_url", "deprecated"},
		{"hs_webrtc", "feature switch, since 6.3.22"},
		{"nobarge", "feature switch, since 6.3.23"},
	} {
		for _, line := range lines {
			if strings.HasPrefix(line, tc.field+" ") {
				require.True(t, strings.HasSuffix(line, "  "+tc.flags), "%q", line)
			}
		}
	}
}

func TestExplainField(t *testing.T) {
	tests := []struct {
		field string
		want  []string
	}{
		{"q_ringtime", []string{
			"FIELD:      q_ringtime <string>",
			"DESCRIPTION:\n    Queue ring time, in seconds",
			`ALLOWED:    "" or 5 to 30`,
			"NUMBERS:    a YAML number and a quoted string of digits are one value",
			"SECRET:     no",
			"FEATURE:    no",
			"SINCE:      every version",
			"DEPRECATED: no",
		}},
		{"nm_password", []string{
			"FIELD:      nm_password <string>",
			"The night-mode PIN.",
			"SECRET:     yes: never shown, logged or written to a plan; write ${VAR}",
		}},
		{"nokeevio", []string{
			"FIELD:      nokeevio <boolean or null>",
			"ALLOWED:    true, false or null",
			"FEATURE:    yes: needs System-Admin",
			"SINCE:      6.3.22",
		}},
		{"crm_url", []string{
			"DEPRECATED: yes: still accepted; pbxsync warns when an inventory manages it",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got := runCLI(t, "explain", tt.field)
			require.Equal(t, 0, got.code, got.stderr)
			require.Empty(t, got.stderr)
			for _, w := range tt.want {
				require.Contains(t, got.stdout, w)
			}
			if tt.field != "q_ringtime" {
				require.NotContains(t, got.stdout, "NUMBERS:")
			}
		})
	}
}

func TestExplainEveryField(t *testing.T) {
	for _, f := range apiclient.Fields() {
		got := runCLI(t, "explain", f.Name)
		require.Equal(t, 0, got.code, got.stderr)
		for _, word := range strings.Fields(f.Description) {
			require.Contains(t, got.stdout, word, "%s: the description", f.Name)
		}
		require.Contains(t, got.stdout, "ALLOWED:    "+f.Allowed+"\n")
	}
}

func TestExplainUnknownField(t *testing.T) {
	tests := []struct {
		arg  string
		want string
	}{
		{"q_ringtme", `pbxsync: unknown field "q_ringtme": did you mean "q_ringtime"? pbxsync explain lists the fields` + "\n"},
		{"ringtime", `pbxsync: unknown field "ringtime": did you mean "q_ringtime"? pbxsync explain lists the fields` + "\n"},
		{"NOBARGE", `pbxsync: unknown field "NOBARGE": did you mean "nobarge"? pbxsync explain lists the fields` + "\n"},
		{"timezone", `pbxsync: unknown field "timezone": pbxsync explain lists the fields` + "\n"},
		{"x", `pbxsync: unknown field "x": pbxsync explain lists the fields` + "\n"},
		{"name\x1b[2J", `pbxsync: unknown field "name\x1b[2J": pbxsync explain lists the fields` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got := runCLI(t, "explain", tt.arg)
			want := result{code: 1, stderr: tt.want}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	got := runCLI(t, "explain", "zone", "vm_silent")
	require.Equal(t, 1, got.code, "one field at a time")
}

func TestExplainCompletesFieldNames(t *testing.T) {
	got := runCLI(t, "__complete", "explain", "q_p")
	require.Equal(t, 0, got.code, got.stderr)
	require.True(t, strings.HasPrefix(got.stdout, "q_pausetime\nq_per_ann_int\nq_per_pos_int\n:"), "%q", got.stdout)
	got = runCLI(t, "__complete", "explain", "zone", "")
	require.True(t, strings.HasPrefix(got.stdout, ":"), "one field only: %q", got.stdout)
}

func TestHelpTopics(t *testing.T) {
	tests := []struct {
		topic string
		want  []string
	}{
		{"inventory", []string{
			"version: 1", "defaults:", "profiles:", "companies:", "containers:", "prune:",
			"_defaults.yaml", "<<: *queues", "x-", "${VAR}", "*.yaml and *.yml", "-f -",
			"(nm_password, ivr_password and barge_pin)", "pbxsync explain FIELD", "pbxsync schema",
		}},
		{"plan-json", []string{"format_version", "(sensitive)", "apply --json", `"status"`, "--report FILE"}},
		{"exit-codes", []string{"\n  0  success", "\n  1  an error", "\n  2  plan --detailed-exitcode only", "\n  3  apply refused before any write", "\n  diff\n    0  the two sides hold the same\n"}},
		{"security", []string{"Not trusted"}},
		{"fleet", []string{
			"version: 1", "pbxs:", "url:", "credentials:", "inventory:", "sim:FILE", "x-",
			"PBX_<credentials>_API_KEY", "PBX_<credentials>_USERNAME and PBX_<credentials>_PASSWORD", "upper-cased, - as _",
			"--fleet FILE", "--pbx NAME", "--max-move N", "default 0", "exit 3", "--pbx-parallelism M", "default all",
			"1. creates it on B", "2. reads B back", "3. only then deletes it from A", "unfinished", "adopted",
			"never stops the others", "not created", "name both PBXs",
			`"kind": "fleet"`, `"moves": [`, `"pbxs": {`, `"summary": {`, "pbxsync help plan-json",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got := runCLI(t, "help", tt.topic)
			require.Equal(t, 0, got.code, got.stderr)
			require.Empty(t, got.stderr)
			words := strings.Join(strings.Fields(got.stdout), " ") // as one line: text may wrap anywhere
			for _, w := range tt.want {
				require.True(t, strings.Contains(got.stdout, w) || strings.Contains(words, w), "help %s mentions %q", tt.topic, w)
			}
			require.NotContains(t, got.stdout, "../", "the reference links to nothing outside the binary")
			require.NotContains(t, got.stdout, "spec/")
			require.NotRegexp(t, `https?://\w`, got.stdout)
		})
	}

	root := runCLI(t, "help")
	for _, topic := range []string{"inventory", "plan-json", "exit-codes", "security", "fleet"} {
		require.Contains(t, root.stdout, "\n  pbxsync "+topic+" ", "pbxsync help lists the topic %s", topic)
	}
}

// TestHelpInventoryListsEveryField: the settings of the inventory topic are the
// field table, one line each with its allowed values.
func TestHelpInventoryListsEveryField(t *testing.T) {
	help := inventoryHelp()
	for _, f := range apiclient.Fields() {
		line := ""
		for l := range strings.Lines(help) {
			if strings.HasPrefix(l, "  "+f.Name+" ") {
				line = l
			}
		}
		require.NotEmpty(t, line, "a line for %s", f.Name)
		require.Contains(t, line, f.Allowed)
		require.Contains(t, line, fieldFlags(f))
	}
	for l := range strings.Lines(help) {
		require.Equal(t, strings.TrimRight(l, " \n"), strings.TrimSuffix(l, "\n"), "no spaces at the end of %q", l)
		require.LessOrEqual(t, len(strings.TrimSuffix(l, "\n")), 100, "%q", l)
	}
}

// TestHelpInventoryExampleLoads: the example at the top of pbxsync help inventory is
// an inventory the loader takes.
func TestHelpInventoryExampleLoads(t *testing.T) {
	_, rest, ok := strings.Cut(inventoryHelp(), "\n\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "\n\n")
	require.True(t, ok)
	var src strings.Builder
	for line := range strings.Lines(example) {
		src.WriteString(strings.TrimPrefix(line, "  "))
	}
	pin := func(name string) (string, bool) { return "4711", name == "ACME_NM_PIN" }
	inv, warnings, err := inventory.Load("help.yaml", []byte(src.String()), inventory.LoadOptions{Lookup: pin})
	require.NoError(t, err, src.String())
	require.Empty(t, warnings)
	require.Len(t, inv.Companies, 3)
	hq, _ := inv.Company("acme_hq")
	require.Equal(t, `"15"`, hq.Settings.Get("q_ringtime").JSON(), "its own value over its profile's")
	require.Equal(t, `"30"`, hq.Settings.Get("q_wraptime").JSON(), "from its profile")
}

// jsonKeys returns the JSON names of the fields of t's struct type and of the
// struct types within it.
func jsonKeys(t reflect.Type, into map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			into[name] = true
		}
		jsonKeys(f.Type, into)
	}
}

// TestHelpPlanJSONNamesEveryKey: pbxsync help plan-json describes every key of
// the JSON that plan --json and apply --json print, as the code writes it.
func TestHelpPlanJSONNamesEveryKey(t *testing.T) {
	keys := map[string]bool{}
	jsonKeys(reflect.TypeFor[plan.JSONPlan](), keys)
	jsonKeys(reflect.TypeFor[sync.JSONResult](), keys)
	require.Contains(t, keys, "format_version")
	require.Contains(t, keys, "status")
	for key := range keys {
		require.Regexp(t, `(?m)^ +`+key+` |"`+key+`"`, planJSONHelp, "help plan-json describes %q", key)
	}
	for _, s := range []sync.Status{sync.OK, sync.Failed, sync.Skipped, sync.NotRun} {
		require.Contains(t, planJSONHelp, `"`+string(s)+`"`)
	}
	for _, a := range plan.Actions {
		require.Contains(t, planJSONHelp, `"`+string(a)+`"`)
	}
	require.Contains(t, planJSONHelp, `"`+apiclient.Redacted+`"`)
}

// TestHelpFleetExampleLoads: the fleet file at the top of pbxsync help fleet is one
// that the loader takes, with the credentials it says.
func TestHelpFleetExampleLoads(t *testing.T) {
	_, rest, ok := strings.Cut(fleetHelp, "\n\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "\n\n")
	require.True(t, ok)
	var src strings.Builder
	for line := range strings.Lines(example) {
		src.WriteString(strings.TrimPrefix(line, "  "))
	}
	dir := t.TempDir()
	for _, pbx := range []string{"london", "paris"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, pbx), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, pbx, "companies.yaml"), []byte("version: 1\ncompanies:\n  "+pbx+"_co: {name: Co}\n"), 0o644))
	}
	fleet, warnings, err := inventory.LoadFleet(filepath.Join(dir, "fleet.yaml"), []byte(src.String()), inventory.LoadOptions{})
	require.NoError(t, err, src.String())
	require.Empty(t, warnings)
	require.Len(t, fleet.PBXs, 2)
	for _, p := range fleet.PBXs {
		require.Equal(t, "PBX_"+strings.ToUpper(p.Name)+"_API_KEY", p.Env("API_KEY"), "as the comments say")
		require.Equal(t, "sim:"+filepath.Join(dir, "pbx-"+p.Name+".yaml"), p.URL)
	}
}

// directJSONKeys returns the JSON names of the fields of a struct type, those of an
// embedded struct without a tag included (encoding/json flattens them).
func directJSONKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			keys = append(keys, directJSONKeys(f.Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	return keys
}

// TestHelpFleetNamesEveryKey: pbxsync help fleet describes every key of the fleet
// plan's JSON and of apply --fleet's result, as the code writes them, down to the
// plan of each PBX, which pbxsync help plan-json describes; and its JSON example,
// with that plan left out, is one the fleet plan's type reads.
func TestHelpFleetNamesEveryKey(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[plan.JSONFleetPlan](), reflect.TypeFor[plan.JSONMove](), reflect.TypeFor[plan.JSONFleetSummary](),
		reflect.TypeFor[sync.JSONFleetResult](), reflect.TypeFor[sync.JSONMoveResult](),
	} {
		keys := directJSONKeys(typ)
		require.NotEmpty(t, keys, typ.Name())
		for _, key := range keys {
			require.Regexp(t, `(?m)^ +`+key+` |"`+key+`"`, fleetHelp, "help fleet describes %s's %q", typ.Name(), key)
		}
	}
	require.Contains(t, fleetHelp, `"`+sync.Moved+`"`)
	require.Contains(t, fleetHelp, `"`+sync.Unfinished+`"`)

	start := strings.Index(fleetHelp, "\n  {\n")
	end := strings.Index(fleetHelp, "\n  }\n")
	require.True(t, start > 0 && end > start, "the JSON example")
	example := strings.ReplaceAll(fleetHelp[start:end+4], "{...}", "{}")
	var doc plan.JSONFleetPlan
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc), example)
	require.Equal(t, plan.FormatVersion, doc.FormatVersion)
	require.Equal(t, "fleet", doc.Kind)
	require.Len(t, doc.Moves, 1)
	require.Equal(t, doc.Summary.Moves, len(doc.Moves))
	require.Equal(t, doc.Summary.PBXs, len(doc.PBXs))
	require.JSONEq(t, `"`+apiclient.Redacted+`"`, string(doc.Moves[0].Settings["nm_password"]))
}
