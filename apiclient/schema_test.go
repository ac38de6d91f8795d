package apiclient_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

// compileFieldSchema compiles a field's JSON Schema on its own, as JSON.
func compileFieldSchema(t *testing.T, f apiclient.Field) *jsonschema.Schema {
	t.Helper()
	s := f.JSONSchema()
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	data, err := json.Marshal(s)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(f.Name+".json", doc))
	sch, err := c.Compile(f.Name + ".json")
	require.NoError(t, err)
	return sch
}

// schemaValues are the values an inventory may hold for a field, as YAML gives them
// and as JSON: whole numbers and their texts, signed, with leading zeros and spaces,
// and the other kinds of value.
func schemaValues() []apiclient.Value {
	values := []apiclient.Value{
		apiclient.Null(), apiclient.Bool(true), apiclient.Bool(false), apiclient.Number("15.5"), apiclient.Number("-0.5"),
		apiclient.String(""), apiclient.String("-"), apiclient.String("--1"), apiclient.String("+"), apiclient.String("1.5"),
		apiclient.String("1e3"), apiclient.String("0x1F"), apiclient.String("1_000"), apiclient.String("١٢"),
		apiclient.String("yes"), apiclient.String("no"), apiclient.String("disable"), apiclient.String("on"),
		apiclient.String("hq"), apiclient.String("qh"), apiclient.String("hqficovptx"), apiclient.String("xtpvocifqh"),
		apiclient.String("hh"), apiclient.String("qz"), apiclient.String("H"), apiclient.String("hqh"),
		apiclient.String("US/Pacific"), apiclient.String("Europe/London"), apiclient.String("UTC"),
		apiclient.String("${PIN}"), apiclient.String("${_PIN_2}"), apiclient.String("${1X}"), apiclient.String("${}"),
		apiclient.String("$PIN"), apiclient.String("12${PIN}"), apiclient.String("${A}${B}"), apiclient.String("${PIN} "),
		apiclient.String("external"), apiclient.String("a\nb"),
	}
	numbers := []int64{1<<31 - 2, 1<<31 - 1, 1 << 31, -(1 << 31), 1 << 40, 9999, 10000}
	for n := int64(-20); n <= 1010; n++ {
		numbers = append(numbers, n)
	}
	for _, n := range numbers {
		text := strconv.FormatInt(n, 10)
		abs := strconv.FormatInt(max(n, -n), 10)
		values = append(values, apiclient.Int(n), apiclient.String(text), apiclient.String("0"+text), apiclient.String(" "+text))
		if n >= 0 {
			values = append(values, apiclient.String("+"+text), apiclient.String("00"+text))
		} else {
			values = append(values, apiclient.String("-0"+abs))
		}
	}
	values = append(values, apiclient.String("-0"), apiclient.String("+0"), apiclient.String("-00"), apiclient.String("000"))
	return values
}

var secretRefRE = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)

// TestFieldJSONSchema holds every field's JSON Schema to the field table: the schema
// accepts a value exactly when Normalize does, except that a secret field also takes
// one ${VAR} (the loader puts the variable's value through Normalize), and a zone
// field any string (a schema cannot know which time zones exist).
func TestFieldJSONSchema(t *testing.T) {
	t.Parallel()
	values := schemaValues()
	cases := fieldCases()
	for _, f := range apiclient.Fields() {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			sch := compileFieldSchema(t, f)
			valid := func(v apiclient.Value) bool {
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(v.JSON())))
				require.NoError(t, err)
				return sch.Validate(doc) == nil
			}
			want := func(v apiclient.Value) bool {
				if n, err := strconv.ParseFloat(v.Text(), 64); v.Kind() == apiclient.KindNumber && err == nil && n == float64(int64(n)) {
					// JSON Schema counts 15.0 as the integer 15, and many YAML and JSON
					// readers do not keep the difference; the loader refuses 15.0.
					v = apiclient.Int(int64(n))
				}
				_, err := f.Normalize(v)
				switch {
				case err == nil:
					return true
				case v.Kind() != apiclient.KindString:
					return false
				case f.Secret:
					return secretRefRE.MatchString(v.Text())
				case f.Name == "zone":
					return true
				}
				return false
			}
			tested := append([]apiclient.Value{}, cases[f.Name].refuse...)
			for _, a := range cases[f.Name].accept {
				tested = append(tested, a.send)
			}
			for _, v := range append(tested, values...) {
				if got := valid(v); got != want(v) {
					t.Errorf("%s: the schema accepts %s: %t, want %t", f.Name, v.JSON(), got, want(v))
				}
			}
		})
	}
}

func TestFieldJSONSchemaDescribes(t *testing.T) {
	for _, f := range apiclient.Fields() {
		t.Run(f.Name, func(t *testing.T) {
			require.NotEmpty(t, f.Description)
			require.Regexp(t, `^[A-Z].*\.$`, f.Description, "one sentence")
			s := f.JSONSchema()
			description, _ := s["description"].(string)
			require.Contains(t, description, f.Description)
			require.Contains(t, description, "Allowed: "+f.Allowed+".")
			for _, note := range []struct {
				is   bool
				text string
			}{
				{f.Secret, "Secret"},
				{f.Feature, "Feature switch: needs System-Admin"},
				{f.Since != "", fmt.Sprintf("Since version %s.", f.Since)},
				{f.Deprecated, "Deprecated"},
				{f.Name == "zone", "cannot check that a time zone exists"},
			} {
				if note.is {
					require.Contains(t, description, note.text)
				} else {
					require.NotContains(t, description, note.text)
				}
			}
			if f.Deprecated {
				require.Equal(t, true, s["deprecated"])
			} else {
				require.NotContains(t, s, "deprecated")
			}
		})
	}
}

func TestFieldJSONSchemaIsACopy(t *testing.T) {
	f, ok := apiclient.LookupField("vm_silent")
	require.True(t, ok)
	f.JSONSchema()["enum"].([]string)[0] = "maybe"
	_, err := f.Normalize(apiclient.String("maybe"))
	require.Error(t, err, "changing a returned schema leaves the table as it is")
}
