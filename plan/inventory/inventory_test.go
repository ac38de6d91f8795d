package inventory_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// inventoryFile is the file name every test loads its inventory as.
const inventoryFile = "inventory.yaml"

// testEnv is the environment ${VAR} is resolved from; a name missing here is unset.
var testEnv = map[string]string{
	"ACME_NM_PIN": "4711",
	"ACME_IVR":    "0815",
	"BARGE":       "2468",
	"ZONE":        "US/Pacific",
	"EMPTY":       "",
	"BAD_PIN":     "pin-hunter4",
}

func testLookup(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

// yamlLines joins lines into a file, so that a line's index in the call is its line
// number minus one.
func yamlLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// diag is a diagnostic without its file, which is always inventoryFile.
type diag struct {
	Line, Column int
	Message      string
}

func diagsOf(t *testing.T, ds []inventory.Diagnostic, warning bool) []diag {
	t.Helper()
	out := []diag{}
	for _, d := range ds {
		require.Equal(t, inventoryFile, d.File, "diagnostic %v", d)
		require.Equal(t, warning, d.Warning, "diagnostic %v", d)
		out = append(out, diag{d.Line, d.Column, d.Message})
	}
	return out
}

// loadFailing loads src, requires it to be refused with an *InventoryError, and
// returns the errors and warnings.
func loadFailing(t *testing.T, src string) (errs, warnings []diag) {
	t.Helper()
	inv, warns, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{Lookup: testLookup})
	require.Error(t, err, "the inventory must be refused")
	var ie *inventory.InventoryError
	require.ErrorAs(t, err, &ie)
	require.Nil(t, inv, "a refused inventory has nothing to apply")
	require.NotEmpty(t, ie.Diagnostics)
	return diagsOf(t, ie.Diagnostics, false), diagsOf(t, warns, true)
}

// loadValid loads src and requires it to be accepted.
func loadValid(t *testing.T, src string) (*inventory.Inventory, []diag) {
	t.Helper()
	inv, warns, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{Lookup: testLookup})
	require.NoError(t, err)
	require.NotNil(t, inv)
	return inv, diagsOf(t, warns, true)
}

type invalidInventory struct {
	name string
	src  string
	want []diag // every error, in file order
}

// The messages of the field table (apiclient.Field.Normalize).
const (
	zoneAllowed   = `allowed: "" or a time-zone name such as US/Pacific`
	switchAllowed = `allowed: true, false or null`
	nameRule      = `use letters, digits, space and . , ; - _, 1 to 240 characters`
	idRule        = `use letters, digits and _, 1 to 32 characters`
	secretRefRule = `a secret is a literal value or exactly one ${VAR}, the whole value (VAR: letters, digits and _, not starting with a digit)`
)

