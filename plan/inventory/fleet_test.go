package inventory_test

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// fleetTree is the tree of TestLoadFleet: a fleet file in a subdirectory, three PBXs
// whose inventories are two directories (one with a _defaults.yaml) and a file.
var fleetTree = map[string]string{
	"fleets/prod.yaml": yamlLines(
		"version: 1",
		"x-eu: &eu {credentials: eu_west}",
		"pbxs:",
		"  paris:",
		"    <<: *eu",
		"    url: sim:../state/paris.yaml",
		"    inventory: ../inv/paris.yaml",
		"  london:",
		"    url: https://pbx-lon.example.com",
		"    credentials: LONDON",
		"    inventory: ../inv/london/",
		"  new-york:",
		"    url: https://pbx-nyc.example.com/api/",
		"    inventory: ../inv/new-york",
		"    x-note: credentials default to NEW_YORK",
	),
	"inv/london/_defaults.yaml": yamlLines("version: 1", "defaults: {zone: Europe/London}"),
	"inv/london/a.yaml": yamlLines(
		"version: 1",
		"companies:",
		"  acme_hq: {name: Acme HQ}",
		"  acme_west: {name: Acme West, settings: {zone: US/Pacific}}",
	),
	"inv/london/b.yaml":   yamlLines("version: 1", "companies:", "  beta: {name: Beta}"),
	"inv/paris.yaml":      yamlLines("version: 1", "defaults: {zone: Europe/Paris}", "companies:", "  gamma: {name: Gamma}"),
	"inv/new-york/c.yaml": yamlLines("version: 1", "companies:", "  nyc_one: {name: NYC One}"),
	"inv/notes.txt":       "not an inventory",
}

// loadFleetIn writes tree under a new directory, makes it the working directory and
// loads the fleet file named file there (a path relative to it).
func loadFleetIn(t *testing.T, tree map[string]string, file string, opts inventory.LoadOptions) (*inventory.Fleet, []inventory.Diagnostic, error) {
	t.Helper()
	root := writeTree(t, tree)
	t.Chdir(root)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	return inventory.LoadFleet(file, data, opts)
}

// fleetErrors requires err to be an *InventoryError and returns its diagnostics as
// printed.
func fleetErrors(t *testing.T, fleet *inventory.Fleet, err error) []string {
	t.Helper()
	require.Error(t, err, "the fleet must be refused")
	require.Nil(t, fleet, "a refused fleet has nothing to sync")
	var ie *inventory.InventoryError
	require.ErrorAs(t, err, &ie)
	return diagStrings(t, ie.Diagnostics)
}

// pbxSummary is what TestLoadFleet checks of each PBX.
type pbxSummary struct {
	Name, URL, Credentials string
	Inventory              []string
	Line                   int
	Companies              []string
	Files                  []string
}

func summarise(f *inventory.Fleet) []pbxSummary {
	var out []pbxSummary
	for _, p := range f.PBXs {
		s := pbxSummary{Name: p.Name, URL: p.URL, Credentials: p.Credentials, Inventory: p.Inventory, Line: p.Line, Files: p.Inv.Files}
		for _, c := range p.Inv.Companies {
			s.Companies = append(s.Companies, c.ID)
		}
		out = append(out, s)
	}
	return out
}

func TestLoadFleet(t *testing.T) {
	fleet, warns, err := loadFleetIn(t, fleetTree, "fleets/prod.yaml", inventory.LoadOptions{})
	require.NoError(t, err)
	require.Empty(t, warns)
	require.Equal(t, "fleets/prod.yaml", fleet.File)
	require.Len(t, fleet.Hash, 64)
	require.Equal(t, []pbxSummary{
		{
			Name: "london", URL: "https://pbx-lon.example.com", Credentials: "LONDON", Inventory: []string{"inv/london"}, Line: 8,
			Companies: []string{"acme_hq", "acme_west", "beta"},
			Files:     []string{"inv/london/_defaults.yaml", "inv/london/a.yaml", "inv/london/b.yaml"},
		},
		{
			Name: "new-york", URL: "https://pbx-nyc.example.com/api/", Credentials: "NEW_YORK", Inventory: []string{"inv/new-york"}, Line: 12,
			Companies: []string{"nyc_one"},
			Files:     []string{"inv/new-york/c.yaml"},
		},
		{
			Name: "paris", URL: "sim:state/paris.yaml", Credentials: "EU_WEST", Inventory: []string{"inv/paris.yaml"}, Line: 4,
			Companies: []string{"gamma"},
			Files:     []string{"inv/paris.yaml"},
		},
	}, summarise(fleet))

	london := fleet.PBXs[0].Inv
	hq, _ := london.Company("acme_hq")
	west, _ := london.Company("acme_west")
	require.Equal(t, apiclient.String("Europe/London"), hq.Settings.Get("zone"), "the directory's _defaults.yaml applies")
	require.Equal(t, apiclient.String("US/Pacific"), west.Settings.Get("zone"))
	gamma, _ := fleet.PBXs[2].Inv.Company("gamma")
	require.Equal(t, apiclient.String("Europe/Paris"), gamma.Settings.Get("zone"))

	require.Equal(t, "PBX_EU_WEST_API_KEY", fleet.PBXs[2].Env("API_KEY"))
	require.Equal(t, "PBX_NEW_YORK_USERNAME", fleet.PBXs[1].Env("USERNAME"))
	require.Equal(t, "PBX_LONDON_PASSWORD", fleet.PBXs[0].Env("PASSWORD"))
}

