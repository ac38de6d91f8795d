// Package plan is what pbxsync decides, as data: the inventory (loaded from files
// and folders, checked, with every problem's FILE:LINE:COLUMN), the state read from a
// server, the Plan that makes one match the other (Diff, the grouping, DiffFleet for
// fleets, the delete and move budgets, the fingerprints of what was read), the
// comparison of two servers, exports, and the JSON forms of plans and comparisons,
// which saved plans and reports embed. Their text and Markdown are package render's;
// saved plans are package planfile's.
//
// It owns the meaning of the inventory format (inventory.md) and of a plan. It reads
// files and servers only where it loads an inventory or reads the state; it never
// writes to a server, never prints, and never decides an exit code: a refusal is a
// Refusal error, and the command line maps it.
package plan
