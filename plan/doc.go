// Package plan is what pbxsync decides, as data: the state read from a server, the
// Plan that makes it match an inventory loaded by package inventory (Diff, the
// grouping, DiffFleet for fleets, the delete and move budgets, the fingerprints of
// what was read), the comparison of two servers, exports, and the JSON forms of
// plans, comparisons and validations, which saved plans and reports embed. Their
// text and Markdown are package render's; saved plans are package planfile's.
//
// It owns the meaning of a plan, and the writing of the inventory format from a
// server's state (State.Export); reading and checking that format is package
// inventory's. It reads servers only where it reads the state; it never writes to a
// server, never prints, and never decides an exit code: a refusal is a Refusal
// error, and the command line maps it.
package plan
