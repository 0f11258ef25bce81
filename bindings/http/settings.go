package http

import (
	"flag"
	"fmt"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// Options are the HTTP server's settings: the flags of `drlee run`, or in a test
// Settings.Ptr(&cfg).HandlerTimeout = ... before the engine is made. They hold for every
// server of the engine.
type Options struct {
	HandlerTimeout time.Duration // a handler that has not finished by then gets 504
	MaxBodySize    int           // larger request bodies get 413
	ReadTimeout    time.Duration // to read a request from its first byte
	WriteTimeout   time.Duration // to write a response, or each write of a streamed one
	IdleTimeout    time.Duration // between keep-alive requests
}

// Settings are the engine's Options.
var Settings = engine.NewSetting("http", Options{
	HandlerTimeout: 60 * time.Second,
	MaxBodySize:    32 << 20,
	ReadTimeout:    30 * time.Second,
	WriteTimeout:   30 * time.Second,
	IdleTimeout:    120 * time.Second,
})

func flags(fs *flag.FlagSet, cfg *engine.Config) {
	o := Settings.Ptr(cfg)
	fs.DurationVar(&o.HandlerTimeout, "handler-timeout", o.HandlerTimeout, "HTTP: a handler that has not finished by then gets 504")
	fs.IntVar(&o.MaxBodySize, "max-body-size", o.MaxBodySize, "HTTP: largest request body accepted, in bytes (413 beyond)")
	fs.DurationVar(&o.ReadTimeout, "read-timeout", o.ReadTimeout, "HTTP: time to read a whole request")
	fs.DurationVar(&o.WriteTimeout, "write-timeout", o.WriteTimeout, "HTTP: time to write a response (each write of a streamed one)")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "HTTP: keep-alive connections idle longer are closed")
}

// configure checks the settings: every timeout positive, the body limit within what a Lua
// string holds.
func configure(cfg *engine.Config) error {
	o := Settings.Of(cfg)
	for _, t := range []struct {
		flag string
		d    time.Duration
	}{{"handler-timeout", o.HandlerTimeout}, {"read-timeout", o.ReadTimeout}, {"write-timeout", o.WriteTimeout}, {"idle-timeout", o.IdleTimeout}} {
		if t.d <= 0 {
			return fmt.Errorf("--%s must be positive, got %v", t.flag, t.d)
		}
	}
	if o.MaxBodySize < 1 || o.MaxBodySize > packed.MaxString {
		return fmt.Errorf("--max-body-size must be from 1 to %d bytes (the largest Lua string), got %d", packed.MaxString, o.MaxBodySize)
	}
	return nil
}
