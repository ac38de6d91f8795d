package main

import "github.com/spf13/cobra"

// securityHelp is `pbxsync help security`, and the README's "Security model" says
// the same.
const securityHelp = `pbxsync holds a System-Admin key and every tenant's PINs, and it deletes tenants.
This is what it trusts, and how it keeps what it does not trust from turning it
against you.

Trusted: you. The inventory files, the environment, the command line and the
machine pbxsync runs on. Review inventories like code: they say what is deleted.

Not trusted: the server, its operators and its tenants, and plan files in transit.

Credentials
  - Only from the environment (PBX_API_KEY, or PBX_USERNAME and PBX_PASSWORD), never
    from the command line, never printed, logged or written to a file.
  - A refused login stops the run: nothing more is sent, and a run makes at most one
    failed login, so a rotated password cannot lock the account. An expired session
    is renewed by one login shared by every request in flight.
  - http:// is accepted only for this machine (127.0.0.0/8, ::1, localhost): the key
    travels inside the request. Any other host needs https://, unless you pass
    --allow-http on purpose. TLS is always verified (--ca-cert trusts a private CA);
    redirects are never followed.

Secrets in the inventory
  - ${VAR} is expanded only in the secret fields (nm_password, ivr_password,
    barge_pin), and only as the whole value. Anywhere else ${...} is literal text: a
    tenant who writes ${PBX_API_KEY} into its own settings gets that text back, never
    the key. An unset or empty variable is an error that names it; write "" to clear
    a PIN on purpose. validate needs no secrets and only warns.
  - Secret values show as (sensitive) in every plan, log, report and error. A saved
    plan holds none; export writes them as ${VAR} unless --include-secrets (then
    -o FILE gets mode 0600, and a terminal is refused).

What the server says
  - Every string from the server (names, free text, container names, error messages)
    is data: control characters, escape sequences, carriage returns, line breaks and
    bidirectional overrides are shown escaped (\x1b, \r, \u202e), never raw, in text,
    Markdown, JSON, logs and reports. In Markdown it cannot leave its code span.
  - A server may echo a request in its error message: the key, the password, the
    session and every secret value sent are removed from every message, whatever
    their length, before anyone sees it.
  - An answer is bounded in size (256 MiB), and --timeout bounds the whole run.

Deletes
  - Only companies that the reviewed plan names are deleted: --prune with the
    inventory's prune.match, at most --max-delete for the whole run (default 0).
    A repair round never deletes a company the plan did not name, such as one that
    appeared during the run.
  - apply PLANFILE plans again and applies only if every saved change is in the
    fresh plan unchanged, the fresh plan has no other, and every company touched
    reads as when the plan was made; else it refuses with exit 3 before any write. A
    hand edit can only make it refuse. A plan file is checked, not signed: it names
    the options it was made with (--prune, --max-delete), and those stay within what
    the reviewed inventory's prune.match allows.

Files
  - --report, --metrics-file and -o replace their file atomically and keep its mode.
  - --lock-file never follows a symbolic link and never truncates a file it did not
    write.

Not covered: a machine or account that runs pbxsync and is itself compromised, and
an inventory change that no one reviewed.`

// newHelpTopics returns the reference that ships with the binary, as cobra's help
// topics: pbxsync help TOPIC.
func newHelpTopics() []*cobra.Command {
	return []*cobra.Command{{
		Use:   "security",
		Short: "What pbxsync trusts, and how it keeps its secrets and your terminal safe",
		Long:  securityHelp,
	}}
}
