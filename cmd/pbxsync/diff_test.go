package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan/state"
)

const (
	diffPIN      = "31415926"
	diffOtherPIN = "27182818"
)

// diffFrom is one side of the comparisons: acme shares a container with acme_west,
// delta with epsilon.
func diffFrom() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme HQ", "zone", "US/Pacific", "nm_password", diffPIN, "q_ringtime", "15"),
			co("acme_west", "Acme West"),
			co("beta", "Beta", "vm_maxmsgs", "100"),
			co("delta", "Delta"),
			co("epsilon", "Epsilon"),
			co("old_only", "Old Only"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west"}, "delta": {"delta", "epsilon"}},
	}
}

// diffSame holds what diffFrom does, under other container names and numeric ids,
// with values written otherwise that are one value ("15" and 15, null and false).
func diffSame() pbxtest.State {
	st := pbxtest.State{
		Companies: []apiclient.Company{
			{ID: "acme_hq", Num: 7001, Name: "Acme HQ", Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"zone": apiclient.String("US/Pacific"), "nm_password": apiclient.String(diffPIN), "q_ringtime": apiclient.Int(15),
				"nocallrec": apiclient.Bool(false), "future_field": apiclient.String("not compared")})},
			{ID: "acme_west", Num: 7002, Name: "Acme West"},
			{ID: "beta", Num: 7003, Name: "Beta", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"vm_maxmsgs": apiclient.Int(100)})},
			{ID: "delta", Num: 7004, Name: "Delta"},
			{ID: "epsilon", Num: 7005, Name: "Epsilon"},
			{ID: "old_only", Num: 7006, Name: "Old Only"},
		},
		Containers: map[string][]string{"box_a": {"acme_hq", "acme_west"}, "box_b": {"delta", "epsilon"}},
	}
	return st
}

// diffOther differs from diffFrom in every way diff looks at: a name, a setting, a
// PIN, a company on each side only, and grouping (beta joins acme; epsilon leaves
// delta).
func diffOther() pbxtest.State {
	return pbxtest.State{
		Companies: []apiclient.Company{
			co("acme_hq", "Acme Head Office", "zone", "Europe/London", "nm_password", diffOtherPIN, "q_ringtime", "15"),
			co("acme_west", "Acme West"),
			co("beta", "Beta", "vm_maxmsgs", "100"),
			co("delta", "Delta"),
			co("epsilon", "Epsilon"),
			co("new_only", "New Only"),
		},
		Containers: map[string][]string{"acme_hq": {"acme_hq", "acme_west", "beta"}},
	}
}

// withPartner returns st with the companies ids in one container.
func withPartner(st pbxtest.State, ids ...string) pbxtest.State {
	st.Containers[ids[0]] = ids
	return st
}

// without returns st without the company id.
func without(st pbxtest.State, id string) pbxtest.State {
	st.Companies = slices.DeleteFunc(st.Companies, func(c apiclient.Company) bool { return c.ID == id })
	return st
}

// diffEnv names the two servers' keys.
func diffEnv() map[string]string {
	return map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": pbxtest.AdminKey}
}

const diffOtherText = `Differences between sim:from.yaml (--from) and sim:to.yaml (--to): 1 only in --from, 1 only in --to, 5 different, of 7 companies compared.

  ~ acme_hq
      name:         "Acme HQ" -> "Acme Head Office"
      nm_password:  (sensitive) differs
      zone:         "US/Pacific" -> "Europe/London"
      container:    [acme_hq acme_west] -> [acme_hq acme_west beta]

  ~ acme_west
      container:  [acme_hq acme_west] -> [acme_hq acme_west beta]

  ~ beta
      container:  [beta] -> [acme_hq acme_west beta]

  ~ delta
      container:  [delta epsilon] -> [delta]

  ~ epsilon
      container:  [delta epsilon] -> [epsilon]

  + new_only: only in --to

  - old_only: only in --from
`

