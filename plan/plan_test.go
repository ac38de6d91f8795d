package plan_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/plan"
)

func TestSummary(t *testing.T) {
	require.Equal(t, "No changes: the server matches the inventory.", (&plan.Plan{}).Summary())
	p := &plan.Plan{Changes: []plan.Change{
		{Action: plan.Delete, Company: "a"}, {Action: plan.Create, Company: "b"}, {Action: plan.Create, Company: "c"},
		{Action: plan.Update, Company: "d"}, {Action: plan.Group, Company: "e", Target: "b"},
	}}
	require.Equal(t, "Plan: 2 to create, 1 to update, 1 to group, 1 to delete.", p.Summary())
}
