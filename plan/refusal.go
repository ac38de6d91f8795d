package plan

import "fmt"

// Refusal is an error that refuses a run before any write: a budget exceeded (more
// deletes than --max-delete, more moves than --max-move), or a saved plan that is
// stale or made for another server. Every Refusal, and nothing else, ends pbxsync
// with exit 3 (cli.md "Exit codes"); the packages that find one return it as it is.
type Refusal interface {
	error
	// RefusedBeforeAnyWrite marks the error; nothing was written when it is returned.
	RefusedBeforeAnyWrite()
}

// The refusals of this package.
func (*DeleteBudgetError) RefusedBeforeAnyWrite() {}
func (*MoveBudgetError) RefusedBeforeAnyWrite()   {}
func (*StalePlanError) RefusedBeforeAnyWrite()    {}

// OtherServerError refuses a saved plan given to a server other than the one it was
// made for.
type OtherServerError struct {
	PlanFile, MadeFor, Given string
}

func (e *OtherServerError) Error() string {
	return fmt.Sprintf("the plan %s was made for %s, not %s: plan again against this server", e.PlanFile, e.MadeFor, e.Given)
}

// RefusedBeforeAnyWrite makes the error a Refusal: exit 3.
func (*OtherServerError) RefusedBeforeAnyWrite() {}
