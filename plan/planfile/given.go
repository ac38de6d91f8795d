package planfile

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
)

// The rules of cli.md "Saved plans" (v0.3): what a plan file records (the server, the
// inventory's paths and hash, the fleet file, a sim: path) is only compared with what
// the operator names, never used. apply PLANFILE takes the inventory from -f (a fleet
// plan: the fleet file from --fleet) and the server from --url or PBX_URL (a fleet
// plan: the fleet file's URLs); a plan file alone connects nowhere and reads no other
// file.

// Given is what the operator named beside a plan file.
type Given struct {
	Files  []string // -f
	Fleet  string   // --fleet
	Server string   // --url, or else PBX_URL
}

// MissingInputError is apply PLANFILE without an input the operator must name: it
// says which flag to give, and shows what the plan records (quoted and escaped, a
// hint only). Nothing else was read. Exit 1: the command line is incomplete.
type MissingInputError struct {
	PlanFile string
	Need     string // what to give, such as "-f FILE"
	Why      string
	Recorded string // what the plan file records, for the hint; "" for none
}

func (e *MissingInputError) Error() string {
	msg := fmt.Sprintf("apply %s: %s: pass %s", e.PlanFile, e.Why, e.Need)
	if e.Recorded != "" {
		msg += " (the plan records " + e.Recorded + ")"
	}
	return msg
}

// quoted lists values read from a plan file for a person: each quoted, with every
// character a terminal would act on escaped.
func quoted(values ...string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strconv.Quote(apiclient.Printable(v))
	}
	return strings.Join(out, ", ")
}

// CheckGiven returns a *MissingInputError when the operator did not name the
// inventory (-f) or the server (--url, PBX_URL) that the plan is checked against,
// and an error when it named a fleet for one PBX's plan.
func (sp *SavedPlan) CheckGiven(planFile string, g Given) error {
	switch {
	case g.Fleet != "":
		return fmt.Errorf("apply %s: this is one PBX's plan: give its inventory with -f and its server with --url or PBX_URL, not --fleet", planFile)
	case len(g.Files) == 0:
		paths := sp.Inventory.Paths()
		for i, p := range paths {
			paths[i] = Resolve(planFile, p)
		}
		return &MissingInputError{PlanFile: planFile, Why: "a saved plan is checked against the inventory you name, never the one it records",
			Need: "-f with the inventory it was made from", Recorded: quoted(paths...)}
	case g.Server == "":
		return &MissingInputError{PlanFile: planFile, Why: "a saved plan is applied to the server you name, never the one it records",
			Need: "--url URL or set PBX_URL", Recorded: quoted(sp.recordedServer(planFile))}
	}
	return nil
}

// CheckGiven returns a *MissingInputError when the operator did not name the fleet
// file (--fleet) that the plan is checked against, and an error when it named an
// inventory for a fleet's plan.
func (sp *SavedFleetPlan) CheckGiven(planFile string, g Given) error {
	switch {
	case len(g.Files) > 0:
		return fmt.Errorf("apply %s: this is a fleet's plan: give its fleet file with --fleet, not -f", planFile)
	case g.Fleet == "":
		return &MissingInputError{PlanFile: planFile, Why: "a saved fleet plan is checked against the fleet file you name, never the one it records",
			Need: "--fleet with the fleet file it was made from", Recorded: quoted(Resolve(planFile, sp.Fleet.File))}
	}
	return nil
}

// recordedServer is the server the plan records, a sim: path resolved against the
// plan file's folder: for comparing and showing only.
func (sp *SavedPlan) recordedServer(planFile string) string {
	if state, ok := strings.CutPrefix(sp.Server, "sim:"); ok {
		return "sim:" + Resolve(planFile, state)
	}
	return sp.Server
}

// CheckServer returns an *OtherServerError when given, the server the operator
// named, is not the one the plan was made for (cli.md "One server, one identity":
// one spelling, or names that resolve to a common address). Nothing has connected
// anywhere yet; only names are looked up.
func (sp *SavedPlan) CheckServer(ctx context.Context, planFile, given string, r apiclient.Resolver) error {
	recorded := sp.recordedServer(planFile)
	same, err := r.SameServer(ctx, given, recorded)
	if err != nil {
		return err
	}
	if !same {
		return &OtherServerError{PlanFile: planFile, MadeFor: recorded, Given: given}
	}
	return nil
}

// CheckInventory returns a *StalePlanError when files, the inventory the operator
// named with -f (given) as read, are not what the plan was made from (by hash).
func (sp *SavedPlan) CheckInventory(files []inventory.File, given []string) error {
	if inventory.HashFiles(files) != sp.Inventory.SHA256 {
		return &StalePlanError{Reason: fmt.Sprintf("the inventory %s is not the one the plan was made from (it changed since, or is another)", quoted(given...))}
	}
	return nil
}

// OtherServerError refuses a saved plan given to a server other than the one it was
// made for, before any connection.
type OtherServerError struct {
	PlanFile, MadeFor, Given string
}

func (e *OtherServerError) Error() string {
	return fmt.Sprintf("the plan %s was made for %s, not %s: plan again against this server", e.PlanFile, quoted(e.MadeFor), quoted(e.Given))
}

// RefusedBeforeAnyWrite makes the error a plan.Refusal: exit 3.
func (*OtherServerError) RefusedBeforeAnyWrite() {}
