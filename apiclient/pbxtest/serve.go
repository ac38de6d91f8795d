package pbxtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"
)

// Running is a simulator served on a loopback port with its state in a file: what
// a sim:PATH server is. Its System-Admin key is random, made for this run.
type Running struct {
	*Server
	URL     string // http://127.0.0.1:PORT
	Key     string
	Created bool // the state file did not exist, and was created empty
	path    string
	stop    func()
}

// ServeFile serves the simulator on a loopback port, seeded from the state file
// at path. A missing file is an error unless writes (a command that writes starts
// an empty simulator), so that a mistyped path never plans against an empty server.
func ServeFile(ctx context.Context, path string, writes bool) (*Running, error) {
	if path == "" {
		return nil, errors.New("sim: needs a state file: sim:FILE")
	}
	created := false
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !writes {
			return nil, fmt.Errorf("sim:%s: no such state file: this command only reads, and would see an empty server (apply starts one)", path)
		}
		if err := WriteStateFile(path, State{}); err != nil {
			return nil, fmt.Errorf("simulator state: %w", err)
		}
		created = true
	}
	st, err := ReadStateFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulator state: %w", err)
	}
	key := rand.Text()
	sim := New(WithAPIKey(key, SystemAdmin()), WithState(st))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { // ends when Close closes the server
		defer close(done)
		_ = hs.Serve(ln)
	}()
	stop := func() {
		_ = hs.Close()
		<-done
	}
	return &Running{Server: sim, URL: "http://" + ln.Addr().String(), Key: key, Created: created, path: path, stop: stop}, nil
}

// Close stops the simulator and writes its state back to its file when it changed.
func (r *Running) Close() error {
	r.stop()
	if r.Stats().TotalWrites() == 0 {
		return nil
	}
	if err := WriteStateFile(r.path, r.Snapshot()); err != nil {
		return fmt.Errorf("save the simulator's state: %w", err)
	}
	return nil
}
