package pbxtest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

const companyAdminKey = "k"

// withCompanyAdmin is a server with companies acme and other, in containers of their
// own, and key "k" for the administrator of acme.
func withCompanyAdmin(t *testing.T, opts ...pbxtest.Option) *simtest.Server {
	t.Helper()
	return simtest.NewServer(t, append([]pbxtest.Option{
		companies("acme", "other"),
		pbxtest.WithAPIKey(companyAdminKey, pbxtest.CompanyAdmin("acme")),
	}, opts...)...)
}

func TestCompanyAdminMayReadAndUpdateItsCompany(t *testing.T) {
	srv := withCompanyAdmin(t)

	status, resp := call(t, srv, companyAdminKey, "read", scope("acme"), nil)
	requireSuccess(t, status, resp)
	if diff := cmp.Diff([]string{"acme"}, keys(object(t, resp, "values"))); diff != "" {
		t.Errorf("read values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("Company acme", field(t, resp, "values", "acme", "name")); diff != "" {
		t.Errorf("read name (-want +got):\n%s", diff)
	}

	status, resp = call(t, srv, companyAdminKey, "update", scope("acme"),
		obj{"name": "Acme Renamed", "description": "new words", "q_ringtime": 20})
	requireSuccess(t, status, resp)
	if diff := cmp.Diff("Acme Renamed", field(t, resp, "values", "acme", "name")); diff != "" {
		t.Errorf("update answer name (-want +got):\n%s", diff)
	}
	got, ok := srv.Company("acme")
	require.True(t, ok)
	if diff := cmp.Diff("Acme Renamed", got.Name); diff != "" {
		t.Errorf("name after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(apiclient.String("20"), got.Settings.Get("q_ringtime"), snapshotOpts); diff != "" {
		t.Errorf("q_ringtime after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("new words", srv.Description("acme")); diff != "" {
		t.Errorf("description after update (-want +got):\n%s", diff)
	}
}

func TestCompanyAdminIsRefusedEverythingElse(t *testing.T) {
	tests := []struct {
		name   string
		verb   string
		scope  obj
		values obj
	}{
		{name: "read without scope", verb: "read"},
		{name: "read of another company", verb: "read", scope: scope("other")},
		{name: "read of an unknown company", verb: "read", scope: scope("ghost")},
		{name: "update without scope", verb: "update", values: obj{"q_ringtime": 20}},
		{name: "update of another company", verb: "update", scope: scope("other"), values: obj{"name": "Taken", "q_ringtime": 20}},
		{name: "create", verb: "create", values: obj{"company": "newco", "name": "New Co"}},
		{name: "delete of its company", verb: "delete", scope: scope("acme")},
		{name: "delete of another company", verb: "delete", scope: scope("other")},
		{name: "readContainer of its company", verb: "readContainer", scope: scope("acme")},
		{name: "readContainer by name", verb: "readContainer", scope: obj{"container": "acme"}},
		{name: "group of its company", verb: "group", scope: scope("acme"), values: obj{"company": "other"}},
		{name: "group into its company", verb: "group", scope: scope("other"), values: obj{"company": "acme"}},
		{name: "ungroup of its company", verb: "ungroup", scope: scope("acme")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := withCompanyAdmin(t, pbxtest.WithState(pbxtest.State{Companies: []apiclient.Company{{ID: "third", Name: "Third"}},
				Containers: map[string][]string{"acme": {"third"}}}))
			before := srv.Snapshot()
			status, resp := call(t, srv, companyAdminKey, tt.verb, tt.scope, tt.values)
			requireFail(t, status, resp)
			require.NotContains(t, resp, "values", "a fail carries no values")
			if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
				t.Errorf("a refused %s changed the state (-before +after):\n%s", tt.verb, diff)
			}
			require.Zero(t, srv.Stats().TotalWrites(), "writes")
		})
	}
}

func TestCompanyAdminOfSeveralCompanies(t *testing.T) {
	srv := simtest.NewServer(t, companies("a", "b", "c"), pbxtest.WithAPIKey("ab", pbxtest.CompanyAdmin("a", "b")))
	for id, ok := range map[string]bool{"a": true, "b": true, "c": false} {
		status, resp := call(t, srv, "ab", "read", scope(id), nil)
		if ok {
			requireSuccess(t, status, resp)
		} else {
			requireFail(t, status, resp)
		}
	}
}

// switchCases are, for each feature switch, a valid value that differs from a fresh
// company's, and a value outside the field's allowed values.
var switchCases = []struct {
	field   string
	valid   any
	invalid any
}{
	{field: "nocallrec", valid: true, invalid: "maybe"},
	{field: "nokeevio", valid: false, invalid: 3},
	{field: "noext", valid: "qh", invalid: "zz"},
	{field: "nopickup", valid: true, invalid: []any{1}},
	{field: "nobarge", valid: true, invalid: obj{"x": 1}},
	{field: "hs_webrtc", valid: "disable", invalid: 7},
}

func TestFeatureSwitchesAreSilentlyIgnoredForCompanyAdmins(t *testing.T) {
	for _, sw := range switchCases {
		for _, v := range []struct {
			name  string
			value any
		}{{"valid", sw.valid}, {"invalid", sw.invalid}} {
			t.Run(sw.field+"/"+v.name, func(t *testing.T) {
				srv := withCompanyAdmin(t)
				fresh := readData(t, srv, "acme")

				status, resp := call(t, srv, companyAdminKey, "update", scope("acme"),
					obj{sw.field: v.value, "hs_access": "external"})
				requireSuccess(t, status, resp)

				for name, data := range map[string]obj{
					"the update's answer": object(t, resp, "values", "acme", "data"),
					"a read afterwards":   readData(t, srv, "acme"),
				} {
					if diff := cmp.Diff(fresh[sw.field], data[sw.field]); diff != "" {
						t.Errorf("%s: %s changed (-before +after):\n%s", name, sw.field, diff)
					}
					if diff := cmp.Diff("external", data["hs_access"]); diff != "" {
						t.Errorf("%s: hs_access sent alongside did not change (-want +got):\n%s", name, diff)
					}
				}
			})
		}
	}
}

func TestFeatureSwitchesChangeForSystemAdmin(t *testing.T) {
	for _, sw := range switchCases {
		t.Run(sw.field+"/valid", func(t *testing.T) {
			srv := withCompanyAdmin(t)
			resp := admin(t, srv, "update", scope("acme"), obj{sw.field: sw.valid, "hs_access": "external"})
			want := obj{sw.field: sw.valid, "hs_access": "external"}
			for name, data := range map[string]obj{
				"the update's answer": object(t, resp, "values", "acme", "data"),
				"a read afterwards":   readData(t, srv, "acme"),
			} {
				got := obj{sw.field: data[sw.field], "hs_access": data["hs_access"]}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
		t.Run(sw.field+"/invalid", func(t *testing.T) {
			srv := withCompanyAdmin(t)
			before := srv.Snapshot()
			adminFails(t, srv, "update", scope("acme"), obj{sw.field: sw.invalid, "hs_access": "external"})
			if diff := cmp.Diff(before, srv.Snapshot(), snapshotOpts); diff != "" {
				t.Errorf("a refused update changed the state (-before +after):\n%s", diff)
			}
		})
	}
}

// A company admin logged in with user and password has the same rights as its key.
func TestCompanyAdminSession(t *testing.T) {
	srv := withCompanyAdmin(t, pbxtest.WithUser("clerk", "secret", pbxtest.CompanyAdmin("acme")))
	cookie := login(t, srv, "clerk", "secret")

	status, resp, _ := post(t, srv.URL, "update", obj{"type": "company", "scope": scope("acme"),
		"values": obj{"nocallrec": true, "q_ringtime": 25}}, cookie)
	requireSuccess(t, status, resp)
	data := readData(t, srv, "acme")
	if diff := cmp.Diff(obj{"nocallrec": nil, "q_ringtime": "25"},
		obj{"nocallrec": data["nocallrec"], "q_ringtime": data["q_ringtime"]}); diff != "" {
		t.Errorf("after a session's update (-want +got):\n%s", diff)
	}

	for _, verb := range []string{"read", "delete", "ungroup"} {
		status, resp, _ := post(t, srv.URL, verb, obj{"type": "company", "scope": scope("other")}, cookie)
		requireFail(t, status, resp)
	}
	_, ok := srv.Company("other")
	require.True(t, ok, "other still exists")
}
