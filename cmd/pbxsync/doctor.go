package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/sync"
)

func (a *app) newDoctorCmd() *cobra.Command {
	var asJSON, writeTest bool
	var companies []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check, read-only, what a first run against a server depends on",
		Long: `Check, before the first plan against a server, what pbxsync depends on, and say
for each check ok, warning, failed or skipped, and what to do: that the server
answers the API, the credentials and their role (System-Admin, or a company
administrator's), the API version as far as the fields returned tell it, whether
containers can be read, the latency, and how many requests in flight the server
takes before it answers 429 or slows down (a suggested --parallelism). It only
reads: about forty requests. --write-test also creates three scratch companies
(pbxsync_doctor_...) to learn whether group moves a company alone or its whole
container, whether feature switches are kept for these credentials, and whether an
update's answer shows what was written; it deletes them again, also on Ctrl-C and
after an error. A company administrator's credentials may read only their own
companies: name one with --company ID; --write-test then sets that company's
nocallrec the other way, reads it back, and sets it back, also on Ctrl-C (a switch
it cannot set back is a failed "cleanup" check naming the company).

Every check is listed. One that cannot run is "skipped", with the reason: after a
failed check it needs, or on a server that holds no company, where the API version
and the containers are read from the scratch companies of --write-test, which needs
none (without it, they are skipped).

--json prints one object: {"checks": [{"name", "status": "ok"|"warning"|"failed"|
"skipped", "detail"}], "role": "system_admin"|"company_admin", "group_mode":
"move"|"merge", "feature_switches_kept": true|false, "suggested_parallelism": N},
the last four where learnt. With --trace FILE, what the server answered goes into a
file to attach to a bug report.`,
		Example: `  pbxsync doctor --url https://pbx.example.com
  PBX_API_KEY=$TENANT_KEY pbxsync doctor --company acme_hq --write-test
  pbxsync doctor --json --trace first-contact.har`,
		Args: noPositional,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := a.doctor(cmd.Context(), sync.DoctorOptions{WriteTest: writeTest, Companies: companies})
			if err != nil {
				return err
			}
			if asJSON {
				err = apiclient.WriteJSON(a.stdout, rep)
			} else {
				err = rep.WriteText(a.stdout)
			}
			if err == nil && rep.Failed() {
				err = errors.New("doctor: a check failed")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was found as one JSON document")
	cmd.Flags().BoolVar(&writeTest, "write-test", false, "also create three scratch companies (pbxsync_doctor_...) to learn the group mode, whether feature switches are kept and whether update answers show what was written; they are deleted again, also on Ctrl-C")
	cmd.Flags().StringSliceVar(&companies, "company", nil, "for a company administrator's credentials, which may not read every company: a company they administer (repeatable); --write-test then sets its nocallrec the other way and back, to learn whether feature switches are kept")
	formatFlag(cmd, &asJSON)
	return cmd
}

// doctor connects to the server of the flags and runs doctor's checks on it.
func (a *app) doctor(ctx context.Context, opts sync.DoctorOptions) (*sync.DoctorReport, error) {
	a.opts.parallelism, a.opts.maxParallelism = 0, apiclient.DefaultMaxParallelism // auto: the parallelism check finds the limit as a run would
	srv, err := connect(ctx, a.opts, false, a.lookupEnv, a.logger)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	opts.URL, opts.Simulated = srv.url, srv.sim != nil
	return sync.Doctor(ctx, srv, opts), nil
}