func TestDiff(t *testing.T) {
	tests := []struct {
		name       string
		from, to   pbxtest.State
		args       []string
		wantCode   int
		wantStdout string
	}{
		{"equal", diffFrom(), diffSame(), nil, 0,
			"No differences: 6 companies compared, the same on sim:from.yaml and sim:to.yaml.\n"},
		{"different", diffFrom(), diffOther(), nil, 2, diffOtherText},
		{"one company and its partners on both sides", diffFrom(), diffOther(), []string{"--company", "beta"}, 2,
			`Differences between sim:from.yaml (--from) and sim:to.yaml (--to): 0 only in --from, 0 only in --to, 3 different, of 3 companies compared.

  ~ acme_hq
      name:         "Acme HQ" -> "Acme Head Office"
      nm_password:  (sensitive) differs
      zone:         "US/Pacific" -> "Europe/London"
      container:    [acme_hq acme_west] -> [acme_hq acme_west beta]

  ~ acme_west
      container:  [acme_hq acme_west] -> [acme_hq acme_west beta]

  ~ beta
      container:  [beta] -> [acme_hq acme_west beta]
`},
		{"a company on one side only", diffFrom(), diffOther(), []string{"--company", "new_only"}, 2,
			`Differences between sim:from.yaml (--from) and sim:to.yaml (--to): 0 only in --from, 1 only in --to, 0 different, of 1 company compared.

  + new_only: only in --to
`},
		{"a container-mate on one side only", withPartner(diffFrom(), "beta", "old_only"), without(diffFrom(), "old_only"), nil, 2,
			`Differences between sim:from.yaml (--from) and sim:to.yaml (--to): 1 only in --from, 0 only in --to, 1 different, of 6 companies compared.

  ~ beta
      container:  [beta old_only] -> [beta]

  - old_only: only in --from
`},
		{"match over equal companies", diffFrom(), diffOther(), []string{"--match", "^(new|old)_nothing"}, 0,
			"No differences: 0 companies compared, the same on sim:from.yaml and sim:to.yaml.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // sim:from.yaml and sim:to.yaml, named alike in every run
			require.NoError(t, pbxtest.WriteStateFile("from.yaml", tt.from))
			require.NoError(t, pbxtest.WriteStateFile("to.yaml", tt.to))
			got := invoke(t, "", nil, append([]string{"diff", "--from", "sim:from.yaml", "--to", "sim:to.yaml"}, tt.args...)...)
			require.Equal(t, tt.wantCode, got.code, "stderr: %s", got.stderr)
			require.Empty(t, got.stderr, "differences are not a failure: nothing on stderr")
			if diff := cmp.Diff(tt.wantStdout, got.stdout); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			require.NotContains(t, got.stdout, diffPIN)
			require.NotContains(t, got.stdout, diffOtherPIN)
		})
	}
}

func TestDiffJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, pbxtest.WriteStateFile("from.yaml", diffFrom()))
	require.NoError(t, pbxtest.WriteStateFile("to.yaml", diffOther()))
	got := invoke(t, "", nil, "diff", "--from", "sim:from.yaml", "--to", "sim:to.yaml", "--json")
	require.Equal(t, 2, got.code, "stderr: %s", got.stderr)
	decodeOneJSON(t, got.stdout)
	acme := []string{"acme_hq", "acme_west"}
	withBeta := []string{"acme_hq", "acme_west", "beta"}
	want := state.JSONComparison{
		FormatVersion: 1, From: "sim:from.yaml", To: "sim:to.yaml", Equal: false,
		Summary: state.JSONComparisonSummary{Compared: 7, OnlyFrom: 1, OnlyTo: 1, Different: 5},
		Companies: []state.JSONCompanyDiff{
			{Company: "acme_hq", Difference: "differs", Fields: map[string]state.JSONFieldDiff{
				"name":        {From: json.RawMessage(`"Acme HQ"`), To: json.RawMessage(`"Acme Head Office"`)},
				"nm_password": {From: json.RawMessage(`"(sensitive)"`), To: json.RawMessage(`"(sensitive)"`)},
				"zone":        {From: json.RawMessage(`"US/Pacific"`), To: json.RawMessage(`"Europe/London"`)},
			}, Container: &state.JSONMatesDiff{From: acme, To: withBeta}},
			{Company: "acme_west", Difference: "differs", Container: &state.JSONMatesDiff{From: acme, To: withBeta}},
			{Company: "beta", Difference: "differs", Container: &state.JSONMatesDiff{From: []string{"beta"}, To: withBeta}},
			{Company: "delta", Difference: "differs", Container: &state.JSONMatesDiff{From: []string{"delta", "epsilon"}, To: []string{"delta"}}},
			{Company: "epsilon", Difference: "differs", Container: &state.JSONMatesDiff{From: []string{"delta", "epsilon"}, To: []string{"epsilon"}}},
			{Company: "new_only", Difference: "only_to"},
			{Company: "old_only", Difference: "only_from"},
		},
	}
	var doc state.JSONComparison
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	require.NotContains(t, got.stdout, diffPIN)
	require.NotContains(t, got.stdout, diffOtherPIN)

	again := invoke(t, "", nil, "diff", "--from", "sim:from.yaml", "--to", "sim:to.yaml", "--json")
	require.Equal(t, got.stdout, again.stdout, "the same document, byte for byte")
}

