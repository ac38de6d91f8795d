package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan/inventory"
	"github.com/pbxsync/pbxsync/plan/state"
)

// ExportOptions say what Export reads and how it writes it.
type ExportOptions struct {
	Companies      []string       // only these companies, with their container partners; all when empty
	Match          *regexp.Regexp // only companies whose id matches, with their container partners
	IncludeSecrets bool           // secret values instead of ${VAR} references
	Compact        bool           // shared values under defaults (state.ExportOptions)
	Parallelism    int            // requests in flight
}

// Exported is an export: the inventory's bytes, and what they hold.
type Exported struct {
	Data       []byte
	IDs        []string // the companies exported
	Containers int      // containers of two or more
	Variables  []string // the ${VAR} the export names for secrets; none with IncludeSecrets
}

// Export reads every company and container of the server and writes the chosen
// ones as an inventory. A company named in Companies that the server lacks is an
// error (state.NotFoundError), and so is a Match that matches nothing.
func Export(ctx context.Context, r state.Reader, opts ExportOptions) (*Exported, error) {
	snap, err := state.ReadSnapshot(ctx, r, opts.Parallelism)
	if err != nil {
		return nil, err
	}
	selected, missing := snap.SelectPresent(opts.Companies, opts.Match)
	if len(missing) > 0 {
		return nil, state.NotFound(missing, "on the server")
	}
	if len(selected) == 0 && opts.Match != nil {
		return nil, fmt.Errorf("nothing to export: --match %q matches no company on the server", opts.Match)
	}
	e := &Exported{IDs: selected, Containers: containersOf(snap, selected)}
	if !opts.IncludeSecrets {
		if e.Variables, err = snap.SecretVariables(selected); err != nil {
			return nil, err
		}
	}
	e.Data, err = snap.Export(state.ExportOptions{Companies: opts.Companies, Match: opts.Match, IncludeSecrets: opts.IncludeSecrets, Compact: opts.Compact})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return e, nil
}

// containersOf counts the containers of two or more that an export of selected holds.
func containersOf(snap *state.State, selected []string) int {
	chosen := map[string]bool{}
	for _, id := range selected {
		chosen[id] = true
	}
	n := 0
	for _, members := range snap.Containers {
		if len(members) > 1 && chosen[members[0]] {
			n++
		}
	}
	return n
}

// FleetExportOptions tune ExportFleet.
type FleetExportOptions struct {
	Chosen      func(pbx string) bool // the PBXs to export (--pbx)
	Parallelism int
	Compact     bool
	// Exported is told of each inventory written, where and what it holds.
	Exported func(ctx context.Context, pbx, path string, e *Exported)
}

// ExportFleet writes each chosen PBX's companies as an inventory where the fleet
// file says its inventory is, for adopting a running fleet; secrets stay ${VAR}
// references. A path that holds an inventory already is refused, never overwritten;
// one PBX's failure leaves the others. A company on two PBXs is an error: a fleet
// lists each company once.
func ExportFleet(ctx context.Context, pbxs []*inventory.FleetPBX, dial FleetDialer, opts FleetExportOptions) error {
	var failed []string
	owner := map[string]string{}
	for _, p := range pbxs {
		if !opts.Chosen(p.Name) {
			continue
		}
		ids, err := exportPBX(ctx, p, dial, opts)
		if err != nil {
			failed = append(failed, p.Name+": "+err.Error())
			continue
		}
		for _, id := range ids {
			if first, dup := owner[id]; dup {
				failed = append(failed, fmt.Sprintf("%s: company %s is on %s too: a fleet lists each company once, remove it from one inventory", p.Name, apiclient.Printable(id), first))
			}
			owner[id] = p.Name
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("export --fleet: %s", strings.Join(failed, "; "))
	}
	return nil
}

// exportPBX writes one PBX's companies where its inventory is to be, and returns
// their ids.
func exportPBX(ctx context.Context, p *inventory.FleetPBX, dial FleetDialer, opts FleetExportOptions) ([]string, error) {
	target, err := exportTarget(p.Inventory)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, p, false)
	if err != nil {
		return nil, err
	}
	e, err := Export(ctx, c, ExportOptions{Compact: opts.Compact, Parallelism: opts.Parallelism})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(target, func(w io.Writer) error { _, err := w.Write(e.Data); return err }); err != nil {
		return nil, err
	}
	if opts.Exported != nil {
		opts.Exported(ctx, p.Name, target, e)
	}
	return e.IDs, nil
}

// exportTarget is the file an export of a PBX whose inventory is to be at paths
// writes: the file itself, or companies.yaml in a folder. A folder that holds an
// inventory already, at any depth, is refused, and so is a list of paths: an
// export is one file.
func exportTarget(paths []string) (string, error) {
	if len(paths) != 1 {
		return "", fmt.Errorf("its inventory is a list of %d paths: export --fleet writes one file; give the PBX one file or folder to export into", len(paths))
	}
	path := paths[0]
	target := path
	if ext := filepath.Ext(target); ext != ".yaml" && ext != ".yml" {
		target = filepath.Join(target, "companies.yaml")
		names, err := inventory.FolderFiles(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if len(names) > 0 {
			return "", fmt.Errorf("%s already holds an inventory (%s): export --fleet writes only new ones", apiclient.Printable(path), apiclient.Printable(names[0]))
		}
	}
	if _, err := os.Lstat(target); err == nil {
		return "", fmt.Errorf("%s exists: export --fleet writes only new inventories", apiclient.Printable(target))
	}
	return target, nil
}
