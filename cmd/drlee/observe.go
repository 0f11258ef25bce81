package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/accesslog"
	"github.com/drlee/drlee/internal/observe"
)

// observeFlags are --access-log, --access-log-format and --metrics (package observe).
type observeFlags struct {
	accessLog, accessLogFormat, metrics string
	log                                 *accesslog.Log
	server                              *observe.Server
}

func (o *observeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.accessLog, "access-log", "", "HTTP access log: a file to append to, - for stdout; off when empty")
	fs.StringVar(&o.accessLogFormat, "access-log-format", "combined", "access log lines: combined (Apache/nginx, plus duration and worker) or json")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9100); off when empty")
}

// start opens the access log and the metrics listener, owned by the process p (they
// outlive a reload's generations), before the first generation runs. On SIGUSR1 the
// access log is reopened (for logrotate).
func (o *observeFlags) start(p *engine.Process, workers int, stdout io.Writer) error {
	if o.accessLog != "" {
		f, err := accesslog.ParseFormat(o.accessLogFormat)
		if err != nil {
			return err
		}
		l, err := accesslog.Open(o.accessLog, stdout, f, workers)
		if err != nil {
			return err
		}
		o.log = l
		if err := l.Start(p); err != nil {
			return err
		}
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		stop := make(chan struct{})
		p.OnClose(func() { signal.Stop(usr1); close(stop) })
		p.Go("accesslog: SIGUSR1", func() {
			for {
				select {
				case <-usr1:
					l.Reopen()
				case <-stop:
					return
				}
			}
		})
	} else if o.accessLogFormat != "combined" {
		if _, err := accesslog.ParseFormat(o.accessLogFormat); err != nil {
			return err
		}
	}
	if o.metrics != "" {
		srv, err := observe.Listen(p, o.metrics)
		if err != nil {
			return err
		}
		o.server = srv
	}
	return nil
}

// attach gives generation e the access log and, when metrics are on, its counting; call
// it before e runs.
func (o *observeFlags) attach(e *engine.Engine) {
	if o.log != nil {
		observe.Of(e).SetAccessLog(o.log)
	}
	if o.server != nil {
		observe.Of(e).CountMetrics()
	}
}

// serve makes e the generation whose numbers /metrics shows.
func (o *observeFlags) serve(e *engine.Engine) {
	if o.server != nil {
		o.server.Use(e)
	}
}

// close writes the access log's last lines, once the process's goroutines have stopped.
func (o *observeFlags) close(stderr io.Writer) {
	if o.log != nil {
		if err := o.log.Close(); err != nil {
			fmt.Fprintf(stderr, "drlee: access log: %v\n", err)
		}
	}
}
