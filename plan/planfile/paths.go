package planfile

import (
	"errors"
	"path/filepath"
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
