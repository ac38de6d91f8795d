package inventory_test

import (
	"fmt"
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
	"github.com/pbxsync/pbxsync/plan/state"
)

// writeTree writes files (path -> content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return root
}

func TestReadFiles(t *testing.T) {
	root := writeTree(t, map[string]string{
		"east/_defaults.yaml": "version: 1\n",
		"east/b.yaml":         "version: 1\n",
		"east/a.yml":          "version: 1\n",
		"east/notes.txt":      "not yaml",
		"west/c.yaml":         "version: 1\n",
		"west/_defaults.yaml": "version: 1\n",
		"solo.yaml":           "version: 1\n",
		"empty/readme.md":     "",
	})
	at := func(names ...string) []string {
		for i, n := range names {
			names[i] = filepath.Join(root, n)
		}
		return names
	}
	names := func(files []inventory.File) []string {
		var out []string
		for _, f := range files {
			out = append(out, f.Name)
		}
		return out
	}
	t.Run("a directory: its yaml files in name order, a file named twice once", func(t *testing.T) {
		files, err := inventory.ReadFiles(append(at("east"), at("east/b.yaml", "solo.yaml")...), nil)
		require.NoError(t, err)
		require.Equal(t, at("east/_defaults.yaml", "east/a.yml", "east/b.yaml", "solo.yaml"), names(files))
	})
	t.Run("a file alone brings its directory's _defaults.yaml", func(t *testing.T) {
		files, err := inventory.ReadFiles(at("west/c.yaml"), nil)
		require.NoError(t, err)
		require.Equal(t, at("west/_defaults.yaml", "west/c.yaml"), names(files))
	})
	t.Run("standard input", func(t *testing.T) {
		files, err := inventory.ReadFiles([]string{"-"}, strings.NewReader("version: 1\n"))
		require.NoError(t, err)
		require.Equal(t, []inventory.File{{Name: "<stdin>", Data: []byte("version: 1\n")}}, files)
	})
	t.Run("a directory without yaml", func(t *testing.T) {
		_, err := inventory.ReadFiles(at("empty"), nil)
		require.EqualError(t, err, filepath.Join(root, "empty")+": a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)")
	})
	t.Run("a missing path", func(t *testing.T) {
		_, err := inventory.ReadFiles(at("nope.yaml"), nil)
		require.EqualError(t, err, filepath.Join(root, "nope.yaml")+": no such file or directory")
	})
}

// TestReadFilesTree: a folder is read with its subfolders, at any depth, in path
// order with each folder's _defaults.yaml first; names that start with "." are
// skipped, files and folders alike; a folder with no inventory file anywhere in it
// is an error naming it.
func TestReadFilesTree(t *testing.T) {
	root := writeTree(t, map[string]string{
		"inv/profiles.yaml":      "version: 1\n",
		"inv/_defaults.yaml":     "version: 1\n",
		"inv/A.yaml":             "version: 1\n",
		"inv/b.yaml":             "version: 1\n",
		"inv/b/x.yaml":           "version: 1\n",
		"inv/b/_defaults.yaml":   "version: 1\n",
		"inv/b/c/y.yml":          "version: 1\n",
		"inv/b/c/notes.txt":      "not yaml",
		"inv/b/.old/z.yaml":      "version: 1\n",
		"inv/.git/config.yaml":   "version: 1\n",
		"inv/.hidden.yaml":       "version: 1\n",
		"inv/d/e/f/g/deep.yaml":  "version: 1\n",
		"inv/h/readme.md":        "",
		"bare/one/two/readme.md": "",
		"bare/.hidden/only.yaml": "version: 1\n",
		".named/visible.yaml":    "version: 1\n",
	})
	t.Chdir(root)
	names := func(files []inventory.File) []string {
		var out []string
		for _, f := range files {
			out = append(out, filepath.ToSlash(f.Name))
		}
		return out
	}
	files, err := inventory.ReadFiles([]string{"inv"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		"inv/_defaults.yaml", "inv/A.yaml",
		"inv/b/_defaults.yaml", "inv/b/c/y.yml", "inv/b/x.yaml",
		"inv/b.yaml",
		"inv/d/e/f/g/deep.yaml",
		"inv/profiles.yaml",
	}, names(files))

	t.Run("a folder named again, or below one named, is read once", func(t *testing.T) {
		again, err := inventory.ReadFiles([]string{"inv", "inv/b", "./inv/b/c", filepath.Join(root, "inv/b/x.yaml")}, nil)
		require.NoError(t, err)
		require.Equal(t, names(files), names(again))
	})
	t.Run("a hidden folder named with -f is read", func(t *testing.T) {
		files, err := inventory.ReadFiles([]string{".named"}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{".named/visible.yaml"}, names(files))
	})
	t.Run("a tree without an inventory file", func(t *testing.T) {
		_, err := inventory.ReadFiles([]string{"bare"}, nil)
		require.EqualError(t, err, "bare: a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)")
	})
	t.Run("paths are printed escaped", func(t *testing.T) {
		require.NoError(t, os.Mkdir("\x1b]0;owned\x07", 0o755))
		_, err := inventory.ReadFiles([]string{"\x1b]0;owned\x07"}, nil)
		require.EqualError(t, err, `\x1b]0;owned\x07: a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)`)
		_, err = inventory.ReadFiles([]string{"\x1b[2Jnope"}, nil)
		require.EqualError(t, err, `\x1b[2Jnope: no such file or directory`)
	})
}

