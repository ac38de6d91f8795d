package state

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Side is what one server holds, as a comparison needs it.
type Side struct {
	companies map[string]apiclient.Company
	mates     map[string][]string // by company: the members of its container, sorted, itself included
}

// SideOf is the side a state holds: its companies, and the containers read.
func SideOf(st *State) Side {
	v := Side{companies: st.Companies, mates: map[string][]string{}}
	for _, members := range st.Containers {
		for _, id := range members {
			v.mates[id] = members
		}
	}
	return v
}

// Mates returns the company's container-mates, sorted, itself included.
func (v Side) Mates(id string) []string {
	if members, ok := v.mates[id]; ok {
		return members
	}
	return []string{id}
}

// Difference is how a company differs between the two sides.
type Difference string

// The differences: on one side only, or on both but not the same.
const (
	OnlyFrom Difference = "only_from"
	OnlyTo   Difference = "only_to"
	Differs  Difference = "differs"
)

// FieldDiff is a field's value on each side.
type FieldDiff struct{ From, To apiclient.Value }

// CompanyDiff is how one company differs between the two sides.
type CompanyDiff struct {
	Company string
	Kind    Difference
	Fields  map[string]FieldDiff // "name" and the known settings that differ
	Mates   *[2][]string         // the container-mates on each side, when they differ
}

// What names what differs, for a report that must not hold values: the fields,
// "container", or where the company is missing.
func (d CompanyDiff) What() []string {
	switch d.Kind {
	case OnlyFrom:
		return []string{"missing on the target"}
	case OnlyTo:
		return []string{"missing on the source"}
	}
	out := slices.Sorted(maps.Keys(d.Fields))
	if d.Mates != nil {
		out = append(out, "container")
	}
	return out
}

// Compare compares the companies ids between the two sides: which side holds them,
// the name, every known setting through the field table (apiclient.Equal: "15" is
// 15, null is false), and the set of companies it shares a container with, whatever
// the containers' names or numeric ids: a company that shares one with a company of
// one side only differs too. It returns the differences, sorted by company.
func Compare(from, to Side, ids []string) []CompanyDiff {
	var out []CompanyDiff
	for _, id := range slices.Sorted(slices.Values(ids)) {
		f, inFrom := from.companies[id]
		t, inTo := to.companies[id]
		switch {
		case !inFrom && !inTo:
			continue
		case !inTo:
			out = append(out, CompanyDiff{Company: id, Kind: OnlyFrom})
			continue
		case !inFrom:
			out = append(out, CompanyDiff{Company: id, Kind: OnlyTo})
			continue
		}
		d := CompanyDiff{Company: id, Kind: Differs, Fields: map[string]FieldDiff{}}
		if f.Name != t.Name {
			d.Fields["name"] = FieldDiff{apiclient.String(f.Name), apiclient.String(t.Name)}
		}
		for name := range f.Settings.All() {
			compareField(d.Fields, name, f.Settings, t.Settings)
		}
		for name := range t.Settings.All() {
			compareField(d.Fields, name, f.Settings, t.Settings)
		}
		fm, tm := from.Mates(id), to.Mates(id)
		if !slices.Equal(fm, tm) {
			d.Mates = &[2][]string{fm, tm}
		}
		if len(d.Fields) > 0 || d.Mates != nil {
			out = append(out, d)
		}
	}
	return out
}

// compareField records the field name when it is known and differs; a field one
// side lacks reads as null, as in a plan.
func compareField(into map[string]FieldDiff, name string, from, to apiclient.Settings) {
	if _, known := apiclient.LookupField(name); !known {
		return
	}
	if _, done := into[name]; done {
		return
	}
	if !apiclient.Equal(name, from.Get(name), to.Get(name)) {
		into[name] = FieldDiff{from.Get(name), to.Get(name)}
	}
}

// CompareOptions choose the companies a comparison of two snapshots looks at.
type CompareOptions struct {
	Companies []string       // these companies, on either side, and their container partners
	Match     *regexp.Regexp // companies whose id matches, on either side, and their container partners
}

// Comparison is how two snapshots differ.
type Comparison struct {
	Compared int           // companies compared
	Diffs    []CompanyDiff // sorted by company
}

// Equal reports whether the two sides hold the same.
func (c *Comparison) Equal() bool { return len(c.Diffs) == 0 }

