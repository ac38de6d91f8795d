package pbxtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pbxsync/pbxsync/apiclient"
)

// A state file keeps a simulator's content between runs (sim:PATH, pbxsim --state) in
// the inventory format: version, companies with name and settings, and containers
// of two or more members under their server names. It holds secrets in plain text,
// as a real server's database does, so it is written with mode 0600.

type stateFile struct {
	Version    int                     `yaml:"version"`
	Companies  map[string]stateCompany `yaml:"companies"`
	Containers map[string][]string     `yaml:"containers,omitempty"`
}

type stateCompany struct {
	Name     string               `yaml:"name"`
	Settings map[string]yaml.Node `yaml:"settings,omitempty"`
}

// ReadStateFile reads a state file. A missing file is an empty state.
func ReadStateFile(path string) (State, error) {
	data, err := apiclient.ReadFile(path, apiclient.MaxInventoryFile)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	var f stateFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return State{}, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != 1 && len(data) > 0 {
		return State{}, fmt.Errorf("%s: version must be 1", path)
	}
	// As strict as an inventory, and as the server: what it could not hold is refused
	// here, not served. ${...} is text like any other, never expanded.
	st := State{Containers: f.Containers}
	for _, id := range slices.Sorted(maps.Keys(f.Companies)) {
		c := f.Companies[id]
		if !apiclient.ValidCompanyID(id) {
			return State{}, fmt.Errorf("%s: company-id %q is not allowed: letters, digits and _, 1 to 32 characters", path, id)
		}
		if !apiclient.ValidName(c.Name) {
			return State{}, fmt.Errorf("%s: company %s: name %q is not allowed: letters, digits, space and . , ; - _, 1 to 240 characters", path, id, c.Name)
		}
		co := apiclient.Company{ID: id, Name: c.Name, Settings: apiclient.Settings{}}
		for _, name := range slices.Sorted(maps.Keys(c.Settings)) {
			n := c.Settings[name]
			v, err := nodeValue(&n)
			if err == nil {
				err = checkSetting(name, v)
			}
			if err != nil {
				return State{}, fmt.Errorf("%s:%d: company %s, setting %s: %w", path, n.Line, id, name, err)
			}
			co.Settings.Set(name, v)
		}
		st.Companies = append(st.Companies, co)
	}
	in := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(f.Containers)) {
		members := f.Containers[name]
		if len(members) < 2 {
			return State{}, fmt.Errorf("%s: container %s: fewer than two members", path, name)
		}
		for _, id := range members {
			if _, ok := f.Companies[id]; !ok {
				return State{}, fmt.Errorf("%s: container %s: %s is not a company of the file", path, name, id)
			}
			if other, dup := in[id]; dup {
				return State{}, fmt.Errorf("%s: %s is in two containers: %s and %s", path, id, other, name)
			}
			in[id] = name
		}
	}
	return st, nil
}

// checkSetting refuses a value the server could not hold in a field of the table. A
// field the table does not know is kept as written: a newer server's field, which is
// what the simulator then plays.
func checkSetting(name string, v apiclient.Value) error {
	f, ok := apiclient.LookupField(name)
	if !ok {
		return nil
	}
	if _, err := f.Normalize(v); err != nil {
		if strings.Contains(v.Text(), "${") {
			return fmt.Errorf("%w (a state file holds values, and ${...} is text there: export with --include-secrets for a rehearsal)", err)
		}
		return err
	}
	return nil
}

// nodeValue reads a YAML scalar as the Value YAML typed it.
func nodeValue(n *yaml.Node) (apiclient.Value, error) {
	if n.Kind != yaml.ScalarNode {
		return apiclient.Value{}, errors.New("not a single value")
	}
	switch n.Tag {
	case "!!null":
		return apiclient.Null(), nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return apiclient.Bool(b), err
	case "!!int":
		var i int64
		err := n.Decode(&i)
		return apiclient.Int(i), err
	case "!!float":
		return apiclient.Number(n.Value), nil
	}
	return apiclient.String(n.Value), nil
}

// WriteStateFile writes the state to path, atomically, with mode 0600.
func WriteStateFile(path string, st State) error {
	f := stateFile{Version: 1, Companies: map[string]stateCompany{}}
	for _, c := range st.Companies {
		sc := stateCompany{Name: c.Name, Settings: map[string]yaml.Node{}}
		for name, v := range c.Settings.All() {
			sc.Settings[name] = valueNode(v)
		}
		f.Companies[c.ID] = sc
	}
	for name, members := range st.Containers {
		if len(members) > 1 {
			if f.Containers == nil {
				f.Containers = map[string][]string{}
			}
			f.Containers[name] = members
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# The state of a pbxsync simulator (sim:PATH). It holds secrets in plain text.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pbxsim-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// valueNode writes a Value as the YAML scalar of its type, quoting strings that YAML
// would read as another type ("15" stays a string).
func valueNode(v apiclient.Value) yaml.Node {
	switch v.Kind() {
	case apiclient.KindNull:
		return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case apiclient.KindBool:
		return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case apiclient.KindNumber:
		if _, err := strconv.ParseInt(v.Text(), 10, 64); err != nil {
			return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: v.Text()}
		}
		return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v.Text()}
	case apiclient.KindString:
		return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.Text()}
	}
	return yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.Reveal().JSON()} // a state file holds secrets
}
