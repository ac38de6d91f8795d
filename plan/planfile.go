package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

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
	FormatVersion int            `json:"format_version"`
	Server        string         `json:"server"`
	Inventory     SavedInventory `json:"inventory"`
	Options       SavedOptions   `json:"options"`
	// ContainersRead is false when the credentials could not read containers (a
	// company administrator's): the fingerprints then leave containers out.
	ContainersRead bool              `json:"containers_read"`
	Fingerprints   map[string]string `json:"fingerprints"`
	Plan           JSONPlan          `json:"plan"`
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
		FormatVersion:  SavedFormatVersion,
		Server:         server,
		Inventory:      SavedInventory{File: inv.File, SHA256: inv.Hash},
		Options:        SavedOptions(opts),
		ContainersRead: p.ContainerOf != nil,
		Fingerprints:   p.Fingerprints,
		Plan:           p.JSON(),
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
		if apiclient.IsSecret(name) {
			fmt.Fprintf(h, "%s=secret:%t\n", name, apiclient.Equal(name, v, want.Settings[name]))
			continue
		}
		fmt.Fprintf(h, "%s=%s\n", name, v.JSON())
	}
	fmt.Fprintf(h, "container=%s\n", strings.Join(members, ","))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Check re-reads the companies a saved plan touches and compares them with the
// fingerprints taken when it was made. It returns the companies that changed since
// (the plan is stale when there is any) and the plan to apply, rebuilt with the
// values of inv, which must be the inventory the plan was made from (same hash).
func (sp *SavedPlan) Check(ctx context.Context, r Reader, inv *Inventory, parallelism int) ([]string, *Plan, error) {
	if inv.Hash != sp.Inventory.SHA256 {
		return nil, nil, fmt.Errorf("the inventory %s changed since the plan was made", sp.Inventory.File)
	}
	var mu sync.Mutex
	var stale []string
	containerOf := map[string][]string{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallelism, 1))
	for _, id := range slices.Sorted(maps.Keys(sp.Fingerprints)) {
		g.Go(func() error {
			want, _ := inv.Company(id)
			got := Absent
			var members []string
			if sp.ContainersRead {
				box, err := r.ReadContainer(ctx, id)
				switch {
				case err == nil:
					members = box.MemberIDs()
					for _, m := range box.Members {
						if m.ID == id {
							got = Fingerprint(m, members, want)
						}
					}
				case !apiclient.IsRefused(err):
					return fmt.Errorf("read back %q: %w", id, err)
				}
			} else {
				co, err := r.Read(ctx, id)
				switch {
				case err == nil:
					got = Fingerprint(co, nil, want)
				case !apiclient.IsRefused(err):
					return fmt.Errorf("read back %q: %w", id, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if members != nil {
				containerOf[id] = members
			}
			if got != sp.Fingerprints[id] {
				stale = append(stale, id)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	slices.Sort(stale)

	p := &Plan{Unmanaged: sp.Plan.Unmanaged, Warnings: sp.Plan.Warnings, Fingerprints: sp.Fingerprints}
	if sp.ContainersRead {
		p.ContainerOf = containerOf
	}
	for _, jc := range sp.Plan.Changes {
		c := Change{Action: jc.Action, Company: jc.Company, Name: jc.Name, Target: jc.Target}
		want, _ := inv.Company(jc.Company)
		names := slices.Collect(maps.Keys(jc.Fields))
		if jc.Action == Create {
			names = slices.Collect(maps.Keys(jc.Settings))
		}
		if len(names) > 0 {
			c.Fields = map[string]FieldChange{}
		}
		for _, name := range names {
			after := want.Settings[name]
			if name == "name" {
				after = apiclient.String(want.Name)
			}
			var before apiclient.Value
			if f, ok := jc.Fields[name]; ok && !apiclient.IsSecret(name) {
				_ = before.UnmarshalJSON(f.Before)
			}
			c.Fields[name] = FieldChange{Before: before, After: after}
		}
		p.Changes = append(p.Changes, c)
	}
	return stale, p, nil
}
