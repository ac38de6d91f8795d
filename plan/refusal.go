package plan

import "errors"

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

// WouldRefuseError is a budget exceeded as plan reports it: plan writes nothing, so
// it refuses nothing, but apply with the same flags would refuse the plan it printed.
// It wraps the Refusal, which ends plan with exit 3 all the same (cli.md "Exit
// codes"), and says "apply would refuse", never that something was refused.
type WouldRefuseError struct {
	Err error // a Refusal: the budget exceeded
}

func (e *WouldRefuseError) Error() string { return "apply would refuse: " + e.Err.Error() }

func (e *WouldRefuseError) Unwrap() error { return e.Err }

// ApplyWouldRefuse returns err as plan reports it: a Refusal becomes a
// *WouldRefuseError; any other error, or nil, is returned as it is.
func ApplyWouldRefuse(err error) error {
	var r Refusal
	if !errors.As(err, &r) {
		return err
	}
	return &WouldRefuseError{Err: err}
}
