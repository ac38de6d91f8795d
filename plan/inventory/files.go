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
	"slices"
	"strings"

	"github.com/pbxsync/pbxsync/apiclient"
)

// HashFiles is the hash a saved plan keeps of its inventory: of one file, the SHA-256
// of its bytes; of several, of each file's name, the place of its folder among the
// files' folders, the place of the nearest of them above it, and its bytes. So a file
// moved to a folder that other _defaults.yaml files apply to changes it, and a path
// written another way, or a folder renamed, does not.
func HashFiles(files []File) string {
	if len(files) == 1 {
		sum := sha256.Sum256(files[0].Data)
		return hex.EncodeToString(sum[:])
	}
	dirs := map[string]int{}
	for _, f := range files {
		dir := filepath.Dir(f.Name)
		if _, ok := dirs[dir]; !ok {
			dirs[dir] = len(dirs)
		}
	}
	h := sha256.New()
	for _, f := range files {
		dir := filepath.Dir(f.Name)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%x\n", filepath.Base(f.Name), dirs[dir], above(dir, dirs), sha256.Sum256(f.Data))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// above returns the place in dirs of the nearest folder above dir; -1 for none.
func above(dir string, dirs map[string]int) int {
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return -1
		}
		if i, ok := dirs[parent]; ok {
			return i
		}
		dir = parent
	}
}

// DefaultsFile is the file whose defaults apply to every company of its folder and
// of the folders below it.
const DefaultsFile = "_defaults.yaml"

// ReadFiles reads the files of an inventory as -f names them (inventory.md "Many
// files"): a file; a folder, meaning every *.yaml and *.yml file in it and in the
// folders below it, at any depth, in path order with each folder's _defaults.yaml
// first, names that start with "." skipped; or "-", standard input. A file's
// folder's _defaults.yaml comes along even when the file is named alone, since its
// defaults apply to every company of the folder. A file named twice is read once.
func ReadFiles(paths []string, stdin io.Reader) ([]File, error) {
	r := newFileReader(stdin)
	for _, path := range paths {
		if err := r.read(path); err != nil {
			return nil, err
		}
	}
	return r.files, nil
}

// fileReader reads the files that -f paths name, each once.
type fileReader struct {
	stdin io.Reader
	wd    string // the working directory, that relative paths start from
	files []File
	seen  map[string]bool // by absolute path; "-" for standard input
}

func newFileReader(stdin io.Reader) *fileReader {
	wd, _ := os.Getwd()
	return &fileReader{stdin: stdin, wd: wd, seen: map[string]bool{}}
}

// read reads the files that path names.
func (r *fileReader) read(path string) error {
	if path == "-" {
		return r.readStdin()
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file or directory", apiclient.Printable(path))
	} else if err != nil {
		return fmt.Errorf("%s: %w", apiclient.Printable(path), unwrapPath(err))
	}
	if !info.IsDir() {
		defaults := filepath.Join(filepath.Dir(path), DefaultsFile)
		if _, err := os.Stat(defaults); err == nil {
			if err := r.add(defaults); err != nil {
				return err
			}
		}
		return r.add(path)
	}
	names, err := FolderFiles(path)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: a folder with no .yaml or .yml file in it or below it (names that start with . are skipped)", apiclient.Printable(path))
	}
	for _, name := range names {
		if err := r.add(name); err != nil {
			return err
		}
	}
	return nil
}

// readStdin reads standard input, once.
func (r *fileReader) readStdin() error {
	if r.seen["-"] {
		return nil
	}
	r.seen["-"] = true
	data, err := io.ReadAll(io.LimitReader(r.stdin, apiclient.MaxInventoryFile+1))
	if err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	if len(data) > apiclient.MaxInventoryFile {
		return fmt.Errorf("standard input: more than the %d MiB pbxsync reads", apiclient.MaxInventoryFile>>20)
	}
	r.files = append(r.files, File{Name: "<stdin>", Data: data})
	return nil
}

