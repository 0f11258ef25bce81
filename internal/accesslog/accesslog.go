// Package accesslog writes the HTTP server's access log (drlee run --access-log): one line
// per request, in the combined format of Apache and nginx with the duration and the worker
// at the end, or as JSON, one object a line.
//
// Writing never blocks a worker. Each worker has its own buffer (a shard, with a lock that
// only that worker's requests and the writer take: no lock is shared across workers), into
// which a finished request appends its formatted line. A writer goroutine, owned by the
// engine or by the process that runs a reload's generations (Owner), swaps the buffers out and writes them to the file at least every
// second, sooner when a buffer is half full, and once more when the engine closes; Close
// writes what is left after that. A buffer that is full (Limit bytes: the file cannot keep
// up) drops the line instead of waiting: dropped lines are counted (Dropped) and reported
// in the engine's log at the next flush. Reopen (SIGUSR1, for logrotate) reopens the file
// by its path.
package accesslog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Format is a line format.
type Format int

const (
	Combined Format = iota // Apache/nginx combined, plus duration (seconds) and worker id
	JSON                   // one JSON object a line
)

// ParseFormat maps the --access-log-format value to a Format.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "combined", "":
		return Combined, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("--access-log-format must be combined or json, got %q", s)
}

// Limit is the default bound of one worker's buffer, in bytes: at ~200 bytes a line, some
// 5000 lines, a second of a busy worker.
const Limit = 1 << 20

// Entry is one request, as the server saw it end. The byte slices are only read during
// Append.
type Entry struct {
	Start     time.Time // when the request was handed to the server
	Duration  time.Duration
	Remote    netip.AddrPort // client address; the zero value for none
	Method    []byte
	URI       []byte // the request target as sent
	Proto     []byte // HTTP/1.1
	Status    int
	Bytes     int64 // body bytes sent
	Worker    int   // 0: none (the request never reached a worker)
	Referer   []byte
	UserAgent []byte
}

// shard is one worker's buffer.
type shard struct {
	mu      sync.Mutex
	buf     []byte
	dropped int64
	woke    bool  // the writer was asked to flush early since the last swap
	sec     int64 // the second stamp holds, to format the time once a second
	stamp   []byte
	_       [64]byte // keeps two workers' shards off one cache line
}

// Log is an access log. Append is safe from any goroutine.
type Log struct {
	format Format
	limit  int
	shards []shard

	outMu sync.Mutex // protects out, file, spare; held by a flush while it writes
	out   io.Writer
	file  *os.File // nil when out is not a file of ours (stdout)
	path  string
	spare []byte

	dropped atomic.Int64 // lines dropped, all time
	wake    chan struct{}
	reopen  chan struct{}
	stop    chan struct{}
	stopped atomic.Bool
	closed  atomic.Bool // Close ran: a line now would never be written, and is dropped
	logf    func(level, format string, args ...any)
}

// Open opens path for appending ("-": out, which is then not closed by Close), for workers
// 1 to workers (0 is for requests no worker served).
func Open(path string, out io.Writer, f Format, workers int) (*Log, error) {
	if workers < 1 {
		return nil, fmt.Errorf("accesslog: workers must be at least 1, got %d", workers)
	}
	l := &Log{
		format: f, limit: Limit, shards: make([]shard, workers+1), path: path,
		wake: make(chan struct{}, 1), reopen: make(chan struct{}, 1), stop: make(chan struct{}),
		logf: func(string, string, ...any) {},
	}
	if path == "-" {
		l.out = out
	} else {
		file, err := openFile(path)
		if err != nil {
			return nil, err
		}
		l.out, l.file = file, file
	}
	return l, nil
}

func openFile(path string) (*os.File, error) {
	if path == "" {
		return nil, errors.New("accesslog: an empty path (use - for stdout)")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--access-log: %w", err)
	}
	return f, nil
}

