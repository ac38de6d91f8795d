package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan"
)

// exitMention is an exit code stated in prose: "exit 3", "exits 2", "exit code 1",
// "exit status 0", "exits with 1", "exit code `4`".
var exitMention = regexp.MustCompile("(?i)\\bexit(?:s|ed)?(?: code| status| with)?:? `?(\\d+)\\b")

// exitTableHead is the head of a Markdown table of exit codes: its first column is
// the code.
var exitTableHead = regexp.MustCompile(`(?i)^\|\s*(exit )?codes?\s*\|`)

// exitTableRow is a row of a Markdown table of exit codes: "| 3 | meaning |".
var exitTableRow = regexp.MustCompile(`^\|\s*(\d+)\s*\|\s*(.*?)\s*\|`)

// exitListLine is a line of an "Exit codes:" list in a help text: "  3  meaning".
var exitListLine = regexp.MustCompile(`^\s+(\d+)  (\S.*)$`)

// statedCode is an exit code that a text states, and where.
type statedCode struct {
	code    int
	meaning string // a table row's or a list line's; "" in prose
	command string // the command of an "Exit codes by command:" list; "" elsewhere
	where   string
}

// exitListCommand is a command's name that leads its codes in an "Exit codes by
// command:" list.
var exitListCommand = regexp.MustCompile(`^  ([a-z]+)$`)

// statedExitCodes returns the exit codes text states: in prose, as a row of a
// Markdown table whose first column is headed "code", or as a line of a list that
// follows a line "Exit codes:" (or "Exit codes by command:", each command's codes
// led by its name), with the lines that continue it.
func statedExitCodes(name, text string) []statedCode {
	var stated []statedCode
	inTable, inList, byCommand, command := false, false, false, ""
	last := -1 // the list line that a wrapped line continues
	for i, line := range strings.Split(text, "\n") {
		where := name + ":" + strconv.Itoa(i+1)
		for _, m := range exitMention.FindAllStringSubmatch(line, -1) {
			stated = append(stated, statedCode{code: atoi(m[1]), where: where})
		}
		switch {
		case exitTableHead.MatchString(line):
			inTable = true
		case inTable && strings.HasPrefix(line, "|"):
			if m := exitTableRow.FindStringSubmatch(line); m != nil {
				stated = append(stated, statedCode{atoi(m[1]), m[2], "", where})
			}
		case line == "Exit codes:" || strings.HasPrefix(line, "Exit codes by command"):
			inList, byCommand, command = true, strings.HasPrefix(line, "Exit codes by command"), ""
		case inList && byCommand && exitListCommand.MatchString(line):
			command = strings.TrimSpace(line)
		case inList && exitListLine.MatchString(line):
			m := exitListLine.FindStringSubmatch(line)
			stated = append(stated, statedCode{atoi(m[1]), m[2], command, where})
			last = len(stated) - 1
		case inList && strings.HasPrefix(line, "     ") && last >= 0:
			stated[last].meaning += " " + strings.TrimSpace(line) // a wrapped meaning
		case inList && byCommand && command == "":
			// the rest of the list's heading
		default:
			inTable, inList, last = false, false, -1
		}
	}
	return stated
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err) // the patterns match digits only
	}
	return n
}

// exitCodeProblems returns what text, about command ("" for pbxsync as a whole),
// states that the table of exit codes does not: a code the command does not give,
// or a table row or list line whose meaning is not the table's. With whole, every
// code of the command must have a row or a line too.
func exitCodeProblems(name, text, command string, whole bool) []string {
	var problems []string
	rows := map[int]bool{}
	for _, s := range statedExitCodes(name, text) {
		codes := exitCodesOf(cmp.Or(s.command, command))
		i := slices.IndexFunc(codes, func(c exitLine) bool { return c.code == s.code })
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("%s: exit code %d is not one of %s", s.where, s.code, codeList(codes)))
		case s.meaning != "" && strings.ReplaceAll(s.meaning, "`", "") != codes[i].meaning:
			problems = append(problems, fmt.Sprintf("%s: exit code %d means %q, not %q", s.where, s.code, codes[i].meaning, s.meaning))
		}
		if s.meaning != "" && s.command == "" {
			rows[s.code] = true
		}
	}
	for _, c := range exitCodesOf(command) {
		if whole && !rows[c.code] {
			problems = append(problems, fmt.Sprintf("%s: no row for exit code %d", name, c.code))
		}
	}
	return problems
}

