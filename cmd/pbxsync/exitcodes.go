package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// The exit codes of pbxsync (cli.md "Exit codes", a contract): exitCode gives one of
// them.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitRefused = 3
)

// exitMeaning is one exit code: what it means for pbxsync, in the words of its
// contract, and what it means for each command that says more.
type exitMeaning struct {
	code    int
	meaning string
	// every says that every command may end with the code; otherwise only those
	// that commands names.
	every    bool
	commands []commandMeaning
}

// commandMeaning is what an exit code means for one command.
type commandMeaning struct{ command, meaning string }

// exitLine is an exit code as a help text lists it.
type exitLine struct {
	code    int
	meaning string
}

// exitCodes is the one table of exit codes: pbxsync help exit-codes, the "Exit codes"
// that ends every --help, and the README's table are drawn from it or checked against
// it (exitcodes_test.go).
var exitCodes = []exitMeaning{{
	code:    exitOK,
	meaning: "success; for plan --detailed-exitcode, success and no changes",
	every:   true,
	commands: []commandMeaning{
		{"validate", "the inventory is valid"},
		{"plan", "success: the plan is printed (and saved with --out); with --detailed-exitcode, only when it has no changes"},
		{"apply", "every change succeeded, and the server, read back, holds the inventory"},
		{"export", "the inventory is written"},
		{"migrate", "the migration is verified (and with --delete-source, the source's copies are deleted)"},
		{"diff", "the two sides hold the same"},
		{"doctor", "no check failed"},
	},
}, {
	code:    exitError,
	meaning: "an error: bad input, no connection, refused credentials, a change that failed, a change the server did not keep",
	every:   true,
	commands: []commandMeaning{
		{"validate", "the inventory is not valid, or cannot be read"},
		{"plan", "an error: bad input, no connection, refused credentials, a plan left incomplete (a PBX or a company that could not be read), an interruption, the --timeout reached"},
		{"apply", "a change failed, the server did not keep a value, the run was interrupted (Ctrl-C) or reached --timeout, another run holds --lock-file, or any other error"},
		{"migrate", "a change failed, a company was not verified, --from and --to are one server, the run was interrupted or reached --timeout, another run holds --lock-file, or any other error"},
		{"diff", "an error: bad input, no connection, refused credentials, --from and --to are one server"},
		{"doctor", "a check failed, or doctor could not run"},
	},
}, {
	code:    exitChanges,
	meaning: "plan --detailed-exitcode only: success, and there are changes",
	commands: []commandMeaning{
		{"plan", "with --detailed-exitcode only: success, and there are changes"},
		{"diff", "the two sides differ"},
	},
}, {
	code: exitRefused,
	meaning: "apply refused before any write: a stale or mismatched plan file, or a budget (--max-delete, --max-move) exceeded. " +
		"plan exits 3 too when apply with the same flags would refuse for a budget, after printing the whole plan; its message says \"apply would refuse\"",
	commands: []commandMeaning{
		{"plan", "apply with the same flags would refuse for a budget: more deletes than --max-delete, or with --fleet more moves than --max-move; the whole plan is printed first"},
		{"apply", "refused before any write: a stale or mismatched plan file, more deletes than --max-delete, or with --fleet more moves than --max-move"},
		{"migrate", "refused before any write: with --delete-source, more deletes from the source than --max-delete"},
	},
}}

// exitCodesOf returns the exit codes command may end with, each with what it means
// for that command; for "" (pbxsync itself), every code as the contract says it.
func exitCodesOf(command string) []exitLine {
	var codes []exitLine
	for _, e := range exitCodes {
		i := slices.IndexFunc(e.commands, func(c commandMeaning) bool { return c.command == command })
		switch {
		case command != "" && i >= 0:
			codes = append(codes, exitLine{e.code, e.commands[i].meaning})
		case command == "" || e.every:
			codes = append(codes, exitLine{e.code, e.meaning})
		}
	}
	return codes
}

// exitCodesText lists codes, one a paragraph: the code, then what it means,
// wrapped at width and indented by indent.
func exitCodesText(codes []exitLine, indent string, width int) string {
	var b strings.Builder
	for _, c := range codes {
		lead := fmt.Sprintf("%s%d  ", indent, c.code)
		text := wrap(c.meaning, strings.Repeat(" ", len(lead)), width)
		b.WriteString(lead + text[len(lead):])
	}
	return b.String()
}

// exitCodesFooter is the "Exit codes" that ends the --help of cmd: its own codes, or
// for pbxsync itself every code. A help topic has none.
func exitCodesFooter(cmd *cobra.Command) string {
	if !cmd.Runnable() && !cmd.HasSubCommands() {
		return ""
	}
	command := ""
	if cmd.HasParent() {
		command = cmd.Name()
	}
	return "\nExit codes:\n" + exitCodesText(exitCodesOf(command), "  ", 84)
}

// exitCodesByCommand is what each code means for each command that says more, for
// pbxsync help exit-codes: the commands in the order the table names them.
func exitCodesByCommand() string {
	var commands []string
	for _, e := range exitCodes {
		for _, c := range e.commands {
			if !slices.Contains(commands, c.command) {
				commands = append(commands, c.command)
			}
		}
	}
	var b strings.Builder
	for _, command := range commands {
		b.WriteString("  " + command + "\n")
		b.WriteString(exitCodesText(exitCodesOf(command), "    ", 84))
	}
	return b.String()
}
