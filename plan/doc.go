// Package plan is what pbxsync decides, as data: the Plan that makes a server's state,
// read by package state, match an inventory loaded by package inventory (Diff, the
// grouping, DiffFleet for fleets, the delete and move budgets, the fingerprints of
// what was read), and the JSON forms of plans and validations, which saved plans and
// reports embed. Their text and Markdown are package render's; saved plans are
// package planfile's.
//
// It owns the meaning of a plan. It never reads or writes a server, never prints,
// and never decides an exit code: a refusal is a Refusal error, and the command line
// maps it.
package plan