// loadTree loads the inventory of -f paths under root.
func loadTree(t *testing.T, root string, opts inventory.LoadOptions, paths ...string) (*inventory.Inventory, []inventory.Diagnostic, error) {
	t.Helper()
	for i, p := range paths {
		paths[i] = filepath.Join(root, p)
	}
	files, err := inventory.ReadFiles(paths, nil)
	require.NoError(t, err)
	for i := range files { // messages name files relative to root, as -f would from there
		files[i].Name, _ = filepath.Rel(root, files[i].Name)
	}
	return inventory.LoadFiles(files, opts)
}

func TestLoadFilesLayers(t *testing.T) {
	root := writeTree(t, map[string]string{
		"east/_defaults.yaml": yamlLines(
			"version: 1",
			"defaults: {zone: Europe/London, vm_maxmsgs: 50, q_ringtime: 5, barge_pin: '${DIR_PIN}'}",
		),
		"east/acme.yaml": yamlLines(
			"version: 1",
			"defaults: {vm_maxmsgs: 100}",
			"x-base: &base {q_pausetime: 4, q_wraptime: 10}",
			"companies:",
			"  acme_hq:",
			"    name: Acme HQ",
			"    profiles: [gold, quiet]",
			"    settings:",
			"      <<: *base",
			"      q_wraptime: 20",
			"    x-note: kept for people",
			"  acme_west:",
			"    name: Acme West",
			"containers:",
			"  acme: [acme_hq, acme_west, solo]",
		),
		"profiles.yaml": yamlLines(
			"version: 1",
			"profiles:",
			"  gold: {q_ringtime: 20, vm_silent: 'yes', barge_pin: '${GOLD_PIN}'}",
			"  quiet: {vm_silent: 'no', hs_nm: 3}",
		),
		"solo.yaml": yamlLines(
			"version: 1",
			"companies:",
			"  solo: {name: Solo, profiles: [quiet]}",
		),
	})
	env := map[string]string{"DIR_PIN": "1111", "GOLD_PIN": "2222"}
	opts := inventory.LoadOptions{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Explain: true}
	inv, warnings, err := loadTree(t, root, opts, "east", "profiles.yaml", "solo.yaml")
	require.NoError(t, err)
	require.Empty(t, warnings)
	got := map[string]string{}
	for _, c := range inv.Companies {
		for _, name := range c.Settings.Names() {
			got[c.ID+"."+name] = fmt.Sprintf("%s from %s %s", c.Settings.Get(name).Reveal().JSON(), c.Origin[name], c.Env[name])
		}
	}
	acme := filepath.Join("east", "acme.yaml")
	dir := filepath.Join("east", "_defaults.yaml")
	want := map[string]string{
		// own > profiles in order (quiet over gold) > file defaults > directory defaults
		"acme_hq.zone":         `"Europe/London" from ` + dir + `:2 `,
		"acme_hq.vm_maxmsgs":   `"100" from ` + acme + `:2 `,
		"acme_hq.q_ringtime":   `"20" from profiles.yaml:3 `,
		"acme_hq.vm_silent":    `"no" from profiles.yaml:4 `,
		"acme_hq.hs_nm":        `"3" from profiles.yaml:4 `,
		"acme_hq.barge_pin":    `"2222" from profiles.yaml:3 GOLD_PIN`,
		"acme_hq.q_pausetime":  `"4" from ` + acme + `:3 `,
		"acme_hq.q_wraptime":   `"20" from ` + acme + `:10 `,
		"acme_west.zone":       `"Europe/London" from ` + dir + `:2 `,
		"acme_west.vm_maxmsgs": `"100" from ` + acme + `:2 `,
		"acme_west.q_ringtime": `"5" from ` + dir + `:2 `,
		"acme_west.barge_pin":  `"1111" from ` + dir + `:2 DIR_PIN`,
		"solo.vm_silent":       `"no" from profiles.yaml:4 `,
		"solo.hs_nm":           `"3" from profiles.yaml:4 `,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	require.Equal(t, []inventory.Container{{Label: "acme", Members: []string{"acme_hq", "acme_west", "solo"}}}, inv.Containers)
	require.Len(t, inv.Files, 4)
}

// TestLoadFilesNestedDefaults: a _defaults.yaml applies to its folder and every
// folder below it, the nearest one winning field by field, under the file's own
// defaults; a folder beside it is not below it.
func TestLoadFilesNestedDefaults(t *testing.T) {
	root := writeTree(t, map[string]string{
		"inv/_defaults.yaml": yamlLines(
			"version: 1",
			"defaults: {zone: Europe/London, vm_maxmsgs: 50, q_ringtime: 5, barge_pin: '${TOP_PIN}'}",
		),
		"inv/top.yaml": yamlLines("version: 1", "companies:", "  top: {name: Top}"),
		"inv/reseller/_defaults.yaml": yamlLines(
			"version: 1",
			"defaults: {vm_maxmsgs: 100, barge_pin: '${RESELLER_PIN}'}",
			"companies:", // a _defaults.yaml may hold companies: its defaults are theirs too
			"  res_own: {name: Reseller Own}",
		),
		"inv/reseller/r.yaml": yamlLines("version: 1", "companies:", "  res: {name: Reseller}"),
		"inv/reseller/customer/_defaults.yaml": yamlLines(
			"version: 1",
			"defaults: {q_ringtime: 7}",
		),
		"inv/reseller/customer/c.yaml": yamlLines(
			"version: 1",
			"defaults: {hs_nm: 1, vm_maxmsgs: 200}",
			"companies:",
			"  cust: {name: Customer}",
			"  cust_own: {name: Customer Own, settings: {zone: US/Pacific, q_ringtime: 9}}",
		),
		"inv/reseller/customer/deeper/further/d.yaml": yamlLines("version: 1", "companies:", "  deep: {name: Deep}"),
		"inv/beside/b.yaml":                           yamlLines("version: 1", "companies:", "  beside: {name: Beside}"),
	})
	env := map[string]string{"TOP_PIN": "1111", "RESELLER_PIN": "2222"}
	opts := inventory.LoadOptions{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Explain: true}
	settings := func(inv *inventory.Inventory) map[string]string {
		got := map[string]string{}
		for _, c := range inv.Companies {
			for _, name := range c.Settings.Names() {
				got[c.ID+"."+name] = fmt.Sprintf("%s from %s %s", c.Settings.Get(name).Reveal().JSON(), c.Origin[name], c.Env[name])
			}
		}
		return got
	}
	top := filepath.Join("inv", "_defaults.yaml")
	res := filepath.Join("inv", "reseller", "_defaults.yaml")
	cust := filepath.Join("inv", "reseller", "customer", "_defaults.yaml")
	file := filepath.Join("inv", "reseller", "customer", "c.yaml")
	inv, warnings, err := loadTree(t, root, opts, "inv")
	require.NoError(t, err)
	require.Empty(t, warnings)
	want := map[string]string{
		"top.zone": `"Europe/London" from ` + top + `:2 `, "top.vm_maxmsgs": `"50" from ` + top + `:2 `,
		"top.q_ringtime": `"5" from ` + top + `:2 `, "top.barge_pin": `"1111" from ` + top + `:2 TOP_PIN`,
		"beside.zone": `"Europe/London" from ` + top + `:2 `, "beside.vm_maxmsgs": `"50" from ` + top + `:2 `,
		"beside.q_ringtime": `"5" from ` + top + `:2 `, "beside.barge_pin": `"1111" from ` + top + `:2 TOP_PIN`,
		"res.zone": `"Europe/London" from ` + top + `:2 `, "res.vm_maxmsgs": `"100" from ` + res + `:2 `,
		"res.q_ringtime": `"5" from ` + top + `:2 `, "res.barge_pin": `"2222" from ` + res + `:2 RESELLER_PIN`,
		"res_own.zone": `"Europe/London" from ` + top + `:2 `, "res_own.vm_maxmsgs": `"100" from ` + res + `:2 `,
		"res_own.q_ringtime": `"5" from ` + top + `:2 `, "res_own.barge_pin": `"2222" from ` + res + `:2 RESELLER_PIN`,
		"cust.zone": `"Europe/London" from ` + top + `:2 `, "cust.vm_maxmsgs": `"200" from ` + file + `:2 `,
		"cust.q_ringtime": `"7" from ` + cust + `:2 `, "cust.barge_pin": `"2222" from ` + res + `:2 RESELLER_PIN`,
		"cust.hs_nm":    `"1" from ` + file + `:2 `,
		"cust_own.zone": `"US/Pacific" from ` + file + `:5 `, "cust_own.vm_maxmsgs": `"200" from ` + file + `:2 `,
		"cust_own.q_ringtime": `"9" from ` + file + `:5 `, "cust_own.barge_pin": `"2222" from ` + res + `:2 RESELLER_PIN`,
		"cust_own.hs_nm": `"1" from ` + file + `:2 `,
		"deep.zone":      `"Europe/London" from ` + top + `:2 `, "deep.vm_maxmsgs": `"100" from ` + res + `:2 `,
		"deep.q_ringtime": `"7" from ` + cust + `:2 `, "deep.barge_pin": `"2222" from ` + res + `:2 RESELLER_PIN`,
	}
	if diff := cmp.Diff(want, settings(inv)); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}

	t.Run("a _defaults.yaml above the folders named is not read", func(t *testing.T) {
		inv, _, err := loadTree(t, root, opts, filepath.Join("inv", "reseller", "customer"))
		require.NoError(t, err)
		require.Equal(t, map[string]string{
			"cust.vm_maxmsgs": `"200" from ` + file + `:2 `, "cust.q_ringtime": `"7" from ` + cust + `:2 `, "cust.hs_nm": `"1" from ` + file + `:2 `,
			"cust_own.zone": `"US/Pacific" from ` + file + `:5 `, "cust_own.vm_maxmsgs": `"200" from ` + file + `:2 `,
			"cust_own.q_ringtime": `"9" from ` + file + `:5 `, "cust_own.hs_nm": `"1" from ` + file + `:2 `,
			"deep.q_ringtime": `"7" from ` + cust + `:2 `,
		}, settings(inv))
	})
}

