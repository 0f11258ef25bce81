// Command loadgen runs bench/loadgen once and prints its Result as one JSON
// line. The harness runs it as a process of its own, so it can be pinned to a
// core (taskset) like wrk and killed like any other process it starts.
//
// Usage: loadgen -addr 127.0.0.1:8080 -path /hello -c 64 -d 3s [-method POST -body '{...}']
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/drlee/drlee/bench/loadgen"
)

func main() {
	var cfg loadgen.Config
	var body string
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "server host:port")
	flag.StringVar(&cfg.Method, "method", "GET", "HTTP method")
	flag.StringVar(&cfg.Path, "path", "/", "request path")
	flag.StringVar(&body, "body", "", "request body (sent as application/json)")
	flag.IntVar(&cfg.Conns, "c", 64, "connections")
	flag.DurationVar(&cfg.Duration, "d", 3*time.Second, "duration")
	flag.Parse()
	if body != "" {
		cfg.Body = []byte(body)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}
