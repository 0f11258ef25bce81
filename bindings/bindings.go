// Package bindings links every Lua module of Dr.LEE into the binary.
//
// Each module lives in its own package (bindings/fs, bindings/http, ...) and registers
// itself with the engine from an init function, with its settings and its command-line
// flags (engine.Flags defines them all); importing this package is what makes them
// available to scripts.
package bindings

import (
	_ "github.com/drlee/drlee/bindings/core" // globals: print, log, env, uuid, helpers
	_ "github.com/drlee/drlee/bindings/fs"
	_ "github.com/drlee/drlee/bindings/http"      // require "http"
	_ "github.com/drlee/drlee/bindings/json"      // require "json", globals json_encode, json_decode
	_ "github.com/drlee/drlee/bindings/kv"        // require "kv"
	_ "github.com/drlee/drlee/bindings/metrics"   // require "metrics"
	_ "github.com/drlee/drlee/bindings/network"   // require "network"
	_ "github.com/drlee/drlee/bindings/redis"     // require "redis"
	_ "github.com/drlee/drlee/bindings/rpc"       // require "rpc"
	_ "github.com/drlee/drlee/bindings/shdict"    // require "shdict"
	_ "github.com/drlee/drlee/bindings/sql"       // require "sql"
	_ "github.com/drlee/drlee/bindings/time"      // require "time"
	_ "github.com/drlee/drlee/bindings/websocket" // require "websocket"
)
