package plan_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/planfile"
	"github.com/pbxsync/pbxsync/plan/render"
	"github.com/pbxsync/pbxsync/plan/state"
)

// carriedInventory asks for an update of a (its name, its zone and its PINs) and the
// create of n, PINs included; the PINs come from the environment.
const carriedInventory = `version: 1
companies:
  a:
    name: A New
    description: Head office
    settings:
      zone: US/Pacific
      nm_password: ${A_PIN}
      barge_pin: ${A_BARGE}
  n:
    name: N
    description: Branch
    settings:
      zone: Europe/Berlin
      ivr_password: ${N_PIN}
`

// carriedPINs are the PINs of carriedInventory: no renderer and no saved plan may
// show them.
var carriedPINs = map[string]string{"A_PIN": "731904", "A_BARGE": "552817", "N_PIN": "906133"}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func carriedPlan(t *testing.T) (*inventory.Inventory, *plan.Plan) {
	t.Helper()
	inv, _, err := inventory.Load("inventory.yaml", []byte(carriedInventory), inventory.LoadOptions{Lookup: lookup(carriedPINs)})
	require.NoError(t, err)
	st := state.New([]apiclient.Company{{ID: "a", Name: "A Old"}}, map[string][]string{"ca": {"a"}})
	p, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	require.Equal(t, "Plan: 1 to create, 1 to update.", p.Summary())
	return inv, p
}

func changeOf(t *testing.T, p *plan.Plan, action plan.Action, id string) plan.Change {
	t.Helper()
	i := slices.IndexFunc(p.Changes, func(c plan.Change) bool { return c.Action == action && c.Company == id })
	require.GreaterOrEqual(t, i, 0, "no %s of %s in %v", action, id, p.Changes)
	return p.Changes[i]
}

// TestDiffCarriesWhatApplyWrites: each change holds the values apply sends, secrets
// included, as the inventory had them when it was planned.
func TestDiffCarriesWhatApplyWrites(t *testing.T) {
	inv, p := carriedPlan(t)
	a, _ := inv.Company("a")
	n, _ := inv.Company("n")

	update := changeOf(t, p, plan.Update, "a")
	require.Equal(t, "A New", update.NewName())
	require.Equal(t, "Head office", update.ForcedDescription)
	require.Equal(t, a.Settings, update.Settings())
	require.Equal(t, "731904", update.Settings().Get("nm_password").Text())

	create := changeOf(t, p, plan.Create, "n")
	require.Equal(t, "N", create.Name)
	require.Equal(t, "Branch", create.Description)
	require.Equal(t, n.Settings, create.Settings())
	require.Empty(t, create.NewName())
}

// TestPlanSecretsStayInMemory: the PINs a plan carries for apply reach neither a
// saved plan nor any rendering of it.
func TestPlanSecretsStayInMemory(t *testing.T) {
	inv, p := carriedPlan(t)
	require.Equal(t, "906133", changeOf(t, p, plan.Create, "n").Settings().Get("ivr_password").Text(), "precondition: the plan carries the PIN")

	outputs := map[string]func(*bytes.Buffer) error{
		"saved plan": func(b *bytes.Buffer) error {
			return planfile.Save(b, p, "https://pbx.example", inv, []string{"inventory.yaml"}, plan.Options{})
		},
		"text":     func(b *bytes.Buffer) error { return render.PlanText(b, p, false) },
		"json":     func(b *bytes.Buffer) error { return render.PlanJSON(b, p) },
		"markdown": func(b *bytes.Buffer) error { return render.PlanMarkdown(b, p, render.MarkdownOptions{}) },
	}
	for name, write := range outputs {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, write(&b))
			require.Contains(t, b.String(), "nm_password", "precondition: the field is shown")
			for variable, pin := range carriedPINs {
				require.NotContains(t, b.String(), pin, "the value of %s", variable)
			}
		})
	}
}

// TestDiffDesiredGrouping: a plan carries the desired grouping of the companies
// whose containers its changes touch, and of no other.
func TestDiffDesiredGrouping(t *testing.T) {
	const src = `version: 1
companies:
  a: {name: A}
  b: {name: B}
  c: {name: C}
  d: {name: D}
  e: {name: E}
  f: {name: F}
  n: {name: N}
containers:
  ab: [a, b]
  cd: [c, d]
`
	inv, _, err := inventory.Load("inventory.yaml", []byte(src), inventory.LoadOptions{})
	require.NoError(t, err)
	var companies []apiclient.Company
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "u"} {
		companies = append(companies, apiclient.Company{ID: id, Name: strings.ToUpper(id)})
	}
	st := state.New(companies, map[string][]string{
		"x1": {"a", "u"}, // u is not managed: a's container-mate, never in the desired grouping
		"x2": {"b", "e"}, // e must leave b's container
		"x3": {"c", "d"},
		"x4": {"f"},
	})
	p, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	require.Equal(t, "Plan: 1 to create, 1 to ungroup, 1 to group.", p.Summary())
	require.Equal(t, plan.DesiredGrouping{
		"a": {"a", "b"}, "b": {"a", "b"}, // the group, and its desired mates
		"e": nil, // ungrouped: in no desired container
		"n": nil, // created
	}, p.Desired)
}