func TestLoadFleetPathsFromAnyDirectory(t *testing.T) {
	root := writeTree(t, fleetTree)
	data, err := os.ReadFile(filepath.Join(root, "fleets/prod.yaml"))
	require.NoError(t, err)
	load := func(t *testing.T, wd, file string) *inventory.Fleet {
		t.Helper()
		t.Chdir(wd)
		fleet, _, err := inventory.LoadFleet(file, data, inventory.LoadOptions{})
		require.NoError(t, err)
		return fleet
	}
	paths := func(f *inventory.Fleet) (urls, inventories []string) {
		for _, p := range f.PBXs {
			urls, inventories = append(urls, p.URL), append(inventories, p.Inventory...)
		}
		return urls, inventories
	}
	fromRoot := load(t, root, "fleets/prod.yaml")

	t.Run("the fleet file's directory", func(t *testing.T) {
		fleet := load(t, filepath.Join(root, "fleets"), "prod.yaml")
		urls, invs := paths(fleet)
		require.Equal(t, []string{"https://pbx-lon.example.com", "https://pbx-nyc.example.com/api/", "sim:../state/paris.yaml"}, urls)
		require.Equal(t, []string{"../inv/london", "../inv/new-york", "../inv/paris.yaml"}, invs)
		require.Equal(t, summarise(fromRoot)[0].Companies, summarise(fleet)[0].Companies)
		require.Equal(t, fromRoot.Hash, fleet.Hash, "the hash does not depend on the working directory")
	})
	t.Run("elsewhere, the fleet file named absolutely", func(t *testing.T) {
		fleet := load(t, t.TempDir(), filepath.Join(root, "fleets/prod.yaml"))
		urls, invs := paths(fleet)
		require.Equal(t, "sim:"+filepath.Join(root, "state/paris.yaml"), urls[2])
		require.Equal(t, []string{filepath.Join(root, "inv/london"), filepath.Join(root, "inv/new-york"), filepath.Join(root, "inv/paris.yaml")}, invs)
		require.Equal(t, fromRoot.Hash, fleet.Hash)
		require.Equal(t, filepath.Join(root, "inv/london/a.yaml"), fleet.PBXs[0].Inv.Files[1])
	})
	t.Run("absolute paths in the fleet file stay as written", func(t *testing.T) {
		abs := []byte(yamlLines(
			"version: 1",
			"pbxs:",
			"  london:",
			"    url: sim:"+filepath.Join(root, "state/london.yaml"),
			"    inventory: "+filepath.Join(root, "inv/london"),
		))
		t.Chdir(t.TempDir())
		fleet, _, err := inventory.LoadFleet("elsewhere/fleet.yaml", abs, inventory.LoadOptions{})
		require.NoError(t, err)
		require.Equal(t, "sim:"+filepath.Join(root, "state/london.yaml"), fleet.PBXs[0].URL)
		require.Equal(t, []string{filepath.Join(root, "inv/london")}, fleet.PBXs[0].Inventory)
	})
}

// fleetInventories are inventories for the fleets of TestLoadFleetErrors.
var fleetInventories = map[string]string{
	"london/_defaults.yaml": yamlLines("version: 1", "defaults: {zone: Europe/London}"),
	"london/a.yaml": yamlLines(
		"version: 1",
		"companies:",
		"  acme_hq: {name: Acme HQ}",
		"  acme_west: {name: Acme West}",
	),
	"paris/b.yaml": yamlLines(
		"version: 1",
		"x-note: six lines before acme_hq",
		"defaults:",
		"  zone: Europe/Paris",
		"companies:",
		"  gamma: {name: Gamma}",
		"  acme_hq: {name: Acme Paris}",
	),
	"rome.yaml":       yamlLines("version: 1", "companies:", "  acme_hq: {name: Acme Rome}", "  roma: {name: Roma}"),
	"broken.yaml":     yamlLines("version: 1", "companies:", "  delta:", "    nme: Delta"),
	"empty/notes.txt": "no yaml here",
	"none.yaml":       "version: 1\n", // no company: PBXs may share it
}

// fleetOf is a fleet file of PBX lines, the first of them on line 3.
func fleetOf(lines ...string) string {
	return yamlLines(append([]string{"version: 1", "pbxs:"}, lines...)...)
}

