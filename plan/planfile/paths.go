package planfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// The paths a plan file records: the inventory's files and a sim: server's state
// file are kept relative to the plan file's folder, with forward slashes, so that a
// repository checked out elsewhere (a CI job's artifact) applies it as it is.

// errStdinPlan is the error of a plan made from an inventory on standard input.
var errStdinPlan = errors.New("--out needs the inventory in files (-f FILE), so that apply can read it again")

// Paths returns the inventory's sources and the server as a plan file saved at
// planFile records them.
func Paths(planFile string, sources []string, server string) (rel []string, relServer string, err error) {
	dir, err := filepath.Abs(filepath.Dir(planFile))
	if err != nil {
		return nil, "", err
	}
	for _, src := range sources {
		if src == "-" {
			return nil, "", errStdinPlan
		}
		r, err := relativeTo(dir, src)
		if err != nil {
			return nil, "", err
		}
		rel = append(rel, r)
	}
	if state, ok := strings.CutPrefix(server, "sim:"); ok {
		r, err := relativeTo(dir, state)
		if err != nil {
			return nil, "", err
		}
		server = "sim:" + r
	}
	return rel, server, nil
}

// Sources returns the inventory's paths and the server that the plan, read from
// planFile, records, resolved against the plan file's folder.
func (sp *SavedPlan) Sources(planFile string) (paths []string, server string, err error) {
	paths = sp.Inventory.Paths()
	if len(paths) == 0 || slices.Contains(paths, "<stdin>") || slices.Contains(paths, "-") {
		return nil, "", fmt.Errorf("the plan %s was made from an inventory on standard input, which cannot be read again: plan with -f FILE", planFile)
	}
	for i, p := range paths {
		paths[i] = Resolve(planFile, p)
	}
	server = sp.Server
	if state, ok := strings.CutPrefix(server, "sim:"); ok {
		server = "sim:" + Resolve(planFile, state)
	}
	return paths, server, nil
}

// Resolve resolves a path that a plan file keeps relative to its folder.
func Resolve(planFile, path string) string {
	if path = filepath.FromSlash(path); filepath.IsAbs(path) {
		return path // a plan saved before paths were relative
	}
	return filepath.Join(filepath.Dir(planFile), path)
}

// RelativeTo writes path relative to the folder of planFile, with forward slashes.
func RelativeTo(planFile, path string) (string, error) {
	dir, err := filepath.Abs(filepath.Dir(planFile))
	if err != nil {
		return "", err
	}
	return relativeTo(dir, path)
}

// relativeTo writes path relative to dir, with forward slashes.
func relativeTo(dir, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// OtherServerError refuses a saved plan given to a server other than the one it was
// made for.
type OtherServerError struct {
	PlanFile, MadeFor, Given string
}

func (e *OtherServerError) Error() string {
	return fmt.Sprintf("the plan %s was made for %s, not %s: plan again against this server", e.PlanFile, e.MadeFor, e.Given)
}

// RefusedBeforeAnyWrite makes the error a plan.Refusal: exit 3.
func (*OtherServerError) RefusedBeforeAnyWrite() {}
