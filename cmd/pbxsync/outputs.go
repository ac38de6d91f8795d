package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pbxsync/pbxsync/apiclient"
)

// The flags that name a file a command reads, and those that name a file it writes.
var (
	inputFlags  = []string{"file", "fleet", "ca-cert"}
	outputFlags = []string{"report", "metrics-file", "out", "trace"}
)

// checkOutputs refuses, before anything is read or sent, an output that would
// replace an input of the run: --report inventory.yaml would overwrite the
// inventory with a report, --metrics-file into an -f folder as x.yaml would be read
// as an inventory by the next run, -o pbx.yaml of a run on sim:pbx.yaml would
// overwrite the simulator's state. Nothing is lost by a mistyped flag.
func checkOutputs(cmd *cobra.Command, args []string, lookupEnv func(string) (string, bool)) error {
	inputs := flagValues(cmd, inputFlags)
	if cmd.Name() == "apply" {
		inputs = append(inputs, args...) // PLANFILE
	}
	url, _ := lookupEnv("PBX_URL")
	if f := cmd.Flags().Lookup("url"); f != nil && f.Changed {
		url = f.Value.String()
	}
	if state, ok := strings.CutPrefix(url, "sim:"); ok {
		inputs = append(inputs, state)
	}
	for _, name := range outputFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Value.String() == "" || f.Value.String() == "-" {
			continue
		}
		if in, why := replacesInput(f.Value.String(), inputs); in != "" {
			return fmt.Errorf("--%s %s %s %s: name another file", name, apiclient.Printable(f.Value.String()), why, apiclient.Printable(in))
		}
	}
	return nil
}

// flagValues returns the values of the named flags that cmd has and were given.
func flagValues(cmd *cobra.Command, names []string) []string {
	var out []string
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		if s, ok := f.Value.(interface{ GetSlice() []string }); ok {
			out = append(out, s.GetSlice()...)
		} else {
			out = append(out, f.Value.String())
		}
	}
	return out
}

// replacesInput returns the input that writing out would replace, and how: the same
// file, or an inventory file inside an input folder.
func replacesInput(out string, inputs []string) (input, why string) {
	outInfo, outErr := os.Stat(out)
	absOut, _ := filepath.Abs(out)
	for _, in := range inputs {
		if in == "" || in == "-" {
			continue
		}
		info, err := os.Stat(in)
		if err != nil {
			continue // not there: the run reports it
		}
		if outErr == nil && os.SameFile(outInfo, info) {
			return in, "is also read by this run:"
		}
		absIn, _ := filepath.Abs(in)
		inventoryFile := slices.Contains([]string{".yaml", ".yml"}, filepath.Ext(out))
		if info.IsDir() && inventoryFile && strings.HasPrefix(absOut, absIn+string(filepath.Separator)) {
			return in, "would be read as an inventory file of the folder"
		}
	}
	return "", ""
}
