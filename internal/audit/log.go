package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a Log.
const (
	DefaultQueue  = 8192 // events waiting to be written
	DefaultRecent = 500  // events kept in memory for the admin page
)

// Options tune a Log.
type Options struct {
	Queue  int          // 0: DefaultQueue
	Recent int          // 0: DefaultRecent
	Log    *slog.Logger // where write errors are reported
	Stdout io.Writer    // the destination of path "-" (default os.Stdout)
}

// Log is the audit log. Record never blocks: events go to a bounded queue
// that one goroutine writes out through a buffer, flushed whenever the
// queue runs empty; an event that finds the queue full is dropped and
// counted (Dropped), as auditd's backlog limit does. A nil *Log records
// nothing.
type Log struct {
	path   string
	log    *slog.Logger
	recent *ring

	dropped   atomic.Uint64
	writeErrs atomic.Uint64

	mu     sync.RWMutex // closed and q's sends against Close
	closed bool
	q      chan Event
	reopen chan chan error
	done   chan struct{}

	out    io.Writer
	file   *os.File // nil for stdout or no file
	buf    *bufio.Writer
	stdout io.Writer
}

// Open starts the audit log. path is a file, opened for append (made 0600
// if missing), "-" for standard output, or "" for none: the last events
// are then only kept in memory.
func Open(path string, o Options) (*Log, error) {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Recent <= 0 {
		o.Recent = DefaultRecent
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	l := &Log{path: path, log: o.Log, recent: newRing(o.Recent), q: make(chan Event, o.Queue),
		reopen: make(chan chan error), done: make(chan struct{}), stdout: o.Stdout}
	if err := l.openOut(); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// openOut opens the destination; the writer goroutine calls it on reopen.
func (l *Log) openOut() error {
	switch l.path {
	case "":
		l.out = io.Discard
	case "-":
		l.out = l.stdout
	default:
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
		l.file, l.out = f, f
	}
	l.buf = bufio.NewWriterSize(l.out, 64<<10)
	return nil
}

// Path is the file written ("-" for standard output, "" for none).
func (l *Log) Path() string {
	if l == nil {
		return ""
	}
	return l.path
}

// Record queues e, stamping its time if unset. It never blocks.
func (l *Log) Record(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	l.recent.add(e)
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.q <- e:
	default:
		l.dropped.Add(1)
	}
}

// Recent returns up to n of the last events, newest first.
func (l *Log) Recent(n int) []Event {
	if l == nil {
		return nil
	}
	return l.recent.last(n)
}

// Dropped is how many events found the queue full (or the log closed) and
// were not written.
func (l *Log) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// WriteErrors is how many events could not be written to the file.
func (l *Log) WriteErrors() uint64 {
	if l == nil {
		return 0
	}
	return l.writeErrs.Load()
}

// Reopen writes out what is queued, closes the file and opens its path
// again: after a rotation (mv audit.log audit.log.1; kill -HUP) the next
// events go to a new file. Standard output is only flushed.
func (l *Log) Reopen() error {
	if l == nil {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return errors.New("audit log closed")
	}
}

// Close writes out every queued event, flushes and closes the file. Events
// recorded afterwards are counted as dropped.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.q)
	}
	l.mu.Unlock()
	<-l.done
	return l.closeOut()
}

func (l *Log) closeOut() error {
	err := l.buf.Flush()
	if l.file != nil {
		if cerr := l.file.Close(); err == nil {
			err = cerr
		}
		l.file = nil
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	return nil
}

// run writes events until the queue is closed, flushing whenever it runs
// empty, so a written event is on disk (in the page cache) at once.
func (l *Log) run() {
	defer close(l.done)
	enc := json.NewEncoder(l.buf)
	for {
		select {
		case e, ok := <-l.q:
			if !ok {
				return
			}
			l.write(enc, e)
			for more := true; more; {
				select {
				case e, ok := <-l.q:
					if !ok {
						l.flush()
						return
					}
					l.write(enc, e)
				default:
					more = false
				}
			}
			l.flush()
		case reply := <-l.reopen:
			// What was recorded before the reopen goes to the old file.
			for more := true; more; {
				select {
				case e, ok := <-l.q:
					if !ok {
						more = false
						break
					}
					l.write(enc, e)
				default:
					more = false
				}
			}
			err := l.closeOut()
			if oerr := l.openOut(); oerr != nil {
				err = oerr
				l.out, l.buf = io.Discard, bufio.NewWriter(io.Discard)
				l.log.Error("audit log: reopen failed, events are not written until the next SIGHUP", "err", oerr)
			}
			enc = json.NewEncoder(l.buf)
			reply <- err
		}
	}
}

func (l *Log) write(enc *json.Encoder, e Event) {
	if err := enc.Encode(e); err != nil {
		l.writeErrs.Add(1)
		l.log.Error("audit log: event not written", "event", e.Event, "err", err)
	}
}

func (l *Log) flush() {
	if err := l.buf.Flush(); err != nil {
		l.writeErrs.Add(1)
		l.log.Error("audit log: write failed", "path", l.path, "err", err)
		l.buf.Reset(l.out) // drop what could not be written rather than wedge
	}
}