func codeList(codes []exitLine) string {
	var s []string
	for _, c := range codes {
		s = append(s, strconv.Itoa(c.code))
	}
	return strings.Join(s, ", ")
}

// TestExitCodesStated fails when the README, a help topic or the --help of a
// command states an exit code that the table of exit codes does not give (for that
// command), or a meaning other than the table's.
func TestExitCodesStated(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	require.Empty(t, exitCodeProblems("README.md", string(readme), "", true))

	examples, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*", "README.md"))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, path := range examples {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		// Their tables say what a code means there, in words of their own.
		for _, s := range statedExitCodes(path, string(data)) {
			require.Contains(t, []int{exitOK, exitError, exitChanges, exitRefused}, s.code, s.where)
		}
	}

	for _, topic := range newHelpTopics() {
		require.Empty(t, exitCodeProblems("help "+topic.Name(), topic.Long, "", topic.Name() == "exit-codes"))
	}

	root := (&app{}).newRootCmd()
	help := map[string]outcome{"pbxsync": invoke(t, "", nil, "--help")}
	for _, cmd := range root.Commands() {
		if cmd.Runnable() {
			help[cmd.Name()] = invoke(t, "", nil, cmd.Name(), "--help")
		}
	}
	require.Contains(t, help, "plan")
	for name, got := range help {
		require.Equal(t, 0, got.code, got.stderr)
		command := strings.TrimPrefix(name, "pbxsync")
		require.Empty(t, exitCodeProblems(name+" --help", got.stdout, command, true))
	}
}

// The checker finds what it is for: a README whose table says what it said before
// (3 for "apply or migrate"), lacks a row, or whose prose names a code that does not
// exist; a command whose help states a code it does not give.
func TestExitCodesStatedChecker(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	readme := string(data)
	row3 := "| 3 | `apply` refused before any write:"
	require.Contains(t, readme, row3)
	row2 := "| 2 | `plan --detailed-exitcode` only: success, and there are changes |\n"
	require.Contains(t, readme, row2)
	prose := "exit 2 when there are changes"
	require.Contains(t, readme, prose)

	for _, m := range []struct{ name, text, problem string }{
		{"row 3 as it was", strings.Replace(readme, row3, "| 3 | `apply` or `migrate` refused before any write:", 1), "exit code 3 means"},
		{"no row 2", strings.Replace(readme, row2, "", 1), "README.md: no row for exit code 2"},
		{"prose", strings.Replace(readme, prose, "exit 4 when there are changes", 1), "exit code 4 is not one of 0, 1, 2, 3"},
		{"quoted", strings.Replace(readme, prose, "exit code `5` when there are changes", 1), "exit code 5 is not one of"},
		{"table head", strings.Replace(strings.Replace(readme, "| code | meaning |", "| Exit code | meaning |", 1), row3, "| 7 | a new code |\n"+row3, 1),
			"exit code 7 is not one of"},
	} {
		problems := exitCodeProblems("README.md", m.text, "", true)
		require.Len(t, problems, 1, m.name)
		require.Contains(t, problems[0], m.problem, m.name)
	}

	doctor := "Exit codes:\n  0  no check failed\n  1  a check failed, or doctor could not run\n"
	require.Empty(t, exitCodeProblems("doctor", doctor, "doctor", true))
	require.Equal(t, []string{"doctor:1: exit code 3 is not one of 0, 1"},
		exitCodeProblems("doctor", "It refuses with exit 3.\n"+doctor, "doctor", true))
	require.Equal(t, []string{`doctor:2: exit code 0 means "no check failed", not "success"`},
		exitCodeProblems("doctor", strings.Replace(doctor, "no check failed", "success", 1), "doctor", true))
}

// The table names commands that exist, and its codes are those exitCode gives.
func TestExitCodesTable(t *testing.T) {
	root := (&app{}).newRootCmd()
	var codes []int
	for _, e := range exitCodes {
		codes = append(codes, e.code)
		for _, c := range e.commands {
			cmd, _, err := root.Find([]string{c.command})
			require.NoError(t, err)
			require.Equal(t, c.command, cmd.Name())
		}
	}
	given := []int{exitCode(nil), exitCode(errors.New("no connection")), exitCode(errChanges), exitCode(&plan.DeleteBudgetError{Deletes: 2})}
	if diff := gocmp.Diff(codes, given); diff != "" {
		t.Errorf("exit codes (-table +exitCode):\n%s", diff)
	}
}
