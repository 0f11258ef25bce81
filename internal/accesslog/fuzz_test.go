package accesslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzLine: whatever a client sends (method, target, headers), a JSON line is one valid
// JSON object whose strings are what was sent (invalid UTF-8 replaced), and a combined
// line is one line of printable ASCII whose quoted fields cannot be closed early.
func FuzzLine(f *testing.F) {
	f.Add("GET", "/a?b", "curl", "")
	f.Add("G\"T", "/\n\r\x00", "\xff\xfe", "\"\\")
	f.Add("", "", "é\u2028", "\x7f")
	f.Fuzz(func(t *testing.T, method, uri, agent, referer string) {
		e := &Entry{
			Start: time.Unix(1700000000, 0), Remote: netip.MustParseAddrPort("127.0.0.1:1"),
			Method: []byte(method), URI: []byte(uri), Proto: []byte("HTTP/1.1"),
			UserAgent: []byte(agent), Referer: []byte(referer), Status: 200, Worker: 1,
		}
		line := appendJSON(nil, e, []byte("2023-11-14T22:13:20Z"))
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("JSON line not one line: %q", line)
		}
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if v["uri"] != string(bytes.ToValidUTF8([]byte(uri), []byte("\ufffd"))) && utf8.ValidString(uri) {
			t.Fatalf("uri %q came back %q", uri, v["uri"])
		}
		c := appendCombined(nil, e, []byte("14/Nov/2023:22:13:20 +0000"))
		if c[len(c)-1] != '\n' {
			t.Fatal("no newline")
		}
		body := c[:len(c)-1]
		for _, b := range body {
			if b < 0x20 || b >= 0x7f {
				t.Fatalf("combined line has byte %#x: %q", b, c)
			}
		}
		if n := bytes.Count(body, []byte(`"`)); n != 6 {
			t.Fatalf("combined line has %d quotes: %q", n, c)
		}
	})
}
