package inventory_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// secretValue is what the variables of these tests hold: no diagnostic, and no
// setting but a secret one, may ever show it.
const secretValue = "987654"

// secretEnv is the environment of these tests; a name missing here is unset.
var secretEnv = map[string]string{
	"PBX_API_KEY": secretValue,
	"ACME_PIN":    secretValue,
	"A":           secretValue,
	"B":           secretValue,
	"X":           secretValue,
	"BAD_PIN":     "x" + secretValue, // not digits
	"EMPTY_PIN":   "",
}

func secretLookup(name string) (string, bool) {
	v, ok := secretEnv[name]
	return v, ok
}

// diagStrings returns each diagnostic as FILE:LINE:COLUMN: message, and requires that
// none shows a variable's value.
func diagStrings(t *testing.T, ds []inventory.Diagnostic) []string {
	t.Helper()
	out := []string{}
	for _, d := range ds {
		require.NotContains(t, d.String(), secretValue, "a diagnostic shows a variable's value")
		out = append(out, d.String())
	}
	return out
}

// loadSecrets loads src with secretEnv and returns its errors and warnings as text.
func loadSecrets(t *testing.T, src string, offline bool) (*inventory.Inventory, []string, []string) {
	t.Helper()
	inv, warns, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{Lookup: secretLookup, Offline: offline})
	errs := []string{}
	if err != nil {
		var ie *inventory.InventoryError
		require.ErrorAs(t, err, &ie)
		require.NotContains(t, err.Error(), secretValue)
		errs = diagStrings(t, ie.Diagnostics)
	}
	return inv, errs, diagStrings(t, warns)
}

// TestLoadKeepsDollarTextLiteral pins that ${...} outside a secret field is text: a
// tenant who writes ${PBX_API_KEY} into its own free text must get that text back,
// never the key.
func TestLoadKeepsDollarTextLiteral(t *testing.T) {
	for _, offline := range []bool{false, true} {
		inv, errs, warns := loadSecrets(t, yamlLines(
			"version: 1",
			"defaults:",
			"  hs_access_nm: ${PBX_API_KEY}",
			"  hs_access: default ${X} text",
			"companies:",
			"  acme:",
			"    name: Acme",
			"    description: key ${PBX_API_KEY}",
			"    settings:",
			"      hs_access: ${PBX_API_KEY}",
			"      nm_password: ${ACME_PIN}",
			"  beta:",
			"    name: Beta",
			"prune:",
			"  match: ^cust_${PBX_API_KEY}",
		), offline)
		require.Empty(t, errs)
		require.Empty(t, warns)
		want := []inventory.Company{
			{
				ID: "acme", Name: "Acme", Description: "key ${PBX_API_KEY}",
				Settings: apiclient.SettingsOf(map[string]apiclient.Value{
					"hs_access":    apiclient.String("${PBX_API_KEY}"),
					"hs_access_nm": apiclient.String("${PBX_API_KEY}"),
					"nm_password":  apiclient.String(secretValue),
				}),
				Env: map[string]string{"nm_password": "ACME_PIN"},
			},
			{
				ID: "beta", Name: "Beta",
				Settings: apiclient.SettingsOf(map[string]apiclient.Value{
					"hs_access":    apiclient.String("default ${X} text"),
					"hs_access_nm": apiclient.String("${PBX_API_KEY}"),
				}),
			},
		}
		if diff := cmp.Diff(want, inv.Companies, cmp.Comparer(valueEqual), cmpEnv); diff != "" {
			t.Errorf("offline %t: companies (-want +got):\n%s", offline, diff)
		}
		wantDefaults := apiclient.SettingsOf(map[string]apiclient.Value{
			"hs_access_nm": apiclient.String("${PBX_API_KEY}"),
			"hs_access":    apiclient.String("default ${X} text"),
		})
		if diff := cmp.Diff(wantDefaults, inv.Defaults, cmp.Comparer(valueEqual)); diff != "" {
			t.Errorf("offline %t: defaults (-want +got):\n%s", offline, diff)
		}
		require.Equal(t, "^cust_${PBX_API_KEY}", inv.Prune.String())
	}
}

