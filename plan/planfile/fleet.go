package planfile

import (
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

// SavedFleetPlan is what plan --fleet --out writes and apply PLANFILE reads: the
// fleet plan in its JSON form, the fleet file it came from (by path and a hash that
// covers every PBX's inventory), the PBXs of the run, and fingerprints of what was
// read of every company a PBX's plan touches and of every moved company on its old
// PBX. It is checked as a single saved plan is (SavedPlan.Check): a hand edit can
// only make it refuse. It holds no secret value.
type SavedFleetPlan struct {
	FormatVersion int    `json:"format_version"`
	Kind          string `json:"kind"` // "fleet"
	Fleet         struct {
		File   string `json:"file"` // relative to the plan file's folder
		SHA256 string `json:"sha256"`
	} `json:"fleet"`
	PBXs    []string          `json:"pbxs"` // --pbx; empty for every PBX
	Options SavedFleetOptions `json:"options"`
	// Fingerprints holds, by PBX, the fingerprints of the companies its plan
	// touches, and of the companies moved away from it.
	Fingerprints map[string]map[string]string `json:"fingerprints"`
	Plan         plan.JSONFleetPlan           `json:"plan"`
}

// SavedFleetOptions are the options the fleet plan was made with.
type SavedFleetOptions struct {
	Prune     bool `json:"prune"`
	MaxDelete int  `json:"max_delete"`
	MaxMove   int  `json:"max_move"`
}

// SaveFleet writes fp for a later apply: file is the fleet file as apply is to read
// it again, hash the fleet's (inventory.Fleet.Hash), pbxs the run's --pbx.
func SaveFleet(w io.Writer, fp *plan.FleetPlan, file, hash string, pbxs []string, opts plan.FleetOptions) error {
	sp := SavedFleetPlan{FormatVersion: SavedFormatVersion, Kind: "fleet", PBXs: pbxs,
		Options:      SavedFleetOptions{Prune: opts.Prune, MaxDelete: opts.MaxDelete, MaxMove: opts.MaxMove},
		Fingerprints: fleetFingerprints(fp), Plan: fp.JSON()}
	sp.Fleet.File, sp.Fleet.SHA256 = file, hash
	return apiclient.WriteJSON(w, sp)
}

// fleetFingerprints are fp's fingerprints by PBX, the moved companies' on their old
// PBX included.
func fleetFingerprints(fp *plan.FleetPlan) map[string]map[string]string {
	out := map[string]map[string]string{}
	for name, p := range fp.PBXs {
		out[name] = maps.Clone(p.Fingerprints)
		if out[name] == nil {
			out[name] = map[string]string{}
		}
	}
	for _, mv := range fp.Moves {
		if out[mv.From] == nil {
			out[mv.From] = map[string]string{}
		}
		out[mv.From][mv.Company] = mv.Fingerprint
	}
	return out
}

// IsSavedFleet reports whether a saved plan's bytes are a fleet's.
func IsSavedFleet(data []byte) bool {
	var head struct {
		Kind string `json:"kind"`
	}
	return json.Unmarshal(data, &head) == nil && head.Kind == "fleet"
}

// ReadSavedFleet reads a saved fleet plan, checking its format version.
func ReadSavedFleet(r io.Reader) (*SavedFleetPlan, error) {
	var sp SavedFleetPlan
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("not a saved fleet plan: %w", err)
	}
	if sp.FormatVersion != SavedFormatVersion || sp.Kind != "fleet" {
		return nil, fmt.Errorf("saved plan format %d (%q): this pbxsync reads format %d", sp.FormatVersion, sp.Kind, SavedFormatVersion)
	}
	return &sp, nil
}

// Check compares the saved fleet plan with a fresh one, made from the same fleet
// (hash) with the saved options from states, what was read of each PBX: every PBX's
// changes and fingerprints as SavedPlan.Check does, and the moves, each with its
// fingerprint on its old PBX. It returns a *StalePlanError naming the companies (as
// PBX:COMPANY) when they differ.
func (sp *SavedFleetPlan) Check(hash string, fresh *plan.FleetPlan, states map[string]*state.State) error {
	if err := sp.CheckFleet(hash); err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(sp.Plan.PBXs))
	if !slices.Equal(names, slices.Sorted(maps.Keys(fresh.PBXs))) {
		return &StalePlanError{Reason: "the PBXs read are not those of the plan (one could not be read?)"}
	}
	var s staleness
	for _, name := range sortedSet(slices.Concat(names, slices.Collect(maps.Keys(sp.Fingerprints)))) {
		p, st := fresh.PBXs[name], states[name]
		if st == nil { // not read: not one of this run's PBXs
			s.edited = append(s.edited, name+":")
			continue
		}
		inv := fresh.Inventories[name]
		if inv == nil {
			inv = &inventory.Inventory{}
		}
		if p == nil {
			p = &plan.Plan{}
		}
		now := plan.Fingerprints(inv, st, slices.Collect(maps.Keys(sp.Fingerprints[name])))
		maps.Copy(now, p.Fingerprints)
		s.add(name+":", compare(sp.Plan.PBXs[name].Changes, sp.Fingerprints[name], p, now, possible(inv, sp.Options.Prune)))
	}
	savedMoves := map[string]string{}
	for _, mv := range sp.Plan.Moves {
		savedMoves[mv.Company] = canonicalMove(mv)
	}
	for _, mv := range fresh.JSON().Moves {
		if savedMoves[mv.Company] != canonicalMove(mv) {
			s.differ = append(s.differ, mv.From+":"+mv.Company)
		}
		delete(savedMoves, mv.Company)
		if _, saved := sp.Fingerprints[mv.From][mv.Company]; !saved { // a move the saved plan lacks: its company came or went meanwhile
			s.add(mv.From+":", staleness{changed: map[string][]string{mv.Company: {"to move"}}})
		}
	}
	for id := range savedMoves {
		s.differ = append(s.differ, "move:"+id)
	}
	if err := s.err("their PBX"); err != nil {
		return err
	}
	return nil
}

// CheckFleet returns a *StalePlanError when the fleet, its hash, is not what the plan
// was made from: the fleet file or an inventory it names changed.
func (sp *SavedFleetPlan) CheckFleet(hash string) error {
	if hash != sp.Fleet.SHA256 {
		return &StalePlanError{Reason: "the fleet file, or an inventory it names, is not the one the plan was made from (it changed since, or is another)"}
	}
	return nil
}

// canonicalMove is a move's JSON, compact, for comparing a saved move with a fresh one.
func canonicalMove(mv plan.JSONMove) string {
	b, err := json.Marshal(mv)
	if err != nil {
		return "invalid: " + err.Error()
	}
	return string(b)
}