// invalidInventories has at least one inventory for every rule of "Validation" in
// spec/inventory.md, each with every error the loader must report for it.
func invalidInventories() []invalidInventory {
	long33 := strings.Repeat("a", 33)
	long241 := strings.Repeat("N", 241)
	// company wraps settings lines (indented under settings:) in a one-company file:
	// the first setting is on line 6.
	company := func(settings ...string) string {
		return yamlLines(append([]string{
			"version: 1",
			"companies:",
			"  acme:",
			"    name: Acme",
			"    settings:",
		}, settings...)...)
	}
	containers := func(entries ...string) string {
		return yamlLines(append([]string{
			"version: 1",
			"companies:",
			"  acme_hq: {name: Acme HQ}",
			"  acme_west: {name: Acme West}",
			"  solo_ltd: {name: Solo Ltd}",
			"containers:",
		}, entries...)...)
	}
	return []invalidInventory{
		// Unknown keys, at every level.
		{
			name: "unknown key/top level",
			src:  yamlLines("version: 1", "setings:", "  zone: UTC"),
			want: []diag{{2, 1, `unknown key "setings": want version, defaults, profiles, companies, containers or prune (x-... keys are free, for anchors)`}},
		},
		{
			name: "unknown key/company",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    setings:", "      zone: UTC"),
			want: []diag{{5, 5, `unknown key "setings" in company acme: want name, description, settings or profiles (did you mean "settings"?)`}},
		},
		{
			name: "unknown key/settings",
			src:  company("      q_ringtme: 15"),
			want: []diag{{6, 7, `unknown setting "q_ringtme" (did you mean "q_ringtime"?)`}},
		},
		{
			name: "unknown key/defaults",
			src:  yamlLines("version: 1", "defaults:", "  zone: UTC", "  timezone: UTC"),
			want: []diag{{4, 3, `unknown setting "timezone"`}},
		},
		{
			name: "unknown key/prune",
			src:  yamlLines("version: 1", "prune:", "  matches: ^cust_"),
			want: []diag{{3, 3, `unknown key "matches" in prune: want match`}},
		},

		// version.
		{
			name: "version/missing",
			src:  yamlLines("# no version", "companies:", "  acme: {name: Acme}"),
			want: []diag{{2, 1, "version is missing: the first line should be version: 1"}},
		},
		{
			name: "version/2",
			src:  yamlLines("version: 2"),
			want: []diag{{1, 10, "version must be 1"}},
		},
		{
			name: "version/one",
			src:  yamlLines(`version: "one"`),
			want: []diag{{1, 10, "version must be 1"}},
		},
		{
			name: "version/a list",
			src:  yamlLines("version: [1]"),
			want: []diag{{1, 10, "version must be 1"}},
		},
		{
			name: "version/empty",
			src:  yamlLines("version:", "companies: {}"),
			want: []diag{{1, 9, "version must be 1"}},
		},

		// company-ids and names (api.md, "Validation").
		{
			name: "company-id/dash",
			src:  yamlLines("version: 1", "companies:", "  acme-hq: {name: Acme HQ}"),
			want: []diag{{3, 3, `company-id "acme-hq" is not allowed: ` + idRule}},
		},
		{
			name: "company-id/33 characters",
			src:  yamlLines("version: 1", "companies:", "  "+long33+": {name: Long}"),
			want: []diag{{3, 3, `company-id "` + long33 + `" is not allowed: ` + idRule}},
		},
		{
			name: "company-id/empty",
			src:  yamlLines("version: 1", "companies:", `  "": {name: Nobody}`),
			want: []diag{{3, 3, `company-id "" is not allowed: ` + idRule}},
		},
		{
			name: "company-id/space",
			src:  yamlLines("version: 1", "companies:", `  " ": {name: Nobody}`),
			want: []diag{{3, 3, `company-id " " is not allowed: ` + idRule}},
		},
		{
			name: "company-id/not ASCII",
			src:  yamlLines("version: 1", "companies:", "  café: {name: Cafe}"),
			want: []diag{{3, 3, `company-id "café" is not allowed: ` + idRule}},
		},
		{
			name: "name/241 characters",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: "+long241),
			want: []diag{{4, 11, `name "` + long241 + `" is not allowed: ` + nameRule}},
		},
		{
			name: "name/exclamation mark",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme!"),
			want: []diag{{4, 11, `name "Acme!" is not allowed: ` + nameRule}},
		},
		{
			// api.md: a name has 1 to 240 characters.
			name: "name/empty",
			src:  yamlLines("version: 1", "companies:", "  acme:", `    name: ""`),
			want: []diag{{4, 11, `name "" is not allowed: ` + nameRule}},
		},
		{
			name: "name/missing",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    description: Head office"),
			want: []diag{{3, 3, "company acme has no name: a name is required to create it"}},
		},
		{
			name: "name/a list",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: [Acme]"),
			want: []diag{{4, 11, "name must be a string"}},
		},
		{
			name: "company/not a mapping",
			src:  yamlLines("version: 1", "companies:", "  acme: Acme HQ"),
			want: []diag{{3, 9, "company acme must be a mapping with at least a name"}},
		},

		// Settings: known fields, allowed values, types.
		{
			name: "setting/not a field",
			src:  company("      ringtime: 15"),
			want: []diag{{6, 7, `unknown setting "ringtime" (did you mean "q_ringtime"?)`}},
		},
		{
			name: "value/q_ringtime 31",
			src:  company("      q_ringtime: 31"),
			want: []diag{{6, 19, `q_ringtime: 31 is out of range; allowed: "" or 5 to 30`}},
		},
		{
			name: "value/q_ringtime 4",
			src:  company(`      q_ringtime: "4"`),
			want: []diag{{6, 19, `q_ringtime: 4 is out of range; allowed: "" or 5 to 30`}},
		},
		{
			name: "value/vm_maxmsgs 150",
			src:  company("      vm_maxmsgs: 150"),
			want: []diag{{6, 19, `vm_maxmsgs: 150 is not allowed; allowed: "", 50, 100, 200, 300 or 500`}},
		},
		{
			name: "value/fid 2",
			src:  company("      fid: 2"),
			want: []diag{{6, 12, `fid: 2 is not allowed; allowed: "", 0 or 1`}},
		},
		{
			name: "value/phonebook 4",
			src:  company("      phonebook: 4"),
			want: []diag{{6, 18, `phonebook: 4 is not allowed; allowed: "", 0, 1, 2 or 3`}},
		},
		{
			name: "value/callerid 12-3",
			src:  company(`      callerid: "12-3"`),
			want: []diag{{6, 17, `callerid: "12-3" is not a caller-id; allowed: "" or digits, optionally led by "-"`}},
		},
		{
			name: "value/vm_silent maybe",
			src:  company("      vm_silent: maybe"),
			want: []diag{{6, 18, `vm_silent: "maybe" is not allowed; allowed: "", "no" or "yes"`}},
		},
		{
			name: "value/noext hh",
			src:  company("      noext: hh"),
			want: []diag{{6, 14, `noext: 'h' appears twice; allowed: letters from "hqficovptx", each at most once`}},
		},
		{
			name: "value/noext a letter outside the set",
			src:  company("      noext: qz"),
			want: []diag{{6, 14, `noext: 'z' is not one of the letters hqficovptx; allowed: letters from "hqficovptx", each at most once`}},
		},
		{
			name: "value/record -1",
			src:  company("      record: -1"),
			want: []diag{{6, 15, `record: -1 is out of range; allowed: a bit mask, 0 or more`}},
		},
		{
			name: "value/hs_nm 10",
			src:  company("      hs_nm: 10"),
			want: []diag{{6, 14, `hs_nm: 10 is out of range; allowed: "" or 0 to 9`}},
		},
		{
			name: "value/q_wraptime 241",
			src:  company("      q_wraptime: 241"),
			want: []diag{{6, 19, `q_wraptime: 241 is out of range; allowed: "" or 2 to 240`}},
		},
		{
			name: "value/q_per_ann_int 45",
			src:  company("      q_per_ann_int: 45"),
			want: []diag{{6, 22, `q_per_ann_int: 45 is not allowed; allowed: "", 30, 60 or 90`}},
		},
		{
			name: "value/hs_webrtc on",
			src:  company("      hs_webrtc: on"),
			want: []diag{{6, 18, `hs_webrtc: "on" is not allowed; allowed: "", "no", "yes" or "disable"`}},
		},
		{
			name: "value/nm_password not digits",
			src:  company("      nm_password: 12ab"),
			want: []diag{{6, 20, `nm_password: not allowed; allowed: "" or digits`}},
		},
		{
			name: "type/vm_callback maybe",
			src:  company("      vm_callback: maybe"),
			want: []diag{{6, 20, `vm_callback: "maybe" is not a whole number; allowed: -1, 0 or 1`}},
		},
		{
			name: "type/nocallrec a string",
			src:  company(`      nocallrec: "yes"`),
			want: []diag{{6, 18, `nocallrec: a string is not a switch value; ` + switchAllowed}},
		},
		{
			name: "type/nobarge a number",
			src:  company(`      nobarge: 1`),
			want: []diag{{6, 16, `nobarge: a number is not a switch value; ` + switchAllowed}},
		},
		{
			name: "type/zone a number",
			src:  company("      zone: 5"),
			want: []diag{{6, 13, `zone: a number is not a string; ` + zoneAllowed}},
		},
		{
			name: "type/q_ringtime a fraction",
			src:  company("      q_ringtime: 15.5"),
			want: []diag{{6, 19, `q_ringtime: 15.5 is not a whole number; allowed: "" or 5 to 30`}},
		},
		{
			name: "type/a list",
			src:  company("      zone: [Europe/London]"),
			want: []diag{{6, 13, "zone must be a single value, not a list or mapping"}},
		},
		{
			name: "type/a mapping",
			src:  company("      record:", "        bits: 3"),
			want: []diag{{7, 9, "record must be a single value, not a list or mapping"}},
		},
		{
			name: "type/settings a list",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings: [zone]"),
			want: []diag{{5, 15, "settings must be a mapping"}},
		},

		// Time zones.
		{
			name: "zone/Mars",
			src:  company("      zone: Mars/Base"),
			want: []diag{{6, 13, `zone: "Mars/Base" is not a time zone; ` + zoneAllowed}},
		},
		{
			name: "zone/Local",
			src:  company("      zone: Local"),
			want: []diag{{6, 13, `zone: "Local" is not a time zone; ` + zoneAllowed}},
		},
		{
			name: "zone/in defaults",
			src:  yamlLines("version: 1", "defaults:", "  zone: Europe/Londn"),
			want: []diag{{3, 9, `zone: "Europe/Londn" is not a time zone; ` + zoneAllowed + ` (did you mean "Europe/London"?)`}},
		},
		{
			name: "zone/case",
			src:  company("      zone: us/pacific"),
			want: []diag{{6, 13, `zone: "us/pacific" is not a time zone; ` + zoneAllowed + ` (did you mean "US/Pacific"?)`}},
		},
		{
			name: "enum/near a word",
			src:  company("      hs_webrtc: yess"),
			want: []diag{{6, 18, `hs_webrtc: "yess" is not allowed; allowed: "", "no", "yes" or "disable" (did you mean "yes"?)`}},
		},

		// ${VAR}.
		{
			name: "env/unset",
			src:  company("      nm_password: ${ACME_UNSET_PIN}"),
			want: []diag{{6, 20, "environment variable ACME_UNSET_PIN is not set"}},
		},
		{
			name: "env/unset in defaults",
			src:  yamlLines("version: 1", "defaults:", "  barge_pin: ${NO_SUCH_PIN}"),
			want: []diag{{3, 14, "environment variable NO_SUCH_PIN is not set"}},
		},
		{
			name: "env/empty",
			src:  company("      nm_password: ${EMPTY}"),
			want: []diag{{6, 20, `environment variable EMPTY is empty: an empty secret would clear the PIN; write "" to clear it on purpose`}},
		},
		{
			name: "env/invalid name",
			src:  company("      nm_password: ${1X}"),
			want: []diag{{6, 20, "nm_password: " + secretRefRule}},
		},
		{
			name: "env/empty name",
			src:  company(`      ivr_password: "${}"`),
			want: []diag{{6, 21, "ivr_password: " + secretRefRule}},
		},
		{
			name: "env/digits before",
			src:  company(`      barge_pin: 12${ACME_NM_PIN}`),
			want: []diag{{6, 18, "barge_pin: " + secretRefRule}},
		},
		{
			name: "env/two variables",
			src:  company(`      barge_pin: ${ACME_NM_PIN}${BARGE}`),
			want: []diag{{6, 18, "barge_pin: " + secretRefRule}},
		},
		{
			// ZONE is set, but only a secret field takes a variable's value.
			name: "env/not a secret field",
			src:  company("      zone: ${ZONE}"),
			want: []diag{{6, 13, `zone: "${ZONE}" is not a time zone; ` + zoneAllowed}},
		},

		// Containers.
		{
			name: "container/member not a company",
			src:  containers("  acme: [acme_hq, acme_east, acme_west]"),
			want: []diag{{7, 19, "acme_east is not a company of the inventory"}},
		},
		{
			name: "container/company in two containers",
			src:  containers("  acme: [acme_hq, acme_west]", "  solo: [solo_ltd, acme_west]"),
			want: []diag{{8, 20, "acme_west is in two containers: acme and solo"}},
		},
		{
			name: "container/company twice in one container",
			src:  containers("  acme:", "    - acme_hq", "    - acme_west", "    - acme_hq"),
			want: []diag{{10, 7, "acme_hq is listed twice in container acme"}},
		},
		{
			name: "container/one member",
			src:  containers("  solo: [solo_ltd]"),
			want: []diag{{7, 3, "container solo has fewer than two members: a company alone needs no container entry"}},
		},
		{
			name: "container/no member",
			src:  containers("  empty: []"),
			want: []diag{{7, 3, "container empty has fewer than two members: a company alone needs no container entry"}},
		},
		{
			name: "container/not a list",
			src:  containers("  acme: acme_hq"),
			want: []diag{{7, 9, "container acme must be a list of company-ids"}},
		},
		{
			name: "container/member not a company-id",
			src:  containers("  acme: [acme_hq, [acme_west]]"),
			want: []diag{{7, 19, "a container member must be a company-id"}},
		},

		// Duplicated keys.
		{
			name: "duplicated key/top level",
			src:  yamlLines("version: 1", "companies:", "  acme: {name: Acme}", "version: 1"),
			want: []diag{{4, 1, `duplicated key "version" (first at line 1)`}},
		},
		{
			name: "duplicated key/company-id",
			src:  yamlLines("version: 1", "companies:", "  acme: {name: Acme}", "  beta: {name: Beta}", "  acme: {name: Acme Again}"),
			want: []diag{{5, 3, `duplicated key "acme" (first at line 3)`}},
		},
		{
			name: "duplicated key/setting",
			src:  company("      q_ringtime: 15", "      zone: UTC", "      q_ringtime: 20"),
			want: []diag{{8, 7, `duplicated key "q_ringtime" (first at line 6)`}},
		},
		{
			name: "duplicated key/company field",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    name: Acme HQ"),
			want: []diag{{5, 5, `duplicated key "name" (first at line 4)`}},
		},
		{
			name: "duplicated key/container label",
			src:  containers("  acme: [acme_hq, acme_west]", "  acme: [solo_ltd, acme_hq]"),
			want: []diag{{8, 3, `duplicated key "acme" (first at line 7)`}},
		},

		// prune.match.
		{
			name: "prune/invalid expression",
			src:  yamlLines("version: 1", "prune:", `  match: "^cust_(("`),
			want: []diag{{3, 10, "prune.match is not a valid regular expression: missing closing ): `^cust_((`"}},
		},
		{
			name: "prune/empty expression",
			src:  yamlLines("version: 1", "prune:", `  match: ""`),
			want: []diag{{3, 10, "prune.match must be a regular expression"}},
		},
		{
			name: "prune/not a mapping",
			src:  yamlLines("version: 1", "prune: ^cust_"),
			want: []diag{{2, 8, "prune must be a mapping"}},
		},

		// YAML itself.
		{
			name: "yaml/tab indentation",
			src:  "version: 1\ncompanies:\n\tacme:\n    name: Acme\n",
			want: []diag{{3, 1, "not valid YAML: a tab in the indentation: YAML indents with spaces only"}},
		},
		{
			name: "yaml/tab after spaces",
			src:  "version: 1\ncompanies:\n  acme:\n    name: Acme\n  \tsettings: {}\n",
			want: []diag{{5, 3, "not valid YAML: a tab in the indentation: YAML indents with spaces only"}},
		},
		{
			// yaml.v3 names line 3, where the companies begin; the mistake is on line 9.
			name: "yaml/a key indented between two levels",
			src: yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings:", "      zone: UTC",
				"  beta:", "    name: Beta", "   settings:", "      zone: UTC"),
			want: []diag{{9, 1, "not valid YAML: did not find expected key: this line is not indented like the lines it belongs with"}},
		},
		{
			name: "yaml/a company's key at a company's place",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "  settings:", "    zone: UTC"),
			want: []diag{
				{5, 3, "company settings has no name: a name is required to create it (if settings: belongs to the company above, indent it under that company)"},
				{6, 5, `unknown key "zone" in company settings: want name, description, settings or profiles`},
			},
		},
		{
			name: "yaml/colon in a plain value",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme: HQ"),
			want: []diag{{4, 1, `not valid YAML: mapping values are not allowed in this context: a "key: value" where a plain value was expected (check this line's indentation, or quote a value that holds ": ")`}},
		},
		{
			name: "yaml/unterminated quote",
			src:  yamlLines("version: 1", "companies:", "  acme:", `    name: "Acme`, "  beta:", "    name: Beta"),
			want: []diag{{4, 1, "not valid YAML: found unexpected end of stream"}},
		},
		{
			// The [ opened on line 3 is never closed.
			name: "yaml/unclosed flow sequence",
			src:  yamlLines("version: 1", "containers:", "  acme: [acme_hq, acme_west", "companies:", "  acme_hq: {name: Acme HQ}"),
			want: []diag{{3, 1, "not valid YAML: did not find expected ',' or ']'"}},
		},
		{
			// The alias is on line 4.
			name: "yaml/unknown alias",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    settings: *common", "    name: Acme"),
			want: []diag{{4, 1, "not valid YAML: unknown anchor 'common' referenced"}},
		},

		// The shape of the file.
		{
			name: "file/empty",
			src:  "",
			want: []diag{{1, 1, "the file is empty: it needs at least version: 1"}},
		},
		{
			name: "file/only comments",
			src:  yamlLines("# nothing yet", ""),
			want: []diag{{1, 1, "the file is empty: it needs at least version: 1"}},
		},
		{
			name: "file/a list",
			src:  yamlLines("- version: 1", "- companies: {}"),
			want: []diag{{1, 1, "an inventory file must be a mapping with version, companies, ..."}},
		},
		{
			name: "file/a scalar",
			src:  yamlLines("version 1"),
			want: []diag{{1, 1, "an inventory file must be a mapping with version, companies, ..."}},
		},
		{
			name: "file/companies a list",
			src:  yamlLines("version: 1", "companies:", "  - acme"),
			want: []diag{{3, 3, "companies must be a mapping"}},
		},
	}
}