func TestLoadFleetErrors(t *testing.T) {
	const (
		urlWant   = "want https://host[:port], http://host[:port] or sim:FILE"
		nameRule  = "use letters, digits, _ and -, 1 to 64 characters"
		credsRule = "credentials must be letters, digits and _ (1 to 64): they name the environment variables PBX_<credentials>_API_KEY, or PBX_<credentials>_USERNAME and PBX_<credentials>_PASSWORD; credentials never go in the file"
	)
	long65 := strings.Repeat("p", 65)
	for _, tc := range []struct {
		name  string
		fleet string
		want  []string
	}{
		{
			name:  "version missing",
			fleet: yamlLines("pbxs:", "  london: {url: sim:l.yaml, inventory: none.yaml}"),
			want:  []string{"fleet.yaml:1:1: version is missing: the first line should be version: 1"},
		},
		{
			name:  "version 2",
			fleet: yamlLines("version: 2", "pbxs:", "  london: {url: sim:l.yaml, inventory: none.yaml}"),
			want:  []string{"fleet.yaml:1:10: version must be 1"},
		},
		{
			name:  "unknown top-level key, x- keys free",
			fleet: yamlLines("version: 1", "x-anchors: {a: 1}", "pbx:", "  london: {url: sim:l.yaml, inventory: none.yaml}"),
			want: []string{
				"fleet.yaml:1:1: pbxs is missing: a fleet file names its PBXs under pbxs:",
				`fleet.yaml:3:1: unknown key "pbx": want version or pbxs (x-... keys are free, for anchors) (did you mean "pbxs"?)`,
			},
		},
		{
			name:  "pbxs empty",
			fleet: yamlLines("version: 1", "pbxs:"),
			want:  []string{"fleet.yaml:2:6: pbxs is empty: a fleet file names at least one PBX"},
		},
		{
			name:  "pbxs an empty mapping",
			fleet: yamlLines("version: 1", "pbxs: {}"),
			want:  []string{"fleet.yaml:2:7: pbxs is empty: a fleet file names at least one PBX"},
		},
		{
			name:  "pbxs a list",
			fleet: yamlLines("version: 1", "pbxs: [london, paris]"),
			want:  []string{"fleet.yaml:2:7: pbxs must be a mapping of PBX names to their url, inventory and credentials"},
		},
		{
			name: "PBX names",
			fleet: fleetOf(
				`  "lon don": {url: sim:1.yaml, inventory: none.yaml}`,
				"  pbx.paris: {url: sim:2.yaml, inventory: none.yaml}",
				"  "+long65+": {url: sim:3.yaml, inventory: none.yaml}",
				`  "": {url: sim:4.yaml, inventory: none.yaml}`,
				"  Rome_2-b: {url: sim:5.yaml, inventory: none.yaml}",
			),
			want: []string{
				`fleet.yaml:3:3: PBX name "lon don" is not allowed: ` + nameRule,
				`fleet.yaml:4:3: PBX name "pbx.paris" is not allowed: ` + nameRule,
				`fleet.yaml:5:3: PBX name "` + long65 + `" is not allowed: ` + nameRule,
				`fleet.yaml:6:3: PBX name "" is not allowed: ` + nameRule,
			},
		},
		{
			name:  "a PBX that is no mapping",
			fleet: fleetOf("  london: https://pbx-lon.example.com"),
			want:  []string{"fleet.yaml:3:11: PBX london must be a mapping with url and inventory"},
		},
		{
			name: "unknown key of a PBX, x- keys free",
			fleet: fleetOf(
				"  london:",
				"    url: https://pbx-lon.example.com",
				"    inventroy: london/",
				"    x-owner: team voice",
				"    apikey: abc",
			),
			want: []string{
				"fleet.yaml:3:3: PBX london has no inventory: want a file or a folder, or a list of them, relative to the fleet file",
				`fleet.yaml:5:5: unknown key "inventroy" in PBX london: want url, inventory or credentials (did you mean "inventory"?)`,
				`fleet.yaml:7:5: unknown key "apikey" in PBX london: want url, inventory or credentials`,
			},
		},
		{
			name:  "url missing",
			fleet: fleetOf("  london:", "    inventory: london/"),
			want:  []string{"fleet.yaml:3:3: PBX london has no url: " + urlWant},
		},
		{
			name: "urls not valid",
			fleet: fleetOf(
				"  a: {url: ftp://pbx.example.com, inventory: none.yaml}",
				"  b: {url: 'https://', inventory: none.yaml}",
				"  c: {url: pbx.example.com, inventory: none.yaml}",
				"  d: {url: 'sim:', inventory: none.yaml}",
				"  e: {url: 'https://pbx.example.com/?tenant=1', inventory: none.yaml}",
				"  f: {url: 'https://pbx.example.com/#top', inventory: none.yaml}",
				"  g: {url: '', inventory: none.yaml}",
				"  h: {url: [https://pbx.example.com], inventory: none.yaml}",
				"  i: {url: ~, inventory: none.yaml}",
			),
			want: []string{
				"fleet.yaml:3:12: PBX a: url is not valid: " + urlWant,
				"fleet.yaml:4:12: PBX b: url is not valid: " + urlWant,
				"fleet.yaml:5:12: PBX c: url is not valid: " + urlWant,
				"fleet.yaml:6:12: PBX d: sim: needs a state file: sim:FILE",
				"fleet.yaml:7:12: PBX e: url takes no query or fragment",
				"fleet.yaml:8:12: PBX f: url takes no query or fragment",
				"fleet.yaml:9:12: PBX g: url must be a non-empty string",
				"fleet.yaml:10:12: PBX h: url must be a non-empty string",
				"fleet.yaml:11:12: PBX i: url must be a non-empty string",
			},
		},
		{
			name:  "credentials in the url",
			fleet: fleetOf("  london:", "    url: https://admin:hunter2@pbx-lon.example.com", "    inventory: none.yaml"),
			want:  []string{"fleet.yaml:4:10: PBX london: url: credentials belong in the environment, not in the URL"},
		},
		{
			name: "credentials not valid",
			fleet: fleetOf(
				"  a: {url: sim:a.yaml, inventory: none.yaml, credentials: LON-DON}",
				"  b: {url: sim:b.yaml, inventory: none.yaml, credentials: ''}",
				"  c: {url: sim:c.yaml, inventory: none.yaml, credentials: 'key hunter2'}",
				"  d: {url: sim:d.yaml, inventory: none.yaml, credentials: {api_key: hunter2}}",
			),
			want: []string{
				"fleet.yaml:3:59: PBX a: " + credsRule,
				"fleet.yaml:4:59: PBX b: credentials must be a non-empty string",
				"fleet.yaml:5:59: PBX c: " + credsRule,
				"fleet.yaml:6:59: PBX d: credentials must be a non-empty string",
			},
		},
		{
			name: "a PBX defined twice",
			fleet: fleetOf(
				"  london: {url: sim:1.yaml, inventory: none.yaml}",
				"  paris: {url: sim:2.yaml, inventory: none.yaml}",
				"  london: {url: sim:3.yaml, inventory: none.yaml}",
			),
			want: []string{"fleet.yaml:5:3: PBX london is defined twice: first at line 3"},
		},
		{
			name: "one url for two PBXs",
			fleet: fleetOf(
				"  london: {url: https://PBX.example.com/, inventory: none.yaml}",
				"  paris: {url: HTTPS://pbx.EXAMPLE.com, inventory: none.yaml}",
				"  rome: {url: http://pbx.example.com, inventory: none.yaml}", // another scheme: another url
				"  milan: {url: https://pbx.example.com/milan, inventory: none.yaml}",
			),
			want: []string{"fleet.yaml:4:16: PBXs london (line 3) and paris (line 4) have the same url: each PBX of a fleet is a server of its own"},
		},
		{
			name: "one loopback server under two spellings",
			fleet: fleetOf(
				"  london: {url: 'http://127.0.0.1:18140', inventory: none.yaml}",
				"  paris: {url: 'http://127.1:018140/', inventory: none.yaml}",
				"  rome: {url: 'http://[::ffff:127.0.0.1]:18140', inventory: none.yaml}",
				"  milan: {url: 'http://127.0.0.1:18141', inventory: none.yaml}", // another port: another server
			),
			want: []string{
				"fleet.yaml:4:16: PBXs london (line 3) and paris (line 4) have the same url: each PBX of a fleet is a server of its own",
				"fleet.yaml:5:15: PBXs london (line 3) and rome (line 5) have the same url: each PBX of a fleet is a server of its own",
			},
		},
		{
			name: "one simulator for two PBXs",
			fleet: fleetOf(
				"  london: {url: 'sim:state.yaml', inventory: none.yaml}",
				"  paris: {url: 'sim:empty/../state.yaml', inventory: none.yaml}",
				"  rome: {url: 'sim:"+"ABS/state.yaml', inventory: none.yaml}",
			),
			want: []string{
				"fleet.yaml:4:16: PBXs london (line 3) and paris (line 4) have the same url: each PBX of a fleet is a server of its own",
				"fleet.yaml:5:15: PBXs london (line 3) and rome (line 5) have the same url: each PBX of a fleet is a server of its own",
			},
		},
		{
			name: "a missing inventory, the others loaded",
			fleet: fleetOf(
				"  london: {url: sim:1.yaml, inventory: nowhere/}",
				"  paris: {url: sim:2.yaml, inventory: broken.yaml}",
				"  rome: {url: sim:3.yaml, inventory: empty}",
				"  milan: {url: sim:4.yaml, inventory: '-'}",
			),
			want: []string{
				"fleet.yaml:3:40: PBX london: inventory nowhere/: no such file or directory",
				"fleet.yaml:5:38: PBX rome: inventory empty: a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)",
				"fleet.yaml:6:39: PBX milan: inventory - (standard input) is not allowed in a fleet file: name a file or a folder",
				"broken.yaml:3:3: company delta has no name: a name is required to create it",
				`broken.yaml:4:5: unknown key "nme" in company delta: want name, description, settings or profiles (did you mean "name"?)`,
			},
		},
		{
			name: "lists of paths",
			fleet: fleetOf(
				"  london: {url: sim:1.yaml, inventory: [london/, nowhere/, empty, rome.yaml]}",
				"  paris: {url: sim:2.yaml, inventory: []}",
				"  rome: {url: sim:3.yaml, inventory: [paris/, '-', ~, {a: b}, [x], '']}",
				"  milan: {url: sim:4.yaml, inventory: {path: broken.yaml}}",
			),
			want: []string{
				"fleet.yaml:3:50: PBX london: inventory nowhere/: no such file or directory",
				"fleet.yaml:3:60: PBX london: inventory empty: a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)",
				"fleet.yaml:4:39: PBX paris: inventory is an empty list: want a file or a folder, or a list of them",
				"fleet.yaml:5:47: PBX rome: inventory - (standard input) is not allowed in a fleet file: name a file or a folder",
				"fleet.yaml:5:52: PBX rome: each path of inventory must be a non-empty string",
				"fleet.yaml:5:55: PBX rome: each path of inventory must be a non-empty string",
				"fleet.yaml:5:63: PBX rome: each path of inventory must be a non-empty string",
				"fleet.yaml:5:68: PBX rome: each path of inventory must be a non-empty string",
				"fleet.yaml:6:39: PBX milan: inventory must be a file or a folder, or a list of them",
			},
		},
		{
			name: "a company in the inventories of two PBXs",
			fleet: fleetOf(
				"  rome: {url: sim:3.yaml, inventory: rome.yaml}",
				"  paris: {url: sim:2.yaml, inventory: paris/}",
				"  london: {url: sim:1.yaml, inventory: london/}",
			),
			want: []string{
				"paris/b.yaml:7:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and paris",
				"rome.yaml:3:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and rome",
			},
		},
		{
			name: "one inventory for two PBXs",
			fleet: fleetOf(
				"  london: {url: sim:1.yaml, inventory: london/}",
				"  paris: {url: sim:2.yaml, inventory: ./london}",
			),
			want: []string{
				"london/a.yaml:3:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and paris",
				"london/a.yaml:4:3: company acme_west is in the inventories of two PBXs: london (london/a.yaml:4) and paris",
			},
		},
		{
			name: "one broken inventory for two PBXs: its errors once",
			fleet: fleetOf(
				"  london: {url: sim:1.yaml, inventory: broken.yaml}",
				"  paris: {url: sim:2.yaml, inventory: ./broken.yaml}",
			),
			want: []string{
				"broken.yaml:3:3: company delta has no name: a name is required to create it",
				`broken.yaml:4:5: unknown key "nme" in company delta: want name, description, settings or profiles (did you mean "name"?)`,
			},
		},
		{
			name:  "not valid YAML",
			fleet: fleetOf("  london:", "    url: sim:1.yaml", "   inventory: london"),
			want:  []string{"fleet.yaml:5:1: not valid YAML: did not find expected key: this line is not indented like the lines it belongs with"},
		},
		{
			name:  "a tab",
			fleet: fleetOf("  london:", "    url: sim:1.yaml", "\tinventory: london"),
			want:  []string{"fleet.yaml:5:1: not valid YAML: a tab in the indentation: YAML indents with spaces only"},
		},
		{
			name:  "a duplicated key",
			fleet: fleetOf("  london:", "    url: sim:1.yaml", "    inventory: london", "    url: sim:2.yaml"),
			want:  []string{`fleet.yaml:6:5: duplicated key "url" (first at line 4)`},
		},
		{
			name:  "a second document",
			fleet: fleetOf("  london: {url: sim:1.yaml, inventory: london}", "---", "version: 1"),
			want:  []string{"fleet.yaml:4:1: a second YAML document: a fleet file is one document, and this one would be ignored"},
		},
		{
			name:  "an empty file",
			fleet: "# nothing\n",
			want:  []string{"fleet.yaml:1:1: the file is empty: a fleet file needs version: 1 and pbxs"},
		},
		{
			name:  "not a mapping",
			fleet: "- london\n",
			want:  []string{"fleet.yaml:1:1: a fleet file must be a mapping with version and pbxs"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeTree(t, fleetInventories)
			t.Chdir(root)
			data := []byte(strings.ReplaceAll(tc.fleet, "ABS/", root+"/"))
			fleet, _, err := inventory.LoadFleet("fleet.yaml", data, inventory.LoadOptions{})
			got := fleetErrors(t, fleet, err)
			// none.yaml stands in for an inventory here: that a fleet with no company
			// at all is refused is TestLoadFleetNoCompanies'.
			got = slices.DeleteFunc(got, func(d string) bool {
				return strings.HasSuffix(d, ": inventory none.yaml: no companies in the files it names")
			})
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], root+"/", "ABS/")
			}
			require.Equal(t, tc.want, got)
			require.NotContains(t, err.Error(), "hunter2", "the fleet's messages never quote a credential")
		})
	}
}

