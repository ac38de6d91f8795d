package inventory_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// cutCases are layouts of the companies section that Load may cut into pieces, or
// must parse whole because yaml.v3 reads the lines otherwise than a cut would.
var cutCases = []struct {
	name   string
	src    string
	pieces int // with a piece per company; 0: parsed whole
}{
	{"plain", yamlLines(
		"version: 1",
		"defaults: {zone: UTC}",
		"companies:",
		"  a:",
		"    name: A",
		"  b:",
		"    name: B",
		"    settings: {q_ringtime: 7}",
		"  c: {name: C}",
		"containers:",
		"  ab: [a, b]",
	), 3},
	{"comments, blank lines and CRLF", strings.ReplaceAll(yamlLines(
		"version: 1",
		"companies:   # tenants",
		"# first the A team",
		"",
		"  a:",
		"    name: A",
		"# a comment at column 0 inside the section",
		"    # and one indented",
		"",
		"  'b':",
		"    name: B",
		"",
		"# the end",
		"prune: {match: ^x}",
	), "\n", "\r\n"), 2},
	{"anchors in the head", yamlLines(
		"version: 1",
		"defaults: &d {zone: UTC}",
		"x: &s {q_ringtime: 9}",
		"companies:",
		"  a: {name: A, settings: *s}",
		"  b: {name: B, settings: *d}",
	), 2}, // x is an unknown key: the file fails either way, but the cut holds
	{"an anchor in the head, valid", yamlLines(
		"defaults: &d {zone: UTC}",
		"version: 1",
		"companies:",
		"  a: {name: A, settings: *d}",
		"  b:",
		"    name: B",
		"    settings: *d",
	), 2},
	{"anchors among companies", yamlLines(
		"version: 1",
		"companies:",
		"  a: &a {name: A}",
		"  b: *a",
	), 0},
	{"a quoted scalar over a key's place", yamlLines(
		"version: 1",
		"companies:",
		"  a:",
		"    name: A",
		`    description: "one`,
		`  b: two"`,
		"  c: {name: C}",
	), 0},
	{"a single-quoted scalar over a key's place", yamlLines(
		"version: 1",
		"companies:",
		"  a:",
		"    name: A",
		"    description: 'one",
		"  b: two'",
		"  c: {name: C}",
	), 0},
	{"a flow mapping over a key's place", yamlLines(
		"version: 1",
		"companies:",
		"  a: {name: A,",
		"  b: x}",
	), 0},
	{"explicit keys", yamlLines(
		"version: 1",
		"companies:",
		"  ? a",
		"  : {name: A}",
	), 0},
	{"a block scalar", yamlLines(
		"version: 1",
		"companies:",
		"  a:",
		"    name: A",
		"    description: |",
		"      line one",
		"",
		"      line three",
		"  b: {name: B}",
	), 2},
	{"companies twice", yamlLines(
		"version: 1",
		"companies:",
		"  a: {name: A}",
		"companies:",
		"  b: {name: B}",
	), 0},
	{"the last line without a newline", "version: 1\ncompanies:\n  a: {name: A}\n  b: {name: B}", 2},
	{"a tab", "version: 1\ncompanies:\n  a: {name: A}\n\tb: {name: B}\n", 0},
	{"keys less indented later", yamlLines(
		"version: 1",
		"companies:",
		"    a: {name: A}",
		"  b: {name: B}",
	), 0},
	{"a sequence", yamlLines(
		"version: 1",
		"companies:",
		"  - a",
		"  - b",
	), 0},
	{"a tag", yamlLines(
		"version: 1",
		"companies:",
		"  !!str a: {name: A}",
	), 0},
	{"a second document", yamlLines(
		"version: 1",
		"companies:",
		"  a: {name: A}",
		"---",
		"version: 1",
	), 0},
	{"the document's end", yamlLines(
		"version: 1",
		"companies:",
		"  a: {name: A}",
		"...",
	), 1},
	{"flow companies", "version: 1\ncompanies: {a: {name: A}}\n", 0},
	{"companies inside a quoted head", yamlLines(
		`version: "1`,
		"companies:",
		"  a: {name: A}",
		`"`,
	), 0},
}

