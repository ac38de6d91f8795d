package pbxtest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

// freshData is a new company's data on a 6.5 server: every field of the table of
// spec/api.md, empty, in the type the server returns.
func freshData() obj {
	return obj{
		"record": num(0), "nm_password": "", "ivr_password": "", "barge_pin": "", "zone": "",
		"hs_nm": "", "hs_access": "", "hs_access_nm": "", "fid": "", "vm_callback": num(0),
		"phonebook": "", "callerid": "", "vm_silent": "", "vm_maxmsgs": "", "q_ringtime": "",
		"q_pausetime": "", "q_wraptime": "", "q_per_ann_int": "", "q_per_pos_int": "",
		"pre_queue_ring": "", "crm_url": "", "hs_webrtc": "", "nocallrec": nil, "nokeevio": nil,
		"noext": "", "nopickup": nil, "nobarge": nil,
	}
}

func TestCreate(t *testing.T) {
	srv := simtest.NewServer(t)
	resp := admin(t, srv, "create", nil, obj{"company": "acme", "name": "Acme Inc.", "description": "first",
		"q_ringtime": 20, "unknown_key": "ignored"})

	entry := object(t, resp, "values", "acme")
	id, ok := entry["id"].(json.Number)
	require.True(t, ok, "id is a JSON number: %#v", entry["id"])
	if diff := cmp.Diff(obj{"id": id, "name": "Acme Inc.", "data": obj{}}, entry); diff != "" {
		t.Errorf("create answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"acme"}, keys(object(t, resp, "values"))); diff != "" {
		t.Errorf("create answer values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(freshData(), readData(t, srv, "acme")); diff != "" {
		t.Errorf("a fresh company's data; other keys of create are ignored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("first", srv.Description("acme")); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
}

func TestCreateAcceptsTheLimits(t *testing.T) {
	tests := []struct{ id, name string }{
		{id: strings.Repeat("a", 32), name: strings.Repeat("n", 240)},
		{id: "a", name: "x"},
		{id: "Az_09", name: "A.b, c; d-e_f 9"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			srv := simtest.NewServer(t)
			resp := admin(t, srv, "create", nil, obj{"company": tt.id, "name": tt.name})
			if diff := cmp.Diff(tt.name, field(t, resp, "values", tt.id, "name")); diff != "" {
				t.Errorf("name (-want +got):\n%s", diff)
			}
			_, ok := srv.Company(tt.id)
			require.True(t, ok)
		})
	}
}

func TestReadAll(t *testing.T) {
	srv := simtest.NewServer(t, companies("a", "b", "c"))
	resp := admin(t, srv, "read", nil, nil)
	values := object(t, resp, "values")
	if diff := cmp.Diff([]string{"a", "b", "c"}, keys(values)); diff != "" {
		t.Errorf("read without scope (-want +got):\n%s", diff)
	}
	for _, id := range []string{"a", "b", "c"} {
		if diff := cmp.Diff(freshData(), object(t, values, id, "data")); diff != "" {
			t.Errorf("data of %q (-want +got):\n%s", id, diff)
		}
	}
}

func TestUpdateChangesOnlyTheFieldsSent(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme", "other"))
	admin(t, srv, "update", scope("acme"), obj{"q_ringtime": 10, "zone": "US/Pacific"})
	resp := admin(t, srv, "update", scope("acme"), obj{"q_ringtime": "12", "name": "Acme Two"})

	want := freshData()
	want["q_ringtime"], want["zone"] = "12", "US/Pacific"
	entry := object(t, resp, "values", "acme")
	if diff := cmp.Diff(want, entry["data"]); diff != "" {
		t.Errorf("update answer data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("Acme Two", entry["name"]); diff != "" {
		t.Errorf("update answer name (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
		t.Errorf("read after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(freshData(), readData(t, srv, "other")); diff != "" {
		t.Errorf("another company changed (-want +got):\n%s", diff)
	}
}

func TestDelete(t *testing.T) {
	srv := simtest.NewServer(t, companies("acme", "other"))
	resp := admin(t, srv, "delete", scope("acme"), nil)
	if diff := cmp.Diff(obj{"result": "success"}, resp); diff != "" {
		t.Errorf("delete answer (-want +got):\n%s", diff)
	}
	_, ok := srv.Company("acme")
	require.False(t, ok, "acme was deleted")
	adminFails(t, srv, "read", scope("acme"), nil)
	adminFails(t, srv, "delete", scope("acme"), nil)
	if diff := cmp.Diff([]string{"other"}, keys(object(t, admin(t, srv, "read", nil, nil), "values"))); diff != "" {
		t.Errorf("read all after delete (-want +got):\n%s", diff)
	}
}

// Every one of these must answer HTTP 200 "fail" with a message, and change nothing.
func TestBadRequestsFailAndChangeNothing(t *testing.T) {
	upd := func(values obj) obj { return ops(pbxtest.AdminKey, scope("acme"), values) }
	crt := func(values obj) obj { return ops(pbxtest.AdminKey, nil, values) }
	tests := []struct {
		name string
		verb string
		body any // an obj is sent as JSON, a string as is
	}{
		{"create: company-id with a hyphen", "create", crt(obj{"company": "ac-me", "name": "Acme"})},
		{"create: company-id with a space", "create", crt(obj{"company": "ac me", "name": "Acme"})},
		{"create: company-id with a trailing newline", "create", crt(obj{"company": "newco\n", "name": "Acme"})},
		{"create: name with a trailing newline", "create", crt(obj{"company": "newco", "name": "New Co\n"})},
		{"create: company-id of 33 characters", "create", crt(obj{"company": strings.Repeat("a", 33), "name": "Acme"})},
		{"create: empty company-id", "create", crt(obj{"company": "", "name": "Acme"})},
		{"create: no company-id", "create", crt(obj{"name": "Acme"})},
		{"create: company-id not a string", "create", crt(obj{"company": 12, "name": "Acme"})},
		{"create: name with a slash", "create", crt(obj{"company": "newco", "name": "New/Co"})},
		{"create: name with a non-ASCII letter", "create", crt(obj{"company": "newco", "name": "Zürich"})},
		{"create: name with a newline", "create", crt(obj{"company": "newco", "name": "New\nCo"})},
		{"create: name of 241 characters", "create", crt(obj{"company": "newco", "name": strings.Repeat("n", 241)})},
		{"create: empty name", "create", crt(obj{"company": "newco", "name": ""})},
		{"create: no name", "create", crt(obj{"company": "newco"})},
		{"create: name not a string", "create", crt(obj{"company": "newco", "name": 5})},
		{"create: no values", "create", crt(nil)},
		{"create: existing company", "create", crt(obj{"company": "acme", "name": "Acme Again"})},

		{"read: unknown company", "read", ops(pbxtest.AdminKey, scope("ghost"), nil)},

		{"update: unknown key", "update", upd(obj{"colour": "red"})},
		{"update: unknown key with valid fields", "update", upd(obj{"q_ringtime": 20, "name": "Renamed", "colour": "red"})},
		{"update: company is not an update key", "update", upd(obj{"company": "acme2"})},
		{"update: id is not an update key", "update", upd(obj{"id": 5})},
		{"update: a field name in another case", "update", upd(obj{"Q_RINGTIME": 20})},
		{"update: one invalid field among valid ones", "update", upd(obj{"name": "Renamed", "description": "d",
			"hs_access": "external", "zone": "US/Pacific", "q_ringtime": 31})},
		{"update: invalid name among valid fields", "update", upd(obj{"name": "Bad/Name", "q_ringtime": 20, "record": 3})},
		{"update: name of 241 characters", "update", upd(obj{"name": strings.Repeat("n", 241)})},
		{"update: empty name", "update", upd(obj{"name": ""})},
		{"update: description not a string", "update", upd(obj{"description": 5, "q_ringtime": 20})},
		{"update: no scope", "update", ops(pbxtest.AdminKey, nil, obj{"q_ringtime": 20})},
		{"update: unknown company", "update", ops(pbxtest.AdminKey, scope("ghost"), obj{"q_ringtime": 20})},

		{"delete: no scope", "delete", ops(pbxtest.AdminKey, nil, nil)},
		{"delete: unknown company", "delete", ops(pbxtest.AdminKey, scope("ghost"), nil)},

		{"readContainer: unknown company", "readContainer", ops(pbxtest.AdminKey, scope("ghost"), nil)},
		{"readContainer: no scope", "readContainer", ops(pbxtest.AdminKey, nil, nil)},
		{"group: unknown mover", "group", ops(pbxtest.AdminKey, scope("ghost"), obj{"company": "acme"})},
		{"group: unknown target", "group", ops(pbxtest.AdminKey, scope("acme"), obj{"company": "ghost"})},
		{"ungroup: unknown company", "ungroup", ops(pbxtest.AdminKey, scope("ghost"), nil)},

		{"no type", "create", obj{"auth": keyAuth(pbxtest.AdminKey), "values": obj{"company": "newco", "name": "New"}}},
		{"wrong type", "create", obj{"type": "user", "auth": keyAuth(pbxtest.AdminKey),
			"values": obj{"company": "newco", "name": "New"}}},
		{"type in another case", "update", obj{"type": "Company", "auth": keyAuth(pbxtest.AdminKey),
			"scope": scope("acme"), "values": obj{"q_ringtime": 20}}},
		{"type not a string", "read", obj{"type": 1, "auth": keyAuth(pbxtest.AdminKey), "scope": scope("acme")}},

		{"body is not JSON", "read", "this is not JSON"},
		{"body is empty", "read", ""},
		{"body is cut off", "create", `{"type":"company","auth":{"type":"auth","key":"` + pbxtest.AdminKey + `"},"values":{"company":"newco","name":"New"`},
		{"body is an array", "read", `[{"type":"company"}]`},
		{"body is null", "read", `null`},
		{"body is too large", "read", `{"type":"company","auth":{"type":"auth","key":"` + pbxtest.AdminKey +
			`"},"scope":{"company":"acme"},"pad":"` + strings.Repeat("x", 1<<20) + `"}`},

		{"unknown verb", "frobnicate", ops(pbxtest.AdminKey, scope("acme"), nil)},
		{"verb in another case", "Read", ops(pbxtest.AdminKey, scope("acme"), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, companies("acme", "other"))
			admin(t, srv, "update", scope("acme"), obj{"description": "before"})
			srv.ResetStats()
			before := srv.Snapshot()

			status, resp, _ := post(t, srv.URL, tt.verb, tt.body, nil)
			requireFail(t, status, resp)
			require.NotContains(t, resp, "values", "a fail carries no values")

			if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
				t.Errorf("a refused request changed the state (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff("before", srv.Description("acme")); diff != "" {
				t.Errorf("description (-want +got):\n%s", diff)
			}
			require.Zero(t, srv.Stats().TotalWrites(), "writes: %v", srv.Stats().Writes)
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"GET of an ops verb", http.MethodGet, "/rest/ops/read/", http.StatusMethodNotAllowed},
		{"PUT of an ops verb", http.MethodPut, "/rest/ops/update/", http.StatusMethodNotAllowed},
		{"GET of the login", http.MethodGet, "/rest/auth/", http.StatusMethodNotAllowed},
		{"unknown path", http.MethodPost, "/rest/other/read/", http.StatusNotFound},
		{"root", http.MethodPost, "/", http.StatusNotFound},
		{"ops without a verb", http.MethodPost, "/rest/ops/", http.StatusNotFound},
		{"verb with a subpath", http.MethodPost, "/rest/ops/read/extra/", http.StatusNotFound},
		{"GET of an unknown path", http.MethodGet, "/nowhere", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := simtest.NewServer(t, companies("acme"))
			body, err := json.Marshal(ops(pbxtest.AdminKey, scope("acme"), nil))
			require.NoError(t, err)
			r, err := do(t.Context(), tt.method, srv.URL+tt.path, body, nil)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.wantStatus, r.status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed {
				if diff := cmp.Diff("POST", r.header.Get("Allow")); diff != "" {
					t.Errorf("Allow (-want +got):\n%s", diff)
				}
			}
			require.Zero(t, srv.Stats().TotalRequests(), "not an API request: %v", srv.Stats().Requests)
		})
	}
}

// seededSettings are non-default values for every field, so that a test sees a change.
func seededSettings() apiclient.Settings {
	return apiclient.SettingsOf(map[string]apiclient.Value{
		"record": apiclient.Int(1), "nm_password": apiclient.String("1"), "ivr_password": apiclient.String("1"),
		"barge_pin": apiclient.String("1"), "zone": apiclient.String("UTC"), "hs_nm": apiclient.String("1"),
		"hs_access": apiclient.String("a"), "hs_access_nm": apiclient.String("a"), "fid": apiclient.String("1"),
		"vm_callback": apiclient.Int(0), "phonebook": apiclient.String("1"), "callerid": apiclient.String("1"),
		"vm_silent": apiclient.String("yes"), "vm_maxmsgs": apiclient.String("50"), "q_ringtime": apiclient.String("10"),
		"q_pausetime": apiclient.String("5"), "q_wraptime": apiclient.String("5"), "q_per_ann_int": apiclient.String("30"),
		"q_per_pos_int": apiclient.String("30"), "pre_queue_ring": apiclient.String("5"), "crm_url": apiclient.String("x"),
		"hs_webrtc": apiclient.String("yes"), "nocallrec": apiclient.Bool(false), "nokeevio": apiclient.Bool(true),
		"noext": apiclient.String("h"), "nopickup": apiclient.Bool(false), "nobarge": apiclient.Null(),
	})
}

func TestFieldValues(t *testing.T) {
	const refused = "refused"
	tests := []struct {
		field string
		sent  string // raw JSON
		want  any    // as read back, or refused
	}{
		{"q_ringtime", `15`, "15"},
		{"q_ringtime", `"15"`, "15"},
		{"q_ringtime", `"015"`, "15"},
		{"q_ringtime", `""`, ""},
		{"q_ringtime", `5`, "5"},
		{"q_ringtime", `30`, "30"},
		{"q_ringtime", `4`, refused},
		{"q_ringtime", `31`, refused},
		{"q_ringtime", `"4"`, refused},
		{"q_ringtime", `"abc"`, refused},
		{"q_ringtime", `" 15"`, refused},
		{"q_ringtime", `15.5`, refused},
		{"q_ringtime", `null`, refused},
		{"q_ringtime", `true`, refused},
		{"q_pausetime", `2`, "2"},
		{"q_pausetime", `1`, refused},
		{"q_pausetime", `11`, refused},
		{"q_wraptime", `240`, "240"},
		{"q_wraptime", `241`, refused},
		{"pre_queue_ring", `"999"`, "999"},
		{"pre_queue_ring", `0`, refused},
		{"pre_queue_ring", `1000`, refused},
		{"q_per_ann_int", `90`, "90"},
		{"q_per_ann_int", `45`, refused},
		{"q_per_pos_int", `"60"`, "60"},
		{"q_per_pos_int", `0`, refused},
		{"vm_maxmsgs", `500`, "500"},
		{"vm_maxmsgs", `""`, ""},
		{"vm_maxmsgs", `150`, refused},
		{"phonebook", `3`, "3"},
		{"phonebook", `0`, "0"},
		{"phonebook", `4`, refused},
		{"fid", `0`, "0"},
		{"fid", `""`, ""},
		{"fid", `2`, refused},
		{"hs_nm", `9`, "9"},
		{"hs_nm", `"0"`, "0"},
		{"hs_nm", `10`, refused},
		{"hs_nm", `"a"`, refused},
		{"record", `7`, num(7)},
		{"record", `"7"`, num(7)},
		{"record", `"015"`, num(15)},
		{"record", `0`, num(0)},
		{"record", `-1`, refused},
		{"record", `""`, refused},
		{"record", `"x"`, refused},
		{"record", `1.5`, refused},
		{"vm_callback", `1`, num(1)},
		{"vm_callback", `"1"`, num(1)},
		{"vm_callback", `-1`, num(-1)},
		{"vm_callback", `2`, refused},
		{"vm_callback", `""`, refused},
		{"nm_password", `"0000"`, "0000"},
		{"nm_password", `""`, ""},
		{"nm_password", `"12a"`, refused},
		{"nm_password", `"-1"`, refused},
		{"ivr_password", `"0042"`, "0042"},
		{"ivr_password", `"x"`, refused},
		{"barge_pin", `"007"`, "007"},
		{"barge_pin", `" 1"`, refused},
		{"zone", `"US/Pacific"`, "US/Pacific"},
		{"zone", `"Europe/London"`, "Europe/London"},
		{"zone", `""`, ""},
		{"zone", `"Local"`, refused},
		{"zone", `"Mars/Olympus_Mons"`, refused},
		{"zone", `"../etc/passwd"`, refused},
		{"callerid", `"-123"`, "-123"},
		{"callerid", `"0123"`, "0123"},
		{"callerid", `""`, ""},
		{"callerid", `"-"`, refused},
		{"callerid", `"--1"`, refused},
		{"callerid", `"+1"`, refused},
		{"callerid", `"12a"`, refused},
		{"vm_silent", `"no"`, "no"},
		{"vm_silent", `""`, ""},
		{"vm_silent", `"maybe"`, refused},
		{"vm_silent", `"YES"`, refused},
		{"hs_access", `"external"`, "external"},
		{"hs_access_nm", `""`, ""},
		{"crm_url", `"https://crm.example.com/?q=1"`, "https://crm.example.com/?q=1"},
		{"crm_url", `true`, refused},
		{"hs_webrtc", `"disable"`, "disable"},
		{"hs_webrtc", `""`, ""},
		{"hs_webrtc", `"maybe"`, refused},
		{"nocallrec", `true`, true},
		{"nocallrec", `null`, nil},
		{"nocallrec", `"true"`, refused},
		{"nocallrec", `1`, refused},
		{"nokeevio", `false`, false},
		{"nopickup", `true`, true},
		{"nopickup", `"yes"`, refused},
		{"nobarge", `false`, false},
		{"nobarge", `true`, true},
		{"noext", `"qh"`, "qh"},
		{"noext", `"hqficovptx"`, "hqficovptx"},
		{"noext", `""`, ""},
		{"noext", `"qq"`, refused},
		{"noext", `"z"`, refused},
		{"noext", `"H"`, refused},
		{"noext", `5`, refused},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.sent, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{
				{ID: "acme", Name: "Acme", Settings: seededSettings()}}}))
			before := srv.Snapshot()
			body := `{"type":"company","auth":{"type":"auth","key":"` + pbxtest.AdminKey +
				`"},"scope":{"company":"acme"},"values":{"` + tt.field + `":` + tt.sent + `}}`
			status, resp, _ := post(t, srv.URL, "update", body, nil)
			if tt.want == refused {
				requireFail(t, status, resp)
				if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
					t.Errorf("a refused update changed the state (-before +after):\n%s", diff)
				}
				return
			}
			requireSuccess(t, status, resp)
			data := readData(t, srv, "acme")
			require.Contains(t, data, tt.field)
			if diff := cmp.Diff(tt.want, data[tt.field]); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, field(t, resp, "values", "acme", "data", tt.field)); diff != "" {
				t.Errorf("update answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		version string
		missing []string
	}{
		{version: "6.3.21", missing: []string{"hs_webrtc", "nocallrec", "nokeevio", "noext", "nopickup", "nobarge"}},
		{version: "6.3.22", missing: []string{"nopickup", "nobarge"}},
		{version: "6.3.23"},
		{version: "6.5"},
	}
	for _, tt := range tests {
		want := freshData()
		for _, f := range tt.missing {
			delete(want, f)
		}
		t.Run(tt.version+"/created", func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithVersion(tt.version))
			admin(t, srv, "create", nil, obj{"company": "acme", "name": "Acme"})
			if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			for _, f := range tt.missing {
				value := any(true)
				if f == "hs_webrtc" || f == "noext" {
					value = "yes"
				}
				adminFails(t, srv, "update", scope("acme"), obj{f: value})
			}
			if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
				t.Errorf("data after refused updates (-want +got):\n%s", diff)
			}
		})
		// The options of a server do not depend on their order.
		for _, order := range []string{"version first", "state first"} {
			t.Run(tt.version+"/seeded/"+order, func(t *testing.T) {
				opts := []pbxtest.Option{pbxtest.WithVersion(tt.version), companies("acme")}
				if order == "state first" {
					opts[0], opts[1] = opts[1], opts[0]
				}
				srv := simtest.NewServer(t, opts...)
				if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
					t.Errorf("data (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSeededState(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(pbxtest.State{
		Companies: []apiclient.Company{
			{ID: "acme", Name: "Acme", Num: 4711, Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"future_field": apiclient.String("kept"),
				"future_list":  rawValue(t, `[1,"two"]`),
				"q_ringtime":   apiclient.Number("015"),
				"record":       apiclient.String("3"),
			})},
			{ID: "beta", Name: "Beta"},
		},
		Containers: map[string][]string{"acme": {"acme", "beta"}},
	}))

	want := freshData()
	want["future_field"], want["future_list"], want["q_ringtime"], want["record"] = "kept", []any{num(1), "two"}, "15", num(3)
	if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
		t.Errorf("seeded data (-want +got):\n%s", diff)
	}
	resp := admin(t, srv, "read", scope("acme"), nil)
	if diff := cmp.Diff(num(4711), field(t, resp, "values", "acme", "id")); diff != "" {
		t.Errorf("seeded numeric id (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(num(4712), field(t, admin(t, srv, "read", scope("beta"), nil), "values", "beta", "id")); diff != "" {
		t.Errorf("the next numeric id (-want +got):\n%s", diff)
	}
	members := object(t, admin(t, srv, "readContainer", obj{"container": "acme"}, nil), "values", "acme", "members")
	if diff := cmp.Diff(want, object(t, members, "acme", "data")); diff != "" {
		t.Errorf("readContainer member data (-want +got):\n%s", diff)
	}

	// An update keeps the unknown fields, and cannot write them.
	admin(t, srv, "update", scope("acme"), obj{"q_ringtime": 20})
	want["q_ringtime"] = "20"
	if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
		t.Errorf("data after an update (-want +got):\n%s", diff)
	}
	adminFails(t, srv, "update", scope("acme"), obj{"future_field": "changed"})
	if diff := cmp.Diff(want, readData(t, srv, "acme")); diff != "" {
		t.Errorf("data after a refused update (-want +got):\n%s", diff)
	}
}

func rawValue(t *testing.T, raw string) apiclient.Value {
	t.Helper()
	var v apiclient.Value
	require.NoError(t, json.Unmarshal([]byte(raw), &v))
	return v
}