// TestDiffServers compares two servers over HTTP, each with its own credentials.
func TestDiffServers(t *testing.T) {
	from := simtest.NewServer(t, pbxtest.WithState(diffFrom()))
	to := simtest.NewServer(t, pbxtest.WithState(diffOther()), pbxtest.WithAPIKey("to-key", pbxtest.SystemAdmin()))
	vars := map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": "to-key", "PBX_URL": "sim:unused.yaml", "PBX_API_KEY": "unused"}
	got := invoke(t, "", vars, "diff", "--from", from.URL, "--to", to.URL, "--company", "delta")
	require.Equal(t, 2, got.code, "stderr: %s", got.stderr)
	require.Equal(t, []string{"  ~ delta", "  ~ epsilon"}, diffHeads(got.stdout))

	got = invoke(t, "", vars, "diff", "--from", from.URL, "--to", to.URL, "--company", "beta", "--match", "^zzz")
	require.Equal(t, 2, got.code, "stderr: %s", got.stderr)
	require.Equal(t, []string{"  ~ acme_hq", "  ~ acme_west", "  ~ beta"}, diffHeads(got.stdout))

	same := simtest.NewServer(t, pbxtest.WithState(diffSame()), pbxtest.WithAPIKey("to-key", pbxtest.SystemAdmin()))
	got = invoke(t, "", vars, "diff", "--from", from.URL, "--to", same.URL, "--json")
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	var doc state.JSONComparison
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	require.True(t, doc.Equal)
	require.Equal(t, state.JSONComparisonSummary{Compared: 6}, doc.Summary)
	require.Empty(t, doc.Companies)
	require.NotNil(t, doc.Companies, "an empty list, not null")

	for _, srv := range []*simtest.Server{from, to, same} {
		require.Zero(t, srv.Stats().TotalWrites())
	}
}

// diffHeads returns the company lines of a text diff.
func diffHeads(text string) []string {
	var heads []string
	for _, l := range lines(text) {
		if len(l) > 4 && l[:2] == "  " && (l[2] == '~' || l[2] == '+' || l[2] == '-') {
			heads = append(heads, l)
		}
	}
	return heads
}

