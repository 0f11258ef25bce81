package http_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/enginetest"
)

// reloadLua answers arg[2]; with arg[3], its main chunk waits that many milliseconds after
// the server started, before it ends (a generation slow to load).
const reloadLua = `
local http = require "http"
local time = require "time"
http.create_server(arg[1], function(req, res)
  res:write(arg[2])
  res:finish()
end):start()
if arg[3] then time.sleep(tonumber(arg[3])) end
`

// The server is the process's: a second engine of the process (a reload's new generation)
// joins the server the first serves, gets no request until it has loaded, and serves alone
// once the first has shut down; the listener never closes, and the clients on keep-alive
// connections see no failure. Once the process closes, the address is free.
func TestServerHandedOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "main.lua")
	if err := os.WriteFile(path, []byte(reloadLua), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	url := "http://" + addr + "/"
	p := engine.NewProcess()
	var stderr enginetest.SyncBuffer
	start := func(args ...string) (*engine.Engine, chan error) {
		e, err := engine.New(engine.Config{
			Script: path, Args: append([]string{addr}, args...), Workers: 2, Process: p,
			Stderr: &stderr, ShutdownTimeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- e.Run(context.Background()) }()
		return e, done
	}
	e1, done1 := start("one")
	<-e1.Ready()

	var mu sync.Mutex
	var failures []string
	bodies := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
			for {
				select {
				case <-stop:
					return
				default:
				}
				// POST: never retried by the transport, so a dropped connection shows.
				resp, err := c.Post(url, "text/plain", strings.NewReader("x"))
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != 200 {
					failures = append(failures, string(b)+" "+errString(err))
				} else {
					bodies[string(b)]++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// The second generation takes 300 ms to load: meanwhile the first answers everything.
	e2, done2 := start("two", "300")
	<-e2.Started()
	time.Sleep(150 * time.Millisecond)
	mu.Lock()
	early := bodies["two"]
	mu.Unlock()
	if early > 0 {
		t.Fatalf("%d requests answered by a generation still loading", early)
	}
	<-e2.Ready()
	if !drhttp.SameServer(e1, e2, addr) {
		t.Fatal("the second engine has a server of its own")
	}
	e1.Shutdown()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed, the first: %s\nstderr:\n%s", len(failures), failures[0], stderr.String())
	}
	if bodies["one"] == 0 || bodies["two"] == 0 || len(bodies) != 2 {
		t.Fatalf("responses %v", bodies)
	}
	e2.Shutdown()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	p.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the address is still taken after the process closed: %v", err)
	}
	ln.Close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
