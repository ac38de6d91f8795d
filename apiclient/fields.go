package apiclient

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone names are checked against the embedded database, the same on every machine
)

// Type is the JSON type in which the server stores and returns a field.
type Type uint8

// The server types of the field table.
const (
	TypeString  Type = iota // a string; numbers in allowed values are canonical decimal text
	TypeInteger             // a JSON integer
	TypeSwitch              // true, false or null, where null and false are one value
)

func (t Type) String() string {
	switch t {
	case TypeInteger:
		return "integer"
	case TypeSwitch:
		return "boolean or null"
	}
	return "string"
}

// check is the kind of rule a field's values follow.
type check uint8

const (
	freeText  check = iota // any string
	digits                 // "" or digits, kept as written (PINs: "0000" is not "0")
	callerID               // "" or an optional "-" and at least one digit
	numRange               // "" (strings only) or a whole number in [min, max]
	numEnum                // "" (strings only) or one of enum, compared as numbers
	wordEnum               // one of enum, exactly
	zoneName               // "" or a time-zone name
	letterSet              // letters of enum[0], each at most once, compared as a set
	boolNull               // true, false or null
)

// Field is one row of the field table: everything pbxsync knows about a setting.
type Field struct {
	Name       string
	Type       Type
	Allowed    string // the allowed values, as a person reads them
	Secret     bool   // never shown, logged or written to a plan
	Feature    bool   // a feature switch: needs System-Admin, silently ignored otherwise
	Since      string // the first server version with the field; "" for all
	Deprecated bool   // still accepted; pbxsync warns when an inventory manages it
	// Description says in one sentence what the setting does, after the vendor's
	// reference; where the vendor says nothing, only what its name and values tell.
	Description string

	check    check
	min, max int64
	enum     []string
}