// SetLimit sets the bound of each worker's buffer, in bytes (at least 4 KiB). Before the
// first Append.
func (l *Log) SetLimit(n int) error {
	if n < 4<<10 || n > 1<<30 {
		return fmt.Errorf("accesslog: buffer limit must be from 4 KiB to 1 GiB, got %d", n)
	}
	l.limit = n
	return nil
}

// Dropped is the number of lines dropped because a buffer was full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Append formats e into its worker's buffer, or drops it (counted) when the buffer is full.
// It never blocks on the file.
func (l *Log) Append(e *Entry) {
	w := e.Worker
	if w < 0 || w >= len(l.shards) {
		w = 0
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	s := &l.shards[w]
	s.mu.Lock()
	if len(s.buf) >= l.limit {
		s.dropped++
		s.mu.Unlock()
		return
	}
	if sec := e.Start.Unix(); sec != s.sec || s.stamp == nil {
		s.sec = sec
		s.stamp = l.appendStamp(s.stamp[:0], e.Start)
	}
	if l.format == JSON {
		s.buf = appendJSON(s.buf, e, s.stamp)
	} else {
		s.buf = appendCombined(s.buf, e, s.stamp)
	}
	early := !s.woke && len(s.buf) >= l.limit/2
	if early {
		s.woke = true
	}
	s.mu.Unlock()
	if early {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// appendStamp formats the time part that changes once a second: [02/Jan/2006:15:04:05
// -0700] for combined, RFC 3339 (seconds) for JSON.
func (l *Log) appendStamp(b []byte, t time.Time) []byte {
	if l.format == JSON {
		return t.AppendFormat(b, "2006-01-02T15:04:05Z07:00")
	}
	return t.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
}

// Owner runs the writer's goroutine and says when to stop it: an engine, or the process
// whose engines (a reload's generations) share one log.
type Owner interface {
	Go(name string, fn func()) bool
	OnClose(fn func())
	Log(level, format string, args ...any)
}

// Start runs the writer on a goroutine of o, until o closes (OnClose), and routes the
// log's own messages (dropped lines, write errors) to o's log.
func (l *Log) Start(o Owner) error {
	l.logf = o.Log
	o.OnClose(l.Stop)
	if !o.Go("accesslog: writer", l.run) {
		return errors.New("accesslog: its owner has ended")
	}
	return nil
}

// Stop ends the writer (which flushes once more). Idempotent.
func (l *Log) Stop() {
	if l.stopped.CompareAndSwap(false, true) {
		close(l.stop)
	}
}

// Reopen asks the writer to reopen the file by its path (after logrotate moved it). Any
// goroutine; a no-op for stdout.
func (l *Log) Reopen() {
	select {
	case l.reopen <- struct{}{}:
	default:
	}
}

// run is the writer goroutine.
func (l *Log) run() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.wake:
		case <-l.reopen:
			l.flush()
			l.doReopen()
			continue
		case <-l.stop:
			l.flush()
			return
		}
		l.flush()
	}
}

func (l *Log) doReopen() {
	if l.file == nil {
		return
	}
	f, err := openFile(l.path)
	if err != nil {
		l.logf("ERROR", "access log: reopen: %v (still writing to the old file)", err)
		return
	}
	l.outMu.Lock()
	old := l.file
	l.out, l.file = f, f
	l.outMu.Unlock()
	_ = old.Close()
}

// flush writes every worker's buffer out. It swaps each buffer for the spare under the
// shard's lock (a worker waits for a pointer swap, never for the file), then writes.
func (l *Log) flush() {
	l.outMu.Lock()
	defer l.outMu.Unlock()
	var dropped int64
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		if len(s.buf) == 0 && s.dropped == 0 {
			s.mu.Unlock()
			continue
		}
		b := s.buf
		s.buf = l.spare[:0]
		d := s.dropped
		s.dropped = 0
		s.woke = false
		s.mu.Unlock()
		dropped += d
		if len(b) > 0 {
			if _, err := l.out.Write(b); err != nil {
				l.logf("ERROR", "access log: %v", err)
			}
		}
		l.spare = b[:0]
	}
	if dropped > 0 {
		l.dropped.Add(dropped)
		l.logf("WARN", "access log: %d lines dropped: the log could not keep up (a worker's buffer holds %d bytes)", dropped, l.limit)
	}
}

