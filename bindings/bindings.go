// Package bindings links every Lua module of Dr.LEE into the binary and defines the
// command-line flags that configure them.
//
// Each module lives in its own package (bindings/fs, bindings/http, ...) and registers
// itself with the engine from an init function; importing this package is what makes them
// available to scripts.
package bindings

import (
	"flag"
	"strings"
	"time"

	_ "github.com/drlee/drlee/bindings/core" // globals: print, log, env, uuid, helpers
	_ "github.com/drlee/drlee/bindings/fs"
	_ "github.com/drlee/drlee/bindings/http" // require "http"
	_ "github.com/drlee/drlee/bindings/json" // require "json", globals json_encode, json_decode
	_ "github.com/drlee/drlee/bindings/rpc"  // require "rpc"
	_ "github.com/drlee/drlee/bindings/time" // require "time"
)

// Flags defines the bindings' flags on fs and returns a function that collects their
// values into engine.Config.Options after parsing.
func Flags(fs *flag.FlagSet) func() map[string]any {
	handlerTimeout := fs.Duration("handler-timeout", 60*time.Second, "HTTP: a handler that has not finished by then gets 504")
	maxBody := fs.Int("max-body-size", 32<<20, "HTTP: largest request body accepted, in bytes (413 beyond)")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "HTTP: time to read a whole request")
	writeTimeout := fs.Duration("write-timeout", 30*time.Second, "HTTP: time to write a response (not applied to streamed responses)")
	idleTimeout := fs.Duration("idle-timeout", 120*time.Second, "HTTP: keep-alive connections idle longer are closed")
	cluster := fs.String("cluster", "", "listen for cluster routes on host:port (embedded NATS)")
	join := fs.String("join", "", "comma-separated host:port routes of cluster peers to join")
	natsURL := fs.String("nats", "", "use an existing NATS cluster (nats://host:4222) instead of the embedded server")
	return func() map[string]any {
		var peers []string
		for _, p := range strings.Split(*join, ",") {
			if p = strings.TrimSpace(p); p != "" {
				peers = append(peers, p)
			}
		}
		return map[string]any{
			"http.handler_timeout": *handlerTimeout,
			"http.max_body_size":   *maxBody,
			"http.read_timeout":    *readTimeout,
			"http.write_timeout":   *writeTimeout,
			"http.idle_timeout":    *idleTimeout,
			"cluster.addr":         *cluster,
			"cluster.join":         peers,
			"cluster.nats":         *natsURL,
		}
	}
}
