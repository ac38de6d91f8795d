package inventory

import (
	"bytes"
	"encoding/json"

	"github.com/pbxsync/pbxsync/apiclient"
)

// schemaDialect is the JSON Schema draft that Schema is written in.
const schemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Schema returns the JSON Schema (draft 2020-12) of the inventory format
// (spec/inventory.md), for an editor's YAML language server: the settings are the
// field table's fields, each with its types, allowed values and description. It is
// indented JSON with sorted keys, the same bytes every time.
//
// A schema checks one file's shape. What needs the environment, the time-zone
// database or the other companies and files (an unset ${VAR}, a zone that does not
// exist, a container member that is no company, a company in two containers, an
// unknown profile, a duplicated key) is left to the loader. YAML readers resolve
// merge keys (<<) before they validate, so the schema does not name them.
func Schema() []byte {
	doc := map[string]any{
		"$schema":              schemaDialect,
		"title":                "pbxsync inventory",
		"description":          "The companies a PBX should hold, their settings and their containers (pbxsync help inventory). pbxsync validate checks more than a schema can: time zones, ${VAR} variables, container members, profiles and duplicated keys.",
		"type":                 "object",
		"required":             []string{"version"},
		"properties":           inventorySchemaProperties(),
		"patternProperties":    freeKeys(),
		"additionalProperties": false,
		"$defs": map[string]any{
			"settings": settingsSchema(),
			"company":  companySchema(),
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic("plan: the inventory's schema: " + err.Error()) // maps, slices, strings and numbers only
	}
	return b.Bytes()
}

// inventorySchemaProperties is the schema of an inventory file's top-level keys.
func inventorySchemaProperties() map[string]any {
	companyID := map[string]any{"type": "string", "pattern": apiclient.CompanyIDPattern}
	return map[string]any{
		"version": map[string]any{
			"const":       1,
			"description": "The version of the inventory format: 1.",
		},
		"defaults": map[string]any{
			"$ref":        "#/$defs/settings",
			"description": "Settings for the companies of this file that do not set their own; in a file named _defaults.yaml, for every company of its folder and of the folders below it, where a nearer _defaults.yaml wins. A file's defaults win over its folders'; profiles and a company's own settings win over both.",
		},
		"profiles": map[string]any{
			"type":                 []string{"object", "null"},
			"description":          "Named sets of settings that companies list under profiles.",
			"additionalProperties": map[string]any{"$ref": "#/$defs/settings"},
		},
		"companies": map[string]any{
			"type":                 []string{"object", "null"},
			"description":          "The companies, by company-id: letters, digits and _, 1 to 32 characters.",
			"patternProperties":    map[string]any{apiclient.CompanyIDPattern: map[string]any{"$ref": "#/$defs/company"}},
			"additionalProperties": false,
		},
		"containers": map[string]any{
			"type":        []string{"object", "null"},
			"description": "Companies that share one container: a label for people, then the company-ids. A company of the inventory in no entry stands alone.",
			"additionalProperties": map[string]any{
				"type":        "array",
				"items":       companyID,
				"minItems":    2,
				"uniqueItems": true,
			},
		},
		"prune": map[string]any{
			"type":        []string{"object", "null"},
			"description": "Which companies on the server but not in the inventory --prune may delete.",
			"properties": map[string]any{
				"match": map[string]any{
					"type":        "string",
					"minLength":   1,
					"description": "A regular expression (Go's syntax) over company-ids.",
				},
			},
			"additionalProperties": false,
		},
	}
}

// settingsSchema is the schema of a settings mapping: the field table's fields.
func settingsSchema() map[string]any {
	fields := apiclient.Fields()
	settingProps := make(map[string]any, len(fields))
	for _, f := range fields {
		settingProps[f.Name] = f.JSONSchema()
	}
	return map[string]any{
		"type":                 []string{"object", "null"},
		"description":          "Settings by their API names. A setting that no company, profile or defaults names is not managed: pbxsync never changes it.",
		"properties":           settingProps,
		"additionalProperties": false,
	}
}

// companySchema is the schema of one company.
func companySchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"name"},
		"properties": map[string]any{
			"name": map[string]any{
				"type":        "string",
				"pattern":     apiclient.NamePattern,
				"description": "The company's name, required to create it: letters, digits, space and . , ; - _, 1 to 240 characters.",
			},
			"description": map[string]any{
				"type":        "string",
				"description": "Sent on create, and on update with --force-description: the API never returns it.",
			},
			"settings": map[string]any{
				"$ref":        "#/$defs/settings",
				"description": "The company's own settings: they win over its profiles and the defaults.",
			},
			"profiles": map[string]any{
				"type":        "array",
				"items":       map[string]any{"type": "string"},
				"description": "Profiles whose settings the company takes, a later one over an earlier one.",
			},
		},
		"patternProperties":    freeKeys(),
		"additionalProperties": false,
	}
}

// freeKeys are the keys pbxsync ignores, for anchors and notes.
func freeKeys() map[string]any {
	return map[string]any{"^x-": map[string]any{"description": "Free for anchors and notes: pbxsync ignores keys that start with x-."}}
}