func TestDiffErrors(t *testing.T) {
	from := simtest.NewServer(t, pbxtest.WithState(diffFrom()))
	to := simtest.NewServer(t, pbxtest.WithState(diffOther()))
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		want          string
		wantNoRequest bool
	}{
		{"no from", []string{"--to", to.URL}, diffEnv(), "no source: pass --from URL (or sim:FILE)", true},
		{"no to", []string{"--from", from.URL}, diffEnv(), "no target: pass --to URL (or sim:FILE)", true},
		{"url", []string{"--from", from.URL, "--to", to.URL, "--url", to.URL}, diffEnv(),
			"--url names one server: name the two with --from and --to", true},
		{"same server", []string{"--from", from.URL, "--to", from.URL + "/"}, diffEnv(), "--from and --to name one server", true},
		{"no credentials for --to", []string{"--from", from.URL, "--to", to.URL},
			map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_API_KEY": pbxtest.AdminKey},
			"--to: no credentials: set PBX_TO_API_KEY, or PBX_TO_USERNAME and PBX_TO_PASSWORD", true},
		{"two kinds of credentials", []string{"--from", from.URL, "--to", to.URL},
			map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_FROM_USERNAME": "alice", "PBX_TO_API_KEY": pbxtest.AdminKey},
			"--from: two kinds of credentials: set PBX_FROM_API_KEY, or PBX_FROM_USERNAME and PBX_FROM_PASSWORD, not both", true},
		{"invalid match", []string{"--from", from.URL, "--to", to.URL, "--match", "("}, diffEnv(), "invalid --match", true},
		{"invalid format", []string{"--from", from.URL, "--to", to.URL, "--format", "html"}, diffEnv(),
			`invalid --format "html": want text, json or markdown`, true},
		{"invalid max size", []string{"--from", from.URL, "--to", to.URL, "--format", "markdown", "--max-size", "999"}, diffEnv(),
			"invalid --max-size 999: 0 (no limit) or at least 1000", true},
		// The cases that send requests come last: a request that the server takes after
		// its client gave up would count in the next case.
		{"refused credentials", []string{"--from", from.URL, "--to", to.URL},
			map[string]string{"PBX_FROM_API_KEY": pbxtest.AdminKey, "PBX_TO_API_KEY": "wrong"},
			"read --to: read companies: read: server refused: invalid API key", false},
		{"unknown company", []string{"--from", from.URL, "--to", to.URL, "--company", "beta", "--company", "nope"}, diffEnv(),
			`company "nope" is not on either server`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from.ResetStats()
			to.ResetStats()
			got := invoke(t, "", tt.env, append([]string{"diff"}, tt.args...)...)
			require.Equal(t, 1, got.code, "stdout: %s\nstderr: %s", got.stdout, got.stderr)
			require.Empty(t, got.stdout)
			requireOneErrorLine(t, got.stderr, tt.want)
			if tt.wantNoRequest {
				require.Zero(t, from.Stats().TotalRequests()+to.Stats().TotalRequests())
			}
		})
	}
}

func TestDiffHelp(t *testing.T) {
	got := invoke(t, "", nil, "diff", "--help")
	require.Equal(t, 0, got.code)
	for _, want := range []string{
		"diff --from URL --to URL", "--company ID", "--match REGEX", "--json",
		"--format FORMAT", "text, json or markdown", "--max-size N", "--format markdown >>",
		"PBX_FROM_API_KEY", "PBX_TO_API_KEY", "(sensitive)",
		"\nExit codes:\n  0  the two sides hold the same\n  1  an error: ", "\n  2  the two sides differ\n",
		"pbxsync diff --from sim:snap.yaml --to https://pbx.example.com",
	} {
		require.Contains(t, got.stdout, want)
	}
	root := invoke(t, "", nil, "--help")
	require.Regexp(t, `\n  diff +Compare the companies of two servers; change nothing\n`, root.stdout)
}

// diffOtherMarkdown is diff --format markdown of diffFrom and diffOther, FROM and TO
// standing for the servers' URLs.
const diffOtherMarkdown = "### pbxsync diff\n\n" +
	"**Differences between `FROM` (--from) and `TO` (--to): 1 only in --from, 1 only in --to, 5 different, of 7 companies compared.**\n" +
	"\n<details><summary>Only in --from (1)</summary>\n\n- `old_only`\n\n</details>\n" +
	"\n<details><summary>Only in --to (1)</summary>\n\n- `new_only`\n\n</details>\n" +
	"\n<details><summary>Different (5)</summary>\n\n" +
	"#### `acme_hq`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
	"| `name` | `\"Acme HQ\"` | `\"Acme Head Office\"` |\n" +
	"| `nm_password` | (sensitive) differs | (sensitive) differs |\n" +
	"| `zone` | `\"US/Pacific\"` | `\"Europe/London\"` |\n" +
	"| container | `acme_hq`, `acme_west` | `acme_hq`, `acme_west`, `beta` |\n\n" +
	"#### `acme_west`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
	"| container | `acme_hq`, `acme_west` | `acme_hq`, `acme_west`, `beta` |\n\n" +
	"#### `beta`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
	"| container | `beta` | `acme_hq`, `acme_west`, `beta` |\n\n" +
	"#### `delta`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
	"| container | `delta`, `epsilon` | `delta` |\n\n" +
	"#### `epsilon`\n\n| field | --from | --to |\n| --- | --- | --- |\n" +
	"| container | `delta`, `epsilon` | `epsilon` |\n\n" +
	"\n</details>\n"