// A PBX's inventory may be a list of files and folders, each read as -f reads it:
// folders at any depth, a _defaults.yaml for its folder and those below it, a file
// named by two paths read once.
func TestLoadFleetInventoryList(t *testing.T) {
	tree := map[string]string{
		"fleet/fleet.yaml": yamlLines(
			"version: 1",
			"x-shared: &shared ../shared/profiles.yaml",
			"pbxs:",
			"  london:",
			"    url: sim:london.yaml",
			"    inventory:",
			"      - ../resellers/north/",
			"      - ../resellers/south",
			"      - *shared",
			"      - ../resellers/north/acme/a.yaml",
			"  paris: {url: sim:paris.yaml, inventory: [../paris.yaml]}",
		),
		"resellers/north/_defaults.yaml":  yamlLines("version: 1", "defaults: {zone: Europe/London}"),
		"resellers/north/acme/a.yaml":     yamlLines("version: 1", "companies:", "  acme: {name: Acme, profiles: [gold]}"),
		"resellers/north/acme/b/c/d.yaml": yamlLines("version: 1", "companies:", "  acme_deep: {name: Acme Deep}"),
		"resellers/north/.draft/x.yaml":   yamlLines("version: 1", "companies:", "  draft: {name: Draft}"),
		"resellers/south/_defaults.yaml":  yamlLines("version: 1", "defaults: {zone: Europe/Madrid}"),
		"resellers/south/s/s.yaml":        yamlLines("version: 1", "companies:", "  sur: {name: Sur}"),
		"shared/profiles.yaml":            yamlLines("version: 1", "profiles:", "  gold: {q_ringtime: 20}"),
		"paris.yaml":                      yamlLines("version: 1", "companies:", "  gamma: {name: Gamma}"),
	}
	fleet, warns, err := loadFleetIn(t, tree, "fleet/fleet.yaml", inventory.LoadOptions{})
	require.NoError(t, err)
	require.Empty(t, warns)
	london := fleet.PBXs[0]
	require.Equal(t, []string{"resellers/north", "resellers/south", "shared/profiles.yaml", "resellers/north/acme/a.yaml"}, london.Inventory)
	require.Equal(t, []string{
		"resellers/north/_defaults.yaml", "resellers/north/acme/a.yaml", "resellers/north/acme/b/c/d.yaml",
		"resellers/south/_defaults.yaml", "resellers/south/s/s.yaml",
		"shared/profiles.yaml",
	}, london.Inv.Files)
	zones := map[string]string{}
	for _, c := range london.Inv.Companies {
		zones[c.ID] = c.Settings.Get("zone").Text()
	}
	require.Equal(t, map[string]string{"acme": "Europe/London", "acme_deep": "Europe/London", "sur": "Europe/Madrid"}, zones)
	acme, _ := london.Inv.Company("acme")
	require.Equal(t, "20", acme.Settings.Get("q_ringtime").Text(), "a profile from the list's file")
	require.Equal(t, []string{"paris.yaml"}, fleet.PBXs[1].Inventory)
}