// TestLoadDollarTextInErrors pins that where ${...} makes a name, an id or a member
// invalid, the message quotes the text as written, not a variable's value.
func TestLoadDollarTextInErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "name",
			src:  yamlLines("version: 1", "companies:", "  acme:", "    name: ${PBX_API_KEY}"),
			want: []string{`inventory.yaml:4:11: name "${PBX_API_KEY}" is not allowed: ` + nameRule},
		},
		{
			name: "company-id",
			src:  yamlLines("version: 1", "companies:", "  ${PBX_API_KEY}: {name: Acme}"),
			want: []string{`inventory.yaml:3:3: company-id "${PBX_API_KEY}" is not allowed: ` + idRule},
		},
		{
			name: "container member",
			src:  yamlLines("version: 1", "companies:", "  acme: {name: Acme}", "containers:", "  pair: [acme, '${X}']"),
			want: []string{`inventory.yaml:5:16: ${X} is not a company of the inventory`},
		},
		{
			name: "a setting with allowed values",
			src:  yamlLines("version: 1", "defaults:", "  vm_silent: ${X}"),
			want: []string{`inventory.yaml:3:14: vm_silent: "${X}" is not allowed; allowed: "", "no" or "yes"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, _ := loadSecrets(t, tc.src, false)
			if diff := cmp.Diff(tc.want, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadSecretVariables covers the ${VAR} of a secret field, in a company's settings
// (line 6) and in defaults (line 3), for plan (online) and validate (offline).
func TestLoadSecretVariables(t *testing.T) {
	company := func(setting string) string {
		return yamlLines("version: 1", "companies:", "  acme:", "    name: Acme", "    settings:", "      "+setting)
	}
	defaults := func(setting string) string {
		return yamlLines("version: 1", "defaults:", "  "+setting, "companies:", "  acme: {name: Acme}")
	}
	const malformed = `: a secret is a literal value or exactly one ${VAR}, the whole value (VAR: letters, digits and _, not starting with a digit)`
	const emptyPIN = `environment variable EMPTY_PIN is empty: an empty secret would clear the PIN; write "" to clear it on purpose`
	for _, tc := range []struct {
		name      string
		src       string
		offline   bool
		field     string
		want      apiclient.Value // the loaded value, when there is no error
		wantEnv   string          // the variable Company.Env names for field
		wantErrs  []string
		wantWarns []string
	}{
		{name: "set", src: company("nm_password: ${ACME_PIN}"),
			field: "nm_password", want: apiclient.String(secretValue), wantEnv: "ACME_PIN"},
		{name: "set, quoted", src: company(`barge_pin: "${ACME_PIN}"`),
			field: "barge_pin", want: apiclient.String(secretValue), wantEnv: "ACME_PIN"},
		{name: "set, in defaults", src: defaults("ivr_password: ${ACME_PIN}"),
			field: "ivr_password", want: apiclient.String(secretValue), wantEnv: "ACME_PIN"},
		{name: "empty literal clears the PIN", src: company(`nm_password: ""`),
			field: "nm_password", want: apiclient.String("")},
		{name: "unset", src: company("nm_password: ${ACME_UNSET_PIN}"),
			wantErrs: []string{"inventory.yaml:6:20: environment variable ACME_UNSET_PIN is not set"}},
		{name: "unset, in defaults", src: defaults("barge_pin: ${ACME_UNSET_PIN}"),
			wantErrs: []string{"inventory.yaml:3:14: environment variable ACME_UNSET_PIN is not set"}},
		{name: "empty", src: company("ivr_password: ${EMPTY_PIN}"),
			wantErrs: []string{"inventory.yaml:6:21: " + emptyPIN}},
		{name: "empty, in defaults", src: defaults("nm_password: ${EMPTY_PIN}"),
			wantErrs: []string{"inventory.yaml:3:16: " + emptyPIN}},
		{name: "not digits", src: company("ivr_password: ${BAD_PIN}"),
			wantErrs: []string{`inventory.yaml:6:21: ivr_password: not allowed; allowed: "" or digits (the value of environment variable BAD_PIN)`}},
		{name: "digits before", src: company("barge_pin: 12${X}"),
			wantErrs: []string{"inventory.yaml:6:18: barge_pin" + malformed}},
		{name: "text after", src: company(`barge_pin: "${X} "`),
			wantErrs: []string{"inventory.yaml:6:18: barge_pin" + malformed}},
		{name: "two variables", src: company("nm_password: ${A}${B}"),
			wantErrs: []string{"inventory.yaml:6:20: nm_password" + malformed}},
		{name: "a name led by a digit", src: company("nm_password: ${1X}"),
			wantErrs: []string{"inventory.yaml:6:20: nm_password" + malformed}},
		{name: "no name", src: company(`nm_password: "${}"`),
			wantErrs: []string{"inventory.yaml:6:20: nm_password" + malformed}},
		{name: "unclosed", src: company(`nm_password: "${X"`),
			wantErrs: []string{"inventory.yaml:6:20: nm_password" + malformed}},
		{name: "malformed, in defaults", src: defaults("barge_pin: ${A}${B}"),
			wantErrs: []string{"inventory.yaml:3:14: barge_pin" + malformed}},

		// validate: offline, no secret needed.
		{name: "offline/unset", src: company("nm_password: ${ACME_UNSET_PIN}"), offline: true,
			field: "nm_password", want: apiclient.String(""), wantEnv: "ACME_UNSET_PIN",
			wantWarns: []string{"inventory.yaml:6:20: warning: environment variable ACME_UNSET_PIN is not set (plan and apply need it)"}},
		{name: "offline/unset, in defaults", src: defaults("barge_pin: ${ACME_UNSET_PIN}"), offline: true,
			field: "barge_pin", want: apiclient.String(""), wantEnv: "ACME_UNSET_PIN",
			wantWarns: []string{"inventory.yaml:3:14: warning: environment variable ACME_UNSET_PIN is not set (plan and apply need it)"}},
		{name: "offline/empty", src: company("ivr_password: ${EMPTY_PIN}"), offline: true,
			field: "ivr_password", want: apiclient.String(""), wantEnv: "EMPTY_PIN",
			wantWarns: []string{"inventory.yaml:6:21: warning: " + emptyPIN + " (plan and apply need it)"}},
		{name: "offline/set", src: company("nm_password: ${ACME_PIN}"), offline: true,
			field: "nm_password", want: apiclient.String(secretValue), wantEnv: "ACME_PIN"},
		{name: "offline/not digits", src: company("ivr_password: ${BAD_PIN}"), offline: true,
			wantErrs: []string{`inventory.yaml:6:21: ivr_password: not allowed; allowed: "" or digits (the value of environment variable BAD_PIN)`}},
		{name: "offline/malformed", src: company("barge_pin: 12${X}"), offline: true,
			wantErrs: []string{"inventory.yaml:6:18: barge_pin" + malformed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, errs, warns := loadSecrets(t, tc.src, tc.offline)
			if diff := cmp.Diff(tc.wantErrs, errs, cmpEmpty); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarns, warns, cmpEmpty); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if len(tc.wantErrs) > 0 {
				require.Nil(t, inv)
				return
			}
			require.NotNil(t, inv)
			c, ok := inv.Company("acme")
			require.True(t, ok)
			got, ok := c.Settings.Lookup(tc.field)
			require.True(t, ok, "settings: %v", c.Settings)
			if diff := cmp.Diff(tc.want.JSON(), got.Reveal().JSON()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.field, diff)
			}
			if diff := cmp.Diff(tc.wantEnv, c.Env[tc.field]); diff != "" {
				t.Errorf("the variable of %s (-want +got):\n%s", tc.field, diff)
			}
		})
	}
}

// cmpEmpty treats a nil and an empty list alike.
var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

// TestLoadWithoutLookup pins that no Lookup means no variable is set.
func TestLoadWithoutLookup(t *testing.T) {
	src := yamlLines("version: 1", "defaults:", "  barge_pin: ${ACME_PIN}")
	_, _, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{})
	require.EqualError(t, err, "inventory.yaml:3:14: environment variable ACME_PIN is not set")

	inv, warns, err := inventory.Load(inventoryFile, []byte(src), inventory.LoadOptions{Offline: true})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	require.Equal(t, `""`, inv.Defaults.Get("barge_pin").Reveal().JSON())
}
