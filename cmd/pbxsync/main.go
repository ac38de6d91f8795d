// Command pbxsync keeps the companies (tenants) of a multi-tenant PBX in line with a
// YAML inventory kept in git.
//
// This package is the command line only: flags into options, one call into plan or
// sync, what is printed (plans on standard output or error, logs, progress, prompts),
// the help, and the exit code, decided in one place (exitCode). Engines that read or
// write a server live in sync, decisions in plan.
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
	"time"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

func main() {
	// What a run holds is the inventory and the server's companies (85 MB for 50,000
	// companies with every field set); the collector's default lets the heap grow to
	// twice that between collections. 40% of it, and a soft limit, keep a plan of
	// 50,000 companies under 170 MB (220 MB at the default), for about a fifth more
	// CPU time. GOGC and GOMEMLIMIT, when set, decide instead.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(40)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(256 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// errChanges ends plan --detailed-exitcode and diff when there are changes: exit 2,
// and nothing is printed, since it is not a failure.
var errChanges = errors.New("there are changes")

// exitCode is the one place where an error becomes an exit code (cli.md, and
// exitCodes for what each means): exitRefused for a plan.Refusal, whichever package
// found it.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errChanges):
		return exitChanges
	case refused(err):
		return exitRefused
	default:
		return exitError
	}
}

// refused reports whether err refuses the run before any write (exit 3).
func refused(err error) bool {
	var r plan.Refusal
	return errors.As(err, &r)
}

// refusedPrefix leads the message of a refusal, on stderr and in reports.
const refusedPrefix = "refused before any write: "

// shown is err as a person and a report read it: a refusal says so first. plan's
// budget, which refuses nothing, says "apply would refuse" instead
// (plan.WouldRefuseError).
func shown(err error) error {
	var would *plan.WouldRefuseError
	if err == nil || !refused(err) || errors.As(err, &would) || strings.HasPrefix(err.Error(), refusedPrefix) {
		return err
	}
	return fmt.Errorf("%s%w", refusedPrefix, err)
}

// globalOptions are the flags that every command takes.
type globalOptions struct {
	url       string
	caCert    string
	logFormat string
	logLevel  string
	allowHTTP bool             // http:// to a host other than this machine (spec/api.md)
	noColor   bool             // no colour, whatever the terminal
	trace     string           // write every request and answer, redacted, to this HAR file
	recorder  *apiclient.Trace // made for --trace once the flags are read; nil without
	timeout   time.Duration    // a deadline for the whole run; 0 for none
	// parallelism is --parallelism (0 for auto), maxParallelism --max-parallelism:
	// each server's limiter is made of them.
	parallelism, maxParallelism int
	// clientOptions go to every client of the run, before the command's own: a test
	// gives a retry policy that does not wait through real backoff.
	clientOptions []apiclient.Option
}

// timeoutError is the cause of the run's context when --timeout passes. It is also a
// context.DeadlineExceeded, so that code which knows nothing of the flag can tell a
// deadline from an interrupt.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("the run took longer than --timeout %s", e.d)
}

func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// app is what the commands of one run share.
type app struct {
	stdin     io.Reader // as given: whether it is a terminal
	input     io.Reader // stdin to read from: a read ends at an interrupt
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	resolver  apiclient.Resolver // whether two URLs name one server; a test gives it its own lookup
	opts      globalOptions
	logger    *slog.Logger // set once the global flags have been checked
	logOut    *logLines    // stderr for the logs, which a progress line makes way for

	// started is set when a command is about to run: an error before that is about how
	// pbxsync was called, and comes with a hint.
	started bool

	// stopDeadline releases the deadline of --timeout; nil without one.
	stopDeadline context.CancelFunc
}

// run runs pbxsync with args; clientOpts go to every client it makes (see
// globalOptions.clientOptions).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv func(string) (string, bool), clientOpts ...apiclient.Option) int {
	a := &app{stdin: stdin, input: &interruptible{ctx: ctx, r: stdin}, stdout: stdout, stderr: stderr, lookupEnv: lookupEnv, logOut: &logLines{w: stderr}}
	a.opts.clientOptions = clientOpts
	return a.execute(ctx, a.newRootCmd(), args)
}

