package main

import (
	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/plan/inventory"
)

func (a *app) newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the inventory's JSON Schema, for editors",
		Long: `Print the JSON Schema (draft 2020-12) of the inventory format on standard output,
drawn from the field table: every setting with its type, allowed values and
description. An editor with a YAML language server then checks and completes an
inventory as it is typed, and shows each setting's description.

Save the schema beside the inventories, and name it in the first line of each:

  pbxsync schema > inventory.schema.json

  # yaml-language-server: $schema=./inventory.schema.json
  version: 1

The schema checks the shape of one file. pbxsync validate checks the rest, offline:
time zones, ${VAR} variables, container members, profiles, duplicated keys, and what
spans several files. pbxsync help inventory describes the format.`,
		Example: `  pbxsync schema > inventory.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := a.stdout.Write(inventory.Schema())
			return err
		},
	}
}