// A saved plan's hash of a tree of files changes when a file moves to a folder that
// other _defaults.yaml files apply to, and not when the tree is named another way.
func TestHashFilesTree(t *testing.T) {
	files := func(names ...string) []inventory.File {
		var out []inventory.File
		for _, n := range names {
			out = append(out, inventory.File{Name: n, Data: []byte("version: 1\n")})
		}
		return out
	}
	below := inventory.HashFiles(files("inv/_defaults.yaml", "inv/reseller/a.yaml"))
	beside := inventory.HashFiles(files("inv/_defaults.yaml", "other/a.yaml"))
	require.NotEqual(t, below, beside, "inv/_defaults.yaml applies to inv/reseller/a.yaml, not to other/a.yaml")
	require.Equal(t, below, inventory.HashFiles(files("/srv/repo/inv/_defaults.yaml", "/srv/repo/inv/reseller/a.yaml")))
	require.Equal(t, below, inventory.HashFiles(files("inv/_defaults.yaml", "inv/customers/a.yaml")), "a folder renamed")
	require.Equal(t, below, inventory.HashFiles(files("inv/_defaults.yaml", "inv/reseller/x/../a.yaml")))
}

func TestLoadFilesErrors(t *testing.T) {
	root := writeTree(t, map[string]string{
		"a.yaml": yamlLines(
			"version: 1",
			"profiles:",
			"  gold: {q_ringtime: 20}",
			"companies:",
			"  acme: {name: Acme, profiles: [golden, silver]}",
			"  beta: {name: Beta}",
			"containers:",
			"  ab: [acme, beta]",
			"prune: {match: ^x}",
		),
		"b.yaml": yamlLines(
			"version: 1",
			"profiles:",
			"  gold: {q_ringtime: 25}",
			"companies:",
			"  beta: {name: Beta again}",
			"  gamma: {name: Gamma}",
			"containers:",
			"  ab: [gamma, acme]",
			"  cg: [gamma, acme]",
			"prune: {match: ^y}",
			"setings: {}",
		),
		"c.yaml": "companies: {delta: {name: Delta}}\n",
	})
	_, _, err := loadTree(t, root, inventory.LoadOptions{}, "a.yaml", "b.yaml", "c.yaml")
	require.Error(t, err)
	want := strings.Join([]string{
		`a.yaml:5:33: unknown profile "golden" (did you mean "gold"?)`,
		`a.yaml:5:41: unknown profile "silver": profiles are defined under profiles: in any file of the inventory; is that file among those -f names?`,
		`b.yaml:3:3: profile gold is defined twice: first at a.yaml:3`,
		`b.yaml:5:3: company beta is defined twice: first at a.yaml:6`,
		`b.yaml:8:3: container ab is defined twice: first at a.yaml:8`,
		`b.yaml:9:15: acme is in two containers: ab and cg`,
		`b.yaml:10:1: prune is set in two files: first at a.yaml:9; keep it in one`,
		`b.yaml:11:1: unknown key "setings": want version, defaults, profiles, companies, containers or prune (x-... keys are free, for anchors)`,
		`c.yaml:1:1: version is missing: the first line should be version: 1`,
	}, "\n")
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadMergeKeys(t *testing.T) {
	inv, _, err := inventory.Load("m.yaml", []byte(yamlLines(
		"version: 1",
		"x-a: &a {q_ringtime: 10, hs_nm: 1}",
		"x-b: &b {q_ringtime: 20, vm_silent: 'yes', hs_nm: 2}",
		"x-acme: &acme {name: Acme}",
		"companies:",
		"  acme:",
		"    <<: *acme",
		"    settings:",
		"      <<: [*a, *b]", // the earlier mapping wins
		"      hs_nm: 5",     // the mapping's own key wins
		"  beta: {<<: *acme, name: Beta, settings: *b}",
	)), inventory.LoadOptions{})
	require.NoError(t, err)
	acme, _ := inv.Company("acme")
	beta, _ := inv.Company("beta")
	require.Equal(t, "Acme", acme.Name)
	require.Equal(t, apiclient.SettingsOf(map[string]apiclient.Value{"q_ringtime": apiclient.String("10"), "hs_nm": apiclient.String("5"), "vm_silent": apiclient.String("yes")}), acme.Settings)
	require.Equal(t, "Beta", beta.Name)

	_, _, err = inventory.Load("m.yaml", []byte(yamlLines(
		"version: 1",
		"companies:",
		"  acme: {name: Acme, settings: {<<: [1, 2]}}",
	)), inventory.LoadOptions{})
	require.EqualError(t, err, "m.yaml:3:38: << merges a mapping: write <<: *name, or <<: [*a, *b]\nm.yaml:3:41: << merges a mapping: write <<: *name, or <<: [*a, *b]")
}

// TestLoadFilesSameAsOneFile splits 50,000 companies into 500 files in 20 folders, with
// profiles and scoped defaults, and checks that they load, and plan, as the same
// companies written out in one file.
func TestLoadFilesSameAsOneFile(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 companies take seconds: left out under -short")
	}
	t.Parallel()
	tree, single := splitInventory(20, 25, 100)
	root := writeTree(t, tree)
	var dirs []string
	for d := range 20 {
		dirs = append(dirs, fmt.Sprintf("region%02d", d))
	}
	split, _, err := loadTree(t, root, inventory.LoadOptions{}, append(dirs, "profiles.yaml")...)
	require.NoError(t, err)
	one, _, err := inventory.Load("one.yaml", []byte(single), inventory.LoadOptions{})
	require.NoError(t, err)
	require.Len(t, split.Companies, 50_000)
	// cmp.Diff takes seconds over 50,000 companies: it runs only when the quick
	// comparison finds a difference, to decide and to show it.
	same := cmp.AllowUnexported(apiclient.Value{})
	if !reflect.DeepEqual(one.Companies, split.Companies) {
		if diff := cmp.Diff(one.Companies, split.Companies, same); diff != "" {
			t.Fatalf("companies (-one file +split):\n%s", diff)
		}
	}
	require.ElementsMatch(t, one.Containers, split.Containers)

	st := state.New(nil, nil)
	for i, c := range one.Companies {
		if i%3 == 0 {
			continue // to create
		}
		s := c.Settings.Clone()
		if i%3 == 1 {
			s.Set("q_ringtime", apiclient.String("30")) // to update
		}
		st.Companies[c.ID] = apiclient.Company{ID: c.ID, Name: c.Name, Settings: s}
	}
	pOne, err := plan.Diff(one, st, plan.Options{})
	require.NoError(t, err)
	pSplit, err := plan.Diff(split, st, plan.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, pOne.Changes)
	if jOne, jSplit := pOne.JSON(), pSplit.JSON(); !reflect.DeepEqual(jOne, jSplit) {
		if diff := cmp.Diff(jOne, jSplit, same); diff != "" {
			t.Fatalf("plans (-one file +split):\n%s", diff)
		}
	}
}

