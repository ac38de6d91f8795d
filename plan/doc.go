// Package plan turns a YAML inventory and the state read from a PBX into a plan of
// changes (create, update, ungroup, group, delete) that a person can review, and
// renders it as text, JSON and Markdown. It arrives with the plan issue.
package plan
