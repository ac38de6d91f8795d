package state

import (
	"fmt"
	"slices"
	"strings"
)

// NotFoundError is the error for companies named with --company that are not where
// they should be, all named at once.
type NotFoundError struct {
	IDs   []string // sorted, each once
	Where string   // such as "on the server"
}

// NotFound returns the error for the companies ids, which are not where.
func NotFound(ids []string, where string) *NotFoundError {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	return &NotFoundError{IDs: ids, Where: where}
}

func (e *NotFoundError) Error() string {
	quoted := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	if len(e.IDs) == 1 {
		return fmt.Sprintf("company %s is not %s", quoted[0], e.Where)
	}
	return fmt.Sprintf("companies %s are not %s", strings.Join(quoted, ", "), e.Where)
}