func TestLoadCutsWhereYAMLAgrees(t *testing.T) {
	for _, tc := range cutCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inventory.Pieces([]byte(tc.src), 1); got != tc.pieces {
				t.Errorf("%d pieces, want %d", got, tc.pieces)
			}
			checkSameInPieces(t, []byte(tc.src))
		})
	}
}

// TestLoadInPiecesLarge loads an inventory of 3,000 companies in pieces of 4 KB: the
// same inventory and diagnostics as the file parsed whole, errors of late pieces at
// their lines, duplicates found across pieces.
func TestLoadInPiecesLarge(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\ndefaults: &d\n  zone: Europe/London\ncompanies:\n")
	line := 5
	var lines []int
	for i := range 3000 {
		ring := 5 + i%26
		if i%1000 == 999 {
			ring = 31
			lines = append(lines, line+3)
		}
		fmt.Fprintf(&b, "  c%04d:\n    name: Company %d\n    settings:\n      q_ringtime: %d\n", i, i, ring)
		line += 4
	}
	b.WriteString("  c0002:\n    name: Again\n") // a duplicate, pieces after its first
	b.WriteString("containers:\n  x: [c0001, c2999]\n")
	data := []byte(b.String())
	if n := inventory.Pieces(data, 4<<10); n < 10 {
		t.Fatalf("%d pieces, want at least 10", n)
	}
	_, _, err := inventory.LoadInPieces("large.yaml", data, inventory.LoadOptions{}, 4<<10)
	want := []string{}
	for _, l := range lines {
		want = append(want, fmt.Sprintf("large.yaml:%d:19: q_ringtime: 31 is out of range; allowed: \"\" or 5 to 30", l))
	}
	want = append(want, fmt.Sprintf("large.yaml:%d:3: duplicated key \"c0002\" (first at line 13)", line))
	if diff := cmp.Diff(strings.Join(want, "\n"), fmt.Sprint(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	checkSameInPieces(t, data)
}

// FuzzLoadInPieces: for any bytes, Load with each company cut into a piece of its
// own reads what the file parsed whole reads, to the last diagnostic.
func FuzzLoadInPieces(f *testing.F) {
	for _, tc := range cutCases {
		f.Add([]byte(tc.src))
	}
	for _, src := range validInventories {
		f.Add([]byte(src))
	}
	for _, tc := range invalidInventories() {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(kitchenSink))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameInPieces(t, data)
	})
}

func checkSameInPieces(t *testing.T, data []byte) {
	t.Helper()
	opts := inventory.LoadOptions{Lookup: fuzzLookup}
	wantInv, wantWarnings, wantErr := inventory.LoadInPieces("f.yaml", data, opts, 0)
	gotInv, gotWarnings, gotErr := inventory.LoadInPieces("f.yaml", data, opts, 1)
	same := []cmp.Option{
		cmp.AllowUnexported(apiclient.Value{}),
		cmp.Comparer(func(a, b *regexp.Regexp) bool {
			return (a == nil) == (b == nil) && (a == nil || a.String() == b.String())
		}),
	}
	if diff := cmp.Diff(wantInv, gotInv, same...); diff != "" {
		t.Errorf("inventory (-whole +pieces):\n%s", diff)
	}
	if diff := cmp.Diff(wantWarnings, gotWarnings); diff != "" {
		t.Errorf("warnings (-whole +pieces):\n%s", diff)
	}
	if diff := cmp.Diff(fmt.Sprint(wantErr), fmt.Sprint(gotErr)); diff != "" {
		t.Errorf("errors (-whole +pieces):\n%s", diff)
	}
}
