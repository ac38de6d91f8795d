// Command pbxsync keeps the companies (tenants) of a multi-tenant PBX in line with a
// YAML inventory kept in git.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// A soft memory limit makes the collector keep a plan of 50,000 companies under
	// 300 MB (349 MB without it); GOMEMLIMIT, when set, decides instead.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(256 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

var (
	// errChanges ends plan --detailed-exitcode when there are changes: exit 2, and
	// nothing is printed, since it is not a failure.
	errChanges = errors.New("there are changes")
	// errRefused is wrapped by the reasons apply refuses before any write (a stale plan
	// file, the delete budget exceeded): exit 3.
	errRefused = errors.New("refused before any write")
)

// exitCode is the one place where an error becomes an exit code (spec/cli.md).
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errChanges):
		return 2
	case errors.Is(err, errRefused):
		return 3
	default:
		return 1
	}
}

// globalOptions are the flags that every command takes.
type globalOptions struct {
	url       string
	caCert    string
	logFormat string
	logLevel  string
}

// app is what the commands of one run share.
type app struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	opts      globalOptions
	logger    *slog.Logger // set once the global flags have been checked

	// started is set when a command is about to run: an error before that is about how
	// pbxsync was called, and comes with a hint.
	started bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: lookupEnv}
	return a.execute(ctx, a.newRootCmd(), args)
}

// execute runs root with args, prints an error as one line on stderr and returns the
// exit code.
func (a *app) execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !errors.Is(err, errChanges) {
		fmt.Fprintf(a.stderr, "pbxsync: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		if !a.started {
			fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return exitCode(err)
}