// fields is the field table of spec/api.md, in its order. A new field is one row.
var fields = [...]Field{
	{Name: "record", Type: TypeInteger, Allowed: "a bit mask, 0 or more",
		Description: "Default call-recording options, as a bit mask.", check: numRange, min: 0, max: 1<<31 - 1},
	{Name: "nm_password", Allowed: `"" or digits`, Secret: true,
		Description: "The night-mode PIN.", check: digits},
	{Name: "ivr_password", Allowed: `"" or digits`, Secret: true,
		Description: "The IVR PIN.", check: digits},
	{Name: "barge_pin", Allowed: `"" or digits`, Secret: true,
		Description: "The barge PIN.", check: digits},
	{Name: "zone", Allowed: `"" or a time-zone name such as US/Pacific`,
		Description: `The time zone of the company, by its name in the time-zone database; "" is the system default.`, check: zoneName},
	{Name: "hs_nm", Allowed: `"" or 0 to 9`,
		Description: `Handset night mode; "" is the system default.`, check: numRange, min: 0, max: 9},
	{Name: "hs_access", Allowed: "free text",
		Description: "The default handset access level, such as external.", check: freeText},
	{Name: "hs_access_nm", Allowed: "free text",
		Description: "The handset access level in night mode.", check: freeText},
	{Name: "fid", Allowed: `"", 0 or 1`,
		Description: `Blocks handset forwards: 1 blocks them, 0 does not, "" is the system default.`, check: numEnum, enum: []string{"0", "1"}},
	{Name: "vm_callback", Type: TypeInteger, Allowed: "-1, 0 or 1",
		Description: "Call-return from voicemail: 1 enables it, -1 disables it, 0 is the system default.", check: numEnum, enum: []string{"-1", "0", "1"}},
	{Name: "phonebook", Allowed: `"", 0, 1, 2 or 3`,
		Description: `Default phonebook visibility: 0 none, 1 company, 2 logged-in, 3 public; "" is the system default.`, check: numEnum, enum: []string{"0", "1", "2", "3"}},
	{Name: "callerid", Allowed: `"" or digits, optionally led by "-"`,
		Description: `Overrides the default caller-id; led by "-", it withholds the caller-id.`, check: callerID},
	{Name: "vm_silent", Allowed: `"", "no" or "yes"`,
		Description: `Silences the voicemail instructions: "yes" silences them, "no" says them, "" is the default.`, check: wordEnum, enum: []string{"", "no", "yes"}},
	{Name: "vm_maxmsgs", Allowed: `"", 50, 100, 200, 300 or 500`,
		Description: `The most voicemail messages a mailbox holds; "" is the global default.`, check: numEnum, enum: []string{"50", "100", "200", "300", "500"}},
	{Name: "q_ringtime", Allowed: `"" or 5 to 30`,
		Description: `Queue ring time, in seconds; "" is the system default.`, check: numRange, min: 5, max: 30},
	{Name: "q_pausetime", Allowed: `"" or 2 to 10`,
		Description: `Queue pause time; "" is the system default.`, check: numRange, min: 2, max: 10},
	{Name: "q_wraptime", Allowed: `"" or 2 to 240`,
		Description: `Queue wrap-up time; "" is the system default.`, check: numRange, min: 2, max: 240},
	{Name: "q_per_ann_int", Allowed: `"", 30, 60 or 90`,
		Description: `Periodic announce interval, in seconds; "" is the system default.`, check: numEnum, enum: []string{"30", "60", "90"}},
	{Name: "q_per_pos_int", Allowed: `"", 30, 60 or 90`,
		Description: `Periodic position interval, in seconds; "" is the system default.`, check: numEnum, enum: []string{"30", "60", "90"}},
	{Name: "pre_queue_ring", Allowed: `"" or 1 to 999`,
		Description: `Pre-queue ring time; "" is the system default.`, check: numRange, min: 1, max: 999},
	{Name: "crm_url", Allowed: "free text", Deprecated: true,
		Description: "The CRM popup URL (deprecated by the vendor).", check: freeText},
	{Name: "hs_webrtc", Allowed: `"", "no", "yes" or "disable"`, Feature: true, Since: "6.3.22",
		Description: `Default keevio phone status: "yes" a keevio phone, "no" none, "disable" not for this company, "" the global default.`, check: wordEnum, enum: []string{"", "no", "yes", "disable"}},
	{Name: "nocallrec", Type: TypeSwitch, Allowed: "true, false or null", Feature: true, Since: "6.3.22",
		Description: "Suppresses access to call recording when true; null and false do not.", check: boolNull},
	{Name: "nokeevio", Type: TypeSwitch, Allowed: "true, false or null", Feature: true, Since: "6.3.22",
		Description: "Suppresses access to the keevio web interface when true; null and false do not.", check: boolNull},
	{Name: "noext", Allowed: `letters from "hqficovptx", each at most once`, Feature: true, Since: "6.3.22",
		Description: "Suppresses access to certain extension types, given as letters of hqficovptx.", check: letterSet, enum: []string{"hqficovptx"}},
	{Name: "nopickup", Type: TypeSwitch, Allowed: "true, false or null", Feature: true, Since: "6.3.23",
		Description: "Suppresses access to call pickups when true; null and false do not.", check: boolNull},
	{Name: "nobarge", Type: TypeSwitch, Allowed: "true, false or null", Feature: true, Since: "6.3.23",
		Description: "Suppresses access to barge or whisper when true; null and false do not.", check: boolNull},
}

// Fields returns the field table, in the order of spec/api.md.
func Fields() []Field { return slices.Clone(fields[:]) }

// fieldIndex finds a row of the field table by name.
var fieldIndex = func() map[string]int {
	index := make(map[string]int, len(fields))
	for i, f := range fields {
		index[f.Name] = i
	}
	return index
}()

// LookupField returns the row of the field table for name.
func LookupField(name string) (Field, bool) {
	i, ok := fieldIndex[name]
	if !ok {
		return Field{}, false
	}
	return fields[i], true
}

