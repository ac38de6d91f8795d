package apiclient

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// The files pbxsync reads (cli.md "Files pbxsync reads"): an inventory, a fleet file, a
// plan file, a sim: state and --ca-cert are each a regular file of bounded size. A
// FIFO, a device or a directory where a file is expected is refused before anything is
// read from it, so that no input can make a run wait for ever or grow without bound.

// The most pbxsync reads of a file.
const (
	MaxInventoryFile = 256 << 20 // an inventory, a fleet file or a sim: state
	MaxPlanFile      = 64 << 20  // a saved plan
	MaxCAFile        = 4 << 20   // --ca-cert
)

// ReadFile reads the regular file at path, at most limit bytes. It opens the file
// without waiting (a FIFO with no writer would block the open) and checks what it
// opened before reading: anything but a regular file, or a file larger than limit, is
// an error that names the path, made printable.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoWait, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", Printable(path), pe.Err)
		}
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Printable(path), err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s, not a regular file: pbxsync reads only files", Printable(path), kindOf(info.Mode()))
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d MiB pbxsync reads", Printable(path), info.Size(), limit>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Printable(path), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d MiB pbxsync reads", Printable(path), limit>>20)
	}
	return data, nil
}

// kindOf names what a file that is not a regular one is.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
