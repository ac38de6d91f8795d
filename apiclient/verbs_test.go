package apiclient_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
)

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state pbxtest.State
	}{
		{"empty server", pbxtest.State{}},
		{"three companies", threeCompanies()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(tc.state))
			c := newClient(t, srv.URL)

			got, err := c.ReadAll(t.Context())
			require.NoError(t, err)
			if diff := cmp.Diff(srv.Snapshot().Companies, got, valueJSON, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ReadAll (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"read": 1}, srv.Stats().Requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRead(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)

	for _, id := range []string{"acme", "beta", "gamma"} {
		t.Run(id, func(t *testing.T) {
			got, err := c.Read(t.Context(), id)
			require.NoError(t, err)
			if diff := cmp.Diff(serverCompany(t, srv, id), got, valueJSON); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the server's numbers and strings arrive typed", func(t *testing.T) {
		got, err := c.Read(t.Context(), "acme")
		require.NoError(t, err)
		want := map[string]string{"q_ringtime": `"20"`, "record": `3`, "nm_password": `"0000"`, "nocallrec": `null`, "zone": `""`}
		gotJSON := map[string]string{}
		for name := range want {
			gotJSON[name] = got.Settings.Get(name).Reveal().JSON()
		}
		if diff := cmp.Diff(want, gotJSON); diff != "" {
			t.Errorf("settings as JSON (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown company", func(t *testing.T) {
		_, err := c.Read(t.Context(), "nope")
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		if diff := cmp.Diff(apiclient.APIError{Verb: "read", Company: "nope", Message: `company "nope" not found`}, *apiErr); diff != "" {
			t.Errorf("error (-want +got):\n%s", diff)
		}
		require.Equal(t, `read of "nope": server refused: company "nope" not found`, err.Error())
	})
}

func TestLookup(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)

	for _, tc := range []struct {
		id     string
		exists bool
	}{
		{"acme", true},
		{"gamma", true},
		{"nope", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			got, exists, err := c.Lookup(t.Context(), tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.exists, exists)
			want, _ := srv.Company(tc.id) // the zero Company when absent
			if diff := cmp.Diff(want, got, valueJSON, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a lost answer is not absence", func(t *testing.T) {
		srv.SetFaults(pbxtest.Faults{Rates: map[pbxtest.Fault]float64{pbxtest.Fault500: 1}})
		defer srv.SetFaults(pbxtest.Faults{})
		_, exists, err := c.Lookup(t.Context(), "acme")
		require.Error(t, err, "a lookup that got no answer must not say absent")
		require.False(t, exists)
		var te *apiclient.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 500, te.Status)
	})
}

func TestCreate(t *testing.T) {
	for _, tc := range []struct {
		name, id, companyName, description string
	}{
		{"with description", "delta", "Delta Ltd.", "billing department, floor 3"},
		{"without description", "epsilon_2", "Epsilon", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
			c := newClient(t, srv.URL)

			got, err := c.Create(t.Context(), tc.id, tc.companyName, tc.description)
			require.NoError(t, err)

			// create answers with empty data (spec/api.md); the server has every field.
			want := serverCompany(t, srv, tc.id)
			want.Settings = apiclient.Settings{}
			if diff := cmp.Diff(want, got, valueJSON); diff != "" {
				t.Errorf("Create (-want +got):\n%s", diff)
			}
			require.Equal(t, tc.companyName, got.Name)
			require.Equal(t, tc.description, srv.Description(tc.id))
			box, members, ok := srv.ContainerOf(tc.id)
			require.True(t, ok)
			if diff := cmp.Diff([]string{tc.id}, members); diff != "" {
				t.Errorf("a new company is alone in a new container (-want +got):\n%s", diff)
			}
			require.Equal(t, tc.id, box)
			if diff := cmp.Diff(map[string]int{"create": 1}, srv.Stats().Writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		for _, tc := range []struct{ name, id, companyName string }{
			{"existing company", "acme", "Acme again"},
			{"invalid id", "no-dashes", "Name"},
			{"invalid name", "zeta", "Zeta <b>"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.Create(t.Context(), tc.id, tc.companyName, "")
				var apiErr *apiclient.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, "create", apiErr.Verb)
				require.Equal(t, tc.id, apiErr.Company)
				require.False(t, apiclient.IsTransient(err))
			})
		}
		require.Empty(t, srv.Stats().Writes, "a refused create changes nothing")
		if diff := cmp.Diff(threeCompanies().Containers["acme"], srv.Snapshot().Containers["acme"]); diff != "" {
			t.Errorf("containers (-want +got):\n%s", diff)
		}
	})
}

func TestUpdate(t *testing.T) {
	description := "moved to the new building"
	empty := ""
	for _, tc := range []struct {
		name            string
		changes         apiclient.Changes
		wantName        string
		wantDescription string
		wantSettings    apiclient.Settings // the fields that change, as the server returns them
	}{
		{
			name:     "name",
			changes:  apiclient.Changes{Name: "Acme Worldwide"},
			wantName: "Acme Worldwide",
		},
		{
			name:            "description",
			changes:         apiclient.Changes{Description: &description},
			wantName:        "Acme Inc.",
			wantDescription: description,
		},
		{
			name:     "empty description is sent",
			changes:  apiclient.Changes{Description: &empty},
			wantName: "Acme Inc.",
		},
		{
			name: "settings",
			changes: apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"q_ringtime": apiclient.Int(15), "record": apiclient.String("7"), "nocallrec": apiclient.Bool(true),
				"zone": apiclient.String("US/Pacific"), "nm_password": apiclient.String("4711"),
			})},
			wantName: "Acme Inc.",
			wantSettings: apiclient.SettingsOf(map[string]apiclient.Value{
				"q_ringtime": apiclient.String("15"), "record": apiclient.Int(7), "nocallrec": apiclient.Bool(true),
				"zone": apiclient.String("US/Pacific"), "nm_password": apiclient.String("4711"),
			}),
		},
		{
			name: "everything at once",
			changes: apiclient.Changes{Name: "Acme 2", Description: &description, Settings: apiclient.SettingsOf(map[string]apiclient.Value{
				"vm_maxmsgs": apiclient.String("200"), "noext": apiclient.String("qh"),
			})},
			wantName:        "Acme 2",
			wantDescription: description,
			wantSettings:    apiclient.SettingsOf(map[string]apiclient.Value{"vm_maxmsgs": apiclient.String("200"), "noext": apiclient.String("qh")}),
		},
		{
			name:     "nothing",
			changes:  apiclient.Changes{},
			wantName: "Acme Inc.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
			c := newClient(t, srv.URL)
			before := serverCompany(t, srv, "acme")

			got, err := c.Update(t.Context(), "acme", tc.changes)
			require.NoError(t, err)

			after := serverCompany(t, srv, "acme")
			if diff := cmp.Diff(after, got, valueJSON); diff != "" {
				t.Errorf("Update returns the company after the change (-want +got):\n%s", diff)
			}
			want := before
			want.Name = tc.wantName
			want.Settings = before.Settings.Clone()
			for name, v := range tc.wantSettings.All() {
				want.Settings.Set(name, v)
			}
			if diff := cmp.Diff(want, after, valueJSON); diff != "" {
				t.Errorf("only the fields sent change (-want +got):\n%s", diff)
			}
			require.Equal(t, tc.wantDescription, srv.Description("acme"))
			for _, other := range []string{"beta", "gamma"} {
				want, _ := pbxtest.New(pbxtest.WithState(threeCompanies())).Company(other)
				if diff := cmp.Diff(want, serverCompany(t, srv, other), valueJSON); diff != "" {
					t.Errorf("%s is untouched (-want +got):\n%s", other, diff)
				}
			}
		})
	}

	t.Run("unknown company", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		_, err := c.Update(t.Context(), "nope", apiclient.Changes{Name: "X"})
		require.True(t, apiclient.IsRefused(err), "got %v", err)
		require.Empty(t, srv.Stats().Writes)
	})

	t.Run("unknown field", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		_, err := c.Update(t.Context(), "acme", apiclient.Changes{Name: "X", Settings: apiclient.SettingsOf(map[string]apiclient.Value{"no_such_field": apiclient.String("1")})})
		require.True(t, apiclient.IsRefused(err), "got %v", err)
		require.Equal(t, "Acme Inc.", serverCompany(t, srv, "acme").Name, "a refused update changes nothing")
	})

	t.Run("a company administrator's feature switch is ignored and the answer shows it", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()), pbxtest.WithAPIKey("acme-admin", pbxtest.CompanyAdmin("acme")))
		c, err := apiclient.New(srv.URL, apiclient.WithAPIKey("acme-admin"), apiclient.WithRetryPolicy(fastRetries))
		require.NoError(t, err)
		got, err := c.Update(t.Context(), "acme", apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{
			"nocallrec": apiclient.Bool(true), "q_ringtime": apiclient.Int(25),
		})})
		require.NoError(t, err)
		want := map[string]string{"nocallrec": "null", "q_ringtime": `"25"`}
		gotJSON := map[string]string{"nocallrec": got.Settings.Get("nocallrec").JSON(), "q_ringtime": got.Settings.Get("q_ringtime").JSON()}
		if diff := cmp.Diff(want, gotJSON); diff != "" {
			t.Errorf("Update returns what the server holds, not what was sent (-want +got):\n%s", diff)
		}
	})
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name           string
		id             string
		wantContainers map[string][]string
	}{
		{"member of a shared container", "beta", map[string][]string{"acme": {"acme"}, "gamma": {"gamma"}}},
		{"alone: its container disappears", "gamma", map[string][]string{"acme": {"acme", "beta"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
			c := newClient(t, srv.URL)

			require.NoError(t, c.Delete(t.Context(), tc.id))

			_, exists := srv.Company(tc.id)
			require.False(t, exists)
			if diff := cmp.Diff(tc.wantContainers, srv.Snapshot().Containers); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			_, exists, err := c.Lookup(t.Context(), tc.id)
			require.NoError(t, err)
			require.False(t, exists)
		})
	}

	t.Run("unknown company", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
		c := newClient(t, srv.URL)
		err := c.Delete(t.Context(), "nope")
		var apiErr *apiclient.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, "nope", apiErr.Company)
		require.Empty(t, srv.Stats().Writes)
		require.Len(t, srv.Snapshot().Companies, 3)
	})
}

