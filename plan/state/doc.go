// Package state owns what a server holds, as far as pbxsync needs it: its companies
// and the containers that group them (State). It reads them with a bounded number of
// requests (Read for a plan, ReadSnapshot for a whole server, ReadContainers for the
// containers a verification needs again), chooses companies by name or pattern with
// their container partners (Select), compares two servers (CompareSnapshots, Compare,
// and the JSON form of a comparison), and writes a server's companies in the
// inventory format (State.Export) that package inventory reads.
//
// It only reads: it never writes to a server, never prints, and never decides a plan;
// the Plan made from a State is package plan's.
package state
