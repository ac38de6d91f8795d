package plan

import (
	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// Validation is what validate --json prints (cli.md): the result of loading an
// inventory offline, problems included.
type Validation struct {
	FormatVersion int              `json:"format_version"`
	Valid         bool             `json:"valid"`
	Files         []string         `json:"files"`
	Companies     int              `json:"companies"`
	Containers    int              `json:"containers"`
	Errors        []JSONDiagnostic `json:"errors"`
	Warnings      []JSONDiagnostic `json:"warnings"`
}

// JSONDiagnostic is a problem of an inventory in a Validation.
type JSONDiagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// NewValidation is the validation of the inventory of files, from what
// inventory.LoadFiles returned for them; invErr holds its errors, nil when it loaded.
func NewValidation(files []inventory.File, inv *inventory.Inventory, warnings []inventory.Diagnostic, invErr *inventory.InventoryError) Validation {
	doc := Validation{FormatVersion: 1, Valid: invErr == nil, Errors: []JSONDiagnostic{}, Warnings: []JSONDiagnostic{}}
	for _, f := range files {
		doc.Files = append(doc.Files, f.Name)
	}
	if inv != nil {
		doc.Companies, doc.Containers = len(inv.Companies), len(inv.Containers)
	}
	diagnosis := func(d inventory.Diagnostic) JSONDiagnostic {
		return JSONDiagnostic{File: d.File, Line: d.Line, Column: d.Column, Message: apiclient.Printable(d.Message)}
	}
	for _, w := range warnings {
		doc.Warnings = append(doc.Warnings, diagnosis(w))
	}
	if invErr != nil {
		for _, d := range invErr.Diagnostics {
			doc.Errors = append(doc.Errors, diagnosis(d))
		}
	}
	return doc
}