// TestReplan plans grouping again from containers read back: what is left to do
// over the companies in scope, and nothing for those outside it.
func TestReplan(t *testing.T) {
	desired := plan.DesiredGrouping{"a": {"a", "b"}, "b": {"a", "b"}, "e": nil, "n": nil}
	tests := []struct {
		name       string
		containers map[string][]string
		scope      []string
		want       []plan.Change
	}{{
		name:       "done",
		containers: map[string][]string{"x1": {"a", "b"}, "x2": {"e"}, "x3": {"n"}},
		scope:      []string{"a", "b", "e", "n"},
	}, {
		name:       "a group left",
		containers: map[string][]string{"x1": {"a"}, "x2": {"b"}, "x3": {"e"}, "x4": {"n"}},
		scope:      []string{"a", "b", "e", "n"},
		want:       []plan.Change{{Action: plan.Group, Company: "b", Target: "a"}},
	}, {
		name:       "an ungroup left",
		containers: map[string][]string{"x1": {"a", "b", "e"}, "x2": {"n"}},
		scope:      []string{"a", "b", "e", "n"},
		want:       []plan.Change{{Action: plan.Ungroup, Company: "e"}},
	}, {
		name:       "out of scope: never moved",
		containers: map[string][]string{"x1": {"a", "b", "e"}, "x2": {"n"}},
		scope:      []string{"a", "b", "n"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var companies []apiclient.Company
			for _, members := range tt.containers {
				for _, id := range members {
					companies = append(companies, apiclient.Company{ID: id})
				}
			}
			st := state.New(companies, tt.containers)
			scope := map[string]bool{}
			for _, id := range tt.scope {
				scope[id] = true
			}
			changes, containerOf := desired.Replan(st, scope)
			require.Equal(t, tt.want, changes)
			for name, members := range tt.containers {
				for _, id := range members {
					require.Equal(t, members, containerOf[id], "the container of %s (%s)", id, name)
				}
			}
		})
	}
}

// TestDiffPartners: a partial plan keeps the chosen companies and their container
// partners, in the inventory or on the server, through other partners too; each
// partner's changes name the chosen companies that brought it in, a chosen one's
// name none.
func TestDiffPartners(t *testing.T) {
	inv, _, err := inventory.Load("inventory.yaml", []byte(`version: 1
defaults: {zone: UTC}
companies:
  hq: {name: HQ}
  west: {name: West}
  east: {name: East}
  solo: {name: Solo}
  lone: {name: Lone}
  x: {name: X}
  y: {name: Y}
containers:
  acme: [hq, west, east]
  xy: [x, y]
`), inventory.LoadOptions{})
	require.NoError(t, err)
	var companies []apiclient.Company
	for _, id := range []string{"hq", "west", "solo", "lone", "x", "y"} {
		companies = append(companies, company(id, strings.ToUpper(id[:1])+id[1:], "zone", "Europe/London"))
	}
	st := state.New(companies, map[string][]string{"hq": {"hq", "solo", "west"}, "x": {"x"}, "y": {"y"}, "lone": {"lone"}})

	tests := []struct {
		name string
		opts plan.Options
		want map[string][]string // company of each change -> its PartnerOf
	}{
		{"a company on the server's container", plan.Options{Companies: []string{"solo"}},
			map[string][]string{"solo": nil, "hq": {"solo"}, "west": {"solo"}, "east": {"solo"}}},
		{"two chosen in one set", plan.Options{Companies: []string{"west", "solo"}},
			map[string][]string{"solo": nil, "west": nil, "hq": {"solo", "west"}, "east": {"solo", "west"}}},
		{"matched", plan.Options{Match: "^(so|we)"},
			map[string][]string{"solo": nil, "west": nil, "hq": {"solo", "west"}, "east": {"solo", "west"}}},
		{"named and matched", plan.Options{Companies: []string{"lone"}, Match: "^x$"},
			map[string][]string{"lone": nil, "x": nil, "y": {"x"}}},
		{"no container partners", plan.Options{Companies: []string{"lone"}}, map[string][]string{"lone": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Diff(inv, st, tt.opts)
			require.NoError(t, err)
			require.True(t, p.Partial)
			got := map[string][]string{}
			for _, c := range p.Changes {
				if prev, seen := got[c.Company]; seen {
					require.Equal(t, prev, c.PartnerOf, "every change of %s says the same", c.Company)
				}
				got[c.Company] = c.PartnerOf
			}
			require.Equal(t, tt.want, got)
			for _, c := range p.JSON().Changes {
				require.Equal(t, tt.want[c.Company], c.PartnerOf, "JSON: %s", c.Company)
			}
		})
	}

	whole, err := plan.Diff(inv, st, plan.Options{})
	require.NoError(t, err)
	for _, c := range whole.Changes {
		require.Nil(t, c.PartnerOf, "a whole plan names no partner")
	}
}