// kitchenSink breaks many rules at once, in an order that is not the loader's
// order of work (containers before companies, defaults before both).
var kitchenSink = yamlLines(
	"version: 2",                       // 1
	"setings: {}",                      // 2
	"defaults:",                        // 3
	"  zone: Mars/Base",                // 4
	"  crm_url: https://crm.example",   // 5: a warning, not an error
	"containers:",                      // 6
	"  acme: [acme_hq, ghost]",         // 7
	"  solo: [acme_hq]",                // 8
	"companies:",                       // 9
	"  acme-hq:",                       // 10
	"    name: Acme!",                  // 11
	"  acme_hq:",                       // 12
	"    settings:",                    // 13
	"      q_ringtime: 31",             // 14
	"      nm_password: ${ACME_UNSET}", // 15
	"      vm_callback: maybe",         // 16
	"      colour: blue",               // 17
	"      zone: UTC",                  // 18
	"      zone: UTC",                  // 19
	"prune:",                           // 20
	`  match: "("`,                     // 21
)

func TestLoadInventoryErrors(t *testing.T) {
	for _, tc := range invalidInventories() {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := loadFailing(t, tc.src)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadInventoryReportsEveryError(t *testing.T) {
	got, warnings := loadFailing(t, kitchenSink)
	want := []diag{
		{1, 10, "version must be 1"},
		{2, 1, `unknown key "setings": want version, defaults, profiles, companies, containers or prune (x-... keys are free, for anchors)`},
		{4, 9, `zone: "Mars/Base" is not a time zone; ` + zoneAllowed},
		{7, 19, "ghost is not a company of the inventory"},
		{8, 3, "container solo has fewer than two members: a company alone needs no container entry"},
		{8, 10, "acme_hq is in two containers: acme and solo"},
		{10, 3, `company-id "acme-hq" is not allowed: ` + idRule},
		{11, 11, `name "Acme!" is not allowed: ` + nameRule},
		{12, 3, "company acme_hq has no name: a name is required to create it"},
		{14, 19, `q_ringtime: 31 is out of range; allowed: "" or 5 to 30`},
		{15, 20, "environment variable ACME_UNSET is not set"},
		{16, 20, `vm_callback: "maybe" is not a whole number; allowed: -1, 0 or 1`},
		{17, 7, `unknown setting "colour"`},
		{19, 7, `duplicated key "zone" (first at line 18)`},
		{21, 10, "prune.match is not a valid regular expression: missing closing ): `(`"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	wantWarnings := []diag{{5, 3, "crm_url is deprecated"}}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings come back with the errors (-want +got):\n%s", diff)
	}
}

func TestLoadInventoryErrorText(t *testing.T) {
	_, _, err := inventory.Load(inventoryFile, []byte(yamlLines("version: 1", "setings: {}", "prune: {match: '('}")), inventory.LoadOptions{Lookup: testLookup})
	require.Error(t, err)
	want := "inventory.yaml:2:1: unknown key \"setings\": want version, defaults, profiles, companies, containers or prune (x-... keys are free, for anchors)\n" +
		"inventory.yaml:3:16: prune.match is not a valid regular expression: missing closing ): `(`"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("FILE:LINE:COLUMN: message, one line each (-want +got):\n%s", diff)
	}

	d := inventory.Diagnostic{File: inventoryFile, Line: 5, Column: 3, Message: "crm_url is deprecated", Warning: true}
	if diff := cmp.Diff("inventory.yaml:5:3: warning: crm_url is deprecated", d.String()); diff != "" {
		t.Errorf("a warning (-want +got):\n%s", diff)
	}
}

// TestLoadInventoryIsOffline pins that validation happens before, and without, any
// call to a server: the loader takes no client, and a refused inventory gives
// nothing to apply.
func TestLoadInventoryIsOffline(t *testing.T) {
	srv := simtest.NewServer(t)
	cases := append(invalidInventories(), invalidInventory{name: "kitchen sink", src: kitchenSink})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, _, err := inventory.Load(inventoryFile, []byte(tc.src), inventory.LoadOptions{Lookup: testLookup})
			require.Error(t, err)
			require.Nil(t, inv)
			st := srv.Stats()
			require.Zero(t, st.TotalRequests(), "requests: %v", st.Requests)
			require.Zero(t, st.TotalWrites())
		})
	}
	require.Empty(t, srv.Snapshot().Companies, "the server is untouched")
}

