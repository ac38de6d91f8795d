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
// What a plan file records should choose nothing either, only be compared with the
// operator's inputs (cli.md, "Saved plans", v0.3). Today's rules do not go that far:
// the paths it records, relative to its folder, are resolved (SavedPlan.Sources,
// Resolve) into the inventory or fleet file that apply reads again and the sim:
// state a run opens, and the command line takes the recorded server when neither
// --url nor PBX_URL names one; a server named otherwise is an OtherServerError. What
// is read again is still checked against the recorded hash before it is used.
//
// The package reads a server only to plan again (SavedPlan.Check) and a file only in
// Read; it never writes to a server, never prints, and never decides an exit code.
package planfile