// add reads the file name, unless it was read already.
func (r *fileReader) add(name string) error {
	key := filepath.Clean(name)
	if !filepath.IsAbs(key) {
		key = filepath.Join(r.wd, key)
	}
	if r.seen[key] {
		return nil
	}
	r.seen[key] = true
	data, err := apiclient.ReadFile(name, apiclient.MaxInventoryFile)
	if err != nil {
		return err
	}
	r.files = append(r.files, File{Name: name, Data: data})
	return nil
}

// unwrapPath is err without the path an *fs.PathError adds, for a message that names
// the path itself, escaped.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// FolderFiles returns the inventory files of folder as -f reads them: every *.yaml
// and *.yml file in it and below it, in path order with each folder's _defaults.yaml
// first, names that start with "." skipped. A symbolic link is followed to a file
// within folder only: one to a file outside it, or to any folder, is an error naming
// both (cli.md "Files pbxsync reads").
func FolderFiles(folder string) ([]string, error) {
	var names []string
	err := walkFolder(folder, folder, &names)
	return names, err
}

// walkFolder appends the inventory files of dir, a folder at or below the folder
// named with -f, to names.
func walkFolder(folder, dir string, names *[]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", apiclient.Printable(dir), unwrapPath(err))
	}
	if i := slices.IndexFunc(entries, func(e fs.DirEntry) bool { return e.Name() == DefaultsFile }); i > 0 {
		defaults := entries[i]
		copy(entries[1:i+1], entries[:i])
		entries[0] = defaults
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		isYAML := hasYAMLExt(e.Name())
		switch {
		case e.IsDir():
			if err := walkFolder(folder, name, names); err != nil {
				return err
			}
		case e.Type()&fs.ModeSymlink != 0:
			if ok, err := linkedFile(folder, name, isYAML); err != nil {
				return err
			} else if ok {
				*names = append(*names, name)
			}
		case isYAML:
			*names = append(*names, name)
		}
	}
	return nil
}

// hasYAMLExt reports whether name ends in .yaml or .yml.
func hasYAMLExt(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// linkedFile says whether name, a symbolic link inside folder, is an inventory file
// to read: a link whose name ends in .yaml or .yml, to a file within folder. A link
// to a folder is refused, wherever it points: it is not followed, and skipping it
// would leave its companies out unsaid. Any other link is no inventory file.
func linkedFile(folder, name string, isYAML bool) (bool, error) {
	info, err := os.Stat(name)
	if err == nil && info.IsDir() {
		target, _ := filepath.EvalSymlinks(name)
		return false, fmt.Errorf("%s is a link to the folder %s: links to folders are not followed inside a folder -f names; name that folder with -f if it is meant", apiclient.Printable(name), apiclient.Printable(target))
	}
	if !isYAML {
		return false, nil
	}
	return true, withinFolder(folder, name)
}

// withinFolder refuses a file of a folder named with -f that is a symbolic link to
// a file outside that folder: a link named on the command line is followed, one
// inside a folder only within it (cli.md "Files pbxsync reads").
func withinFolder(folder, name string) error {
	root, err := filepath.EvalSymlinks(folder)
	if err != nil {
		return fmt.Errorf("%s: %w", apiclient.Printable(folder), unwrapPath(err))
	}
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fmt.Errorf("%s: %w", apiclient.Printable(name), unwrapPath(err))
	}
	if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is a link to %s, outside the folder %s: name that file with -f if it is meant", apiclient.Printable(name), apiclient.Printable(target), apiclient.Printable(folder))
	}
	return nil
}

// RequireCompanies returns an error naming paths, as -f named them, when inv has no
// company (inventory.md v0.3): a job pointed at the wrong folder, or at one holding
// only _defaults.yaml, must fail, not plan nothing and report no drift for ever.
func RequireCompanies(inv *Inventory, paths []string) error {
	if len(inv.Companies) > 0 {
		return nil
	}
	flags := make([]string, len(paths))
	for i, p := range paths {
		flags[i] = "-f " + apiclient.Printable(p)
	}
	return fmt.Errorf("%s: %s", strings.Join(flags, " "), noCompanies(len(paths)))
}

// noCompanies says that the n paths of an inventory define no company.
func noCompanies(n int) string {
	if n == 1 {
		return "no companies in the files it names"
	}
	return "no companies in the files they name"
}