// wantContainer builds the container srv has under name, as the client should
// return it; Num is not in the simulator's snapshot, so the caller compares it apart.
func wantContainer(t *testing.T, srv *simtest.Server, name string) apiclient.Container {
	t.Helper()
	ids, ok := srv.Snapshot().Containers[name]
	require.True(t, ok, "the server has container %q", name)
	box := apiclient.Container{Name: name}
	for _, id := range ids {
		box.Members = append(box.Members, serverCompany(t, srv, id))
	}
	return box
}

var ignoreNum = cmpopts.IgnoreFields(apiclient.Container{}, "Num")

func TestReadContainer(t *testing.T) {
	srv := simtest.NewServer(t, pbxtest.WithState(threeCompanies()))
	c := newClient(t, srv.URL)

	nums := map[string]int64{}
	for _, tc := range []struct {
		company, container string
	}{
		{"acme", "acme"},
		{"beta", "acme"},
		{"gamma", "gamma"},
	} {
		t.Run(tc.company, func(t *testing.T) {
			byCompany, err := c.ReadContainer(t.Context(), tc.company)
			require.NoError(t, err)
			byName, err := c.ReadContainerNamed(t.Context(), tc.container)
			require.NoError(t, err)

			want := wantContainer(t, srv, tc.container)
			if diff := cmp.Diff(want, byCompany, valueJSON, ignoreNum); diff != "" {
				t.Errorf("ReadContainer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(byCompany, byName, valueJSON); diff != "" {
				t.Errorf("ReadContainerNamed differs from ReadContainer (-want +got):\n%s", diff)
			}
			require.Positive(t, byCompany.Num)
			if n, seen := nums[tc.container]; seen {
				require.Equal(t, n, byCompany.Num, "one container, one number")
			}
			nums[tc.container] = byCompany.Num
			if diff := cmp.Diff(srv.Snapshot().Containers[tc.container], byCompany.MemberIDs()); diff != "" {
				t.Errorf("MemberIDs (-want +got):\n%s", diff)
			}
		})
	}
	require.NotEqual(t, nums["acme"], nums["gamma"], "two containers, two numbers")

	for _, tc := range []struct {
		name string
		read func() (apiclient.Container, error)
	}{
		{"unknown company", func() (apiclient.Container, error) { return c.ReadContainer(t.Context(), "nope") }},
		{"unknown container", func() (apiclient.Container, error) { return c.ReadContainerNamed(t.Context(), "nope") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.read()
			var apiErr *apiclient.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, "readContainer", apiErr.Verb)
			require.Equal(t, "nope", apiErr.Company)
		})
	}
}

