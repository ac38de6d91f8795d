package main

import (
	"io"
	"sync"
)

// logLines is the writer of the logs on stderr. While a progress line is drawn on
// the same terminal, a log line first clears it, and the progress line is drawn
// again below the log: the two never share a line.
type logLines struct {
	mu       sync.Mutex
	w        io.Writer
	progress func() string // the progress line to draw again; nil when none is shown
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.progress == nil {
		return l.w.Write(b)
	}
	if _, err := io.WriteString(l.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	n, err := l.w.Write(b)
	if err == nil {
		_, err = io.WriteString(l.w, l.progress())
	}
	return n, err
}

// show draws the progress line, and keeps line to draw it again after a log.
func (l *logLines) show(line func() string, final bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := line()
	if final {
		text += "\n"
		l.progress = nil
	} else {
		l.progress = line
	}
	_, _ = io.WriteString(l.w, text)
}
