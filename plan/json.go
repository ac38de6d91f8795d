package plan

import (
	"encoding/json"
	"slices"

	"github.com/pbxsync/pbxsync/apiclient"
)

// FormatVersion is the version of the JSON plan's format (spec/cli.md).
const FormatVersion = 1

// JSONPlan is the JSON form of a plan, the contract scripts rely on.
type JSONPlan struct {
	FormatVersion int          `json:"format_version"`
	Changes       []JSONChange `json:"changes"`
	Summary       JSONSummary  `json:"summary"`
	Unmanaged     int          `json:"unmanaged"`
	// Partial is true for a plan of chosen companies (--company, --match).
	Partial bool `json:"partial,omitempty"`
	// UnmanagedCompanies are the companies counted in Unmanaged, sorted.
	UnmanagedCompanies []string `json:"unmanaged_companies"`
	Warnings           []string `json:"warnings"`
	// NotPlanned are the companies whose changes are not planned, since the server
	// could not be read for them; the plan is incomplete when there is any.
	NotPlanned []JSONNotPlanned `json:"not_planned,omitempty"`
}

// JSONNotPlanned is a company left out of a plan, and why.
type JSONNotPlanned struct {
	Company string `json:"company"`
	Reason  string `json:"reason"`
}

// JSONChange is one change in a JSON plan. Secret values read "(sensitive)", empty
// ones as they are (Shown).
type JSONChange struct {
	Action  Action `json:"action"`
	Company string `json:"company"`
	Name    string `json:"name,omitempty"`
	// Description is a create's description, sent with it; never read back.
	Description string                     `json:"description,omitempty"`
	Target      string                     `json:"target,omitempty"`
	Settings    map[string]json.RawMessage `json:"settings,omitempty"`
	Fields      map[string]JSONField       `json:"fields,omitempty"`
	// PartnerOf is Change.PartnerOf: in a partial plan, the chosen companies that
	// brought in a container partner.
	PartnerOf []string `json:"partner_of,omitempty"`
}

// JSONField is a field's value before and after an update.
type JSONField struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// JSONSummary counts the changes by action.
type JSONSummary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Ungroup int `json:"ungroup"`
	Group   int `json:"group"`
	Delete  int `json:"delete"`
}

// JSON returns the plan's JSON form.
func (p *Plan) JSON() JSONPlan {
	n := p.Count()
	out := JSONPlan{
		FormatVersion:      FormatVersion,
		Changes:            make([]JSONChange, 0, len(p.Changes)),
		Summary:            JSONSummary{Create: n[Create], Update: n[Update], Ungroup: n[Ungroup], Group: n[Group], Delete: n[Delete]},
		Partial:            p.Partial,
		Unmanaged:          len(p.Unmanaged),
		UnmanagedCompanies: append([]string{}, p.Unmanaged...),
		Warnings:           append([]string{}, p.Warnings...),
	}
	for _, id := range p.NotPlannedIDs() {
		out.NotPlanned = append(out.NotPlanned, JSONNotPlanned{Company: id, Reason: p.NotPlanned[id]})
	}
	for _, c := range p.Changes {
		jc := JSONChange{Action: c.Action, Company: c.Company, Name: c.Name, Description: c.Description, Target: c.Target, PartnerOf: slices.Clone(c.PartnerOf)}
		switch c.Action {
		case Create:
			jc.Settings = make(map[string]json.RawMessage, len(c.Fields))
			for _, f := range c.SortedFields() {
				jc.Settings[f.Name] = jsonValue(f.After)
			}
		case Update:
			jc.Fields = make(map[string]JSONField, len(c.Fields))
			for _, f := range c.SortedFields() {
				jc.Fields[f.Name] = JSONField{Before: jsonValue(f.Before), After: jsonValue(f.After)}
			}
		}
		out.Changes = append(out.Changes, jc)
	}
	return out
}

// jsonValue is a value in a JSON document: a marked one as "(sensitive)".
func jsonValue(v apiclient.Value) json.RawMessage { return json.RawMessage(v.JSON()) }
