package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/sync"
)

type exportOptions struct {
	out            string
	companies      []string
	match          string
	includeSecrets bool
	compact        bool
	parallelism    int
	fleet          fleetOptions
}

func (a *app) newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write the server's companies and containers as an inventory",
		Long: `Read every company and container of the server and write them as an inventory:
sorted, the same bytes for the same server, every known setting with the server's
value, containers under the server's names, fields this pbxsync does not know as
comments. Descriptions are not exported: the API cannot read them.

Secrets (PINs and passwords) are written as ${VAR} references, COMPANY_FIELD in upper
case (acme_hq's nm_password is ${ACME_HQ_NM_PASSWORD}); standard error lists the
variables the export names, never their values. --include-secrets writes the values
instead: -o FILE is then created with mode 0600, and standard output is refused when
it is a terminal.

--fleet FILE writes each PBX's companies into the inventory path the fleet file
gives it, for adopting a running fleet: a directory gets companies.yaml; a path
that already holds an inventory is refused, never overwritten.

--company and --match choose companies; the companies that share a container with
them come along, so that no container is cut in two. -o FILE is replaced atomically.

An export is also a state file for the embedded simulator: plan, apply or migrate
against --url sim:FILE shows the calls a real run would make, on a copy.`,
		Example: `  # Review the server as an inventory; set the variables it names, then plan with it.
  pbxsync export -o inventory.yaml
  pbxsync plan -f inventory.yaml --detailed-exitcode   # exit 0: nothing to do

  # Two customers and the companies that share their containers.
  pbxsync export --company acme_hq --company beta -o customers.yaml
  pbxsync export --match '^cust_' > customers.yaml

  # Rehearse on a copy: the simulator keeps its state in the file, secrets included.
  pbxsync export -o snap.yaml --include-secrets
  pbxsync apply -f inventory.yaml --url sim:snap.yaml
  pbxsync migrate --from https://old-pbx.example.com --to sim:snap.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.export(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "", "write to `FILE` (replaced atomically) instead of standard output")
	selectionFlags(cmd, &o.companies, &o.match, "")
	f.BoolVar(&o.compact, "compact", false, "write a value most companies share once, under defaults, and each company's settings only where they differ")
	f.BoolVar(&o.includeSecrets, "include-secrets", false, "write secret values instead of ${VAR} references (-o FILE gets mode 0600)")
	a.parallelismFlag(cmd, &o.parallelism)
	fleetFlags(cmd, &o.fleet, false)
	return cmd
}

func (a *app) export(ctx context.Context, o exportOptions) (err error) {
	if o.fleet.file != "" {
		return a.exportFleet(ctx, o)
	}
	re, err := compileMatch(o.match)
	if err != nil {
		return err
	}
	if o.includeSecrets && o.out == "" && terminal(a.stdout) {
		return errors.New("--include-secrets would print secret values on the terminal: write them to a file with -o FILE (mode 0600)")
	}
	srv, err := connect(ctx, a.opts, false, a.lookupEnv, a.logger)
	if err != nil {
		return err
	}
	defer func() { err = closeServer(srv, err) }()
	e, err := sync.Export(ctx, srv, sync.ExportOptions{Companies: o.companies, Match: re, IncludeSecrets: o.includeSecrets,
		Compact: o.compact, Parallelism: o.parallelism})
	if err != nil {
		return err
	}
	if o.out == "" {
		if _, err := a.stdout.Write(e.Data); err != nil {
			return err
		}
	} else {
		perm := fs.FileMode(0o644)
		if o.includeSecrets {
			perm = 0o600
		}
		if err := sync.WriteFileAtomicMode(o.out, perm, func(w io.Writer) error { _, err := w.Write(e.Data); return err }); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
	}
	a.reportExport(ctx, o.out, o.includeSecrets, e)
	return nil
}

// reportExport tells on stderr what was exported and which variables the export
// names (never their values), or that it holds secrets in plain text.
func (a *app) reportExport(ctx context.Context, out string, includeSecrets bool, e *sync.Exported) {
	companies, containers, variables := len(e.IDs), e.Containers, e.Variables
	where := "standard output"
	if out != "" {
		where = out
	}
	if a.opts.logFormat == "json" {
		a.logger.LogAttrs(ctx, slog.LevelInfo, "exported", slog.String("to", where), slog.Int("companies", companies),
			slog.Int("containers", containers), slog.Any("variables", variables))
		if includeSecrets {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "the export holds secret values in plain text", slog.String("to", where))
		}
		return
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "Exported %s and %s to %s.\n", plural(companies, "company", "companies"), plural(containers, "container", "containers"), apiclient.Printable(where))
	switch {
	case includeSecrets && out != "":
		fmt.Fprintf(b, "Warning: %s holds secret values in plain text (mode 0600): keep it private, and out of git.\n", apiclient.Printable(out))
	case includeSecrets:
		b.WriteString("Warning: the export holds secret values in plain text: keep it private, and out of git.\n")
	case len(variables) > 0:
		these := "these variables"
		if len(variables) == 1 {
			these = "this variable"
		}
		fmt.Fprintf(b, "It names %s as ${VAR}; set %s before planning with it:\n", plural(len(variables), "secret", "secrets"), these)
		for _, v := range variables {
			fmt.Fprintf(b, "  %s\n", apiclient.Printable(v)) // named after a company-id the server chose
		}
	}
	_, _ = io.WriteString(a.stderr, b.String())
}
