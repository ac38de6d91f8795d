package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
)

// Kind is the JSON kind of a setting value.
type Kind uint8

// The kinds a Value can hold. The zero Value is null.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindBool
	KindOther // an array or object, kept as raw JSON (fields this client does not know)
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "boolean"
	}
	return "JSON value"
}

// Value is one setting's value as JSON carries it: null, a string, a number (kept as
// its decimal text, so nothing is lost to floating point), a boolean, or raw JSON.
// What a value means for a field, and which values are one value, is the field
// table's business (see Field.Normalize and Equal).
//
// A value may be marked sensitive: a secret's value. The field table marks the
// values of its secret fields where they are made (Field.Normalize, Settings.Set),
// and a marked value shows as (sensitive) wherever it goes: fmt, slog, JSON and
// Display. Only Reveal gives an encoder its real text.
type Value struct {
	text      string // the string, the number's text, or the raw JSON
	kind      Kind   // after text, so that a Value takes 24 bytes, not 32
	bit       bool
	sensitive bool
}

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, text: s} }

// Int returns a number value.
func Int(n int64) Value { return Value{kind: KindNumber, text: strconv.FormatInt(n, 10)} }

// Number returns a number value from its decimal text, as JSON or YAML wrote it.
func Number(text string) Value { return Value{kind: KindNumber, text: text} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{kind: KindBool, bit: b} }

// Null returns the null value (the zero Value).
func Null() Value { return Value{} }

// Kind reports the JSON kind of v.
func (v Value) Kind() Kind { return v.kind }

// MarkSensitive returns v marked as a secret's value.
func (v Value) MarkSensitive() Value {
	v.sensitive = true
	return v
}

// IsSensitive reports whether v is marked as a secret's value.
func (v Value) IsSensitive() bool { return v.sensitive }

// Reveal returns v without its mark, so that it encodes as what it is: for what must
// carry a secret's real text (the request sent to the server, the simulator's state
// file, an export asked for secrets), and for comparing encodings.
func (v Value) Reveal() Value {
	v.sensitive = false
	return v
}

// Text returns the string or the number's text, a secret's included, for checking and
// comparing; "" for other kinds. What a person sees is String (or Display).
func (v Value) Text() string {
	if v.kind == KindString || v.kind == KindNumber {
		return v.text
	}
	return ""
}

// Bool reports the value of a boolean; false for other kinds.
func (v Value) Bool() bool { return v.kind == KindBool && v.bit }

// Any returns v as the Go value encoding/json and yaml would produce for it: nil,
// string, int64 (or json.Number when not an integer), bool, or raw JSON; a marked
// value as the string (sensitive).
func (v Value) Any() any {
	if v.sensitive {
		return Redacted
	}
	switch v.kind {
	case KindString:
		return v.text
	case KindNumber:
		if n, err := strconv.ParseInt(v.text, 10, 64); err == nil {
			return n
		}
		return json.Number(v.text)
	case KindBool:
		return v.bit
	case KindOther:
		return json.RawMessage(v.text)
	}
	return nil
}

// String returns the value as a person should see it: as JSON writes it, or a marked
// value as (sensitive).
func (v Value) String() string {
	if v.sensitive {
		return Redacted
	}
	return v.JSON()
}

// GoString is String, so that test failures read well and keep secrets.
func (v Value) GoString() string { return v.String() }

// Format makes every fmt verb print String, %#v included; %q quotes it.
func (v Value) Format(f fmt.State, verb rune) {
	s := v.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// LogValue implements slog.LogValuer with String.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// JSON returns the value as JSON text; a marked value as "(sensitive)".
func (v Value) JSON() string {
	b, _ := v.MarshalJSON()
	return string(b)
}

// redactedJSON is a marked value's JSON.
var redactedJSON = []byte(`"` + Redacted + `"`)

// MarshalJSON implements json.Marshaler; a marked value is "(sensitive)".
func (v Value) MarshalJSON() ([]byte, error) {
	if v.sensitive {
		return slices.Clone(redactedJSON), nil
	}
	switch v.kind {
	case KindString:
		return json.Marshal(v.text)
	case KindNumber, KindOther:
		if !json.Valid([]byte(v.text)) {
			return nil, fmt.Errorf("not a valid JSON %s", v.kind) // the text may be a secret: not echoed
		}
		return []byte(v.text), nil
	case KindBool:
		return strconv.AppendBool(nil, v.bit), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty JSON value")
	}
	switch b[0] {
	case 'n':
		*v = Null()
	case 't', 'f':
		var x bool
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		*v = Bool(x)
	case '"':
		if s, ok := plainString(b); ok { // most are: no need to unquote
			*v = String(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = String(s)
	case '{', '[':
		if !json.Valid(b) {
			return fmt.Errorf("invalid JSON value")
		}
		*v = Value{kind: KindOther, text: string(b)}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*v = Number(n.String())
	}
	return nil
}

// Redacted is what is shown in place of a secret value.
const Redacted = "(sensitive)"

// IsSecret reports whether the named field is a secret of the field table.
func IsSecret(field string) bool {
	f, ok := LookupField(field)
	return ok && f.Secret
}

// Display returns a value of the named field as a person should see it (String):
// strings quoted, numbers and booleans as JSON writes them, a marked value as
// (sensitive), and so is a secret field's value that was made without the mark.
func Display(field string, v Value) string {
	if IsSecret(field) {
		return Redacted
	}
	return v.String()
}

// plainString returns the text of a JSON string of printable ASCII without escapes,
// which is the text between the quotes.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}
