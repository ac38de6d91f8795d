package inventory_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan/inventory"
)

// BenchmarkLoadInventory loads an inventory of 50,000 companies.
func BenchmarkLoadInventory(b *testing.B) {
	var data strings.Builder
	data.WriteString("version: 1\ncompanies:\n")
	for i := range 50_000 {
		fmt.Fprintf(&data, "  c%06d:\n    name: Company %d\n    settings:\n      q_ringtime: 15\n      zone: Europe/London\n", i, i)
	}
	raw := []byte(data.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_, _, err := inventory.Load("large.yaml", raw, inventory.LoadOptions{})
		require.NoError(b, err)
	}
}

// BenchmarkLoadFiles loads 50,000 companies split into 500 files in 20 folders, with
// a _defaults.yaml per folder, file defaults and profiles (issue 10: under 1 s).
func BenchmarkLoadFiles(b *testing.B) {
	tree, _ := splitInventory(20, 25, 100)
	var files []inventory.File
	for _, name := range slices.Sorted(maps.Keys(tree)) {
		files = append(files, inventory.File{Name: name, Data: []byte(tree[name])})
	}
	b.ReportAllocs()
	for b.Loop() {
		inv, _, err := inventory.LoadFiles(files, inventory.LoadOptions{})
		require.NoError(b, err)
		require.Len(b, inv.Companies, 50_000)
	}
	b.ReportMetric(float64(len(files)), "files")
}

// BenchmarkLoadMistakenZones loads 20,000 companies that share one mistaken time
// zone: each is an error with the nearest zone suggested.
func BenchmarkLoadMistakenZones(b *testing.B) {
	var data strings.Builder
	data.WriteString("version: 1\ncompanies:\n")
	for i := range 20_000 {
		fmt.Fprintf(&data, "  c%06d: {name: Company %d, settings: {zone: Europe/Londn}}\n", i, i)
	}
	raw := []byte(data.String())
	b.ReportAllocs()
	for b.Loop() {
		_, _, err := inventory.Load("mistaken.yaml", raw, inventory.LoadOptions{})
		var invErr *inventory.InventoryError
		require.ErrorAs(b, err, &invErr)
		require.Len(b, invErr.Diagnostics, 20_000)
		require.Contains(b, invErr.Diagnostics[0].Message, `(did you mean "Europe/London"?)`)
	}
}
