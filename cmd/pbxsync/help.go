package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
)

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

// inventoryHelp is pbxsync help inventory: the format, with the settings drawn
// from the field table.
func inventoryHelp() string {
	var secrets []string
	for _, f := range apiclient.Fields() {
		if f.Secret {
			secrets = append(secrets, f.Name)
		}
	}
	b := &strings.Builder{}
	b.WriteString(`An inventory says which companies should exist on one PBX, with which settings,
and which of them share a container. It is the file people review in a pull request
and that a nightly job reconciles. pbxsync export writes the same format, and the
simulator (--url sim:FILE) keeps its state in it.

  version: 1                     # required: the format's version
  defaults:                      # settings for the companies that do not set their own
    zone: Europe/London
    vm_maxmsgs: 100
  profiles:                      # named sets of settings, for companies to list
    queues: {q_ringtime: 20, q_wraptime: 30}
  companies:                     # company-id -> company
    acme_hq:
      name: Acme HQ              # required: it is required to create the company
      description: Head office   # sent on create, never read back
      profiles: [queues]
      settings:                  # the company's own settings, by their API names
        zone: US/Pacific
        q_ringtime: 15           # one value with the server's "15"
        nm_password: ${ACME_NM_PIN}   # secrets only: from the environment
    acme_west:
      name: Acme West
    solo_ltd:
      name: Solo Ltd
  containers:                    # a label -> the companies that share one container
    acme: [acme_hq, acme_west]
  prune:                         # which absent companies --prune may delete
    match: "^cust_"              # a regular expression over company-ids

Keys
  version     required, and 1.
  defaults    settings for every company of the file that does not set its own.
  profiles    profile name -> settings.
  companies   company-id -> company. A company-id is letters, digits and _, 1 to 32
              characters. A company has a name (required: letters, digits, space
              and . , ; - _, 1 to 240 characters), and may have a description,
              settings and profiles (a list of profile names).
  containers  label -> a list of two or more company-ids. The label is for people:
              the server names containers itself.
  prune       match: a regular expression (Go's syntax) over company-ids.
  x-...       keys that start with x-, at the top level or in a company, are
              ignored: a place to keep anchors. Any other key is an error.

Meaning
  - Managed fields only. A setting that no company, profile or defaults names is not
    managed: pbxsync never changes it and never reports it as a difference.
  - Grouping is exact for the companies listed. Companies in one containers entry
    end up in one container, companies in different entries in different
    containers, and a company of the inventory in no entry stands alone.
  - Companies on the server but not in the inventory are unmanaged: never changed,
    only counted in the plan, which warns where one shares a container with a
    managed company. The one exception is --prune: it deletes an absent company
    whose id matches prune.match, within the delete budget (--max-delete).
  - A description is write-only on this API: pbxsync sends it on create, and on
    update only with --force-description, since no difference can be computed.

Many files
  -f may be given several times, each a file or a directory; a directory means
  every *.yaml and *.yml file directly inside it, in name order, and -f - reads one
  inventory from standard input. Together they form one inventory: a company-id, a
  container label or a profile name defined twice is an error naming both places,
  prune may appear in one file only, and every file has version: 1.

Defaults and profiles
  defaults in a file apply to the companies of that file, and win over the defaults
  of a file named _defaults.yaml in the same directory, which apply to every company
  of that directory. A profile may be defined in any file of the inventory, and an
  unknown profile is an error at the company's line. A company's settings, lowest
  first: directory defaults, file defaults, each of its profiles in the order
  listed, its own settings. plan --explain says which file and line set each
  changed value.

YAML as people write it
  Anchors, aliases and merge keys work wherever a mapping is expected:

    x-queues: &queues {q_ringtime: 20, q_wraptime: 30}
    companies:
      acme_hq:
        name: Acme HQ
        settings:
          <<: *queues            # or <<: [*a, *b]; keys set here win
          q_ringtime: 15

Secrets: ${VAR}
`)
	b.WriteString(wrap(fmt.Sprintf(`${VAR} is expanded only in the secret fields (%s), and only as
		the whole value: a secret is a literal value or exactly one ${VAR} (VAR: letters, digits
		and _, not starting with a digit). Everywhere else, in ids, names, descriptions and
		free-text settings, ${...} is literal text. An unset or empty variable is an error that
		names it (validate, which needs no secrets, warns); to clear a PIN, write "". A secret
		in plain text is a warning.`, oneOfWords(secrets, "and")), "  ", 84))
	b.WriteString(`
Settings
  Each setting is a field of the server, by its API name. A field whose values are
  numbers takes a number or its text alike: q_ringtime: 15 and "15" are one value.
  Feature switches need System-Admin credentials: for anyone else the server
  ignores them. pbxsync explain FIELD says everything about one.

`)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, f := range apiclient.Fields() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Allowed, fieldFlags(f))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	b.WriteString(`
Validation
  pbxsync validate -f FILE checks an inventory offline and reports every problem at
  once, each as FILE:LINE:COLUMN: message, before anything is sent to a server:
  unknown keys at any level, version, company-ids and names, unknown settings and
  values outside their allowed values (a wrong type included), time zones that do
  not exist, unset variables, profiles that no file defines, container members
  that are not companies of the inventory, a company in two containers, a container
  of fewer than two, duplicated keys and definitions, and an invalid prune.match. A
  deprecated field is a warning.

Editors
  pbxsync schema prints a JSON Schema of this format, drawn from the same field
  table, for an editor with a YAML language server:

    pbxsync schema > inventory.schema.json
    # yaml-language-server: $schema=./inventory.schema.json    (first line of a file)
`)
	return strings.TrimSuffix(trimLineEnds(b.String()), "\n")
}

