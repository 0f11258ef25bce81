package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
	"github.com/drlee/drlee/packed"
)

// TestErrorCodesOfRealFailures: errors the system gives for real causes (files, sockets)
// get the codes scripts match on.
func TestErrorCodesOfRealFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	inUse, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inUse.Close()

	for _, tt := range []struct {
		want string
		err  func() error
	}{
		{"ENOENT", func() error { _, err := os.Open(filepath.Join(dir, "missing")); return err }},
		{"ENOENT", func() error { _, err := os.Stat(filepath.Join(dir, "no", "such", "dir")); return err }},
		{"EEXIST", func() error {
			_, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			return err
		}},
		{"EEXIST", func() error { return os.Mkdir(full, 0o755) }},
		{"ENOTDIR", func() error { _, err := os.Open(filepath.Join(file, "below")); return err }},
		{"EISDIR", func() error { _, err := os.ReadFile(dir); return err }},
		{"ENOTEMPTY", func() error { return os.Remove(full) }},
		{"ECLOSED", func() error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			f.Close()
			_, err = f.Read(make([]byte, 1))
			return err
		}},
		{"ECONNREFUSED", func() error { _, err := net.Dial("tcp", closedPort()); return err }},
		{"EADDRINUSE", func() error {
			l, err := net.Listen("tcp", inUse.Addr().String())
			if err == nil {
				l.Close()
			}
			return err
		}},
		{"ETIMEDOUT", func() error {
			// A read deadline on a real connection that never sends.
			c1, c2 := net.Pipe()
			defer c1.Close()
			defer c2.Close()
			c1.SetReadDeadline(time.Now().Add(time.Millisecond))
			_, err := c1.Read(make([]byte, 1))
			return err
		}},
		{"ETIMEDOUT", func() error {
			conn, err := net.Dial("tcp", inUse.Addr().String())
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(time.Millisecond))
			_, err = conn.Read(make([]byte, 1))
			return err
		}},
		{"EINVAL", func() error { _, err := net.Listen("tcp", "127.0.0.1"); return err }}, // missing port
		{"EINVAL", func() error { _, err := url.Parse("http://[::1"); return err }},
	} {
		err := tt.err()
		if err == nil {
			t.Errorf("want %s: no error", tt.want)
			continue
		}
		if got := engine.ErrorCode(err); got != tt.want {
			t.Errorf("ErrorCode(%q) = %s, want %s", err, got, tt.want)
		}
		s := engine.ErrorString(err)
		if s != tt.want+": "+err.Error() {
			t.Errorf("ErrorString(%q) = %q", err, s)
		}
		if got := engine.ParseErrorCode(s); got != tt.want {
			t.Errorf("ParseErrorCode(%q) = %s, want %s", s, got, tt.want)
		}
	}
}

type coded struct{ code string }

func (c coded) Error() string     { return "library failure" }
func (c coded) ErrorCode() string { return c.code }

type timeoutErr struct{}

func (timeoutErr) Error() string { return "took too long" }
func (timeoutErr) Timeout() bool { return true }

