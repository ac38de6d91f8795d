package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// Absent is the fingerprint of a company the server does not have.
const Absent = "absent"

// Fingerprint sums up what was read of a company: its name, its settings and the
// members of its container. A secret's value is not in it, only whether it equals
// the inventory's, since a hash of a short PIN would give the PIN away.
func Fingerprint(c apiclient.Company, members []string, want inventory.Company) string {
	h := sha256.New()
	fmt.Fprintf(h, "name=%q\n", c.Name)
	for _, name := range c.Settings.Names() {
		v := c.Settings.Get(name)
		if v.IsSensitive() {
			fmt.Fprintf(h, "%s=secret:%t\n", name, apiclient.Equal(name, v, want.Settings.Get(name)))
			continue
		}
		fmt.Fprintf(h, "%s=%s\n", name, v.JSON())
	}
	fmt.Fprintf(h, "container=%s\n", strings.Join(members, ","))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Fingerprints returns the fingerprint of each company of ids as st holds it, or
// Absent; a secret compared with what inv asks of it.
func Fingerprints(inv *inventory.Inventory, st *state.State, ids []string) map[string]string {
	containerOf := containersByCompany(st.Containers)
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		have, exists := st.Companies[id]
		if !exists {
			out[id] = Absent
			continue
		}
		want, _ := inv.Company(id)
		out[id] = Fingerprint(have, containerOf[id], want)
	}
	return out
}
