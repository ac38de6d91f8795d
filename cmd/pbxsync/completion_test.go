package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The shell completes --pbx with the PBXs of the fleet file on the line, --company with
// the companies of the inventory that -f names, and help with the help topics; each
// from files only, never from a server or standard input.
func TestCompletionOfNames(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", "version: 1\ncompanies:\n  acme_hq: {name: Acme}\n  acme_east: {name: Acme East}\n  globex: {name: Globex}\n")
	more := writeFile(t, dir, "more.yaml", "version: 1\ncompanies:\n  initech: {name: Initech, settings: {nm_password: \"${INITECH_PIN}\"}}\n")
	bad := writeFile(t, dir, "bad.yaml", "version: 1\ncompanies:\n  acme_hq: {name: Acme, settings: {q_ringtme: 5}}\n")
	fleet := writeFile(t, dir, "fleet.yaml", "version: 1\npbxs:\n  london: {url: sim:london.yaml, inventory: inventory.yaml}\n"+
		"  paris: {url: sim:paris.yaml, inventory: more.yaml}\n  lisbon: {url: sim:lisbon.yaml, inventory: more.yaml}\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"pbx", []string{"apply", "--fleet", fleet, "--pbx", ""}, "lisbon\nlondon\nparis\n:4\n"},
		{"pbx by prefix", []string{"plan", "--fleet", fleet, "--pbx", "l"}, "lisbon\nlondon\n:4\n"},
		{"pbx not twice", []string{"plan", "--fleet", fleet, "--pbx", "london", "--pbx", "l"}, "lisbon\n:4\n"},
		{"pbx of validate", []string{"validate", "--fleet", fleet, "--pbx", "p"}, "paris\n:4\n"},
		{"pbx without a fleet", []string{"plan", "--pbx", ""}, ":4\n"},
		{"pbx of a missing fleet", []string{"plan", "--fleet", dir + "/none.yaml", "--pbx", ""}, ":4\n"},
		{"pbx of an inventory", []string{"plan", "--fleet", inv, "--pbx", ""}, ":4\n"},
		{"company", []string{"plan", "-f", inv, "--company", ""}, "acme_east\nacme_hq\nglobex\n:4\n"},
		{"company by prefix", []string{"apply", "-f", inv, "--company", "acme"}, "acme_east\nacme_hq\n:4\n"},
		{"company of two files, no secret set", []string{"plan", "-f", inv, "-f", more, "--company", "i"}, "initech\n:4\n"},
		{"company in a list", []string{"plan", "-f", inv, "--company", "acme_hq,a"}, "acme_hq,acme_east\n:4\n"},
		{"company without -f", []string{"plan", "--company", ""}, ":4\n"},
		{"company of an invalid inventory", []string{"plan", "-f", bad, "--company", ""}, ":4\n"},
		{"company of standard input", []string{"plan", "-f", "-", "--company", ""}, ":4\n"},
		{"help topics and commands", []string{"help", "e"}, "exit-codes\tWhat each exit code of pbxsync means\n" +
			"explain\tDescribe the settings fields: type, allowed values, secret, feature switch, version\n" +
			"export\tWrite the server's companies and containers as an inventory\n:4\n"},
		{"help topic", []string{"help", "fl"}, "fleet\tMany PBXs from one repository: the fleet file, --pbx, moving companies between PBXs\n:4\n"},
		{"help of a topic", []string{"help", "fleet", ""}, ":4\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := invoke(t, "acme_from_stdin: {name: X}\n", nil, append([]string{"__complete"}, tc.args...)...)
			require.Equal(t, 0, got.code, got.stderr)
			require.Equal(t, tc.want, got.stdout)
		})
	}
}
