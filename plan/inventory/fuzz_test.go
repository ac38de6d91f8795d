package inventory_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// validInventories are seeds that load.
var validInventories = []string{
	yamlLines(
		"version: 1",
		"defaults:",
		"  zone: Europe/London",
		"  vm_maxmsgs: 100",
		"companies:",
		"  acme_hq:",
		"    name: Acme HQ",
		"    description: Head office",
		"    settings:",
		"      zone: US/Pacific",
		"      q_ringtime: 15",
		"      nm_password: ${ACME_NM_PIN}",
		"      nocallrec: true",
		"      noext: qh",
		"      crm_url: https://crm.example",
		"  acme_west:",
		"    name: Acme West",
		"  solo_ltd:",
		"    name: Solo Ltd",
		"containers:",
		"  acme: [acme_hq, acme_west]",
		"prune:",
		`  match: "^cust_"`,
	),
	yamlLines(
		"version: 1",
		"companies:",
		"  a: &a {name: A, settings: &s {record: 3, vm_callback: -1, hs_webrtc: disable}}",
		"  b: *a",
		"  c: {name: C, settings: *s}",
		"containers: {ab: [a, b]}",
	),
	"version: 1\n",
	"{version: 1, companies: {x: {name: X, settings: {barge_pin: '0000', zone: ''}}}}",
}

// FuzzLoadInventory feeds arbitrary bytes to Load: never a panic; a refusal is an
// *InventoryError whose every diagnostic has a place in the file; what loads has
// only company-ids the API accepts.
func FuzzLoadInventory(f *testing.F) {
	for _, src := range validInventories {
		f.Add([]byte(src))
	}
	for _, tc := range invalidInventories() {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(kitchenSink))

	f.Fuzz(func(t *testing.T, data []byte) {
		inv, warnings, err := inventory.Load("fuzz.yaml", data, inventory.LoadOptions{Lookup: fuzzLookup})
		for _, w := range warnings {
			checkDiagnostic(t, w, true)
		}
		if err != nil {
			if inv != nil {
				t.Fatalf("an inventory with errors: %v", err)
			}
			var ie *inventory.InventoryError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T, want *inventory.InventoryError: %v", err, err)
			}
			if len(ie.Diagnostics) == 0 {
				t.Fatalf("an InventoryError without diagnostics")
			}
			for _, d := range ie.Diagnostics {
				checkDiagnostic(t, d, false)
			}
			return
		}
		if inv == nil {
			t.Fatal("no error and no inventory")
		}
		if len(inv.Hash) != 64 {
			t.Fatalf("hash %q", inv.Hash)
		}
		ids := make([]string, len(inv.Companies))
		for i, c := range inv.Companies {
			if !apiclient.ValidCompanyID(c.ID) {
				t.Fatalf("company-id %q loaded", c.ID)
			}
			ids[i] = c.ID
		}
		if !slices.IsSorted(ids) {
			t.Fatalf("companies not sorted: %q", ids)
		}
		for _, ct := range inv.Containers {
			if len(ct.Members) < 2 {
				t.Fatalf("container %s: %q", ct.Label, ct.Members)
			}
			for _, m := range ct.Members {
				if _, ok := inv.Company(m); !ok {
					t.Fatalf("container %s: %s is not a company", ct.Label, m)
				}
			}
		}
	})
}

// fuzzLookup sets every variable whose name starts with SET.
func fuzzLookup(name string) (string, bool) {
	if strings.HasPrefix(name, "SET") {
		return "1234", true
	}
	return "", false
}

func checkDiagnostic(t *testing.T, d inventory.Diagnostic, warning bool) {
	t.Helper()
	if d.File != "fuzz.yaml" || d.Line < 1 || d.Column < 1 || d.Message == "" || d.Warning != warning {
		t.Fatalf("diagnostic %#v", d)
	}
}