// A PBX whose inventory holds no company is a warning at its fleet file line (a PBX
// just added, or retired by moving its companies away); a fleet with no company at
// all is refused, as -f with none is.
func TestLoadFleetNoCompanies(t *testing.T) {
	tree := maps.Clone(fleetInventories)
	tree["only-defaults/_defaults.yaml"] = yamlLines("version: 1", "defaults: {zone: Europe/Rome}")
	tree["only-defaults/sub/_defaults.yaml"] = yamlLines("version: 1", "defaults: {q_ringtime: 20}")
	tree["fleet.yaml"] = fleetOf(
		"  london: {url: sim:1.yaml, inventory: london/}",
		"  rome: {url: sim:2.yaml, inventory: [only-defaults/, none.yaml]}",
		"  milan: {url: sim:3.yaml, inventory: none.yaml}",
	)
	tree["empty-fleet.yaml"] = fleetOf(
		"  rome: {url: sim:2.yaml, inventory: [only-defaults/, none.yaml]}",
		"  milan: {url: sim:3.yaml, inventory: none.yaml}",
	)
	fleet, warns, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{})
	require.NoError(t, err)
	require.Len(t, fleet.PBXs, 3)
	require.Equal(t, []string{
		"fleet.yaml:4:38: warning: PBX rome: inventory [only-defaults/, none.yaml]: no companies in the files they name: every company on its server is unmanaged, or moved to the PBX whose inventory lists it",
		"fleet.yaml:5:39: warning: PBX milan: inventory none.yaml: no companies in the files it names: every company on its server is unmanaged, or moved to the PBX whose inventory lists it",
	}, diagStrings(t, warns))

	data, err := os.ReadFile("empty-fleet.yaml")
	require.NoError(t, err)
	fleet, _, err = inventory.LoadFleet("empty-fleet.yaml", data, inventory.LoadOptions{})
	require.Equal(t, []string{
		"empty-fleet.yaml:3:38: PBX rome: inventory [only-defaults/, none.yaml]: no companies in the files they name",
		"empty-fleet.yaml:4:39: PBX milan: inventory none.yaml: no companies in the files it names",
	}, fleetErrors(t, fleet, err))
}