// splitInventory returns a tree of folders x files x perFile companies (a
// _defaults.yaml per folder, file defaults, profiles in a file of their own,
// containers within files), and the same companies resolved, in one file.
func splitInventory(folders, files, perFile int) (map[string]string, string) {
	tree := map[string]string{
		"profiles.yaml": yamlLines(
			"version: 1",
			"profiles:",
			"  gold: {q_ringtime: 20, vm_maxmsgs: 500}",
			"  silver: {q_ringtime: 15, vm_silent: 'yes'}",
		),
	}
	var one strings.Builder
	one.WriteString("version: 1\ncompanies:\n")
	var containers strings.Builder
	zones := []string{"Europe/London", "US/Pacific", "Asia/Tokyo", "Europe/Berlin", "US/Eastern"}
	n := 0
	for d := range folders {
		dir := fmt.Sprintf("region%02d", d)
		tree[dir+"/_defaults.yaml"] = fmt.Sprintf("version: 1\ndefaults: {zone: %s, vm_maxmsgs: 100, q_pausetime: 2}\n", zones[d%len(zones)])
		for f := range files {
			var b strings.Builder
			fmt.Fprintf(&b, "version: 1\ndefaults: {q_pausetime: %d}\ncompanies:\n", 3+f%5)
			var members []string
			for range perFile {
				id := fmt.Sprintf("c%06d", n)
				settings := map[string]string{"zone": zones[d%len(zones)], "vm_maxmsgs": "100", "q_pausetime": fmt.Sprint(3 + f%5)}
				fmt.Fprintf(&b, "  %s:\n    name: Company %d\n", id, n)
				switch n % 3 {
				case 0:
					b.WriteString("    profiles: [gold]\n")
					settings["q_ringtime"], settings["vm_maxmsgs"] = "20", "500"
				case 1:
					b.WriteString("    profiles: [gold, silver]\n")
					settings["q_ringtime"], settings["vm_maxmsgs"], settings["vm_silent"] = "15", "500", "yes"
				}
				if n%4 == 0 {
					fmt.Fprintf(&b, "    settings: {hs_nm: %d}\n", n%10)
					settings["hs_nm"] = fmt.Sprint(n % 10)
				}
				fmt.Fprintf(&one, "  %s:\n    name: Company %d\n    settings:\n", id, n)
				for k, v := range settings {
					fmt.Fprintf(&one, "      %s: %q\n", k, v)
				}
				members = append(members, id)
				n++
			}
			fmt.Fprintf(&b, "containers:\n  box_%s: [%s]\n", members[0], strings.Join(members[:4], ", "))
			fmt.Fprintf(&containers, "  box_%s: [%s]\n", members[0], strings.Join(members[:4], ", "))
			tree[fmt.Sprintf("%s/customers%03d.yaml", dir, f)] = b.String()
		}
	}
	one.WriteString("containers:\n")
	one.WriteString(containers.String())
	return tree, one.String()
}