// Zero is the value a new company has for the field: "" for strings, 0 for integers,
// null for switches.
func (f Field) Zero() Value {
	switch f.Type {
	case TypeInteger:
		return Int(0)
	case TypeSwitch:
		return Null()
	}
	return String("")
}

// AvailableIn reports whether a server of the given version (such as "6.5") knows the
// field. An empty version means the newest.
func (f Field) AvailableIn(version string) bool {
	return f.Since == "" || version == "" || compareVersions(f.Since, version) <= 0
}

// Numeric reports whether the field's values are whole numbers, which an inventory
// may write as a number (15) or as text ("15"): both are one value.
func (f Field) Numeric() bool { return f.check == numRange || f.check == numEnum }

var (
	digitsRE   = regexp.MustCompile(`^[0-9]*$`)
	callerIDRE = regexp.MustCompile(`^(-?[0-9]+)?$`)
	integerRE  = regexp.MustCompile(`^-?[0-9]+$`)
)

// Normalize checks v against the field's allowed values and returns it in the form and
// type the server stores: 15, "15" and "015" become "15" for a string field holding a
// number, and 15 for an integer field. The value of a secret field comes back marked
// sensitive, as does a marked value of any field. The error says what is allowed; it
// never repeats a secret's value.
func (f Field) Normalize(v Value) (Value, error) {
	n, err := f.normalize(v)
	if err == nil && (f.Secret || v.sensitive) {
		n = n.MarkSensitive()
	}
	return n, err
}

func (f Field) normalize(v Value) (Value, error) {
	if f.Type == TypeSwitch {
		if v.Kind() != KindNull && v.Kind() != KindBool {
			return f.refuse("a %s is not a switch value", v.Kind())
		}
		return v, nil
	}

	// Every other field takes a string, or a number where its values are numbers.
	var text string
	switch v.Kind() {
	case KindString:
		text = v.Text()
	case KindNumber:
		if f.check == freeText || f.check == wordEnum || f.check == zoneName || f.check == letterSet {
			return f.refuse("a number is not a %s", f.Type)
		}
		text = v.Text()
		if !integerRE.MatchString(text) {
			return f.refuse("%s is not a whole number", text)
		}
	default:
		return f.refuse("a %s is not a %s", v.Kind(), f.Type)
	}
	if f.Numeric() {
		return f.number(text)
	}
	return f.word(text)
}

// refuse is Normalize's error: what is wrong, unless the field is a secret, and what
// is allowed.
func (f Field) refuse(format string, args ...any) (Value, error) {
	msg := fmt.Sprintf(format, args...)
	if f.Secret {
		msg = "not allowed"
	}
	return Value{}, fmt.Errorf("%s: %s; allowed: %s", f.Name, msg, f.Allowed)
}

// word checks the text of a field whose values are strings.
func (f Field) word(text string) (Value, error) {
	switch f.check {
	case digits:
		if !digitsRE.MatchString(text) {
			return f.refuse("%q is not digits", text)
		}
	case callerID:
		if !callerIDRE.MatchString(text) {
			return f.refuse("%q is not a caller-id", text)
		}
	case wordEnum:
		i := slices.Index(f.enum, text)
		if i < 0 {
			return f.refuse("%q is not allowed", text)
		}
		text = f.enum[i] // the table's copy, which every company shares
	case zoneName:
		if text == "" {
			break
		}
		name, ok := zone(text)
		if !ok {
			return f.refuse("%q is not a time zone", text)
		}
		text = name
	case letterSet:
		for i, r := range text {
			if !strings.ContainsRune(f.enum[0], r) {
				return f.refuse("%q is not one of the letters %s", r, f.enum[0])
			}
			if strings.ContainsRune(text[:i], r) {
				return f.refuse("%q appears twice", r)
			}
		}
	}
	return String(text), nil
}

