package apiclient_test

import (
	"archive/zip"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

var (
	str  = apiclient.String
	num  = apiclient.Int
	null = apiclient.Null()
	yes  = apiclient.Bool(true)
	no   = apiclient.Bool(false)
)

// accepted is a value a field takes, and the value the server returns for it.
type accepted struct {
	send, want apiclient.Value
}

func switchCases() ([]accepted, []apiclient.Value) {
	return []accepted{{null, null}, {no, no}, {yes, yes}, {no, no}, {null, null}},
		[]apiclient.Value{str("yes"), str("true"), str(""), num(1), num(0)}
}

// fieldCases has a row for every field of the table: values the server must take (and
// how it returns them) and values it must refuse.
func fieldCases() map[string]struct {
	accept []accepted
	refuse []apiclient.Value
} {
	type row = struct {
		accept []accepted
		refuse []apiclient.Value
	}
	switchAccept, switchRefuse := switchCases()
	return map[string]row{
		"record": {
			accept: []accepted{{num(0), num(0)}, {str("7"), num(7)}, {num(255), num(255)}, {str("0"), num(0)}},
			refuse: []apiclient.Value{num(-1), str("abc"), str(""), yes, apiclient.Number("1.5"), str(" 7")},
		},
		"nm_password": {
			accept: []accepted{{str("0000"), str("0000")}, {str("4711"), str("4711")}, {str(""), str("")}, {num(1234), str("1234")}},
			refuse: []apiclient.Value{str("12a4"), str("-123"), str("98 76"), yes},
		},
		"ivr_password": {
			accept: []accepted{{str("00123"), str("00123")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("1234x"), str("pin5678")},
		},
		"barge_pin": {
			accept: []accepted{{str("9876"), str("9876")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("98-76"), str("secret9876")},
		},
		"zone": {
			accept: []accepted{{str("US/Pacific"), str("US/Pacific")}, {str("Europe/London"), str("Europe/London")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("Mars/Base"), str("Local"), str("../etc/passwd"), num(5)},
		},
		"hs_nm": {
			accept: []accepted{{num(0), str("0")}, {str("9"), str("9")}, {num(5), str("5")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(10), num(-1), str("a")},
		},
		"hs_access": {
			accept: []accepted{{str("external"), str("external")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(1), yes},
		},
		"hs_access_nm": {
			accept: []accepted{{str("internal only"), str("internal only")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(2), no},
		},
		"fid": {
			accept: []accepted{{num(1), str("1")}, {str("0"), str("0")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(2), str("2"), str("x"), yes},
		},
		"vm_callback": {
			accept: []accepted{{num(-1), num(-1)}, {str("1"), num(1)}, {num(0), num(0)}},
			refuse: []apiclient.Value{num(2), str("x"), str(""), num(-2)},
		},
		"phonebook": {
			accept: []accepted{{num(3), str("3")}, {str("0"), str("0")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(4), str("-1"), str("all")},
		},
		"callerid": {
			accept: []accepted{{str("-123"), str("-123")}, {str("4930123456"), str("4930123456")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("12-3"), str("-"), str("+4930"), str("abc")},
		},
		"vm_silent": {
			accept: []accepted{{str("yes"), str("yes")}, {str("no"), str("no")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("maybe"), str("YES"), yes, num(1)},
		},
		"vm_maxmsgs": {
			accept: []accepted{{num(100), str("100")}, {str("500"), str("500")}, {str("050"), str("50")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(150), num(0), str("1000")},
		},
		"q_ringtime": {
			accept: []accepted{{num(15), str("15")}, {str("15"), str("15")}, {str("015"), str("15")}, {num(5), str("5")}, {num(30), str("30")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(4), num(31), str("abc"), yes, apiclient.Number("15.0"), str(" 15"), null},
		},
		"q_pausetime": {
			accept: []accepted{{num(2), str("2")}, {str("10"), str("10")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(1), num(11)},
		},
		"q_wraptime": {
			accept: []accepted{{num(240), str("240")}, {str("2"), str("2")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(1), num(241)},
		},
		"q_per_ann_int": {
			accept: []accepted{{num(30), str("30")}, {str("90"), str("90")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(45), num(0), num(120)},
		},
		"q_per_pos_int": {
			accept: []accepted{{num(60), str("60")}, {str("30"), str("30")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(15), str("sixty")},
		},
		"pre_queue_ring": {
			accept: []accepted{{num(1), str("1")}, {str("999"), str("999")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(0), num(1000)},
		},
		"crm_url": {
			accept: []accepted{{str("https://crm.example.com/lookup?n=%s"), str("https://crm.example.com/lookup?n=%s")}, {str(""), str("")}},
			refuse: []apiclient.Value{num(5), yes},
		},
		"hs_webrtc": {
			accept: []accepted{{str("disable"), str("disable")}, {str("yes"), str("yes")}, {str("no"), str("no")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("enable"), num(1), yes},
		},
		"nocallrec": {accept: switchAccept, refuse: switchRefuse},
		"nokeevio":  {accept: switchAccept, refuse: switchRefuse},
		"nopickup":  {accept: switchAccept, refuse: switchRefuse},
		"nobarge":   {accept: switchAccept, refuse: switchRefuse},
		"noext": {
			accept: []accepted{{str("qh"), str("qh")}, {str("hq"), str("hq")}, {str("hqficovptx"), str("hqficovptx")}, {str(""), str("")}},
			refuse: []apiclient.Value{str("hh"), str("z"), str("H"), num(1)},
		},
	}
}

// TestFieldTable sends every field's accepted and refused values through Update to
// the simulator.
func TestFieldTable(t *testing.T) {
	cases := fieldCases()
	var names []string
	for _, f := range apiclient.Fields() {
		names = append(names, f.Name)
	}
	var tested []string
	for name := range cases {
		tested = append(tested, name)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(tested))); diff != "" {
		t.Fatalf("every field of the table has cases (-table +cases):\n%s", diff)
	}

	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)

	for _, f := range apiclient.Fields() {
		tc := cases[f.Name]
		require.NotEmpty(t, tc.accept, f.Name)
		require.NotEmpty(t, tc.refuse, f.Name)

		for i, a := range tc.accept {
			t.Run(fmt.Sprintf("%s/accepts %d %s", f.Name, i, a.send.JSON()), func(t *testing.T) {
				got, err := c.Update(t.Context(), "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{f.Name: a.send})})
				require.NoError(t, err)

				if diff := cmp.Diff(a.want.JSON(), got.Settings.Get(f.Name).Reveal().JSON()); diff != "" {
					t.Errorf("Update returns (-want +got):\n%s", diff)
				}
				held := serverCompany(t, srv, "acme").Settings.Get(f.Name)
				if diff := cmp.Diff(a.want.JSON(), held.Reveal().JSON()); diff != "" {
					t.Errorf("the server holds (-want +got):\n%s", diff)
				}
				require.True(t, apiclient.Equal(f.Name, a.send, got.Settings.Get(f.Name)),
					"what was sent, %s, is one value with what came back, %s", a.send.JSON(), got.Settings.Get(f.Name).JSON())

				read, err := c.Read(t.Context(), "acme")
				require.NoError(t, err)
				require.True(t, apiclient.Equal(f.Name, a.send, read.Settings.Get(f.Name)), "read back %s", read.Settings.Get(f.Name).JSON())
			})
		}

		for i, bad := range tc.refuse {
			t.Run(fmt.Sprintf("%s/refuses %d %s", f.Name, i, bad.JSON()), func(t *testing.T) {
				before := serverCompany(t, srv, "acme")
				writes := srv.Stats().Writes["update"]

				// A valid rename rides along: a refused value fails the whole update.
				_, err := c.Update(t.Context(), "acme", apiclient.Changes{Name: "Renamed", Settings: apiclient.SettingsOf(map[string]apiclient.Value{f.Name: bad})})
				var apiErr *apiclient.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, "acme", apiErr.Company)
				require.Contains(t, err.Error(), f.Name, "the error names the field")
				if f.Secret && bad.Text() != "" {
					require.NotContains(t, err.Error(), bad.Text(), "a secret's value never reaches an error")
				}

				if diff := cmp.Diff(before, serverCompany(t, srv, "acme"), valueJSON); diff != "" {
					t.Errorf("nothing changes (-before +after):\n%s", diff)
				}
				require.Equal(t, writes, srv.Stats().Writes["update"])

				_, err = f.Normalize(bad)
				require.Error(t, err, "the client's table refuses it too")
				if f.Secret && bad.Text() != "" {
					require.NotContains(t, err.Error(), bad.Text())
				}
			})
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		field   string
		in      apiclient.Value
		want    apiclient.Value
		wantErr bool
	}{
		{"q_ringtime", num(15), str("15"), false},
		{"q_ringtime", str("15"), str("15"), false},
		{"q_ringtime", str("015"), str("15"), false},
		{"q_ringtime", str(""), str(""), false},
		{"q_ringtime", apiclient.Number("1e1"), apiclient.Value{}, true},
		{"q_ringtime", str("4"), apiclient.Value{}, true},
		{"q_ringtime", str("99999999999999999999"), apiclient.Value{}, true},
		{"record", str("7"), num(7), false},
		{"record", num(7), num(7), false},
		{"record", str("-0"), num(0), false},
		{"record", str(""), apiclient.Value{}, true},
		{"vm_callback", str("-1"), num(-1), false},
		{"vm_maxmsgs", str("0050"), str("50"), false},
		{"nm_password", str("0000"), str("0000"), false},
		{"nm_password", num(0), str("0"), false},
		{"nocallrec", null, null, false},
		{"nocallrec", no, no, false},
		{"nocallrec", str("false"), apiclient.Value{}, true},
		{"noext", str("qh"), str("qh"), false},
		{"noext", str("qhq"), apiclient.Value{}, true},
		{"zone", str("Local"), apiclient.Value{}, true},
		{"zone", str("/etc/localtime"), apiclient.Value{}, true},
		{"callerid", num(-123), str("-123"), false},
		{"callerid", str("-"), apiclient.Value{}, true},
		{"crm_url", num(1), apiclient.Value{}, true},
	} {
		t.Run(tc.field+" "+tc.in.JSON(), func(t *testing.T) {
			f, ok := apiclient.LookupField(tc.field)
			require.True(t, ok)
			got, err := f.Normalize(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.field)
				require.Contains(t, err.Error(), f.Allowed, "the error says what is allowed")
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tc.want, got, valueJSON); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a secret's value is not repeated", func(t *testing.T) {
		for _, name := range []string{"nm_password", "ivr_password", "barge_pin"} {
			f, _ := apiclient.LookupField(name)
			require.True(t, f.Secret, name)
			_, err := f.Normalize(str("12a4"))
			require.Error(t, err)
			require.NotContains(t, err.Error(), "12a4")
		}
	})
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		field string
		a, b  apiclient.Value
		want  bool
	}{
		{"q_ringtime", num(15), str("15"), true},
		{"q_ringtime", str("015"), num(15), true},
		{"q_ringtime", num(15), str("16"), false},
		{"q_ringtime", str(""), num(0), false},
		{"record", str("7"), num(7), true},
		{"vm_callback", num(-1), str("-1"), true},
		{"nocallrec", null, no, true},
		{"nocallrec", no, null, true},
		{"nocallrec", null, yes, false},
		{"nobarge", yes, yes, true},
		{"noext", str("qh"), str("hq"), true},
		{"noext", str("qh"), str("q"), false},
		{"noext", str(""), str(""), true},
		{"nm_password", str("0000"), str("0"), false},
		{"nm_password", str("0000"), str("0000"), true},
		{"callerid", str("-123"), str("123"), false},
		{"zone", str("US/Pacific"), str("us/pacific"), false},
		{"vm_silent", str("yes"), str("no"), false},
		{"hs_access", str("external"), str("external"), true},
		{"unknown_field", num(15), str("15"), false},
		{"unknown_field", str("x"), str("x"), true},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.field, tc.a.JSON(), tc.b.JSON()), func(t *testing.T) {
			require.Equal(t, tc.want, apiclient.Equal(tc.field, tc.a, tc.b))
			require.Equal(t, tc.want, apiclient.Equal(tc.field, tc.b, tc.a), "Equal is symmetric")
			if f, ok := apiclient.LookupField(tc.field); ok {
				require.Equal(t, tc.want, f.Equal(tc.a, tc.b))
			}
		})
	}
}

func TestFieldsIsACopy(t *testing.T) {
	all := apiclient.Fields()
	require.NotEmpty(t, all)
	name := all[0].Name
	all[0].Name = "changed"
	require.Equal(t, name, apiclient.Fields()[0].Name)
	_, ok := apiclient.LookupField(name)
	require.True(t, ok)
}

// Values lists what "did you mean" may suggest: words the field allows, and for the
// time zone every name of the database Go embeds, each one that Normalize takes.
func TestValues(t *testing.T) {
	field := func(name string) apiclient.Field {
		f, ok := apiclient.LookupField(name)
		require.True(t, ok, name)
		return f
	}
	require.Equal(t, []string{"no", "yes", "disable"}, field("hs_webrtc").Values())
	require.Nil(t, field("q_ringtime").Values(), "numbers: no list of words")
	require.Nil(t, field("nm_password").Values())

	zone := field("zone")
	names := zone.Values()
	require.Contains(t, names, "Europe/London")
	for _, name := range names {
		_, err := zone.Normalize(str(name))
		require.NoError(t, err, "a suggestion is always a time zone")
	}
	names[0] = "changed"
	require.NotEqual(t, "changed", zone.Values()[0], "a copy")

	// The list is the names of the database of the Go that builds pbxsync.
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	require.NoError(t, err)
	db, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip"))
	require.NoError(t, err)
	defer db.Close()
	var want []string
	for _, f := range db.File {
		if !strings.HasSuffix(f.Name, "/") {
			want = append(want, f.Name)
		}
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, zone.Values()); diff != "" {
		t.Errorf("apiclient/zones.txt is not Go's time-zone database (-Go's +zones.txt): write one name of it a line:\n%s", diff)
	}
}