// Merge keys that name the same anchors again and again, ten deep, ten wide: 10^10
// merges if each were followed, one each here.
func TestLoadMergeKeysLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nx-l0: &l0 {q_ringtime: 10}\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "x-l%d: &l%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	b.WriteString("companies:\n  acme: {name: Acme, settings: *l10}\n")
	inv, _, err := inventory.Load("laughs.yaml", []byte(b.String()), inventory.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, `"10"`, inv.Companies[0].Settings.Get("q_ringtime").JSON())
}

// TestReadFilesLinkOutOfFolder: inside a folder named with -f, a link to a file of
// the folder is read, and a link to a file outside it is refused, naming both; the
// same file named on the command line is read.
func TestReadFilesLinkOutOfFolder(t *testing.T) {
	root := t.TempDir()
	folder := filepath.Join(root, "inventory")
	require.NoError(t, os.Mkdir(folder, 0o755))
	secret := filepath.Join(root, "elsewhere.yaml")
	require.NoError(t, os.WriteFile(secret, []byte("version: 1\n"), 0o600))
	inside := filepath.Join(folder, "a.yaml")
	require.NoError(t, os.WriteFile(inside, []byte("version: 1\n"), 0o600))
	require.NoError(t, os.Symlink(inside, filepath.Join(folder, "b.yaml")))

	files, err := inventory.ReadFiles([]string{folder}, nil)
	require.NoError(t, err, "a link within the folder is read")
	require.Len(t, files, 2)

	link := filepath.Join(folder, "c.yaml")
	require.NoError(t, os.Symlink(secret, link))
	_, err = inventory.ReadFiles([]string{folder}, nil)
	require.EqualError(t, err, link+" is a link to "+secret+", outside the folder "+folder+": name that file with -f if it is meant")

	files, err = inventory.ReadFiles([]string{link}, nil)
	require.NoError(t, err, "a link named on the command line is followed")
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(link))

	// Below the folder -f names, the same rule: within the folder named, not the
	// subfolder the link is in.
	sub := filepath.Join(folder, "reseller")
	require.NoError(t, os.Mkdir(sub, 0o755))
	up := filepath.Join(sub, "up.yaml")
	require.NoError(t, os.Symlink(inside, up))
	files, err = inventory.ReadFiles([]string{folder}, nil)
	require.NoError(t, err, "a link to a file of the folder named, from a subfolder, is read")
	require.Len(t, files, 3)
	out := filepath.Join(sub, "out.yaml")
	require.NoError(t, os.Symlink(secret, out))
	_, err = inventory.ReadFiles([]string{folder}, nil)
	require.EqualError(t, err, out+" is a link to "+secret+", outside the folder "+folder+": name that file with -f if it is meant")
	require.NoError(t, os.Remove(out))
	require.NoError(t, os.Symlink(secret, filepath.Join(sub, ".out.yaml")))
	_, err = inventory.ReadFiles([]string{folder}, nil)
	require.NoError(t, err, "a link whose name starts with . is skipped, as any such name")

	// A link to a folder is never followed, and never skipped unsaid.
	for name, target := range map[string]string{"elsewhere": root, "loop": folder} {
		t.Run("a link to a folder: "+name, func(t *testing.T) {
			link := filepath.Join(sub, name)
			require.NoError(t, os.Symlink(target, link))
			defer os.Remove(link)
			_, err := inventory.ReadFiles([]string{folder}, nil)
			require.EqualError(t, err, link+" is a link to the folder "+target+": links to folders are not followed inside a folder -f names; name that folder with -f if it is meant")
		})
	}
}
