package http

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// The snapshot's remote address is the text req.remote_addr has while the handler holds
// the request (net.Addr.String), for the addresses a server sees.
func TestSnapshotAddrAsString(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080},            // 16-byte form
		&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3).To4(), Port: 1},            // 4-byte form
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 65535},                 // IPv6
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"}, // with a zone
		&net.TCPAddr{IP: net.ParseIP("2001:db8::ff00:42:8329"), Port: 0},  // port 0
		&net.UnixAddr{Name: "/run/drlee.sock", Net: "unix"},               // not TCP
		&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 80},       // IPv4-mapped
	} {
		if got, want := string(appendAddr(nil, a)), a.String(); got != want {
			t.Errorf("appendAddr(%#v) = %q, want %q", a, got, want)
		}
	}
}

// A snapshot taken again into the same memory (the pooled request's next stream) holds the
// new request's fields, and reading it allocates nothing new.
func TestSnapshotReuse(t *testing.T) {
	var s snapshot
	take := func(raw string) {
		t.Helper()
		var req fasthttp.Request
		if err := req.Read(bufioReader(raw)); err != nil {
			t.Fatal(err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4242}, nil)
		s.take(&ctx, 2)
	}
	take("POST /first/path?q=1 HTTP/1.1\r\nHost: a.example\r\nX-Long: " + strings.Repeat("v", 500) + "\r\nContent-Length: 5\r\n\r\nhello")
	if s.method != "POST" || s.uri != "/first/path?q=1" || s.path != "/first/path" || s.remote != "127.0.0.1:4242" || string(s.body) != "llo" {
		t.Fatalf("first snapshot: %q %q %q %q %q", s.method, s.uri, s.path, s.remote, s.body)
	}
	if s.url != "http://a.example/first/path?q=1" {
		t.Fatalf("url %q", s.url)
	}
	s.reset()
	take("GET /b HTTP/1.1\r\nHost: b.example\r\nCookie: k=v\r\n\r\n")
	if s.method != "GET" || s.uri != "/b" || s.path != "/b" || s.url != "http://b.example/b" || s.body != nil {
		t.Fatalf("second snapshot: %q %q %q %q %q", s.method, s.uri, s.path, s.url, s.body)
	}
	var names []string
	for _, p := range s.headers {
		names = append(names, string(p[0])+"="+string(p[1]))
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "Host=b.example") || !strings.Contains(got, "Cookie=k=v") || strings.Contains(got, "X-Long") {
		t.Fatalf("second snapshot's headers: %s", got)
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

// appendAddr formats any TCP address as net.TCPAddr.String does.
func FuzzAppendAddr(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1}, uint16(8080), "")
	f.Add([]byte(net.ParseIP("::ffff:10.0.0.1")), uint16(0), "")
	f.Add([]byte(net.ParseIP("fe80::1")), uint16(443), "eth0")
	f.Add([]byte{1, 2, 3}, uint16(1), "") // not an IP: net prints "?"
	f.Fuzz(func(t *testing.T, ip []byte, port uint16, zone string) {
		a := &net.TCPAddr{IP: ip, Port: int(port), Zone: zone}
		if len(ip) != 4 && len(ip) != 16 {
			return // a TCP connection's address is always one or the other
		}
		if len(ip) == 4 || net.IP(ip).To4() != nil {
			a.Zone = "" // IPv4 has no zone; net would print one netip drops
		}
		if got, want := string(appendAddr(nil, a)), a.String(); got != want {
			t.Fatalf("appendAddr(%v, %d, %q) = %q, want %q", ip, port, zone, got, want)
		}
	})
}