// TestErrorCodeChains: explicit codes, the standard library's types and sentinels, the
// engine's own errors, wrapped in any way; the outermost link that names a code wins.
func TestErrorCodeChains(t *testing.T) {
	t.Parallel()
	pathErr := &os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), "EUNKNOWN"},
		{pathErr, "ENOENT"},
		{fmt.Errorf("reading config: %w", pathErr), "ENOENT"},
		{errors.Join(errors.New("first"), pathErr), "ENOENT"},
		{engine.WithCode("EMSGSIZE", pathErr), "EMSGSIZE"}, // explicit, outside, wins
		{fmt.Errorf("x: %w", engine.WithCode("EPIPE", errors.New("gone"))), "EPIPE"},
		{engine.NewError("ECLOSED", "closed"), "ECLOSED"},
		{coded{"EBUSY"}, "EBUSY"},
		{coded{"NoSuchKey"}, "EUNKNOWN"}, // not one of ours: ignored
		{coded{""}, "EUNKNOWN"},
		{syscall.EACCES, "EACCES"},
		{syscall.EPERM, "EPERM"},
		{syscall.ENOSPC, "ENOSPC"},
		{syscall.EDQUOT, "ENOSPC"},
		{syscall.EMFILE, "EMFILE"},
		{syscall.EBADF, "EBADF"},
		{syscall.EPIPE, "EPIPE"},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "ECONNRESET"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "EHOSTUNREACH"},
		{syscall.Errno(0x7fff), "EUNKNOWN"},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, "ENOTFOUND"},
		{&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, "ETIMEDOUT"},
		{&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, "EAI_AGAIN"},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, "ENOTFOUND"},
		{os.ErrDeadlineExceeded, "ETIMEDOUT"},
		{context.DeadlineExceeded, "ETIMEDOUT"},
		{fmt.Errorf("rpc: %w", context.Canceled), "ECANCELED"},
		{timeoutErr{}, "ETIMEDOUT"},
		{fmt.Errorf("wrapped: %w", timeoutErr{}), "ETIMEDOUT"},
		{net.ErrClosed, "ECLOSED"},
		{io.ErrUnexpectedEOF, "ECONNRESET"},
		{errors.ErrUnsupported, "ENOTSUP"},
		{engine.ErrInternal, "EINTERNAL"},
		{engine.ErrPoolSaturated, "EBUSY"},
		{engine.ErrQueueFull, "EBUSY"},
		{engine.ErrWorkerStopped, "ECLOSED"},
		{fmt.Errorf("%w: a string of 3 bytes", packed.ErrTooLarge), "EMSGSIZE"},
		{packed.ErrTooDeep, "EINVAL"},
		{packed.ErrMalformed, "EPROTO"},
		{engine.ScriptError("ENOENT: no such user"), "ENOENT"},
		{engine.ScriptError("no such user"), "EUNKNOWN"},
	} {
		if got := engine.ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if tt.err != nil && !engine.IsErrorCode(engine.ErrorCode(tt.err)) {
			t.Errorf("ErrorCode(%v) is not one of ErrorCodes", tt.err)
		}
	}

	// errors.Is and As see through an attached code.
	w := engine.WithCode("EIO", pathErr)
	var pe *os.PathError
	if !errors.Is(w, syscall.ENOENT) || !errors.As(w, &pe) || w.Error() != pathErr.Error() {
		t.Errorf("WithCode hides what it wraps: %v", w)
	}
	if engine.WithCode("EIO", nil) != nil {
		t.Error("WithCode(code, nil) is not nil")
	}
	for _, f := range []func(){
		func() { engine.WithCode("ENOPE", pathErr) },
		func() { engine.NewError("enoent", "x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("an unknown code did not panic")
				}
			}()
			f()
		}()
	}
}

// cyclic wraps itself: the walk must end.
type cyclic struct{ next error }

func (c *cyclic) Error() string { return "cycle" }
func (c *cyclic) Unwrap() error { return c.next }

func TestErrorCodeOfACycle(t *testing.T) {
	t.Parallel()
	c := &cyclic{}
	c.next = c
	if got := engine.ErrorCode(c); got != "EUNKNOWN" {
		t.Fatalf("ErrorCode of a cycle = %s", got)
	}
}

