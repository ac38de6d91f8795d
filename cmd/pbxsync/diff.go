package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
)

// sideView is what one server holds, as a comparison needs it.
type sideView struct {
	companies map[string]apiclient.Company
	mates     map[string][]string // by company: the members of its container, sorted, itself included
}

func snapshotView(s *plan.Snapshot) sideView {
	v := sideView{companies: make(map[string]apiclient.Company, len(s.Companies)), mates: map[string][]string{}}
	for _, c := range s.Companies {
		v.companies[c.ID] = c
	}
	for _, members := range s.Containers {
		for _, id := range members {
			v.mates[id] = members
		}
	}
	return v
}

// stateView is the view of a state read for an inventory: the containers of the
// inventory's companies only.
func stateView(st *plan.State) sideView {
	v := sideView{companies: st.Companies, mates: map[string][]string{}}
	for _, members := range st.Containers {
		for _, id := range members {
			v.mates[id] = members
		}
	}
	return v
}

// matesOf returns the company's container-mates, itself included.
func (v sideView) matesOf(id string) []string {
	if members, ok := v.mates[id]; ok {
		return members
	}
	return []string{id}
}

// Which side a company is on, when only on one.
const (
	onlyFrom = "only_from"
	onlyTo   = "only_to"
	differs  = "differs"
)

// fieldDiff is a field's value on each side.
type fieldDiff struct{ from, to apiclient.Value }

// companyDiff is how one company differs between the two sides.
type companyDiff struct {
	company string
	kind    string               // onlyFrom, onlyTo or differs
	fields  map[string]fieldDiff // "name" and the known settings that differ
	mates   *[2][]string         // the container-mates on each side, when they differ
}

// what names what differs, for a report that must not hold values: the fields,
// "container", or where the company is missing.
func (d companyDiff) what() []string {
	switch d.kind {
	case onlyFrom:
		return []string{"missing on the target"}
	case onlyTo:
		return []string{"missing on the source"}
	}
	out := slices.Sorted(maps.Keys(d.fields))
	if d.mates != nil {
		out = append(out, "container")
	}
	return out
}

// compare compares the companies ids between the two sides: which side holds them,
// the name, every known setting through the field table (apiclient.Equal: "15" is
// 15, null is false), and the set of companies it shares a container with, whatever
// the containers' names or numeric ids: a company that shares one with a company of
// one side only differs too. It returns the differences, sorted by company.
func compare(from, to sideView, ids []string) []companyDiff {
	var out []companyDiff
	for _, id := range slices.Sorted(slices.Values(ids)) {
		f, inFrom := from.companies[id]
		t, inTo := to.companies[id]
		switch {
		case !inFrom && !inTo:
			continue
		case !inTo:
			out = append(out, companyDiff{company: id, kind: onlyFrom})
			continue
		case !inFrom:
			out = append(out, companyDiff{company: id, kind: onlyTo})
			continue
		}
		d := companyDiff{company: id, kind: differs, fields: map[string]fieldDiff{}}
		if f.Name != t.Name {
			d.fields["name"] = fieldDiff{apiclient.String(f.Name), apiclient.String(t.Name)}
		}
		for name := range f.Settings {
			compareField(d.fields, name, f.Settings, t.Settings)
		}
		for name := range t.Settings {
			compareField(d.fields, name, f.Settings, t.Settings)
		}
		fm, tm := from.matesOf(id), to.matesOf(id)
		if !slices.Equal(fm, tm) {
			d.mates = &[2][]string{fm, tm}
		}
		if len(d.fields) > 0 || d.mates != nil {
			out = append(out, d)
		}
	}
	return out
}

// compareField records the field name when it is known and differs; a field one
// side lacks reads as null, as in a plan.
func compareField(into map[string]fieldDiff, name string, from, to apiclient.Settings) {
	if _, known := apiclient.LookupField(name); !known {
		return
	}
	if _, done := into[name]; done {
		return
	}
	if !apiclient.Equal(name, from[name], to[name]) {
		into[name] = fieldDiff{from[name], to[name]}
	}
}

type diffOptions struct {
	from, to    string
	companies   []string
	match       string
	json        bool
	parallelism int
}