func TestLoadInventoryNeverEchoesSecrets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    string
		secret string
	}{
		{"plain, not digits", "      nm_password: hunter2", "hunter2"},
		{"from the environment, not digits", "      ivr_password: ${BAD_PIN}", testEnv["BAD_PIN"]},
		{"an integer too big for int64", "      barge_pin: 0xFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF"},
		{"tagged as an integer", "      ivr_password: !!int hunter3", "hunter3"},
		{"tagged as a boolean", "      nm_password: !!bool hunter5", "hunter5"},
		{"a boolean", "      barge_pin: true", "true"},
		{"a list", "      nm_password: [hunter6]", "hunter6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings:", tc.src)
			_, _, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{Lookup: testLookup})
			require.Error(t, err)
			require.NotContains(t, err.Error(), tc.secret, "a secret value reached an error message")
			require.NotContains(t, err.Error(), "\n", "one problem, one line")
		})
	}
}

func TestLoadInventoryRejectsASecondDocument(t *testing.T) {
	// yaml.Unmarshal reads the first document only: everything after --- would be
	// ignored in silence, its companies unmanaged and open to --prune.
	src := yamlLines(
		"version: 1",
		"companies:",
		"  acme: {name: Acme}",
		"---",
		"version: 1",
		"companies:",
		"  beta: {name: Beta}",
	)
	got, _ := loadFailing(t, src)
	require.Len(t, got, 1, "%v", got)
	require.Contains(t, got[0].Message, "document")
	if diff := cmp.Diff([]int{4, 1}, []int{got[0].Line, got[0].Column}); diff != "" {
		t.Errorf("the position of the second document's --- (-want +got):\n%s", diff)
	}
}

func TestLoadInventoryWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []diag
	}{
		{
			name: "deprecated field",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings:", "      crm_url: https://crm.example/acme"),
			want: []diag{{6, 7, "crm_url is deprecated"}},
		},
		{
			name: "deprecated field in defaults",
			src:  yamlLines("version: 1", "defaults:", "  crm_url: https://crm.example.com"),
			want: []diag{{3, 3, "crm_url is deprecated"}},
		},
		{
			name: "an empty deprecated field is no news",
			src:  yamlLines("version: 1", "defaults:", "  crm_url: ''"),
			want: []diag{},
		},
		{
			name: "plain secrets",
			src: yamlLines(
				"version: 1",
				"companies:",
				"  acme:",
				"    name: Acme",
				"    settings:",
				`      nm_password: "1234"`,
				"      ivr_password: 5678",
				"      barge_pin: '9012'",
			),
			want: []diag{
				{6, 20, "nm_password is a secret written in plain text: use ${VAR} and keep the value in the environment"},
				{7, 21, "ivr_password is a secret written in plain text: use ${VAR} and keep the value in the environment"},
				{8, 18, "barge_pin is a secret written in plain text: use ${VAR} and keep the value in the environment"},
			},
		},
		{
			name: "plain secret in defaults",
			src:  yamlLines("version: 1", "defaults:", "  barge_pin: 1357", "companies:", "  acme: {name: Acme}", "  beta: {name: Beta}"),
			want: []diag{{3, 14, "barge_pin is a secret written in plain text: use ${VAR} and keep the value in the environment"}},
		},
		{
			name: "secrets from the environment or empty",
			src: yamlLines(
				"version: 1",
				"defaults:",
				"  barge_pin: ${BARGE}",
				"companies:",
				"  acme:",
				"    name: Acme",
				"    settings:",
				"      nm_password: ${ACME_NM_PIN}",
				`      ivr_password: ""`,
				"  beta:",
				"    name: Beta",
				"    settings:",
				`      nm_password: ""`,
				"      ivr_password: ''",
				"      hs_access: external",
			),
			want: []diag{},
		},
		{
			name: "in file order",
			src: yamlLines(
				"version: 1",
				"companies:",
				"  beta:",
				"    name: Beta",
				"    settings: {crm_url: x, nm_password: 1}",
				"defaults:",
				"  crm_url: y",
			),
			want: []diag{
				{5, 16, "crm_url is deprecated"},
				{5, 41, "nm_password is a secret written in plain text: use ${VAR} and keep the value in the environment"},
				{7, 3, "crm_url is deprecated"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := loadValid(t, tc.src)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, d := range got {
				for _, secret := range []string{"1234", "5678", "9012", "1357"} {
					require.NotContains(t, d.Message, secret, "a warning shows a secret")
				}
			}
		})
	}
}

