package apiclient

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// secretRefPattern is the one ${VAR} a secret field may hold instead of a literal
// value (spec/inventory.md): VAR is letters, digits and _, not starting with a digit.
const secretRefPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*\}`

// JSONSchema returns the JSON Schema (draft 2020-12) of the values an inventory may
// write for the field: what the inventory loader accepts, as far as a schema can
// say it. A field whose values are numbers takes a number (15) or its text ("15",
// "015"); a secret field takes digits or exactly one ${VAR}. The schema cannot say
// whether a time zone exists, nor whether a ${VAR} is set. Its "description" is the
// field's Description, its allowed values and its notes (secret, feature switch,
// since which version, deprecated).
func (f Field) JSONSchema() map[string]any {
	s := f.valueSchema()
	s["description"] = f.schemaDescription()
	if f.Deprecated {
		s["deprecated"] = true
	}
	return s
}

func (f Field) valueSchema() map[string]any {
	str := func(pattern string) map[string]any { return map[string]any{"type": "string", "pattern": pattern} }
	anyOf := func(alternatives ...map[string]any) map[string]any { return map[string]any{"anyOf": alternatives} }
	switch f.check {
	case boolNull:
		return map[string]any{"type": []string{"boolean", "null"}}
	case freeText, zoneName:
		return map[string]any{"type": "string"}
	case wordEnum:
		return map[string]any{"type": "string", "enum": slices.Clone(f.enum)}
	case letterSet:
		twice := make([]string, 0, len(f.enum[0]))
		for _, r := range f.enum[0] {
			twice = append(twice, string(r)+".*"+string(r))
		}
		s := str("^[" + f.enum[0] + "]*$")
		s["not"] = map[string]any{"pattern": strings.Join(twice, "|")}
		return s
	case digits:
		text := digitsRE.String()
		if f.Secret {
			text = "^([0-9]*|" + secretRefPattern + ")$"
		}
		return anyOf(map[string]any{"type": "integer", "minimum": 0}, str(text))
	case callerID:
		return anyOf(map[string]any{"type": "integer"}, str(callerIDRE.String()))
	}

	// numRange and numEnum: a number, or its text as strconv.ParseInt reads it; ""
	// where the server stores a string.
	number := map[string]any{"type": "integer"}
	var texts []string
	if f.Type == TypeString {
		texts = append(texts, "")
	}
	if f.check == numRange {
		number["minimum"], number["maximum"] = f.min, f.max
		texts = append(texts, numberTexts(f.min, f.max)...)
	} else {
		values := make([]int64, len(f.enum))
		for i, v := range f.enum {
			values[i], _ = strconv.ParseInt(v, 10, 64) // the table's own values
			texts = append(texts, numberTexts(values[i], values[i])...)
		}
		number["enum"] = values
	}
	return anyOf(number, str("^("+strings.Join(texts, "|")+")$"))
}

func (f Field) schemaDescription() string {
	parts := []string{f.Description, "Allowed: " + f.Allowed + "."}
	switch {
	case f.check == zoneName:
		parts = append(parts, "A schema cannot check that a time zone exists: pbxsync validate does.")
	case f.Numeric():
		n := strconv.FormatInt(f.min, 10)
		if f.check == numEnum {
			n = f.enum[len(f.enum)-1]
		}
		parts = append(parts, fmt.Sprintf("A number and its text are one value: %s and %q.", n, n))
	}
	if f.Secret {
		parts = append(parts, "Secret: never shown, logged or written to a plan; write ${VAR} to take it from the environment.")
	}
	if f.Feature {
		parts = append(parts, "Feature switch: needs System-Admin; for anyone else the server ignores it.")
	}
	if f.Since != "" {
		parts = append(parts, "Since version "+f.Since+".")
	}
	if f.Deprecated {
		parts = append(parts, "Deprecated: pbxsync warns when an inventory manages it.")
	}
	return strings.Join(parts, " ")
}

// numberTexts returns regular expressions, without anchors, for the decimal texts
// that strconv.ParseInt reads as a number in [lo, hi]: with a sign or without one,
// with leading zeros or without.
func numberTexts(lo, hi int64) []string {
	var out []string
	if lo <= 0 && 0 <= hi {
		out = append(out, "[+-]?0+")
	}
	if hi >= 1 {
		out = append(out, `\+?0*`+group(digitRanges(max(lo, 1), hi)))
	}
	if lo <= -1 {
		out = append(out, "-0*"+group(digitRanges(max(-hi, 1), -lo)))
	}
	return out
}

func group(alternatives []string) string {
	if len(alternatives) == 1 {
		return alternatives[0]
	}
	return "(" + strings.Join(alternatives, "|") + ")"
}

// digitRanges returns regular expressions for the decimal texts, without leading
// zeros, of the numbers in [lo, hi], 1 <= lo <= hi: from the lowest up, each the
// largest block of numbers that share all but their last digits, blocks side by side
// merged into one class ([1-2][0-9] for 10 to 29).
func digitRanges(lo, hi int64) []string {
	type block struct {
		head     string // the shared digits but the last
		from, to byte   // the last shared digit
		free     int    // how many digits follow, any of them
	}
	var blocks []block
	for lo <= hi {
		size, free := int64(1), 0
		for lo%(size*10) == 0 && lo <= hi-(size*10-1) {
			size *= 10
			free++
		}
		text := strconv.FormatInt(lo, 10)
		prefix := text[:len(text)-free]
		b := block{head: prefix[:len(prefix)-1], from: prefix[len(prefix)-1], to: prefix[len(prefix)-1], free: free}
		if n := len(blocks); n > 0 && blocks[n-1].head == b.head && blocks[n-1].free == b.free && blocks[n-1].to+1 == b.from {
			blocks[n-1].to = b.from
		} else {
			blocks = append(blocks, b)
		}
		if lo > hi-size { // the last block: lo+size would overflow at the top of int64
			break
		}
		lo += size
	}
	out := make([]string, len(blocks))
	for i, b := range blocks {
		out[i] = b.head + string(b.from)
		if b.to != b.from {
			out[i] = fmt.Sprintf("%s[%c-%c]", b.head, b.from, b.to)
		}
		switch {
		case b.free == 1:
			out[i] += "[0-9]"
		case b.free > 1:
			out[i] += fmt.Sprintf("[0-9]{%d}", b.free)
		}
	}
	return out
}
