// Package inventory owns the inventory format (inventory.md): reading it from a file,
// many files or folders of them (with _defaults.yaml, merge keys, and a large file's
// companies parsed in pieces), checking it with the FILE:LINE:COLUMN of every
// problem, and resolving defaults and profiles into each company's settings. It owns
// the fleet file too, which names each PBX's url, inventory and credentials, and the
// JSON Schema of the format, for editors.
//
// It reads files only: it never talks to a server. A ${VAR} is expanded in a secret
// field alone; anywhere else it is text, kept as written. Writing the format from a
// server's state (State.Export) is package state's.
package inventory
