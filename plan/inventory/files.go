package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// HashFiles is the hash a saved plan keeps of its inventory: of one file, the SHA-256
// of its bytes; of several, of each file's name, the place of its directory among the
// files' directories and its bytes, so that a file moved to another directory (other
// _defaults.yaml) changes it, and a path written another way does not.
func HashFiles(files []File) string {
	if len(files) == 1 {
		sum := sha256.Sum256(files[0].Data)
		return hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	dirs := map[string]int{}
	for _, f := range files {
		dir := filepath.Dir(f.Name)
		if _, ok := dirs[dir]; !ok {
			dirs[dir] = len(dirs)
		}
		fmt.Fprintf(h, "%s\x00%d\x00%x\n", filepath.Base(f.Name), dirs[dir], sha256.Sum256(f.Data))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultsFile is the file whose defaults apply to every company of its directory.
const DefaultsFile = "_defaults.yaml"

// ReadFiles reads the files of an inventory as -f names them (spec/inventory.md,
// "Many files"): a file; a directory, meaning every *.yaml and *.yml file directly
// inside it, in name order; or "-", standard input. A file's directory's
// _defaults.yaml comes along even when the file is named alone, since its defaults
// apply to every company of the directory. A file named twice is read once.
func ReadFiles(paths []string, stdin io.Reader) ([]File, error) {
	var files []File
	seen := map[string]bool{}
	add := func(name string) error {
		if key := filepath.Clean(name); seen[key] {
			return nil
		} else {
			seen[key] = true
		}
		data, err := apiclient.ReadFile(name, apiclient.MaxInventoryFile)
		if err != nil {
			return err
		}
		files = append(files, File{Name: name, Data: data})
		return nil
	}
	for _, path := range paths {
		if path == "-" {
			if seen["-"] {
				continue
			}
			seen["-"] = true
			data, err := io.ReadAll(io.LimitReader(stdin, apiclient.MaxInventoryFile+1))
			if err != nil {
				return nil, fmt.Errorf("read standard input: %w", err)
			}
			if len(data) > apiclient.MaxInventoryFile {
				return nil, fmt.Errorf("standard input: more than the %d MiB pbxsync reads", apiclient.MaxInventoryFile>>20)
			}
			files = append(files, File{Name: "<stdin>", Data: data})
			continue
		}
		info, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", path)
		} else if err != nil {
			return nil, err
		}
		names := []string{path}
		if info.IsDir() {
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			names = nil
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
					name := filepath.Join(path, e.Name())
					if err := withinFolder(path, name, e); err != nil {
						return nil, err
					}
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("%s: a directory without a .yaml or .yml file", path)
			}
		}
		for _, name := range names {
			defaults := filepath.Join(filepath.Dir(name), DefaultsFile)
			if _, err := os.Stat(defaults); err == nil {
				if err := add(defaults); err != nil {
					return nil, err
				}
			}
			if err := add(name); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// withinFolder refuses a file of a folder named with -f that is a symbolic link to
// a file outside that folder: a link named on the command line is followed, one
// inside a folder only within it (cli.md "Files pbxsync reads").
func withinFolder(folder, name string, e fs.DirEntry) error {
	if e.Type()&fs.ModeSymlink == 0 {
		return nil
	}
	root, err := filepath.EvalSymlinks(folder)
	if err != nil {
		return err
	}
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fmt.Errorf("%s: %w", apiclient.Printable(name), err)
	}
	if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is a link to %s, outside the folder %s: name that file with -f if it is meant", apiclient.Printable(name), apiclient.Printable(target), apiclient.Printable(folder))
	}
	return nil
}