func (a *app) newDiffCmd() *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff --from URL --to URL",
		Short: "Compare the companies of two servers; change nothing",
		Long: `Compare two servers (or a server and a sim:FILE snapshot) company by company:
companies on one side only, names, every known setting (secrets are compared, and
shown only as (sensitive)), and grouping: which companies share a container, whatever
the containers are called. Fields this pbxsync does not know, descriptions (which the
API cannot read) and numeric ids are not compared.

--company and --match choose companies on either side; the companies that share a
container with them, on either side, come along. Nothing is written to either server.

Credentials come from the environment, one set per side: PBX_FROM_API_KEY (or
PBX_FROM_USERNAME and PBX_FROM_PASSWORD) for --from, PBX_TO_API_KEY (or PBX_TO_USERNAME
and PBX_TO_PASSWORD) for --to. A sim:FILE side needs none.

Exit codes: 0 when the two sides hold the same, 2 when they differ, 1 on an error.`,
		Example: `  # Did the migration carry everything over?
  pbxsync diff --from https://old-pbx.example.com --to https://new-pbx.example.com --match '^acme_'

  # What changed on the server since this export?
  pbxsync export -o snap.yaml --include-secrets
  pbxsync diff --from sim:snap.yaml --to https://pbx.example.com

  # For a script: one JSON document; exit 2 when they differ.
  pbxsync diff --from sim:snap.yaml --to https://pbx.example.com --json > diff.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.diff(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "one server's `URL`, or sim:FILE")
	f.StringVar(&o.to, "to", "", "the other server's `URL`, or sim:FILE")
	f.StringSliceVar(&o.companies, "company", nil, "only this company `ID` and its container partners (repeatable)")
	f.StringVar(&o.match, "match", "", "only companies whose id matches `REGEX`, and their container partners")
	f.BoolVar(&o.json, "json", false, "print the differences as one JSON document")
	f.IntVar(&o.parallelism, "parallelism", 8, "at most `N` requests in flight on each server")
	return cmd
}

// checkSides rejects what cannot work before anything is read: a side missing,
// --url (which names one server), the same server twice.
func (a *app) checkSides(from, to string) error {
	switch {
	case a.opts.url != "":
		return errors.New("--url names one server: name the two with --from and --to")
	case from == "":
		return errors.New("no source: pass --from URL (or sim:FILE)")
	case to == "":
		return errors.New("no target: pass --to URL (or sim:FILE)")
	case strings.TrimRight(from, "/") == strings.TrimRight(to, "/"):
		return fmt.Errorf("--from and --to name the same server, %s", from)
	}
	return nil
}

// compileMatch compiles --match; "" is no filter.
func compileMatch(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid --match: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

func (a *app) diff(cmd *cobra.Command, o diffOptions) (err error) {
	if err := a.checkSides(o.from, o.to); err != nil {
		return err
	}
	if o.parallelism < 1 {
		return fmt.Errorf("invalid --parallelism %d: at least 1", o.parallelism)
	}
	re, err := compileMatch(o.match)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	from, err := connectSide(ctx, o.from, "--from", "PBX_FROM", a.opts, a.lookupEnv, a.logger)
	if err != nil {
		return err
	}
	defer func() { err = closeServer(from, err) }()
	to, err := connectSide(ctx, o.to, "--to", "PBX_TO", a.opts, a.lookupEnv, a.logger)
	if err != nil {
		return err
	}
	defer func() { err = closeServer(to, err) }()

	var fromSnap, toSnap *plan.Snapshot
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if fromSnap, err = plan.ReadSnapshot(gctx, from, o.parallelism); err != nil {
			return fmt.Errorf("read --from: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if toSnap, err = plan.ReadSnapshot(gctx, to, o.parallelism); err != nil {
			return fmt.Errorf("read --to: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	fv, tv := snapshotView(fromSnap), snapshotView(toSnap)
	ids, err := diffSelection(fv, tv, o.companies, re)
	if err != nil {
		return err
	}
	diffs := compare(fv, tv, ids)
	if o.json {
		err = writeDiffJSON(a.stdout, from.url, to.url, diffs, len(ids))
	} else {
		err = writeDiffText(a.stdout, from.url, to.url, diffs, len(ids))
	}
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return errChanges
	}
	return nil
}

// diffSelection returns the companies to compare, sorted: all of both sides when
// neither companies nor match is given; else those named or matched on either side,
// and every company that shares a container with one of them on either side, until
// no more come along. A named company on neither side is an error.
func diffSelection(from, to sideView, companies []string, match *regexp.Regexp) ([]string, error) {
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
	var missing, queue []string
	for _, id := range companies {
		if !all[id] {
			missing = append(missing, id)
		}
		queue = append(queue, id)
	}
	if len(missing) > 0 {
		return nil, notOn(missing, "on either server")
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

// notOn is the error for companies named with --company that are not where they
// should be, all named at once.
func notOn(ids []string, where string) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	if len(ids) == 1 {
		return fmt.Errorf("company %s is not %s", quoted[0], where)
	}
	return fmt.Errorf("companies %s are not %s", strings.Join(quoted, ", "), where)
}

// diffCounts counts the differences by kind.
func diffCounts(diffs []companyDiff) map[string]int {
	n := map[string]int{}
	for _, d := range diffs {
		n[d.kind]++
	}
	return n
}

// writeDiffText writes the differences for a person: a summary line, then each
// company in id order: "-" only in --from, "+" only in --to, "~" different, with each
// field as from -> to, secrets as (sensitive), and the container-mates on each side.
func writeDiffText(w io.Writer, from, to string, diffs []companyDiff, compared int) error {
	b := &strings.Builder{}
	if len(diffs) == 0 {
		fmt.Fprintf(b, "No differences: %s compared, the same on %s and %s.\n", plural(compared, "company", "companies"), from, to)
		_, err := io.WriteString(w, b.String())
		return err
	}
	n := diffCounts(diffs)
	fmt.Fprintf(b, "Differences between %s (--from) and %s (--to): %d only in --from, %d only in --to, %d different, of %s compared.\n",
		from, to, n[onlyFrom], n[onlyTo], n[differs], plural(compared, "company", "companies"))
	for _, d := range diffs {
		switch d.kind {
		case onlyFrom:
			fmt.Fprintf(b, "\n  - %s: only in --from\n", d.company)
			continue
		case onlyTo:
			fmt.Fprintf(b, "\n  + %s: only in --to\n", d.company)
			continue
		}
		fmt.Fprintf(b, "\n  ~ %s\n", d.company)
		names := slices.Sorted(maps.Keys(d.fields))
		if i := slices.Index(names, "name"); i > 0 { // the name first, then the settings
			names = append([]string{"name"}, slices.Delete(names, i, i+1)...)
		}
		width := len("container")
		for _, name := range names {
			width = max(width, len(name))
		}
		for _, name := range names {
			f := d.fields[name]
			value := f.from.JSON() + " -> " + f.to.JSON()
			if secret(name) {
				value = apiclient.Redacted + " differs"
			}
			fmt.Fprintf(b, "      %-*s  %s\n", width+1, name+":", value)
		}
		if d.mates != nil {
			fmt.Fprintf(b, "      %-*s  [%s] -> [%s]\n", width+1, "container:", strings.Join(d.mates[0], " "), strings.Join(d.mates[1], " "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func secret(field string) bool {
	f, ok := apiclient.LookupField(field)
	return ok && f.Secret
}

// jsonDiff is the document diff --json prints. Companies are sorted by id, fields by
// name (encoding/json sorts map keys); secret values read "(sensitive)".
type jsonDiff struct {
	FormatVersion int               `json:"format_version"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	Equal         bool              `json:"equal"`
	Summary       jsonDiffSummary   `json:"summary"`
	Companies     []jsonCompanyDiff `json:"companies"`
}

