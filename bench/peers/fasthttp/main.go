// Command fasthttp is the baseline peer: each bench scenario written natively
// in Go on a raw fasthttp server. Every other server is reported as a ratio
// to it. GOMAXPROCS is whatever the harness sets in the environment.
//
// The data scenarios talk to the servers the harness started: redis-get with go-redis
// (one client, a pool of -redis-pool connections), pg-select with pgx's pool (-pg-pool
// connections), each handler blocking its goroutine on the round trip, as Go code does.
//
// Usage: fasthttp -addr 127.0.0.1:8080 [-redis URI -redis-pool N] [-pg URI -pg-pool N]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bench/scenario"
)

var chunk = []byte(strings.Repeat("x", scenario.StreamChunkSize))

// The data servers' clients; nil when the harness gave no address.
var (
	rdb *goredis.Client
	pg  *pgxpool.Pool
)

func handler(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) { // the compiler does not allocate for a switch on string(bytes)
	case "/hello", "/hello-cb": // no callbacks here: the same work
		ctx.SetContentType("text/plain")
		ctx.SetBodyString(scenario.HelloBody)
	case "/json":
		var in scenario.JSONIn
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(scenario.JSONOut{OK: true, ID: in.ID, Name: in.Name, Count: len(in.Tags)})
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	case "/timer":
		time.Sleep(time.Millisecond)
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok")
	case "/cpu":
		ctx.SetContentType("text/plain")
		ctx.SetBody(strconv.AppendInt(nil, scenario.CPUSum(), 10))
	case "/stream64k":
		ctx.SetContentType("application/octet-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for range scenario.StreamChunks {
				w.Write(chunk)
				if w.Flush() != nil {
					return
				}
			}
		})
	case "/redis-get":
		if rdb == nil {
			ctx.Error("no -redis given", fasthttp.StatusInternalServerError)
			return
		}
		v, err := rdb.Get(ctx, scenario.RedisKey).Bytes()
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
			return
		}
		ctx.SetContentType("text/plain")
		ctx.SetBody(v)
	case "/pg-select":
		if pg == nil {
			ctx.Error("no -pg given", fasthttp.StatusInternalServerError)
			return
		}
		var row scenario.PGRow
		if err := pg.QueryRow(ctx, scenario.PGQuery, scenario.PGID).Scan(&row.ID, &row.Name, &row.Qty); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
			return
		}
		out, _ := json.Marshal(row)
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	default:
		ctx.NotFound()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	redisURI := flag.String("redis", "", "Redis URI for redis-get (redis://host:port/db)")
	redisPool := flag.Int("redis-pool", scenario.RedisPoolSize, "Redis connections at most (1-10000)")
	pgURI := flag.String("pg", "", "PostgreSQL URI for pg-select")
	pgPool := flag.Int("pg-pool", scenario.PGPoolPerCore, "PostgreSQL connections at most (1-1000)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM or SIGINT (to compare with DRLEE_CPUPROFILE of bin/drlee)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	if *redisPool < 1 || *redisPool > 10000 {
		log.Fatalf("-redis-pool %d: want 1 to 10000", *redisPool)
	}
	if *pgPool < 1 || *pgPool > 1000 {
		log.Fatalf("-pg-pool %d: want 1 to 1000", *pgPool)
	}
	if *redisURI != "" {
		opt, err := goredis.ParseURL(*redisURI)
		if err != nil {
			log.Fatalf("-redis: %v", err)
		}
		// RESP2 and no retries, as Dr.LEE's redis module runs go-redis.
		opt.Protocol, opt.PoolSize, opt.MaxRetries = 2, *redisPool, -1
		opt.DisableIdentity = true
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		rdb = goredis.NewClient(opt)
		defer rdb.Close()
	}
	if *pgURI != "" {
		cfg, err := pgxpool.ParseConfig(*pgURI)
		if err != nil {
			log.Fatalf("-pg: %v", err)
		}
		cfg.MaxConns = int32(*pgPool)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		pg, err = pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pg.Ping(ctx) // a wrong address fails here, before the harness loads us
		}
		cancel()
		if err != nil {
			log.Fatalf("-pg: %v", err)
		}
		defer pg.Close()
	}
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp"}
	log.Fatal(s.ListenAndServe(*addr))
}