func TestGroupAndUngroup(t *testing.T) {
	state := pbxtest.State{
		Companies:  []apiclient.Company{{ID: "a1", Name: "A1"}, {ID: "a2", Name: "A2"}, {ID: "b1", Name: "B1"}, {ID: "c1", Name: "C1"}},
		Containers: map[string][]string{"a1": {"a1", "a2"}},
	}
	for _, tc := range []struct {
		mode             pbxtest.Mode
		wantGroupMoves   int
		afterGroup       map[string][]string
		afterUngroup     map[string][]string
		ungroupContainer string
	}{
		{
			mode:             pbxtest.ModeMove,
			wantGroupMoves:   0,
			afterGroup:       map[string][]string{"a1": {"a2"}, "b1": {"a1", "b1"}, "c1": {"c1"}},
			afterUngroup:     map[string][]string{"a1": {"a2"}, "a1_2": {"a1"}, "b1": {"b1"}, "c1": {"c1"}},
			ungroupContainer: "a1_2",
		},
		{
			mode:             pbxtest.ModeMerge,
			wantGroupMoves:   1,
			afterGroup:       map[string][]string{"b1": {"a1", "a2", "b1"}, "c1": {"c1"}},
			afterUngroup:     map[string][]string{"a1": {"a1"}, "b1": {"a2", "b1"}, "c1": {"c1"}},
			ungroupContainer: "a1",
		},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			srv := simtest.NewServer(t, pbxtest.WithState(state), pbxtest.WithMode(tc.mode))
			c := newClient(t, srv.URL)

			moves, err := c.Group(t.Context(), "a1", "b1")
			require.NoError(t, err)
			require.Equal(t, tc.wantGroupMoves, moves, "containermoves")
			if diff := cmp.Diff(tc.afterGroup, srv.Snapshot().Containers); diff != "" {
				t.Errorf("after group (-want +got):\n%s", diff)
			}
			box, err := c.ReadContainer(t.Context(), "a1")
			require.NoError(t, err)
			if diff := cmp.Diff(wantContainer(t, srv, "b1"), box, valueJSON, ignoreNum); diff != "" {
				t.Errorf("container after group (-want +got):\n%s", diff)
			}

			moves, err = c.Group(t.Context(), "a1", "b1")
			require.NoError(t, err)
			require.Zero(t, moves, "grouping again moves nothing")
			if diff := cmp.Diff(tc.afterGroup, srv.Snapshot().Containers); diff != "" {
				t.Errorf("after grouping again (-want +got):\n%s", diff)
			}

			moves, err = c.Ungroup(t.Context(), "a1")
			require.NoError(t, err)
			require.Zero(t, moves)
			if diff := cmp.Diff(tc.afterUngroup, srv.Snapshot().Containers); diff != "" {
				t.Errorf("after ungroup (-want +got):\n%s", diff)
			}
			box, err = c.ReadContainer(t.Context(), "a1")
			require.NoError(t, err)
			if diff := cmp.Diff(wantContainer(t, srv, tc.ungroupContainer), box, valueJSON, ignoreNum); diff != "" {
				t.Errorf("container after ungroup (-want +got):\n%s", diff)
			}

			moves, err = c.Ungroup(t.Context(), "c1")
			require.NoError(t, err)
			require.Zero(t, moves, "ungrouping a company alone moves nothing")
			if diff := cmp.Diff(tc.afterUngroup, srv.Snapshot().Containers); diff != "" {
				t.Errorf("after ungrouping a lone company (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		srv := simtest.NewServer(t, pbxtest.WithState(state))
		c := newClient(t, srv.URL)
		for _, tc := range []struct {
			name, verb, mover string
			call              func() error
		}{
			{"unknown target", "group", "a1", func() error { _, err := c.Group(t.Context(), "a1", "nope"); return err }},
			{"unknown mover", "group", "nope", func() error { _, err := c.Group(t.Context(), "nope", "b1"); return err }},
			{"ungroup unknown", "ungroup", "nope", func() error { _, err := c.Ungroup(t.Context(), "nope"); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				var apiErr *apiclient.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, tc.verb, apiErr.Verb)
				require.Equal(t, tc.mover, apiErr.Company)
			})
		}
		require.Empty(t, srv.Stats().Writes)
	})
}
