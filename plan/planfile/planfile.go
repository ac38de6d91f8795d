package planfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
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
	Plan           plan.JSONPlan     `json:"plan"`
}

// SavedInventory names the inventory a plan came from: the files and directories -f
// named (relative to the plan file's folder, or absolute in older plans), read again
// by apply, and the hash of what they held (inventory.HashFiles). Plans of one file
// saved before directories existed name it in File.
type SavedInventory struct {
	File   string   `json:"file,omitempty"`
	Files  []string `json:"files,omitempty"`
	SHA256 string   `json:"sha256"`
}

// Paths returns what -f named when the plan was made.
func (si SavedInventory) Paths() []string {
	if len(si.Files) == 0 && si.File != "" {
		return []string{si.File}
	}
	return si.Files
}

// SavedOptions are the options the plan was made with.
type SavedOptions struct {
	Prune     bool     `json:"prune"`
	MaxDelete int      `json:"max_delete"`
	Companies []string `json:"companies,omitempty"` // a partial plan's --company
	Match     string   `json:"match,omitempty"`     // and --match
}

// Save writes p for a later apply; sources are the inventory's files and
// directories as apply is to read them again.
func Save(w io.Writer, p *plan.Plan, server string, inv *inventory.Inventory, sources []string, opts plan.Options) error {
	sp := SavedPlan{
		FormatVersion:  SavedFormatVersion,
		Server:         server,
		Inventory:      SavedInventory{Files: sources, SHA256: inv.Hash},
		Options:        SavedOptions(opts),
		ContainersRead: p.ContainerOf != nil,
		Fingerprints:   p.Fingerprints,
		Plan:           p.JSON(),
	}
	return apiclient.WriteJSON(w, sp)
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

// The refusals of this package, which the command line maps to exit 3.
var (
	_ plan.Refusal = (*StalePlanError)(nil)
	_ plan.Refusal = (*OtherServerError)(nil)
)

func (sp *SavedPlan) inventoryChanged() *StalePlanError {
	return &StalePlanError{Reason: "the inventory is not the one the plan was made from (it changed since, or is another)"}
}

// Check plans again from inv and the server, with the saved options, and returns the
// fresh plan when it is the saved one: every saved change is in it unchanged, it has
// no change the saved plan lacks, and every company either touches reads as it did
// (plan.Fingerprint). Else it returns a *StalePlanError and nothing may be written,
// which says whether the server changed (the companies that read otherwise now, and
// what differs in their changes) or the file was edited (a change no plan of inv
// makes, or changes that differ while every company reads as it did). A saved plan
// is thus safe to carry through CI artifacts: a hand edit can only make it refuse. The plan returned holds the inventory's values, secrets included, which
// the saved plan never holds.
//
// maxDelete is the operator's --max-delete: the delete budget is the smaller of it
// and the saved one, so that a plan file never brings deletes the operator did not
// budget for at apply time (a budget exceeded is plan.Diff's refusal, exit 3).
func (sp *SavedPlan) Check(ctx context.Context, r state.Reader, inv *inventory.Inventory, parallelism, maxDelete int) (*plan.Plan, error) {
	if inv.Hash != sp.Inventory.SHA256 {
		return nil, sp.inventoryChanged()
	}
	st, err := state.Read(ctx, r, inv, parallelism)
	if err != nil {
		return nil, err
	}
	opts := plan.Options(sp.Options)
	opts.MaxDelete = min(opts.MaxDelete, maxDelete)
	fresh, err := plan.Diff(inv, st, opts)
	if err != nil {
		return nil, err
	}
	if sp.ContainersRead != st.Grouping {
		return nil, &StalePlanError{Reason: "the credentials read containers differently than when the plan was made"}
	}
	now := plan.Fingerprints(inv, st, slices.Collect(maps.Keys(sp.Fingerprints)))
	maps.Copy(now, fresh.Fingerprints)
	if err := compare(sp.Plan.Changes, sp.Fingerprints, fresh, now, possible(inv, sp.Options.Prune)).err("the server"); err != nil {
		return nil, err
	}
	return fresh, nil
}

// Read reads the plan file at path once, and returns the saved plan it holds: one
// PBX's (single) or a fleet's.
func Read(path string) (single *SavedPlan, fleet *SavedFleetPlan, err error) {
	data, err := apiclient.ReadFile(path, apiclient.MaxPlanFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read the plan: %w", err)
	}
	if IsSavedFleet(data) {
		fleet, err = ReadSavedFleet(bytes.NewReader(data))
	} else {
		single, err = ReadSaved(bytes.NewReader(data))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return single, fleet, nil
}