// number checks the text of a field whose values are whole numbers, or "" where the
// server stores a string.
func (f Field) number(text string) (Value, error) {
	if text == "" && f.Type == TypeString {
		return String(""), nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || strings.TrimSpace(text) != text {
		return f.refuse("%q is not a whole number", text)
	}
	canon := strconv.FormatInt(n, 10)
	if f.check == numRange && (n < f.min || n > f.max) {
		return f.refuse("%s is out of range", canon)
	}
	if f.check == numEnum {
		i := slices.Index(f.enum, canon)
		if i < 0 {
			return f.refuse("%s is not allowed", canon)
		}
		canon = f.enum[i] // the table's copy, which every company shares
	}
	if f.Type == TypeInteger {
		return Int(n), nil
	}
	return String(canon), nil
}

// Equal reports whether a and b are one value of the field: compared after
// normalisation, with null equal to false for switches and noext compared as a set
// of letters. A value the field does not allow compares by its JSON text. Marks do
// not count: a secret equals its own text.
func (f Field) Equal(a, b Value) bool {
	a, b = a.Reveal(), b.Reveal()
	if a == b {
		return true // the common case, without the cost of normalising
	}
	na, errA := f.normalize(a)
	nb, errB := f.normalize(b)
	if errA != nil || errB != nil {
		return a.JSON() == b.JSON()
	}
	switch {
	case f.Type == TypeSwitch:
		return na.Bool() == nb.Bool()
	case f.check == letterSet:
		return sortedLetters(na.Text()) == sortedLetters(nb.Text())
	}
	return na == nb
}

// Equal reports whether two values of the named field are one value (Field.Equal).
// For a field the table does not know, it compares the JSON text.
func Equal(field string, a, b Value) bool {
	if f, ok := LookupField(field); ok {
		return f.Equal(a, b)
	}
	return a.Reveal().JSON() == b.Reveal().JSON()
}

func sortedLetters(s string) string {
	r := []rune(s)
	slices.Sort(r)
	return string(r)
}

// Values lists the values the field takes when they are a list of words: its allowed
// words, or every time-zone name; nil for other fields. For "did you mean".
func (f Field) Values() []string {
	switch f.check {
	case wordEnum:
		return slices.DeleteFunc(slices.Clone(f.enum), func(w string) bool { return w == "" })
	case zoneName:
		return slices.Clone(zoneNames())
	}
	return nil
}

// zoneList is the names of the time-zone database that time/tzdata embeds, one a
// line (TestZoneNames keeps it in step with Go's).
//
//go:embed zones.txt
var zoneList string

var zoneNames = sync.OnceValue(func() []string { return strings.Fields(zoneList) })

// zones remembers which names are time zones, since loading one reads a file, and
// holds one copy of each name, which the values of every company share.
var zones sync.Map // name -> the name, or "" for a name that is not a time zone

// zone returns the copy of name that zones holds, and whether it is a time zone.
func zone(name string) (string, bool) {
	if name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return "", false
	}
	if known, ok := zones.Load(name); ok {
		return known.(string), known != ""
	}
	kept := ""
	if _, err := time.LoadLocation(name); err == nil {
		kept = strings.Clone(name)
	}
	known, _ := zones.LoadOrStore(strings.Clone(name), kept)
	return known.(string), known != ""
}

// compareVersions compares dotted version numbers such as "6.3.22" and "6.5".
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// The API's patterns for a company-id and a company name (spec/api.md), written so
// that Go and JSON Schema (ECMA-262) read them alike.
const (
	CompanyIDPattern = `^[a-zA-Z0-9_]{1,32}$`
	NamePattern      = `^[a-zA-Z0-9.,;\-_ ]{1,240}$`
)

var (
	companyIDRE = regexp.MustCompile(CompanyIDPattern)
	nameRE      = regexp.MustCompile(NamePattern)
)

// ValidCompanyID reports whether id is a company-id the API accepts: letters, digits
// and "_", 1 to 32 characters.
func ValidCompanyID(id string) bool { return companyIDRE.MatchString(id) }

// ValidName reports whether name is a company name the API accepts: letters, digits,
// space and ". , ; - _", 1 to 240 characters.
func ValidName(name string) bool { return nameRE.MatchString(name) }
