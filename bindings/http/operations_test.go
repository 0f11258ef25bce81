package http_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/internal/drleetest"
)

// TestManyOperationsPerRequestAreNotShed: handlers that start many operations of their own
// (here each reads 300 files at once) fill the worker's queue with completions, which never
// count against the bound on new requests: every request gets its 200. They used to: a
// handler reading 1000 files at 16 connections made 498 of 554 responses 503.
func TestManyOperationsPerRequestAreNotShed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const files = 300
	for i := 0; i < files; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, fmt.Sprintf(`
local http, fs = require "http", require "fs"
local dir, files = %q, %d
http.create_server(arg[1], function(req, res)
  local left, bytes = files, 0
  for i = 0, files - 1 do
    fs.readfile(dir .. "/f" .. i, function(err, data)
      assert(not err, err)
      bytes, left = bytes + #data, left - 1
      if left == 0 then res:write(tostring(bytes)); res:finish() end
    end)
  end
end):start()
`, dir, files), drleetest.Options{QueueSize: 64})

	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				resp, err := http.Get(srv.url)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
				if resp.StatusCode == 200 && string(body) != fmt.Sprint(files) {
					t.Errorf("body %q, want %d", body, files)
				}
			}
		}()
	}
	wg.Wait()
	if codes[200] != 40 {
		t.Fatalf("status codes %v, want 40 of 200 (queue bound 64, each request queues %d completions)", codes, files)
	}
}

// TestPanicInTheConnectionGoroutineIs500: fasthttp does not recover a handler's panic; a
// Go panic in ours (a bug: here a broken worker list) answers 500, is logged with its
// stack, and the server goes on serving.
func TestPanicInTheConnectionGoroutineIs500(t *testing.T) {
	t.Parallel()
	srv := startServer(t, `
require("http").create_server(arg[1], function(req, res) res:write("ok"); res:finish() end):start()
`, drleetest.Options{})
	if err := drhttp.InjectBrokenWorker(srv.eng(t), srv.addr); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for i := 0; i < 20; i++ {
		resp, err := http.Get(srv.url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[500] == 0 || codes[200] == 0 || codes[500]+codes[200] != 20 {
		t.Fatalf("status codes %v, want both 200s and 500s (the broken worker is picked every other time)", codes)
	}
	res := srv.stop(t)
	if !strings.Contains(res.Stderr, "internal error in the HTTP server on "+srv.addr) || !strings.Contains(res.Stderr, "goroutine ") {
		t.Fatalf("the panic was not logged with its stack:\n%s", res.Stderr)
	}
}

// TestEnginesShareNoServer: two engines of one process are apart. A second engine that
// starts a server on the address of the first one's gets the address-in-use error, as a
// second process would; it used to join the first one's listener (a process-wide map by
// address), and answer its requests with its own handler.
func TestEnginesShareNoServer(t *testing.T) {
	t.Parallel()
	first := startServer(t, `
require("http").create_server(arg[1], function(req, res) res:write("first"); res:finish() end):start()
`, drleetest.Options{})
	second := drleetest.Run(t, `
require("http").create_server(arg[1], function(req, res) res:write("second"); res:finish() end):start(function(err)
  print("start:", err)
end)
`, drleetest.Options{Args: []string{first.addr}})
	second.Contains(t, "start:\tEADDRINUSE: listen tcp "+first.addr+": bind: address already in use")
	resp, err := http.Get(first.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "first" {
		t.Fatalf("the first engine's server answered %q", body)
	}
}
