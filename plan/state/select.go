package state

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// SelectPresent returns what Select picks for companies and match, and the named
// companies the snapshot does not hold, all of them.
func (s *State) SelectPresent(companies []string, match *regexp.Regexp) (selected, missing []string) {
	have := make(map[string]bool, len(s.Companies))
	for id := range s.Companies {
		have[id] = true
	}
	var present []string
	for _, id := range companies {
		if have[id] {
			present = append(present, id)
		} else {
			missing = append(missing, id)
		}
	}
	if len(companies) > 0 && len(present) == 0 && match == nil {
		return nil, missing
	}
	selected, _ = s.Select(ExportOptions{Companies: present, Match: match}) // present: no error
	return selected, missing
}

// SecretVariables returns the variables an export of selected names, sorted. Two
// company-ids that differ only in case would share one (SecretVariable upper-cases
// them), and one value would serve both: that is an error.
func (s *State) SecretVariables(selected []string) ([]string, error) {
	owner := map[string]string{}
	for _, id := range slices.Sorted(slices.Values(selected)) { // the first of a pair is named first
		c, ok := s.Companies[id]
		if !ok {
			continue
		}
		for _, name := range SecretFields(c) {
			v := SecretVariable(c.ID, name)
			if other, taken := owner[v]; taken && other != c.ID {
				return nil, fmt.Errorf("companies %q and %q would share the secret variable %s: export them apart, or with --include-secrets", other, c.ID, v)
			}
			owner[v] = c.ID
		}
	}
	return slices.Sorted(maps.Keys(owner)), nil
}