func TestLoadFleetErrorsInASubdirectory(t *testing.T) {
	tree := maps.Clone(fleetInventories)
	tree["fleets/prod.yaml"] = fleetOf(
		"  london: {url: sim:1.yaml, inventory: ../london}",
		"  paris: {url: sim:2.yaml, inventory: ../nowhere.yaml}",
		"  rome: {url: sim:3.yaml, inventory: ../rome.yaml}",
	)
	fleet, _, err := loadFleetIn(t, tree, "fleets/prod.yaml", inventory.LoadOptions{})
	require.Equal(t, []string{
		"fleets/prod.yaml:4:39: PBX paris: inventory ../nowhere.yaml: no such file or directory",
		"rome.yaml:3:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and rome",
	}, fleetErrors(t, fleet, err))
}

func TestLoadFleetReportsEveryProblem(t *testing.T) {
	tree := maps.Clone(fleetInventories)
	tree["fleet.yaml"] = yamlLines(
		"version: 1",
		"pbxs:",
		"  london:",
		"    url: https://pbx.example.com",
		"    inventory: london/",
		"    credentails: LON",
		"  paris:",
		"    url: https://pbx.example.com/",
		"    inventory: paris/",
		"  rome:",
		"    url: https://user:pw@pbx-rome.example.com",
		"    inventory: rome.yaml",
		"  milan:",
		"    url: sim:milan.yaml",
		"    inventory: broken.yaml",
		"  naples:",
		"    url: sim:naples.yaml",
		"    inventory: naples/",
		"extra: 1",
	)
	fleet, _, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{})
	require.Equal(t, []string{
		`fleet.yaml:6:5: unknown key "credentails" in PBX london: want url, inventory or credentials (did you mean "credentials"?)`,
		"fleet.yaml:8:10: PBXs london (line 3) and paris (line 7) have the same url: each PBX of a fleet is a server of its own",
		"fleet.yaml:11:10: PBX rome: url: credentials belong in the environment, not in the URL",
		"fleet.yaml:18:16: PBX naples: inventory naples/: no such file or directory",
		`fleet.yaml:19:1: unknown key "extra": want version or pbxs (x-... keys are free, for anchors)`,
		"broken.yaml:3:3: company delta has no name: a name is required to create it",
		`broken.yaml:4:5: unknown key "nme" in company delta: want name, description, settings or profiles (did you mean "name"?)`,
		"paris/b.yaml:7:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and paris",
		"rome.yaml:3:3: company acme_hq is in the inventories of two PBXs: london (london/a.yaml:3) and rome",
	}, fleetErrors(t, fleet, err))
	require.NotContains(t, err.Error(), "pw@")
}

