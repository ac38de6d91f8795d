package apiclient

import (
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"math/bits"
	"slices"
	"strings"
)

// Settings are a company's data fields by their API names. A field of the table is
// held in the slot of its row, so that a company with every field set takes a third
// of the memory a map would; a field the table does not know (a newer server's) is
// kept, as the server sent it, beside the slots. Printing or logging Settings
// redacts secrets.
//
// Like a map, Settings refer to their values: a copy shares them, and Clone makes a
// copy of its own. The zero Settings are empty; Set makes them hold values.
type Settings struct{ p *slots }

type slots struct {
	// The fields of the table, by row: the parts of a Value, each in an array of its
	// own, take 17 bytes a field where a Value takes 24.
	text      [len(fields)]string
	kind      [len(fields)]Kind
	set       uint32 // bit i: row i is set
	truth     uint32 // bit i: row i is true
	sensitive uint32 // bit i: row i is marked sensitive

	other []Setting // the fields the table does not know, sorted by name; usually nil
}

// The field table fits in the bits of slots.set.
const _ = uint(32 - len(fields))

// row returns the value of row i.
func (s *slots) row(i int) Value {
	return Value{text: s.text[i], kind: s.kind[i], bit: s.truth&(1<<i) != 0, sensitive: s.sensitive&(1<<i) != 0}
}

// setRow sets row i to v, marked sensitive when the field is a secret.
func (s *slots) setRow(i int, v Value) {
	s.text[i], s.kind[i] = v.text, v.kind
	s.set |= 1 << i
	s.truth &^= 1 << i
	s.sensitive &^= 1 << i
	if v.bit {
		s.truth |= 1 << i
	}
	if v.sensitive || fields[i].Secret {
		s.sensitive |= 1 << i
	}
}

// Setting is one field's name and value.
type Setting struct {
	Name  string
	Value Value
}

// SettingsOf returns settings holding the values of m.
func SettingsOf(m map[string]Value) Settings {
	var s Settings
	for name, v := range m {
		s.Set(name, v)
	}
	return s
}

// Lookup returns the value of the named field, and whether s holds it. A field it
// does not hold reads as null, marked sensitive for a secret field of the table, as
// any value of that field is.
func (s Settings) Lookup(name string) (Value, bool) {
	if i, ok := fieldIndex[name]; ok {
		if s.p == nil || s.p.set&(1<<i) == 0 {
			return Value{sensitive: fields[i].Secret}, false
		}
		return s.p.row(i), true
	}
	if s.p != nil {
		if j, ok := s.p.find(name); ok {
			return s.p.other[j].Value, true
		}
	}
	return Value{}, false
}

// Get returns the value of the named field; null when s does not hold it (Lookup).
func (s Settings) Get(name string) Value {
	v, _ := s.Lookup(name)
	return v
}

// Has reports whether s holds the named field.
func (s Settings) Has(name string) bool {
	_, ok := s.Lookup(name)
	return ok
}

// Set sets the named field to v; the value of a secret field of the table is marked
// sensitive (Value.MarkSensitive), whoever made it.
func (s *Settings) Set(name string, v Value) {
	if s.p == nil {
		s.p = &slots{}
	}
	if i, ok := fieldIndex[name]; ok {
		s.p.setRow(i, v)
		return
	}
	j, ok := s.p.find(name)
	if ok {
		s.p.other[j].Value = v
		return
	}
	s.p.other = slices.Insert(s.p.other, j, Setting{Name: name, Value: v})
}

// Delete removes the named field.
func (s *Settings) Delete(name string) {
	if s.p == nil {
		return
	}
	if i, ok := fieldIndex[name]; ok {
		s.p.setRow(i, Value{})
		s.p.set &^= 1 << i
		s.p.sensitive &^= 1 << i
		return
	}
	if j, ok := s.p.find(name); ok {
		s.p.other = slices.Delete(s.p.other, j, j+1)
	}
}

// Len returns the number of fields s holds.
func (s Settings) Len() int {
	if s.p == nil {
		return 0
	}
	return bits.OnesCount32(s.p.set) + len(s.p.other)
}

// All yields the fields s holds and their values, in name order.
func (s Settings) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if s.p == nil {
			return
		}
		other := s.p.other
		for _, i := range rowsByName {
			if s.p.set&(1<<i) == 0 {
				continue
			}
			name := fields[i].Name
			for len(other) > 0 && other[0].Name < name {
				if !yield(other[0].Name, other[0].Value) {
					return
				}
				other = other[1:]
			}
			if !yield(name, s.p.row(i)) {
				return
			}
		}
		for _, o := range other {
			if !yield(o.Name, o.Value) {
				return
			}
		}
	}
}

// Names returns the names of the fields s holds, sorted.
func (s Settings) Names() []string {
	names := make([]string, 0, s.Len())
	for name := range s.All() {
		names = append(names, name)
	}
	return names
}

// Clone returns a copy of s that shares nothing with it.
func (s Settings) Clone() Settings {
	if s.p == nil {
		return Settings{}
	}
	c := *s.p
	c.other = slices.Clone(c.other)
	return Settings{p: &c}
}

// Equal reports whether s and t hold the same fields with the same values, as
// written: Field.Equal says which values are one value of a field.
func (s Settings) Equal(t Settings) bool {
	if s.Len() != t.Len() {
		return false
	}
	for name, v := range s.All() {
		if w, ok := t.Lookup(name); !ok || w != v {
			return false
		}
	}
	return true
}

// find returns the index of the unknown field name in s.other, or where it would go.
func (s *slots) find(name string) (int, bool) {
	return slices.BinarySearchFunc(s.other, name, func(o Setting, name string) int { return strings.Compare(o.Name, name) })
}

// rowsByName lists the rows of the field table in the order of their names.
var rowsByName = func() []int {
	rows := make([]int, len(fields))
	for i := range rows {
		rows[i] = i
	}
	slices.SortFunc(rows, func(a, b int) int { return strings.Compare(fields[a].Name, fields[b].Name) })
	return rows
}()

// String prints the settings with secret values redacted.
func (s Settings) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for name, v := range s.All() {
		if b.Len() > 1 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(Display(name, v))
	}
	b.WriteByte('}')
	return b.String()
}

// Format makes every fmt verb, %#v included, print the redacted form.
func (s Settings) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue implements slog.LogValuer with secrets redacted.
func (s Settings) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the settings as a JSON object, in name order, marked values as
// "(sensitive)".
func (s Settings) MarshalJSON() ([]byte, error) { return s.appendJSON(false) }

// wireJSON is MarshalJSON with secrets in their real text, as the server sends them.
func (s Settings) wireJSON() ([]byte, error) { return s.appendJSON(true) }

func (s Settings) appendJSON(reveal bool) ([]byte, error) {
	b := []byte{'{'}
	for name, v := range s.All() {
		if len(b) > 1 {
			b = append(b, ',')
		}
		key, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		if reveal {
			v = v.Reveal()
		}
		value, err := v.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		b = append(append(append(b, key...), ':'), value...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads a JSON object of fields into s, in place of what it held.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var m map[string]Value
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = Settings{}
	for name, v := range m {
		s.Set(name, v)
	}
	return nil
}

// normalize normalises, in place, each value of a field of the table that the
// field allows (Field.Normalize); the others are kept as they are.
func (s Settings) normalize() {
	if s.p == nil {
		return
	}
	for i := range fields {
		if s.p.set&(1<<i) != 0 {
			if n, err := fields[i].Normalize(s.p.row(i)); err == nil {
				s.p.setRow(i, n)
			}
		}
	}
}
