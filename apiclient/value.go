package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
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
type Value struct {
	text string // the string, the number's text, or the raw JSON
	kind Kind   // after text, so that a Value takes 24 bytes, not 32
	bit  bool
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

// Text returns the string or the number's text; "" for other kinds.
func (v Value) Text() string {
	if v.kind == KindString || v.kind == KindNumber {
		return v.text
	}
	return ""
}

// Bool reports the value of a boolean; false for other kinds.
func (v Value) Bool() bool { return v.kind == KindBool && v.bit }

// Any returns v as the Go value encoding/json and yaml would produce for it: nil,
// string, int64 (or json.Number when not an integer), bool, or raw JSON.
func (v Value) Any() any {
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

// GoString shows the value as JSON, so that test failures read well.
func (v Value) GoString() string { return v.JSON() }

// JSON returns the value as JSON text.
func (v Value) JSON() string {
	b, _ := v.MarshalJSON()
	return string(b)
}

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
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

// Display returns a value as a person should see it: secrets as (sensitive), strings
// quoted, numbers and booleans as JSON writes them.
func Display(field string, v Value) string {
	if IsSecret(field) {
		return Redacted
	}
	return v.JSON()
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