func TestLoadFleetInventoryDiagnosticsUnchanged(t *testing.T) {
	tree := maps.Clone(fleetInventories)
	tree["fleet.yaml"] = fleetOf("  milan: {url: sim:1.yaml, inventory: broken.yaml}")
	fleet, _, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{})
	got := fleetErrors(t, fleet, err)

	files, rerr := inventory.ReadFiles([]string{"broken.yaml"}, nil)
	require.NoError(t, rerr)
	_, _, alone := inventory.LoadFiles(files, inventory.LoadOptions{})
	require.Equal(t, fleetErrors(t, nil, alone), got, "a fleet reports its inventories' problems as they would alone")
}

func TestLoadFleetWarnings(t *testing.T) {
	tree := maps.Clone(fleetInventories)
	tree["secrets/s.yaml"] = yamlLines(
		"version: 1",
		"companies:",
		"  sigma:",
		"    name: Sigma",
		"    settings:",
		`      nm_password: "1234"`,
		"      barge_pin: ${SIGMA_PIN}",
	)
	tree["fleet.yaml"] = fleetOf(
		"  london: {url: sim:1.yaml, inventory: london}",
		"  sigma: {url: sim:2.yaml, inventory: secrets}",
	)
	plainText := "secrets/s.yaml:6:20: warning: nm_password is a secret written in plain text: use ${VAR} and keep the value in the environment"

	t.Run("valid: warnings apart", func(t *testing.T) {
		lookup := func(k string) (string, bool) { return "2468", k == "SIGMA_PIN" }
		fleet, warns, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{Lookup: lookup})
		require.NoError(t, err)
		require.Equal(t, []string{plainText}, diagStrings(t, warns))
		sigma, _ := fleet.PBXs[1].Inv.Company("sigma")
		require.Equal(t, apiclient.String("2468").MarkSensitive(), sigma.Settings.Get("barge_pin"))
	})
	t.Run("offline: an unset variable is a warning", func(t *testing.T) {
		_, warns, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{Offline: true})
		require.NoError(t, err)
		require.Equal(t, []string{
			plainText,
			"secrets/s.yaml:7:18: warning: environment variable SIGMA_PIN is not set (plan and apply need it)",
		}, diagStrings(t, warns))
	})
	t.Run("refused: warnings still apart", func(t *testing.T) {
		_, warns, err := loadFleetIn(t, tree, "fleet.yaml", inventory.LoadOptions{})
		require.Equal(t, []string{"secrets/s.yaml:7:18: environment variable SIGMA_PIN is not set"}, fleetErrors(t, nil, err))
		require.Equal(t, []string{plainText}, diagStrings(t, warns))
	})
}

func TestLoadFleetHash(t *testing.T) {
	root := writeTree(t, fleetTree)
	t.Chdir(root)
	load := func() string {
		t.Helper()
		data, err := os.ReadFile("fleets/prod.yaml")
		require.NoError(t, err)
		fleet, _, err := inventory.LoadFleet("fleets/prod.yaml", data, inventory.LoadOptions{})
		require.NoError(t, err)
		return fleet.Hash
	}
	write := func(name, content string) {
		t.Helper()
		require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
	}
	base := load()
	require.Equal(t, base, load(), "the same files, the same hash")
	seen := map[string]string{base: "the tree as written"}
	changed := func(what string) {
		t.Helper()
		h := load()
		if first, dup := seen[h]; dup {
			t.Fatalf("%s: the hash is that of %s", what, first)
		}
		seen[h] = what
	}

	write("fleets/prod.yaml", fleetTree["fleets/prod.yaml"]+"# a comment\n")
	changed("the fleet file, a comment added")
	write("fleets/prod.yaml", fleetTree["fleets/prod.yaml"])
	require.Equal(t, base, load(), "back as it was")

	write("inv/london/b.yaml", yamlLines("version: 1", "companies:", "  beta: {name: Beta Two}"))
	changed("a file of a directory inventory")
	write("inv/london/_defaults.yaml", yamlLines("version: 1", "defaults: {zone: Europe/Dublin}"))
	changed("a _defaults.yaml")
	write("inv/london/c.yaml", yamlLines("version: 1", "companies:", "  kappa: {name: Kappa}"))
	changed("a file added to a directory inventory")
	write("inv/paris.yaml", fleetTree["inv/paris.yaml"]+"# a comment\n")
	changed("a file inventory")
	write("inv/new-york/c.yaml", yamlLines("version: 1", "companies:", "  nyc_two: {name: NYC Two}"))
	changed("the last PBX's inventory")
	write("inv/notes.txt", "not read")
	require.Equal(t, load(), load())
	_, again := seen[load()]
	require.True(t, again, "a file no inventory reads changes nothing")
}