func TestLoadInventoryMergesDefaults(t *testing.T) {
	inv, _ := loadValid(t, yamlLines(
		"version: 1",
		"defaults:",
		"  zone: Europe/London",
		"  vm_maxmsgs: 100",
		"  nocallrec: true",
		"companies:",
		"  acme_hq:",
		"    name: Acme HQ",
		"    description: Head office",
		"    settings:",
		"      zone: US/Pacific",
		"      q_ringtime: 15",
		"      nocallrec: false",
		"  acme_west:",
		"    name: Acme West",
		"  solo_ltd:",
		"    name: Solo Ltd",
		"    settings: {}",
	))
	want := []inventory.Company{
		{
			ID: "acme_hq", Name: "Acme HQ", Description: "Head office",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"zone":       apiclient.String("US/Pacific"),
				"vm_maxmsgs": apiclient.String("100"),
				"q_ringtime": apiclient.String("15"),
				"nocallrec":  apiclient.Bool(false),
			}),
		},
		{
			ID: "acme_west", Name: "Acme West",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"zone":       apiclient.String("Europe/London"),
				"vm_maxmsgs": apiclient.String("100"),
				"nocallrec":  apiclient.Bool(true),
			}),
		},
		{
			ID: "solo_ltd", Name: "Solo Ltd",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"zone":       apiclient.String("Europe/London"),
				"vm_maxmsgs": apiclient.String("100"),
				"nocallrec":  apiclient.Bool(true),
			}),
		},
	}
	if diff := cmp.Diff(want, inv.Companies, cmp.Comparer(valueEqual), cmpEnv); diff != "" {
		t.Errorf("companies (-want +got):\n%s", diff)
	}
	wantDefaults := apiclient.SettingsOf(map[string]apiclient.Value{
		"zone":       apiclient.String("Europe/London"),
		"vm_maxmsgs": apiclient.String("100"),
		"nocallrec":  apiclient.Bool(true),
	})
	if diff := cmp.Diff(wantDefaults, inv.Defaults, cmp.Comparer(valueEqual)); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	// Each company has its own settings: changing one changes no other.
	inv.Companies[1].Settings.Set("zone", apiclient.String("UTC"))
	require.Equal(t, `"Europe/London"`, inv.Companies[2].Settings.Get("zone").JSON())
	require.Equal(t, `"Europe/London"`, inv.Defaults.Get("zone").JSON())
}

