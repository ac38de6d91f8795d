package plan

// Refusal is an error that refuses a run before any write: a budget exceeded (more
// deletes than --max-delete, more moves than --max-move), or a saved plan that is
// stale or made for another server (package planfile). Every Refusal, and nothing
// else, ends pbxsync with exit 3 (cli.md "Exit codes"); the packages that find one
// return it as it is.
type Refusal interface {
	error
	// RefusedBeforeAnyWrite marks the error; nothing was written when it is returned.
	RefusedBeforeAnyWrite()
}

// The refusals of this package.
func (*DeleteBudgetError) RefusedBeforeAnyWrite() {}
func (*MoveBudgetError) RefusedBeforeAnyWrite()   {}