// Close flushes what is left and closes the file. Call it once the engine has run (after
// Run returned): no request can end any more.
func (l *Log) Close() error {
	l.Stop()
	l.closed.Store(true)
	l.flush()
	l.outMu.Lock()
	defer l.outMu.Unlock()
	if l.file != nil {
		err := l.file.Close()
		l.file = nil
		l.out = io.Discard
		return err
	}
	return nil
}

// appendCombined: host - - [time] "METHOD URI PROTO" status bytes "referer" "agent"
// duration worker. As nginx does, a "-" stands for an empty field, and bytes that are not
// printable ASCII, '"' and '\' are written \xHH.
func appendCombined(b []byte, e *Entry, stamp []byte) []byte {
	b = appendHost(b, e.Remote)
	b = append(b, " - - ["...)
	b = append(b, stamp...)
	b = append(b, "] \""...)
	b = appendEscaped(b, e.Method)
	b = append(b, ' ')
	b = appendEscaped(b, e.URI)
	b = append(b, ' ')
	b = appendEscaped(b, e.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	if e.Bytes == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, e.Bytes, 10)
	}
	b = append(b, " \""...)
	b = appendDash(b, e.Referer)
	b = append(b, "\" \""...)
	b = appendDash(b, e.UserAgent)
	b = append(b, "\" "...)
	b = appendSeconds(b, e.Duration)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.Worker), 10)
	return append(b, '\n')
}

// appendHost appends the address's host (as %h does), or "-".
func appendHost(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return a.Addr().Unmap().AppendTo(b)
}

func appendDash(b, v []byte) []byte {
	if len(v) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, v)
}

const hexDigits = "0123456789ABCDEF"

func appendEscaped(b, v []byte) []byte {
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

// appendSeconds appends d in seconds with microseconds (0.000123).
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	us := d.Microseconds()
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// appendJSON: {"time":...,"remote_addr":...,"method":...,"uri":...,"proto":...,"status":...,
// "bytes":...,"duration":...,"worker":...,"referer":...,"user_agent":...}. time is RFC 3339
// with microseconds, duration in seconds.
func appendJSON(b []byte, e *Entry, stamp []byte) []byte {
	b = append(b, `{"time":"`...)
	// stamp is "2006-01-02T15:04:05Z07:00": the fraction goes before the zone.
	const secLen = len("2006-01-02T15:04:05")
	if len(stamp) >= secLen {
		b = append(b, stamp[:secLen]...)
		b = append(b, '.')
		us := int64(e.Start.Nanosecond() / 1000)
		for div := int64(1e5); div > 0; div /= 10 {
			b = append(b, byte('0'+us/div%10))
		}
		b = append(b, stamp[secLen:]...)
	}
	b = append(b, `","remote_addr":`...)
	if e.Remote.IsValid() {
		b = append(b, '"')
		b = netip.AddrPortFrom(e.Remote.Addr().Unmap(), e.Remote.Port()).AppendTo(b)
		b = append(b, '"')
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, e.URI)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, e.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendFloat(b, math.Max(0, e.Duration.Seconds()), 'f', 6, 64)
	b = append(b, `,"worker":`...)
	b = strconv.AppendInt(b, int64(e.Worker), 10)
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, e.Referer)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, e.UserAgent)
	return append(b, "}\n"...)
}

// appendJSONString appends v as a JSON string; bytes that are not valid UTF-8 become
// U+FFFD, so that every line is valid JSON whatever the client sent.
func appendJSONString(b, v []byte) []byte {
	b = append(b, '"')
	for len(v) > 0 {
		c := v[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			v = v[1:]
			continue
		}
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\\ufffd"...)
		} else {
			b = append(b, v[:n]...)
		}
		v = v[n:]
	}
	return append(b, '"')
}