func TestFleetPBXEnv(t *testing.T) {
	p := &inventory.FleetPBX{Name: "new-york", Credentials: "NEW_YORK"}
	require.Equal(t, "PBX_NEW_YORK_API_KEY", p.Env("API_KEY"))
	require.Equal(t, "PBX_NEW_YORK_USERNAME", p.Env("USERNAME"))
	require.Equal(t, "PBX_NEW_YORK_PASSWORD", p.Env("PASSWORD"))
}

func TestInventoryPlaces(t *testing.T) {
	inv, _ := loadValid(t, yamlLines(
		"version: 1",
		"companies:",
		"  beta: {name: Beta}",
		"  acme:",
		"    name: Acme",
	))
	require.Equal(t, map[string]inventory.Position{
		"acme": {File: inventoryFile, Line: 4, Column: 3},
		"beta": {File: inventoryFile, Line: 3, Column: 3},
	}, inv.Places)
	require.Equal(t, "inventory.yaml:4", inv.Places["acme"].String())

	root := writeTree(t, fleetInventories)
	_, _, err := loadTree(t, root, inventory.LoadOptions{}, "london", "paris/b.yaml")
	require.ErrorContains(t, err, "paris/b.yaml:7:3: company acme_hq is defined twice: first at london/a.yaml:3")
	split, _, err := loadTree(t, root, inventory.LoadOptions{}, "london", "none.yaml")
	require.NoError(t, err)
	require.Equal(t, map[string]inventory.Position{
		"acme_hq":   {File: "london/a.yaml", Line: 3, Column: 3},
		"acme_west": {File: "london/a.yaml", Line: 4, Column: 3},
	}, split.Places)
}

func TestCheckPBXs(t *testing.T) {
	pbxs := []*inventory.FleetPBX{{Name: "berlin"}, {Name: "london"}, {Name: "paris"}}
	require.NoError(t, inventory.CheckPBXs("fleet.yaml", pbxs, nil))
	require.NoError(t, inventory.CheckPBXs("fleet.yaml", pbxs, []string{"paris", "london"}))
	err := inventory.CheckPBXs("fleet.yaml", pbxs, []string{"paris", "londn"})
	require.EqualError(t, err, "--pbx londn: the fleet fleet.yaml has no such PBX (it has berlin, london, paris): did you mean london?")
}

// TestCheckServers: two PBXs whose host names resolve to a common address on one port
// are one server, named at the later one's url; reading the fleet file looks nothing
// up and lets them through.
func TestCheckServers(t *testing.T) {
	data := fleetOf(
		"  rome: {url: 'http://LOCALHOST.:18141', inventory: none.yaml}",
		"  london: {url: 'http://127.0.0.1:18140', inventory: none.yaml}",
		"  paris: {url: 'http://127.0.0.1:18141', inventory: none.yaml}",
		"  berlin: {url: 'http://localhost:18140', inventory: none.yaml}",
		"  milan: {url: 'http://unknown.test:18140', inventory: none.yaml}",
		"  oslo: {url: 'https://localhost:18140', inventory: none.yaml}", // another scheme
	)
	pbxs, err := inventory.ReadFleetFile("fleet.yaml", []byte(data))
	require.NoError(t, err)
	var mu sync.Mutex
	var asked []string
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, host)
		if host == "localhost" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	err = inventory.CheckServers(t.Context(), pbxs, apiclient.Resolver{Lookup: lookup})
	var invErr *inventory.InventoryError
	require.ErrorAs(t, err, &invErr)
	var got []string
	for _, d := range invErr.Diagnostics {
		got = append(got, d.String())
	}
	require.Equal(t, []string{
		"fleet.yaml:5:16: PBXs rome (line 3) and paris (line 5) are one server (http://localhost:18141 and http://127.0.0.1:18141 both reach http://127.0.0.1:18141): each PBX of a fleet is a server of its own",
		"fleet.yaml:6:17: PBXs london (line 4) and berlin (line 6) are one server (http://127.0.0.1:18140 and http://localhost:18140 both reach http://127.0.0.1:18140): each PBX of a fleet is a server of its own",
	}, got)
	require.ElementsMatch(t, []string{"localhost", "unknown.test"}, asked)

	require.NoError(t, inventory.CheckServers(t.Context(), pbxs[2:5], apiclient.Resolver{Lookup: lookup})) // milan, oslo, paris
}