// TestErrorString: the form Lua gets: "CODE: text"; a script's text as it is; a text that
// starts with its code already does not get it twice.
func TestErrorString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("oops"), "EUNKNOWN: oops"},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, "ENOENT: open /x: no such file or directory"},
		{engine.ScriptError("not found"), "not found"},
		{engine.ScriptError("EBUSY: try later"), "EBUSY: try later"},
		{engine.ScriptError(""), ""},
		{engine.NewError("ETIMEDOUT", "ETIMEDOUT: already coded"), "ETIMEDOUT: already coded"},
		{engine.NewError("ETIMEDOUT", "ETIMEDOUT"), "ETIMEDOUT"},
		{engine.NewError("EPIPE", "ETIMEDOUT: another code"), "EPIPE: ETIMEDOUT: another code"},
	} {
		if got := engine.ErrorString(tt.err); got != tt.want {
			t.Errorf("ErrorString(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestParseErrorCode(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]string{
		"ENOENT: open /x: no such file or directory": "ENOENT",
		"ENOENT":                  "ENOENT",
		"ENOENT:":                 "ENOENT",
		"EAI_AGAIN: lookup x":     "EAI_AGAIN",
		"EUNKNOWN: oops":          "EUNKNOWN",
		"ENOENT : x":              "EUNKNOWN",
		"ENOENTS: x":              "EUNKNOWN",
		"enoent: x":               "EUNKNOWN",
		"ERROR: disk full":        "EUNKNOWN", // looks like one, is not in the set
		"EOF":                     "EUNKNOWN",
		"main.lua:3: ENOENT: x":   "EUNKNOWN", // error() put a position in front
		" ENOENT: x":              "EUNKNOWN",
		"":                        "EUNKNOWN",
		"E":                       "EUNKNOWN",
		"EABCDEFGHIJKLMNOPQRS: x": "EUNKNOWN",
		"no such file":            "EUNKNOWN",
	} {
		if got := engine.ParseErrorCode(s); got != want {
			t.Errorf("ParseErrorCode(%q) = %s, want %s", s, got, want)
		}
	}
	for _, c := range engine.ErrorCodes() {
		if got := engine.ParseErrorCode(c + ": x"); got != c {
			t.Errorf("ParseErrorCode(%q) = %s", c+": x", got)
		}
	}
	if codes := engine.ErrorCodes(); codes[len(codes)-1] != "EUNKNOWN" {
		t.Errorf("EUNKNOWN is not the last code: %v", codes)
	}
}

func init() {
	engine.Register(&engine.Module{
		Name: "testerrcode",
		Funcs: []engine.Function{
			// fail(code, text, cb?): the error from the pool, with code ("" none);
			// without cb in a runtime thread, an await.
			{Name: "fail", Fn: func(c *engine.Call) int {
				code, text := c.CheckString(1), c.CheckString(2)
				return engine.WorkerOf(c).AsyncCall(c, 3, func() engine.Completion {
					err := errors.New(text)
					if code != "" {
						err = engine.WithCode(code, err)
					}
					return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
				})
			}},
			// missing(path, cb?): os.Open of path, from the pool.
			{Name: "open", Fn: func(c *engine.Call) int {
				path := c.CheckString(1)
				return engine.WorkerOf(c).AsyncCall(c, 2, func() engine.Completion {
					f, err := os.Open(path)
					if err == nil {
						f.Close()
					}
					return func(w *engine.Worker, a *engine.Args) { a.Error(err) }
				})
			}},
			// now(text): nil, err at once (engine.ReturnError).
			{Name: "now", Fn: func(c *engine.Call) int {
				return engine.ReturnError(c, engine.NewError("ECLOSED", c.CheckString(1)))
			}},
		},
	})
}

// TestErrorCodesReachLua: the callback's err, an awaited call's nil, err and an error
// returned at once carry the code, and err_code reads it back; an error nobody receives
// is reported with it.
func TestErrorCodesReachLua(t *testing.T) {
	t.Parallel()
	res := enginetest.Run(t, `
local e = require "testerrcode"
e.fail("", "oops", function(err) print("callback:", err, err_code(err)) end)
local v, err = e.fail("EMSGSIZE", "too big")
print("await:", v, err, err_code(err))
v, err = e.open(__dirname__ .. "/missing")
print("open:", v, err_code(err), err == "ENOENT: open " .. __dirname__ .. "/missing: no such file or directory")
print("now:", e.now("gone"))
coroutine.wrap(function() e.fail("ETIMEDOUT", "nobody listens") end)()
local time = require "time"
time.sleep(20)
`)
	res.MustFail(t) // the error nobody received
	res.Contains(t, "callback:\tEUNKNOWN: oops\tEUNKNOWN\n",
		"await:\tnil\tEMSGSIZE: too big\tEMSGSIZE\n",
		"open:\tnil\tENOENT\ttrue\n",
		"now:\tnil\tECLOSED: gone\n")
	res.StderrContains(t, "uncaught error (no callback) at ", "main.lua:9: ETIMEDOUT: nobody listens")
	if strings.Contains(res.Stdout, "EUNKNOWN: EUNKNOWN") {
		t.Errorf("a code was given twice:\n%s", res.Stdout)
	}
}
