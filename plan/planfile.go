package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// SavedFormatVersion is the version of the saved plan's format.
const SavedFormatVersion = 1

// SavedPlan is what plan --out writes and apply PLANFILE reads: the plan in its JSON
// form, the inventory it came from (by path and hash), and for each company it
// touches a fingerprint of what was read, so that apply can refuse a stale plan.
// It holds no secret value: those are taken again from the inventory and the
// environment when the plan is applied.
type SavedPlan struct {
	FormatVersion int               `json:"format_version"`
	Server        string            `json:"server"`
	Inventory     SavedInventory    `json:"inventory"`
	Options       SavedOptions      `json:"options"`
	Fingerprints  map[string]string `json:"fingerprints"`
	Plan          JSONPlan          `json:"plan"`
}

// SavedInventory names the inventory a plan came from.
type SavedInventory struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// SavedOptions are the options the plan was made with.
type SavedOptions struct {
	Prune     bool `json:"prune"`
	MaxDelete int  `json:"max_delete"`
}

// Save writes the plan for a later apply.
func (p *Plan) Save(w io.Writer, server string, inv *Inventory, opts Options) error {
	sp := SavedPlan{
		FormatVersion: SavedFormatVersion,
		Server:        server,
		Inventory:     SavedInventory{File: inv.File, SHA256: inv.Hash},
		Options:       SavedOptions(opts),
		Fingerprints:  p.Fingerprints,
		Plan:          p.JSON(),
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sp)
}

// ReadSaved reads a saved plan, checking its format version.
func ReadSaved(r io.Reader) (*SavedPlan, error) {
	var sp SavedPlan
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	if sp.FormatVersion != SavedFormatVersion {
		return nil, fmt.Errorf("saved plan format %d: this pbxsync reads format %d", sp.FormatVersion, SavedFormatVersion)
	}
	return &sp, nil
}

// Touched returns the companies a plan's changes name (movers and targets included), sorted.
func (p *Plan) Touched() []string {
	var ids []string
	for _, c := range p.Changes {
		ids = append(ids, c.Company)
		if c.Target != "" {
			ids = append(ids, c.Target)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Absent is the fingerprint of a company the server does not have.
const Absent = "absent"

// Fingerprint sums up what was read of a company: its name, its settings and the
// members of its container. A secret's value is not in it, only whether it equals
// the inventory's, since a hash of a short PIN would give the PIN away.
func Fingerprint(c apiclient.Company, members []string, want Company) string {
	h := sha256.New()
	fmt.Fprintf(h, "name=%q\n", c.Name)
	for _, name := range c.Settings.Names() {
		v := c.Settings[name]
		if secret(name) {
			fmt.Fprintf(h, "%s=secret:%t\n", name, apiclient.Equal(name, v, want.Settings[name]))
			continue
		}
		fmt.Fprintf(h, "%s=%s\n", name, v.JSON())
	}
	fmt.Fprintf(h, "container=%s\n", strings.Join(members, ","))
	return hex.EncodeToString(h.Sum(nil))[:32]
}