// trimLineEnds removes the spaces at the end of each line.
func trimLineEnds(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// oneOfWords lists words as "a, b and c" (or "or c").
func oneOfWords(words []string, and string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + and + " " + words[len(words)-1]
}

// planJSONHelp is pbxsync help plan-json: the JSON of plan.JSONPlan and of
// sync.JSONResult, as they are.
const planJSONHelp = `plan --json (or --format json) prints the plan as one JSON document on standard
output; logs and errors go to standard error, so that

  pbxsync plan -f inventory.yaml --json > plan.json

is always valid JSON. The format is a contract: it changes only with a new
format_version.

  {
    "format_version": 1,
    "changes": [
      {"action": "delete", "company": "cust_old"},
      {"action": "create", "company": "acme_hq", "name": "Acme HQ",
       "settings": {"nm_password": "(sensitive)", "q_ringtime": "15", "zone": "US/Pacific"}},
      {"action": "update", "company": "beta",
       "fields": {"name": {"before": "Beta", "after": "Beta GmbH"},
                  "record": {"before": 1, "after": 3}}},
      {"action": "ungroup", "company": "gamma"},
      {"action": "group", "company": "acme_west", "target": "acme_hq"}
    ],
    "summary": {"create": 1, "update": 1, "ungroup": 1, "group": 1, "delete": 1},
    "unmanaged": 2,
    "unmanaged_companies": ["legacy_co", "ops_lab"],
    "warnings": []
  }

  format_version  1.
  changes         deletes first, then creates, updates, ungroups and groups, each
                  sorted by company-id. Every change has:
    action        "delete", "create", "update", "ungroup" or "group".
    company       the company-id.
    name          create only: the new company's name.
    description   create only, when the inventory gives one: the description sent
                  with the create (the API never returns it).
    settings      create only: the settings the new company gets (by an update
                  after the create), field -> value.
    fields        update only: field -> {"before", "after"}, each field that
                  changes, "before" as the server has it; "name" when the name
                  changes.
    target        group only: the company whose container the company joins.
  summary         the number of changes of each action, every action named.
  unmanaged       how many companies on the server the inventory does not name
                  (a company the plan deletes is not counted).
  unmanaged_companies
                  those companies' ids, sorted.
  partial         true only for a plan of companies --company and --match chose
                  (with their container partners); absent otherwise.
  warnings        what a reviewer should know, as sentences; [] when none.
  not_planned     only when the server could not be read for some companies: a
                  list of {"company", "reason"}. Such a plan is incomplete: plan
                  exits 1, and does not save it with --out.

Values are JSON as the server stores them: "15" for a field held as a string, 15
for an integer field, true, false or null for a switch. A secret's value, before
and after alike, is always the string "(sensitive)".

apply --json prints the result of the run as one JSON document, and --report FILE
writes the same document whatever the outcome:

  {
    "format_version": 1,
    "changes": [
      {"action": "update", "company": "beta", "fields": {...},
       "status": "ok", "round": 0},
      {"action": "group", "company": "acme_west", "target": "acme_hq",
       "status": "failed", "error": "server refused: ...", "round": 0}
    ],
    "summary": {"ok": 1, "failed": 1, "skipped": 0, "not_run": 0},
    "verified": false,
    "drift": [],
    "unresolved": [],
    "rounds": 1,
    "retries": 3,
    "interrupted": false,
    "duration_seconds": 1.234,
    "error": "apply did not succeed: 1 change failed"
  }

  changes             each change of the plan and of the repair rounds, once, in the
                      order first tried, as in the plan, with:
    status            "ok"; "failed", with "error"; "skipped", with "error", when a
                      change it depends on failed; "not run", when the run was
                      interrupted or stopped before it started.
    error             why it failed or was skipped: the server's message.
    round             the round of its last attempt: 0 for the plan, 1 and on for
                      repair rounds.
  summary             the number of changes by status: ok, failed, skipped, not_run.
  verified            true when the server, read back, holds the whole inventory.
  drift               values the server did not keep although it answered success:
                      a list of {"company", "field", "want", "got"}, where field is
                      a setting, "name", "container" or "exists"; secrets as
                      "(sensitive)".
  unresolved          changes, in the plan's form, still found after the last
                      repair round.
  verification_error  only when the server could not be read back: why.
  not_planned         only when the plan left companies out: as in the plan.
  rounds              how many repair rounds ran.
  retries             how many requests were sent again after a passing failure
                      (429, 503, a lost connection), reads included.
  interrupted         true when the run was interrupted (Ctrl-C, --timeout).
  duration_seconds    how long the whole run took.
  error               only when the run did not succeed: why, as pbxsync printed it.`

// exitCodesHelp is pbxsync help exit-codes: what main's exitCode gives.
const exitCodesHelp = `pbxsync ends with one of four exit codes, a contract that scripts and cron jobs
rely on:

  0  success; for plan --detailed-exitcode, success and no changes.
  1  an error: bad input, no connection, refused credentials, a change that failed,
     a change the server did not keep, an incomplete plan, an interruption, or the
     --timeout reached.
  2  plan --detailed-exitcode only: success, and there are changes. diff: the two
     servers differ.
  3  refused before any write: a stale plan file (apply PLANFILE), more deletes
     than --max-delete allows (plan, apply and migrate), or with --fleet more moves
     between PBXs than --max-move allows (plan and apply).

A drift check from cron:

  pbxsync plan -f inventory.yaml --detailed-exitcode > /dev/null
  case $? in
    0) echo "in line" ;;
    2) echo "drift: run pbxsync apply" ;;
    *) echo "the check failed" ;;
  esac

Errors go to standard error, one line each; standard output carries only the
result.`

// fleetHelp is pbxsync help fleet: the fleet file, its flags, moves, and the fleet
// plan's JSON, as cmd/pbxsync/fleet.go, plan/fleet.go and plan/fleetplan.go do them.
const fleetHelp = `A fleet is many PBXs kept from one repository: a fleet file names each PBX with
its server, its credentials and its inventory, and which PBX a company lives on is
which inventory lists it. Moving a company's entry from one PBX's inventory to
another's moves the company, with every setting and PIN it has.

  version: 1
  pbxs:
    london:
      url: sim:pbx-london.yaml       # the server as --url takes it: https://...
      credentials: LONDON            # PBX_LONDON_API_KEY: see credentials below
      inventory: london/             # a file or a directory: pbxsync help inventory
    paris:
      url: sim:pbx-paris.yaml
      inventory: paris/              # credentials: PARIS, from the name

Keys
  version      required, and 1.
  pbxs         PBX name -> its url, inventory and credentials. A name is letters,
               digits, _ and -.
    url          required: https://... (http://... for this machine only, unless
                 --allow-http), or sim:FILE, relative to the fleet file.
    inventory    required: a file or a directory, relative to the fleet file.
    credentials  the middle of the PBX's environment variables:
                 PBX_<credentials>_API_KEY, or PBX_<credentials>_USERNAME and
                 PBX_<credentials>_PASSWORD. Without it, the PBX's name upper-cased,
                 - as _. Credentials never go in the file.
  x-...        keys that start with x-, at the top or in a PBX, are ignored.

  validate --fleet checks the fleet file and every inventory offline, and reports
  every problem at once as FILE:LINE:COLUMN: message; also a company-id in the
  inventories of two PBXs (both places named) and a url that two PBXs share.

Commands
  pbxsync validate --fleet fleet.yaml             offline, no secret needed
  pbxsync plan --fleet fleet.yaml                 the moves, then each PBX's plan
  pbxsync apply --fleet fleet.yaml --max-move 1   plan, confirm, apply, move
  pbxsync apply --fleet fleet.yaml --pbx london   only london (see --pbx)
  pbxsync plan --fleet fleet.yaml -o fleet.plan   save it; apply fleet.plan applies
                                                  exactly that, or refuses (exit 3)
  pbxsync export --fleet fleet.yaml               adopt a running fleet: each PBX's
                                                  companies where its inventory is to be

  --fleet FILE         instead of -f and --url: giving either too is an error,
                       and PBX_URL, PBX_API_KEY and the other single-server
                       variables are ignored.
  --pbx NAME           (repeatable) plan and write only these PBXs. The others are
                       still read (one request each), since a company new on a
                       chosen PBX may be a move from them, and their inventories
                       are loaded offline: their ${VAR}s need not be set.
  --max-move N         (plan, apply) at most N moves; default 0. More are refused
                       before any write, exit 3.
  --pbx-parallelism M  (plan, apply) at most M PBXs worked on at once; default 4.
                       --parallelism N bounds the requests in flight on each PBX.
  --prune and --max-delete work on each PBX as for one inventory; a move's delete
  does not count against --max-delete, and a company that another PBX's inventory
  lists is never pruned (it waits to move there).

  plan --fleet -o PLANFILE saves the fleet plan with fingerprints of what each PBX's
  plan touches and of each moved company on its old PBX; apply PLANFILE plans again
  and applies only when nothing differs, else refuses before any write (exit 3).
  export --fleet writes each PBX's companies where the fleet file puts its inventory
  (a directory gets companies.yaml), for adopting a running fleet; a path that holds
  an inventory already is refused, never overwritten.

Moves
  A company is moved from PBX A to PBX B when B's inventory lists it, B's server
  lacks it, and A's server holds it while A's inventory does not list it. Apply:
    1. creates it on B with its name and every setting A holds (the fields no
       inventory manages and the PINs too, carried in memory only), then B's
       inventory's values, and groups it as B's inventory says;
    2. reads B back and compares it with what A held and B's inventory asks;
    3. only then deletes it from A.
  When step 2 fails the company stays on A, the move is reported unfinished and the
  run exits 1; the next run finishes it: a company both servers hold is adopted on
  B, then deleted from A. A's plan neither deletes a moved company nor counts it
  unmanaged; a company on A that no inventory of the fleet lists stays unmanaged.

  Moves are budgeted like deletes. plan exits 3 too when they exceed --max-move, as
  apply would refuse. A nightly run keeps the default, 0, so that a company moves
  only in a run someone reviewed: apply --fleet FILE --max-move N, N the moves
  reviewed.

Safety
  - One PBX that cannot be read, refuses the credentials or fails a change never
    stops the others. A move that involves it is not finished: the company stays
    on its old PBX until a run where both succeed. The run exits 1 and names each
    PBX that failed; the report lists every PBX.
  - A company an inventory adds that may be a move from a PBX that could not be
    read, or that --pbx leaves out, is not created: the plan lists it as not planned
    and the run exits 1. Run again once the PBX is back, or name both PBXs.
  - A company that the servers of two PBXs hold is not moved: delete it from all
    but one.

Output
  Text and Markdown: a summary line (Fleet: 3 PBXs; 1 move; paris: 1 to create.),
  each move (-> move acme_paris from london to paris) with the settings it carries,
  PINs as (sensitive), then each PBX's plan under its name. plan --json:

  {
    "format_version": 1,
    "kind": "fleet",
    "moves": [
      {"company": "acme_paris", "from": "london", "to": "paris",
       "settings": {"nm_password": "(sensitive)", "zone": "Europe/Paris"}}
    ],
    "pbxs": {"berlin": {...}, "london": {...}, "paris": {...}},
    "summary": {"pbxs": 3, "failed": 0, "moves": 1,
                "create": 1, "update": 0, "ungroup": 0, "group": 0, "delete": 0}
  }

  moves       sorted by company, each with:
    company, from, to
                the company, its old PBX and its new one.
    settings    what it carries: every setting its old PBX holds.
    adopt       true when the new PBX holds it already (a move half done); absent
                otherwise.
  pbxs        PBX name -> its plan, as pbxsync help plan-json says, for each PBX
              of the run that could be read.
  failed      only when a PBX could not be read: PBX name -> why.
  summary     how many PBXs, how many failed, the moves, and the changes of every
              PBX by action.

  apply --json and --report FILE write {"format_version": 1, "kind": "fleet",
  "pbxs": {NAME: the result of pbxsync help plan-json}, "failed": {NAME: why},
  "moves": [{"company", "from", "to", "status", "note"}], "duration_seconds",
  "error"}, status "moved" or "unfinished". --metrics-file writes apply's metrics
  for every PBX of the run (a PBX not read, or a run refused, gives success 0), and
  pbxsync_fleet_pbx_failed and pbxsync_fleet_moves{status} (the moves to the PBX);
  every sample is labelled pbx and server, so that the files of runs over other
  PBXs share a directory.`

// newHelpTopics returns the reference that ships with the binary, as cobra's help
// topics: pbxsync help TOPIC.
func newHelpTopics() []*cobra.Command {
	return []*cobra.Command{{
		Use:   "inventory",
		Short: "The inventory format: companies, settings, containers, profiles, many files",
		Long:  inventoryHelp(),
	}, {
		Use:   "plan-json",
		Short: "The JSON of plan --json and apply --json, for scripts",
		Long:  planJSONHelp,
	}, {
		Use:   "exit-codes",
		Short: "What each exit code of pbxsync means",
		Long:  exitCodesHelp,
	}, {
		Use:   "fleet",
		Short: "Many PBXs from one repository: the fleet file, --pbx, moving companies between PBXs",
		Long:  fleetHelp,
	}, {
		Use:   "security",
		Short: "What pbxsync trusts, and how it keeps its secrets and your terminal safe",
		Long:  securityHelp,
	}}
}