// CompareSnapshots compares two snapshots over the companies opts selects. The
// companies opts.Companies names that neither side holds are returned as missing,
// all of them, and then nothing is compared.
func CompareSnapshots(from, to *State, opts CompareOptions) (c *Comparison, missing []string) {
	fv, tv := SideOf(from), SideOf(to)
	ids, missing := compareSelection(fv, tv, opts.Companies, opts.Match)
	if len(missing) > 0 {
		return nil, missing
	}
	return &Comparison{Compared: len(ids), Diffs: Compare(fv, tv, ids)}, nil
}

// compareSelection returns the companies to compare, sorted: all of both sides when
// neither companies nor match is given; else those named or matched on either side,
// and every company that shares a container with one of them on either side, until
// no more come along. The named companies on neither side are returned as missing.
func compareSelection(from, to Side, companies []string, match *regexp.Regexp) (ids, missing []string) {
	all := map[string]bool{}
	for id := range from.companies {
		all[id] = true
	}
	for id := range to.companies {
		all[id] = true
	}
	if len(companies) == 0 && match == nil {
		return slices.Sorted(maps.Keys(all)), nil
	}
	var queue []string
	for _, id := range companies {
		if !all[id] {
			missing = append(missing, id)
		}
		queue = append(queue, id)
	}
	if len(missing) > 0 {
		return nil, missing
	}
	if match != nil {
		for id := range all {
			if match.MatchString(id) {
				queue = append(queue, id)
			}
		}
	}
	chosen := map[string]bool{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if chosen[id] {
			continue
		}
		chosen[id] = true
		queue = append(queue, from.mates[id]...)
		queue = append(queue, to.mates[id]...)
	}
	return slices.Sorted(maps.Keys(chosen)), nil
}

// Count returns the number of differences of each kind.
func (c *Comparison) Count() map[Difference]int {
	n := map[Difference]int{}
	for _, d := range c.Diffs {
		n[d.Kind]++
	}
	return n
}

// JSONComparison is the document diff --json prints. Companies are sorted by id,
// fields by name (encoding/json sorts map keys); secret values read "(sensitive)".
type JSONComparison struct {
	FormatVersion int                   `json:"format_version"`
	From          string                `json:"from"`
	To            string                `json:"to"`
	Equal         bool                  `json:"equal"`
	Summary       JSONComparisonSummary `json:"summary"`
	Companies     []JSONCompanyDiff     `json:"companies"`
}

// JSONComparisonSummary counts the companies compared and the differences by kind.
type JSONComparisonSummary struct {
	Compared  int `json:"compared"`
	OnlyFrom  int `json:"only_from"`
	OnlyTo    int `json:"only_to"`
	Different int `json:"different"`
}

// JSONCompanyDiff is how one company differs.
type JSONCompanyDiff struct {
	Company    string                   `json:"company"`
	Difference string                   `json:"difference"` // only_from, only_to or differs
	Fields     map[string]JSONFieldDiff `json:"fields,omitempty"`
	Container  *JSONMatesDiff           `json:"container,omitempty"`
}

// JSONFieldDiff is a field's value on each side; a secret's reads "(sensitive)".
type JSONFieldDiff struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// JSONMatesDiff is the companies that share the company's container on each side,
// itself included.
type JSONMatesDiff struct {
	From []string `json:"from"`
	To   []string `json:"to"`
}

// JSON returns the comparison as its JSON document, from and to naming the sides.
func (c *Comparison) JSON(from, to string) JSONComparison {
	n := c.Count()
	doc := JSONComparison{
		FormatVersion: 1, From: from, To: to, Equal: c.Equal(),
		Summary:   JSONComparisonSummary{Compared: c.Compared, OnlyFrom: n[OnlyFrom], OnlyTo: n[OnlyTo], Different: n[Differs]},
		Companies: make([]JSONCompanyDiff, 0, len(c.Diffs)),
	}
	for _, d := range c.Diffs {
		jd := JSONCompanyDiff{Company: d.Company, Difference: string(d.Kind)}
		if len(d.Fields) > 0 {
			jd.Fields = map[string]JSONFieldDiff{}
			for name, f := range d.Fields {
				jd.Fields[name] = JSONFieldDiff{From: json.RawMessage(f.From.JSON()), To: json.RawMessage(f.To.JSON())}
			}
		}
		if d.Mates != nil {
			jd.Container = &JSONMatesDiff{From: d.Mates[0], To: d.Mates[1]}
		}
		doc.Companies = append(doc.Companies, jd)
	}
	return doc
}