// valueEqual compares values by kind and JSON text, so that "15" and 15 differ.
func valueEqual(a, b apiclient.Value) bool {
	return a.Kind() == b.Kind() && a.Reveal().JSON() == b.Reveal().JSON()
}

// cmpEnv treats a nil and an empty Env alike.
var cmpEnv = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Env" },
	cmp.Transformer("env", func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		return m
	}))

func TestLoadInventoryNormalisesValues(t *testing.T) {
	for _, tc := range []struct {
		field, yaml string
		want        apiclient.Value
	}{
		{"q_ringtime", "15", apiclient.String("15")},
		{"q_ringtime", `"15"`, apiclient.String("15")},
		{"q_ringtime", `"015"`, apiclient.String("15")},
		{"q_ringtime", `""`, apiclient.String("")},
		{"vm_maxmsgs", "500", apiclient.String("500")},
		{"phonebook", "0", apiclient.String("0")},
		{"record", `"7"`, apiclient.Int(7)},
		{"record", "0", apiclient.Int(0)},
		{"vm_callback", "-1", apiclient.Int(-1)},
		{"vm_callback", `"1"`, apiclient.Int(1)},
		{"nocallrec", "true", apiclient.Bool(true)},
		{"nokeevio", "~", apiclient.Null()},
		{"nopickup", "false", apiclient.Bool(false)},
		{"nobarge", "null", apiclient.Null()},
		{"noext", "qh", apiclient.String("qh")},
		{"zone", "US/Pacific", apiclient.String("US/Pacific")},
		{"zone", `""`, apiclient.String("")},
		{"hs_webrtc", "disable", apiclient.String("disable")},
		{"vm_silent", "no", apiclient.String("no")},
		{"callerid", `"-0123"`, apiclient.String("-0123")},
		{"hs_access", "external", apiclient.String("external")},
		{"nm_password", `"0000"`, apiclient.String("0000")},
		// YAML reads these as numbers; the field table, not YAML, decides what they
		// mean (api.md: "015" reads back as "15"; a PIN keeps its digits as written).
		{"q_ringtime", "015", apiclient.String("15")},
		{"q_ringtime", "010", apiclient.String("10")},
		{"nm_password", "0000", apiclient.String("0000")},
		{"ivr_password", "0123", apiclient.String("0123")},
		{"barge_pin", "18446744073709551615", apiclient.String("18446744073709551615")},
	} {
		t.Run(tc.field+"="+tc.yaml, func(t *testing.T) {
			inv, _ := loadValid(t, yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings:", "      "+tc.field+": "+tc.yaml))
			c, ok := inv.Company("acme")
			require.True(t, ok)
			got, ok := c.Settings.Lookup(tc.field)
			require.True(t, ok, "settings: %v", c.Settings)
			if diff := cmp.Diff(tc.want.JSON(), got.Reveal().JSON()); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", tc.field, tc.yaml, diff)
			}
			require.True(t, apiclient.Equal(tc.field, tc.want, got), "apiclient.Equal(%s, %s, %s)", tc.field, tc.want.JSON(), got.JSON())
		})
	}

	t.Run("15 and \"15\" are one value", func(t *testing.T) {
		inv, _ := loadValid(t, yamlLines(
			"version: 1",
			"companies:",
			"  a: {name: A, settings: {q_ringtime: 15, noext: qh}}",
			`  b: {name: B, settings: {q_ringtime: "15", noext: hq}}`,
		))
		a, b := inv.Companies[0].Settings, inv.Companies[1].Settings
		require.True(t, apiclient.Equal("q_ringtime", a.Get("q_ringtime"), b.Get("q_ringtime")))
		require.True(t, apiclient.Equal("noext", a.Get("noext"), b.Get("noext")))
		if diff := cmp.Diff(a.Get("q_ringtime").JSON(), b.Get("q_ringtime").JSON()); diff != "" {
			t.Errorf("q_ringtime (-a +b):\n%s", diff)
		}
		require.Equal(t, `"15"`, a.Get("q_ringtime").JSON())
	})
}

func TestLoadInventoryResolvesEnv(t *testing.T) {
	inv, _ := loadValid(t, yamlLines(
		"version: 1",
		"defaults:",
		"  barge_pin: ${BARGE}",
		"  zone: US/Pacific",
		"companies:",
		"  acme_hq:",
		"    name: Acme HQ",
		"    settings:",
		"      nm_password: ${ACME_NM_PIN}",
		"      ivr_password: ${ACME_IVR}",
		"      nocallrec: true",
		"  acme_west:",
		"    name: Acme West",
		"    settings:",
		"      barge_pin: '1111'",
		"      zone: Europe/London",
		"  solo_ltd:",
		"    name: Solo Ltd",
	))
	want := []inventory.Company{
		{
			ID: "acme_hq", Name: "Acme HQ",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"barge_pin":    apiclient.String("2468"),
				"zone":         apiclient.String("US/Pacific"),
				"nm_password":  apiclient.String("4711"),
				"ivr_password": apiclient.String("0815"),
				"nocallrec":    apiclient.Bool(true),
			}),
			Env: map[string]string{
				"barge_pin":    "BARGE",
				"nm_password":  "ACME_NM_PIN",
				"ivr_password": "ACME_IVR",
			},
		},
		{
			// Its own values win, and were written in the file: no Env for them.
			ID: "acme_west", Name: "Acme West",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"barge_pin": apiclient.String("1111"),
				"zone":      apiclient.String("Europe/London"),
			}),
		},
		{
			ID: "solo_ltd", Name: "Solo Ltd",
			Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"barge_pin": apiclient.String("2468"),
				"zone":      apiclient.String("US/Pacific"),
			}),
			Env: map[string]string{"barge_pin": "BARGE"},
		},
	}
	if diff := cmp.Diff(want, inv.Companies, cmp.Comparer(valueEqual), cmpEnv); diff != "" {
		t.Errorf("companies (-want +got):\n%s", diff)
	}
}