// execute runs root with args, prints an error as one line on stderr and returns the
// exit code.
func (a *app) execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	err = a.timedOut(cmd, err)
	if a.opts.recorder != nil { // whatever happened: a failed run is what a bug report is about
		if werr := sync.WriteFileAtomicMode(a.opts.trace, 0o600, a.opts.recorder.WriteHAR); werr != nil && err == nil {
			err = fmt.Errorf("--trace: %w", werr)
		}
	}
	code := exitCode(err)
	err = shown(err)
	if err != nil && !errors.Is(err, errChanges) {
		// The error may quote a server (its message, a company-id): printable.
		msg := apiclient.Printable(strings.Join(strings.Fields(err.Error()), " "))
		hint := ""
		if !a.started {
			hint = usageHint(cmd, err)
		}
		if a.opts.logFormat == "json" { // every line on stderr is JSON, the last one too
			attrs := []slog.Attr{slog.String("error", msg), slog.Int("exit_code", code)}
			if hint != "" {
				attrs = append(attrs, slog.String("hint", strings.ReplaceAll(hint, "\n", " ")))
			}
			slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{ReplaceAttr: jsonAttr})).LogAttrs(ctx, slog.LevelError, "pbxsync failed", attrs...)
			return code
		}
		fmt.Fprintf(a.stderr, "pbxsync: %s\n", msg)
		if hint != "" {
			fmt.Fprintln(a.stderr, hint)
		}
	}
	return code
}

// startDeadline gives cmd's context the deadline of --timeout, if one was given.
func (a *app) startDeadline(cmd *cobra.Command) error {
	d := a.opts.timeout
	if d < 0 {
		return fmt.Errorf("invalid --timeout %s: a duration such as 90s or 30m, or 0 for none", d)
	}
	if d == 0 {
		return nil
	}
	ctx, stop := context.WithTimeoutCause(cmd.Context(), d, &timeoutError{d})
	a.stopDeadline = stop
	cmd.SetContext(ctx)
	return nil
}

// timedOut ends the run's deadline and, when it passed, makes sure that err says so:
// an error that came through the context does already; one that did not (a cancelled
// prompt) gets the reason in front. A refusal is left as it is: it was decided on
// what had been read in full, and keeps its exit code 3.
func (a *app) timedOut(cmd *cobra.Command, err error) error {
	if a.stopDeadline == nil {
		return err
	}
	defer a.stopDeadline()
	var te *timeoutError
	switch {
	case err == nil, errors.Is(err, errChanges), refused(err), errors.As(err, &te):
		return err
	case cmd == nil || !errors.As(context.Cause(cmd.Context()), &te):
		return err // the deadline did not pass
	}
	return fmt.Errorf("%w: %w", te, err)
}

// errInterruptedInput ends a read of standard input that an interrupt cut short.
var errInterruptedInput = errors.New("interrupted")

// interruptible reads r, but a read still waiting when ctx ends (an interrupt) ends
// at once with errInterruptedInput: a command that reads its inventory from a pipe
// or a terminal that never closes still ends on Ctrl-C (cli.md "Files pbxsync
// reads"). Each read waits in a goroutine of its own, which ends with that read, or
// with the process when ctx ended first; it reads into buf, kept from read to read,
// since an abandoned read may still write after the call returned.
type interruptible struct {
	ctx context.Context
	r   io.Reader
	buf []byte
}

func (in *interruptible) Read(p []byte) (int, error) {
	if in.ctx.Err() != nil {
		return 0, errInterruptedInput
	}
	type result struct {
		n   int
		err error
	}
	if cap(in.buf) < len(p) {
		in.buf = make([]byte, len(p))
	}
	buf := in.buf[:len(p)]
	done := make(chan result, 1)
	go func() {
		n, err := in.r.Read(buf)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return copy(p, buf[:r.n]), r.err
	case <-in.ctx.Done():
		in.buf = nil // the read still under way owns it
		return 0, errInterruptedInput
	}
}