// TestDiffMarkdown compares two servers over HTTP for a pull request: a summary, a
// section per kind, the PINs never shown; cut to --max-size with a line that counts
// what is not shown.
func TestDiffMarkdown(t *testing.T) {
	from := simtest.NewServer(t, pbxtest.WithState(diffFrom()))
	to := simtest.NewServer(t, pbxtest.WithState(diffOther()))
	same := simtest.NewServer(t, pbxtest.WithState(diffSame()))

	got := invoke(t, "", diffEnv(), "diff", "--from", from.URL, "--to", to.URL, "--format", "markdown")
	require.Equal(t, 2, got.code, "stderr: %s", got.stderr)
	require.Empty(t, got.stderr)
	want := strings.NewReplacer("`FROM`", "`"+from.URL+"`", "`TO`", "`"+to.URL+"`").Replace(diffOtherMarkdown)
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	require.NotContains(t, got.stdout, diffPIN)
	require.NotContains(t, got.stdout, diffOtherPIN)

	asJSON := invoke(t, "", diffEnv(), "diff", "--from", from.URL, "--to", to.URL, "--format", "markdown", "--json")
	require.Equal(t, 2, asJSON.code, "stderr: %s", asJSON.stderr)
	require.True(t, strings.HasPrefix(asJSON.stdout, "{"), "--json is --format json, whatever --format says: %s", asJSON.stdout)

	cut := invoke(t, "", diffEnv(), "diff", "--from", from.URL, "--to", to.URL, "--format", "markdown", "--max-size", "1000")
	require.Equal(t, 2, cut.code, "stderr: %s", cut.stderr)
	require.LessOrEqual(t, len(cut.stdout), 1000)
	require.Less(t, len(cut.stdout), len(got.stdout))
	require.Equal(t, strings.Count(cut.stdout, "<details>"), strings.Count(cut.stdout, "</details>"), cut.stdout)
	m := regexp.MustCompile(`\n\*\*(\d+) differences? not shown\*\*: this comparison is longer than 1000 characters; ` +
		`run pbxsync diff --format json for the whole comparison\.\n$`).FindStringSubmatch(cut.stdout)
	require.NotNil(t, m, cut.stdout)
	notShown, _ := strconv.Atoi(m[1])
	shown := strings.Count(cut.stdout, "\n- ") + strings.Count(cut.stdout, "\n#### ")
	require.Positive(t, notShown)
	require.Equal(t, 7, shown+notShown, cut.stdout)

	got = invoke(t, "", diffEnv(), "diff", "--from", from.URL, "--to", same.URL, "--format", "markdown")
	require.Equal(t, 0, got.code, "stderr: %s", got.stderr)
	require.Equal(t, "### pbxsync diff\n\n**No differences: 6 companies compared, the same on `"+from.URL+"` and `"+same.URL+"`.**\n", got.stdout)

	for _, srv := range []*simtest.Server{from, to, same} {
		require.Zero(t, srv.Stats().TotalWrites())
	}
}

// The shell completes diff --format with the three formats.
func TestDiffFormatCompletion(t *testing.T) {
	got := invoke(t, "", nil, "__complete", "diff", "--format", "")
	require.Equal(t, "text\njson\nmarkdown\n:4\n", got.stdout)
}
