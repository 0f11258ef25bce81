package websocket_test

// Fuzz targets: FuzzServerFrames.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// fuzzScript echoes every message, and reports nothing: the fuzz checks that whatever a
// client sends after its handshake, the server goes on serving (a clean echo afterwards)
// and its engine logs no internal error.
const fuzzScript = `
local websocket = require "websocket"
websocket.create_server(arg[1], {max_message = 4096, read_timeout = 2}, function(conn)
  while true do
    local f = conn:read_frame()
    if not f or f.type == "close" then break end
    if not conn:write_frame(f.data, f.type) then break end
  end
  conn:close()
end):start()
`

// frame is a client frame: masked (with a zero mask, so payload bytes are as given).
func frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, 0, 0, 0, 0) // the mask
	return append(out, payload...)
}

func FuzzServerFrames(f *testing.F) {
	f.Add(frame(true, 1, []byte("hello")))
	f.Add(frame(true, 2, []byte{0, 255, 1, 254}))
	f.Add(frame(true, 1, []byte{0xff, 0xfe}))                                         // text not UTF-8
	f.Add(append(frame(false, 1, []byte("frag")), frame(true, 0, []byte("ment"))...)) // fragments
	f.Add(frame(true, 0, []byte("continuation first")))
	f.Add(frame(true, 9, []byte("ping")))
	f.Add(frame(true, 8, []byte{0x03, 0xe8, 'b', 'y', 'e'}))
	f.Add(frame(true, 8, []byte{0x03}))                                       // a close frame with half a code
	f.Add(frame(true, 3, []byte("reserved opcode")))                          // reserved opcode
	f.Add(frame(true, 1, bytes.Repeat([]byte("x"), 5000)))                    // over max_message
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // a length past 2^63
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})                        // unmasked from a client
	f.Add(frame(false, 9, []byte("fragmented ping")))
	f.Add([]byte{})

	path := filepath.Join(f.TempDir(), "fuzz.lua")
	if err := os.WriteFile(path, []byte(fuzzScript), 0o644); err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs drleetest.SyncBuffer
	e, err := engine.New(engine.Config{Script: path, Args: []string{addr}, Workers: 1,
		ShutdownTimeout: 5 * time.Second, Stdout: io.Discard, Stderr: &logs})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	dialWS(f, d, "ws://"+addr+"/", nil).Close()

	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		br := bufio.NewReader(c)
		status, err := br.ReadString('\n')
		if err != nil || !strings.Contains(status, " 101 ") {
			t.Fatalf("handshake: %q %v", status, err)
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		c.Write(in)
		// Then a close frame; whatever comes back, until the server closes (at once if
		// the input broke the protocol, after the close otherwise) or goes quiet (an
		// input that left a frame unfinished: read_timeout).
		c.Write(frame(true, 8, []byte{0x03, 0xe8}))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		io.Copy(io.Discard, br)

		// The server still serves.
		ok := dialWS(t, d, "ws://"+addr+"/", nil)
		defer ok.Close()
		ok.SetReadDeadline(time.Now().Add(5 * time.Second))
		ok.WriteMessage(websocket.TextMessage, []byte("still there"))
		if _, m, err := ok.ReadMessage(); err != nil || string(m) != "still there" {
			t.Fatalf("after %x the server does not echo: %q %v\n%s", in, m, err, logs.String())
		}
		if s := logs.String(); strings.Contains(s, "internal error") || strings.Contains(s, "panic") {
			t.Fatalf("after %x:\n%s", in, s)
		}
	})
}
