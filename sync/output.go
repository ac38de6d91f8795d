package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pbxsync/pbxsync/apiclient"
)

// Outcome is a finished run as its outputs write it: the summary a person reads, the
// JSON document for scripts and --report, and the metrics for --metrics-file. apply,
// apply --fleet and migrate each make one (Report.Outcome, FleetReport.Outcome,
// Migration.Outcome), and Outputs.Write writes any of them.
type Outcome struct {
	Summary func(io.Writer) error
	JSON    func(io.Writer) error
	Metrics func(w io.Writer, now time.Time) error
}

// Outputs are where a run's result goes (cli.md): standard output, --report and
// --metrics-file.
type Outputs struct {
	Stdout  io.Writer
	JSON    bool   // standard output gets the JSON document instead of the summary
	Report  string // --report FILE; "" for none
	Metrics string // --metrics-file FILE; "" for none
	Logger  *slog.Logger
}

// Write writes the outcome of a run that ended with runErr: standard output when
// shown (something was applied, or found to need nothing), the report and the
// metrics files whatever happened, each replaced atomically. It returns runErr when
// there is one, after logging any failure to write; otherwise the errors of writing,
// all of them. No write error is ever dropped.
func (o Outputs) Write(ctx context.Context, out Outcome, shown bool, runErr error) error {
	var errs []error
	if shown {
		write := out.Summary
		if o.JSON {
			write = out.JSON
		}
		errs = append(errs, write(o.Stdout))
	}
	if o.Report != "" {
		if err := WriteFileAtomic(o.Report, out.JSON); err != nil {
			errs = append(errs, fmt.Errorf("--report: %w", err))
		}
	}
	if o.Metrics != "" {
		write := func(w io.Writer) error { return out.Metrics(w, time.Now()) }
		if err := WriteFileAtomic(o.Metrics, write); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-file: %w", err))
		}
	}
	outErr := errors.Join(errs...)
	if runErr == nil {
		return outErr
	}
	if outErr != nil && o.Logger != nil {
		o.Logger.LogAttrs(ctx, slog.LevelError, "writing the result", slog.String("error", outErr.Error()))
	}
	return runErr
}

// Outcome is the outcome of an apply that ended with runErr, on the server that
// metrics name server.
func (r *Report) Outcome(server string, runErr error) Outcome {
	result := r.JSON()
	if runErr != nil {
		result.Error = oneLine(runErr)
	}
	return Outcome{
		Summary: r.WriteSummary,
		JSON:    result.WriteJSON,
		Metrics: func(w io.Writer, now time.Time) error { return r.WriteMetrics(w, now, server, runErr) },
	}
}

// Outcome is the outcome of a fleet run that took d and ended with runErr.
func (r *FleetReport) Outcome(d time.Duration, runErr error) Outcome {
	doc := r.JSON(d, runErr)
	return Outcome{
		Summary: r.WriteSummary,
		JSON:    func(w io.Writer) error { return apiclient.WriteJSON(w, doc) },
		Metrics: func(w io.Writer, now time.Time) error { return r.WriteMetrics(w, now, runErr) },
	}
}

// Outcome is the outcome of a migration, as rep reports it, between the servers
// that metrics name from and to.
func (m *Migration) Outcome(rep MigrationReport, from, to string) Outcome {
	return Outcome{
		Summary: func(w io.Writer) error { return m.WriteSummary(w, rep) },
		JSON:    rep.WriteJSON,
		Metrics: func(w io.Writer, now time.Time) error { return rep.WriteMetrics(w, now, from, to) },
	}
}

// oneLine is an error's message on one line, as a JSON result holds it.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