type jsonDiffSummary struct {
	Compared  int `json:"compared"`
	OnlyFrom  int `json:"only_from"`
	OnlyTo    int `json:"only_to"`
	Different int `json:"different"`
}

type jsonCompanyDiff struct {
	Company    string                   `json:"company"`
	Difference string                   `json:"difference"` // only_from, only_to or differs
	Fields     map[string]jsonFieldDiff `json:"fields,omitempty"`
	Container  *jsonMatesDiff           `json:"container,omitempty"`
}

type jsonFieldDiff struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// jsonMatesDiff is the companies that share the company's container on each side,
// itself included.
type jsonMatesDiff struct {
	From []string `json:"from"`
	To   []string `json:"to"`
}

func writeDiffJSON(w io.Writer, from, to string, diffs []companyDiff, compared int) error {
	n := diffCounts(diffs)
	doc := jsonDiff{
		FormatVersion: 1, From: from, To: to, Equal: len(diffs) == 0,
		Summary:   jsonDiffSummary{Compared: compared, OnlyFrom: n[onlyFrom], OnlyTo: n[onlyTo], Different: n[differs]},
		Companies: make([]jsonCompanyDiff, 0, len(diffs)),
	}
	value := func(field string, v apiclient.Value) json.RawMessage {
		if secret(field) {
			return json.RawMessage(`"` + apiclient.Redacted + `"`)
		}
		return json.RawMessage(v.JSON())
	}
	for _, d := range diffs {
		jd := jsonCompanyDiff{Company: d.company, Difference: d.kind}
		if len(d.fields) > 0 {
			jd.Fields = map[string]jsonFieldDiff{}
			for name, f := range d.fields {
				jd.Fields[name] = jsonFieldDiff{From: value(name, f.from), To: value(name, f.to)}
			}
		}
		if d.mates != nil {
			jd.Container = &jsonMatesDiff{From: d.mates[0], To: d.mates[1]}
		}
		doc.Companies = append(doc.Companies, jd)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
