package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// A streamed response as the stream64k scenario of make bench sends it: 64 KB as 16 chunks
// of 4 KB, each flushed to the client before the next is written, through the engine and
// from a plain fasthttp handler doing the same (SetBodyStreamWriter, a Flush per chunk),
// driven by the same client. server-allocs/op is every Go allocation in the process per
// response.
//
//	go test -tags luajit -run '^$' -bench 'Stream64k' -benchtime 3s ./bindings/http/

const (
	streamChunk  = 4096
	streamChunks = 16
)

// stream64kScript is bench/scenarios/stream64k.lua with the address as arg[1].
var stream64kScript = fmt.Sprintf(`
local http = require "http"
local chunk = string.rep("x", %d)
local server = http.create_server(arg[1], function(req, res)
  res:set("Content-Type", "application/octet-stream")
  local n = 0
  local function next_chunk(err)
    if err then return end
    n = n + 1
    if n > %d then
      res:finish()
      return
    end
    res:write(chunk)
    res:flush(next_chunk)
  end
  next_chunk()
end)
server:start(function(err) if err then error(err) end end)
`, streamChunk, streamChunks)

func BenchmarkServerStream64k(b *testing.B) {
	driveStream(b, startBenchEngine(b, stream64kScript, false))
}

func BenchmarkRawFasthttpStream64k(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), streamChunk)
	srv := &fasthttp.Server{
		Name: "drlee",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/octet-stream")
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
				for range streamChunks {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					if err := w.Flush(); err != nil {
						return
					}
				}
			})
		},
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	driveStream(b, ln.Addr().String())
}

// driveStream sends requests on keep-alive connections from b.RunParallel and reads each
// chunked response whole, checking its body's length; server-allocs/op is per response.
func driveStream(b *testing.B, addr string) {
	b.Helper()
	b.SetBytes(streamChunk * streamChunks)
	driveConns(b, addr, func(c net.Conn) roundTripper { return &streamConn{c: c, buf: make([]byte, 128<<10)} })
}

// streamConn is one keep-alive client connection; a round trip allocates nothing.
type streamConn struct {
	c   net.Conn
	buf []byte
}

var (
	chunkedHeader = []byte("\r\nTransfer-Encoding: chunked\r\n")
	lastChunk     = []byte("\r\n0\r\n\r\n")
)

// roundTrip reads until the last chunk, then decodes the chunk sizes in place and checks
// they add up to the body sent.
func (s *streamConn) roundTrip() error {
	if _, err := s.c.Write(helloRequest); err != nil {
		return err
	}
	n := 0
	for n < len(lastChunk) || !bytes.HasSuffix(s.buf[:n], lastChunk) {
		if n == len(s.buf) {
			return fmt.Errorf("%w: response over %d bytes", errBadResponse, n)
		}
		m, err := s.c.Read(s.buf[n:])
		if err != nil {
			return err
		}
		n += m
	}
	end := bytes.Index(s.buf[:n], crlfcrlf)
	if end < 0 || !bytes.HasPrefix(s.buf, status200) || !bytes.Contains(s.buf[:end+2], chunkedHeader) {
		return fmt.Errorf("%w: %q", errBadResponse, s.buf[:min(n, 200)])
	}
	body, total := s.buf[end+4:n], 0
	for {
		size, i := 0, 0
		for ; i < len(body) && body[i] != '\r'; i++ {
			d := body[i]
			switch {
			case d >= '0' && d <= '9':
				size = size*16 + int(d-'0')
			case d >= 'a' && d <= 'f':
				size = size*16 + int(d-'a'+10)
			case d >= 'A' && d <= 'F':
				size = size*16 + int(d-'A'+10)
			default:
				return fmt.Errorf("%w: chunk size %q", errBadResponse, body[:i+1])
			}
		}
		if size == 0 {
			break
		}
		total += size
		if i+2+size+2 > len(body) {
			return fmt.Errorf("%w: short chunk", errBadResponse)
		}
		body = body[i+2+size+2:]
	}
	if total != streamChunk*streamChunks {
		return fmt.Errorf("%w: body of %d bytes", errBadResponse, total)
	}
	return nil
}
