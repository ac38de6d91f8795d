// Package planfile owns the saved plans: the one format that plan --out writes and
// apply PLANFILE reads, for one PBX's plan (SavedPlan) and for a fleet's
// (SavedFleetPlan), whether a saved plan is stale, and the refusals that follow.
//
// A saved plan is compared, never used: apply plans again and runs the fresh plan
// only when it is the saved one, made from the same inventory (by hash), with the
// same changes, and with every company it touches read as it was (plan.Fingerprint).
// Anything else is a StalePlanError, a plan.Refusal returned before any write, so a
// hand edit can only make a plan refuse. A saved plan holds no secret value.
//
// What a plan file records chooses nothing either (cli.md, "Saved plans", v0.3): the
// server, the inventory's paths and hash, the fleet file and a sim: path are only
// compared with what the operator names (Given: -f or --fleet, and --url or PBX_URL),
// and shown as a hint when the operator named nothing. apply PLANFILE thus connects
// to no server, and reads no file, that only the plan file names.
//
// The package reads a server only to plan again (SavedPlan.Check) and a file only in
// Read; it never writes to a server, never prints, and never decides an exit code.
package planfile