func TestLoadInventoryAnchorsAndAliases(t *testing.T) {
	inv, _ := loadValid(t, yamlLines(
		"version: 1",
		"companies:",
		"  acme_hq:",
		"    name: &acme Acme",
		"    settings: &branch",
		"      zone: US/Pacific",
		"      q_ringtime: 20",
		"  acme_west:",
		"    name: *acme",
		"    settings: *branch",
		"  beta: &beta",
		"    name: Beta",
		"  gamma: *beta",
		"containers:",
		"  acme: &pair [acme_hq, acme_west]",
		"  greek: [beta, gamma]",
	))
	branch := apiclient.SettingsOf(map[string]apiclient.Value{"zone": apiclient.String("US/Pacific"), "q_ringtime": apiclient.String("20")})
	want := []inventory.Company{
		{ID: "acme_hq", Name: "Acme", Settings: branch},
		{ID: "acme_west", Name: "Acme", Settings: branch},
		{ID: "beta", Name: "Beta", Settings: apiclient.Settings{}},
		{ID: "gamma", Name: "Beta", Settings: apiclient.Settings{}},
	}
	if diff := cmp.Diff(want, inv.Companies, cmp.Comparer(valueEqual), cmpEnv); diff != "" {
		t.Errorf("companies (-want +got):\n%s", diff)
	}
	wantContainers := []inventory.Container{
		{Label: "acme", Members: []string{"acme_hq", "acme_west"}},
		{Label: "greek", Members: []string{"beta", "gamma"}},
	}
	if diff := cmp.Diff(wantContainers, inv.Containers); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
}

func TestLoadInventorySortsCompanies(t *testing.T) {
	inv, _ := loadValid(t, yamlLines(
		"version: 1",
		"companies:",
		"  zulu: {name: Zulu}",
		"  Acme: {name: Acme upper}",
		"  acme: {name: Acme}",
		"  b_2: {name: B2}",
		"  b_10: {name: B10}",
		"  '42': {name: Forty-two}",
		"containers:",
		"  z: [zulu, acme]",
		"  b: [b_2, b_10]",
	))
	var ids []string
	for _, c := range inv.Companies {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]string{"42", "Acme", "acme", "b_10", "b_2", "zulu"}, ids); diff != "" {
		t.Errorf("company ids (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		c, ok := inv.Company(id)
		require.True(t, ok, id)
		require.Equal(t, id, c.ID)
	}
	_, ok := inv.Company("ghost")
	require.False(t, ok)

	wantContainers := []inventory.Container{
		{Label: "z", Members: []string{"zulu", "acme"}},
		{Label: "b", Members: []string{"b_2", "b_10"}},
	}
	if diff := cmp.Diff(wantContainers, inv.Containers); diff != "" {
		t.Errorf("containers keep the file's order (-want +got):\n%s", diff)
	}
}

func TestLoadInventoryHash(t *testing.T) {
	src := []byte(yamlLines("version: 1", "companies:", "  acme: {name: Acme}"))
	inv, _ := loadValid(t, string(src))
	sum := sha256.Sum256(src)
	if diff := cmp.Diff(hex.EncodeToString(sum[:]), inv.Hash); diff != "" {
		t.Errorf("hash (-want +got):\n%s", diff)
	}
	require.Equal(t, inventoryFile, inv.File)

	again, _ := loadValid(t, string(src))
	require.Equal(t, inv.Hash, again.Hash, "the same bytes, the same hash")

	changed := []byte(strings.Replace(string(src), "Acme", "Acne", 1))
	require.Len(t, changed, len(src))
	other, _ := loadValid(t, string(changed))
	require.NotEqual(t, inv.Hash, other.Hash, "one byte changed")

	spaced := append([]byte("# reviewed\n"), src...)
	commented, _ := loadValid(t, string(spaced))
	require.NotEqual(t, inv.Hash, commented.Hash, "the hash is of the bytes, not of the meaning")
}

func TestLoadInventoryPrune(t *testing.T) {
	inv, _ := loadValid(t, yamlLines("version: 1", "prune:", `  match: "^cust_[0-9]+$"`))
	require.NotNil(t, inv.Prune)
	for id, want := range map[string]bool{"cust_1": true, "cust_42": true, "cust_": false, "acme": false, "xcust_1": false} {
		require.Equal(t, want, inv.Prune.MatchString(id), id)
	}

	for _, src := range []string{
		yamlLines("version: 1"),
		yamlLines("version: 1", "prune:"),
		yamlLines("version: 1", "prune: {}"),
	} {
		inv, _ := loadValid(t, src)
		require.Nil(t, inv.Prune, "no match, no prune: %s", src)
	}
}

func TestLoadInventoryMinimal(t *testing.T) {
	for _, src := range []string{
		yamlLines("version: 1"),
		yamlLines(`version: "1"`),
		yamlLines("version: 1", "defaults:", "companies:", "containers:"),
		yamlLines("version: 1", "companies: {}"),
	} {
		inv, warnings := loadValid(t, src)
		require.Empty(t, inv.Companies, src)
		require.Empty(t, inv.Containers, src)
		require.Empty(t, warnings, src)
	}
}
