// Package sync is the engine that acts on servers: Apply runs a plan (dependency
// order, bounded concurrency, one failure never stopping the others), verifies what
// the server kept and repairs; ApplyFleet and the moves between PBXs; Migration; the
// transfer of companies from one server to another; Doctor's probes; exports; the
// reports of a run (Report, FleetReport, MigrationReport) with their summary, JSON
// and metrics, all written by Outputs (standard output, --report, --metrics-file,
// never dropping a write error); the files a run writes and locks.
//
// Apply writes what a plan carries and nothing else, never a value taken from an
// inventory again; nothing here deletes a company that a reviewed plan (or a
// verified transfer) does not name. It does not parse flags or print to a terminal:
// the command line does.
package sync
