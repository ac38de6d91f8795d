package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// manyWarnings is an inventory of n companies, each with two PINs in plain text and
// the deprecated crm_url: 2n warnings of one kind and n of another.
func manyWarnings(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\ncompanies:\n")
	for i := range n {
		fmt.Fprintf(&b, "  c%d:\n    name: C\n    settings:\n      nm_password: \"1%d\"\n      barge_pin: \"2%d\"\n      crm_url: x\n", i, i, i)
	}
	return b.String()
}

// Warnings are shown in their order, five of each kind, and a line after the fifth
// counts the rest; in JSON logs alike. validate --json keeps every one of them.
func TestWarningsOfAKind(t *testing.T) {
	inv := writeFile(t, t.TempDir(), "inventory.yaml", manyWarnings(8))
	// Company i is written on the six lines from 3+6i.
	nm := func(i int) string {
		return fmt.Sprintf("%s:%d:20: warning: nm_password is a secret written in plain text: use ${VAR} and keep the value in the environment", inv, 6+6*i)
	}
	barge := func(i int) string {
		return fmt.Sprintf("%s:%d:18: warning: barge_pin is a secret written in plain text: use ${VAR} and keep the value in the environment", inv, 7+6*i)
	}
	crm := func(i int) string { return fmt.Sprintf("%s:%d:7: warning: crm_url is deprecated", inv, 8+6*i) }
	got := invoke(t, "", nil, "validate", "-f", inv)
	require.Equal(t, 0, got.code, got.stderr)
	want := []string{
		nm(0), barge(0), crm(0),
		nm(1), barge(1), crm(1),
		nm(2),
		"warning: ... and 11 more warnings of this kind (validate -f ... --json lists them all)",
		crm(2), crm(3), crm(4),
		"warning: ... and 3 more warnings of this kind (validate -f ... --json lists them all)",
	}
	if diff := cmp.Diff(want, lines(got.stderr)); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}

	got = invoke(t, "", nil, "--log-format", "json", "validate", "-f", inv)
	require.Equal(t, 0, got.code, got.stderr)
	var problems []string
	for _, line := range lines(got.stderr) {
		var entry struct{ Level, Problem, Like string }
		require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
		require.Equal(t, "WARN", entry.Level)
		problems = append(problems, entry.Problem+entry.Like)
	}
	require.Len(t, problems, len(want))
	require.Equal(t, "... and 11 more warnings of this kind (validate -f ... --json lists them all)nm_password is a secret written in plain text: use ${VAR} and keep the value in the environment", problems[7])

	got = invoke(t, "", nil, "validate", "-f", inv, "--json")
	require.Equal(t, 0, got.code, got.stderr)
	var doc struct{ Warnings []struct{ Message string } }
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &doc))
	require.Len(t, doc.Warnings, 24, "the document lists every warning")
	require.Empty(t, got.stderr)

	// A handful of one kind is shown whole.
	inv = writeFile(t, t.TempDir(), "inventory.yaml", manyWarnings(2))
	got = invoke(t, "", nil, "validate", "-f", inv)
	require.Len(t, lines(got.stderr), 6)
	require.NotContains(t, got.stderr, "more warnings")
}
