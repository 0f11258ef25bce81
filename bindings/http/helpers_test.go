package http_test

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	drhttp "github.com/drlee/drlee/bindings/http"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

// The request and response helpers (helpers.go, query.go, cookies.go, form.go,
// sendfile.go) against a real server over real sockets, with real files.

//go:embed testdata/helpers.lua
var helpersScript string

//go:embed testdata/helpers_odd.lua
var helpersOddScript string

type helperServer struct {
	*running
	files, outside string
	c              *http.Client
}

const smallText = "hello file\n"

// startHelpers writes the files the script serves and starts testdata/helpers.lua.
func startHelpers(t *testing.T, o drleetest.Options) *helperServer {
	t.Helper()
	files, outside := t.TempDir(), t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(files, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("small.txt", smallText)
	write("page.html", "<p>page</p>")
	write("data.json", `{"a":1}`)
	write("noext", "raw")
	write("empty.txt", "")
	write("a b.txt", "spaced")
	write("index.html", "root index")
	write("docs/index.html", "docs index")
	write("docs/a.css", "body{}")
	write("root/x.txt", "under root")
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(files, filepath.Join(outside, "secret.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{
		{filepath.Join(outside, "secret.txt"), "out"}, // absolute, out of the directory
		{rel, "out_rel"},                              // relative, out of it
		{"small.txt", "in_rel"},                       // relative, inside
		{filepath.Join(files, "small.txt"), "in_abs"}, // absolute, pointing inside
		{"docs", "docs_link"},                         // a directory inside
		{outside, "outdir"},                           // a directory outside
	} {
		if err := os.Symlink(l[0], filepath.Join(files, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(files, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Args = append([]string{files, outside}, o.Args...)
	s := &helperServer{running: startServer(t, helpersScript, o), files: files, outside: outside}
	s.c = newClient()
	s.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(s.c.CloseIdleConnections)
	// The port accepts connections a moment before the worker joins its listener (503
	// then): wait for an answer.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if r := s.get(t, "/sent?tag=probe"); r.status == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the server answers %d", r.status)
		}
	}
	return s
}

func (s *helperServer) do(t *testing.T, method, path string, body []byte, hdr ...string) response {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return do(t, s.c, method, s.url+path, body, h)
}

func (s *helperServer) get(t *testing.T, path string, hdr ...string) response {
	t.Helper()
	return s.do(t, "GET", path, nil, hdr...)
}

// jsonOf decodes a JSON response into a generic value.
func jsonOf(t *testing.T, r response) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return v
}

// rawGet sends a request line as it is (no client clean-up of the target) and reads the
// response.
func rawGet(t *testing.T, addr, target string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	resp := rawRequest(t, addr, req+"\r\n")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

func TestHelpersQuery(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	many := []string{}
	want := map[string]any{}
	for i := 0; i < 20; i++ {
		many = append(many, fmt.Sprintf("k%d=%d", i, i))
		want[fmt.Sprintf("k%d", i)] = strconv.Itoa(i)
	}
	many = append(many, "k3=again", "k19=last")
	want["k3"] = []any{"3", "again"}
	want["k19"] = []any{"19", "last"}
	for _, tc := range []struct {
		query string
		want  map[string]any
	}{
		{"", map[string]any{}},
		{"?", map[string]any{}},
		{"?a=1&b=2", map[string]any{"a": "1", "b": "2"}},
		{"?a=1&a=2&b=3&a=4", map[string]any{"a": []any{"1", "2", "4"}, "b": "3"}},
		{"?flag", map[string]any{"flag": ""}},
		{"?flag&flag=", map[string]any{"flag": []any{"", ""}}},
		{"?=x", map[string]any{"": "x"}},
		{"?a=b=c", map[string]any{"a": "b=c"}},
		{"?&&a=1&&", map[string]any{"a": "1"}},
		{"?a=1;b=2", map[string]any{"a": "1;b=2"}},
		{"?a=%41%zz%4&b=+x+&c=%2B&d=%&e=%%41", map[string]any{"a": "A%zz%4", "b": " x ", "c": "+", "d": "%", "e": "%A"}},
		{"?k%20y=v%26w&%3D=%3d", map[string]any{"k y": "v&w", "=": "="}},
		{"?%E2%82%AC=euro&e=%e2%82%ac", map[string]any{"€": "euro", "e": "€"}},
		{"?a=%00", map[string]any{"a": "\x00"}},
		{"?" + strings.Join(many, "&"), want},
	} {
		r := s.get(t, "/query"+tc.query)
		wantStatus(t, r, 200)
		if got := jsonOf(t, r); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.query, got, tc.want)
		}
	}
	// Bytes that are not UTF-8 come through as they are.
	r := s.get(t, "/query-hex?%ff=%fe%00&x=%c3%28&x=1")
	if want := "78=c328,31;ff=fe00"; string(r.body) != want {
		t.Errorf("query-hex: %q, want %q", r.body, want)
	}
	// The absolute form of the target: the query is the same.
	code, _, body := rawGet(t, s.addr, "http://example.org/query?a=1&a=2")
	if code != 200 || body != `{"a":["1","2"]}` {
		t.Errorf("absolute form: %d %q", code, body)
	}
	// Once the response streams, req.query is read from the request's snapshot.
	r = s.get(t, "/query-stream?x=1&y=2&x=3")
	var got map[string]any
	if err := json.Unmarshal(bytes.Trim(r.body, "[]"), &got); err != nil || !reflect.DeepEqual(got, map[string]any{"x": []any{"1", "3"}, "y": "2"}) {
		t.Errorf("query-stream: %q (%v)", r.body, err)
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersCookie(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	for _, tc := range []struct {
		cookies []string
		name    string
		want    any // nil for no cookie
	}{
		{[]string{"a=1; b=2"}, "b", "2"},
		{[]string{"a=1; b=2"}, "a", "1"},
		{[]string{" a = 1 ;b=\"quoted\";c=x=y"}, "b", "quoted"},
		{[]string{" a = 1 ;b=\"quoted\";c=x=y"}, "a", "1"},
		{[]string{" a = 1 ;b=\"quoted\";c=x=y"}, "c", "x=y"},
		{[]string{"a=1; a=2"}, "a", "1"},
		{[]string{"x; y=1"}, "x", nil},
		{[]string{"A=1"}, "a", nil},
		{[]string{"a="}, "a", ""},
		{[]string{"a=1"}, "b", nil},
		{nil, "a", nil},
		{[]string{"a=1", "b=2"}, "b", "2"},
		{[]string{"sid=%41%20b"}, "sid", "%41%20b"}, // not decoded
		{[]string{";;; ;a=1;"}, "a", "1"},
	} {
		var hdr []string
		for _, c := range tc.cookies {
			hdr = append(hdr, "Cookie", c)
		}
		r := s.get(t, "/cookie?name="+tc.name, hdr...)
		wantStatus(t, r, 200)
		if got := jsonOf(t, r)["value"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Cookie %q, cookie(%q): %#v, want %#v", tc.cookies, tc.name, got, tc.want)
		}
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersJSONBody(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{Configure: func(c *engine.Config) {
		drhttp.Settings.Ptr(c).MaxBodySize = 4096
	}})
	for _, path := range []string{"/json", "/json-await"} {
		r := s.do(t, "POST", path, []byte(`{"a":[1,2],"n":null,"s":"x"}`))
		wantStatus(t, r, 200)
		if got, want := jsonOf(t, r)["got"], (map[string]any{"a": []any{1.0, 2.0}, "n": nil, "s": "x"}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
		r = s.do(t, "POST", path, []byte(`{bad`))
		wantStatus(t, r, 400)
		if e, _ := jsonOf(t, r)["error"].(string); !strings.Contains(e, "req:json: invalid JSON at offset 1") {
			t.Errorf("%s, bad JSON: error %q", path, e)
		}
		r = s.do(t, "POST", path, nil)
		wantStatus(t, r, 400)
		if e, _ := jsonOf(t, r)["error"].(string); !strings.Contains(e, "the request has no body") {
			t.Errorf("%s, no body: error %q", path, e)
		}
		// Over --max-body-size: the server answers 413 before any handler runs.
		r = s.do(t, "POST", path, bytes.Repeat([]byte(" "), 5000))
		wantStatus(t, r, 413)
		// Deeper than JSON may nest.
		r = s.do(t, "POST", path, []byte(strings.Repeat("[", 300)+strings.Repeat("]", 300)))
		wantStatus(t, r, 400)
		if e, _ := jsonOf(t, r)["error"].(string); !strings.Contains(e, "nesting too deep") {
			t.Errorf("%s, deep: error %q", path, e)
		}
	}
	r := s.do(t, "POST", "/json-await", []byte(" null "))
	if got := jsonOf(t, r); got["null"] != true {
		t.Errorf("null body: %s", r.body)
	}
	r = s.do(t, "POST", "/json-twice", []byte(`[1]`))
	got := jsonOf(t, r)
	if e, _ := got["err"].(string); !reflect.DeepEqual(got["got"], []any{1.0}) || got["again"] != true || !strings.Contains(e, "no body") {
		t.Errorf("json twice: %s", r.body)
	}
	s.stop(t).MustSucceed(t)
}

// uploads lists the temporary files of uploads there are now.
func uploads(t *testing.T) map[string]bool {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "drlee-upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, p := range m {
		set[p] = true
	}
	return set
}

type part struct {
	name, filename, ctype, body string
}

func multipartBody(t *testing.T, parts []part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// Uploads are temporary files: there while the handler runs, gone once the request ended.
// Not parallel: it counts the temporary files of uploads there are.
func TestHelpersForm(t *testing.T) {
	s := startHelpers(t, drleetest.Options{})
	before := uploads(t)
	form := "application/x-www-form-urlencoded"
	for _, path := range []string{"/form", "/form-await"} {
		r := s.do(t, "POST", path, []byte("a=1&b=x+y&a=2&c=%E2%82%AC"), "Content-Type", form)
		wantStatus(t, r, 200)
		if got, want := jsonOf(t, r)["form"], (map[string]any{"a": []any{"1", "2"}, "b": "x y", "c": "€"}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s urlencoded: %v, want %v", path, got, want)
		}
		r = s.do(t, "POST", path, nil, "Content-Type", form+"; charset=utf-8")
		if got := jsonOf(t, r)["form"]; !reflect.DeepEqual(got, map[string]any{}) {
			t.Errorf("%s empty urlencoded: %s", path, r.body)
		}

		body, ct := multipartBody(t, []part{
			{name: "title", body: "hello"},
			{name: "doc", filename: "a.txt", ctype: "text/plain", body: "first file"},
			{name: "doc", filename: "../../etc/b.bin", body: "\x00\x01second"},
			{name: "title", body: "again"},
			{name: "one", filename: "one.json", ctype: "application/json", body: `{"x":1}`},
			{name: "empty", filename: "e", body: ""},
		})
		r = s.do(t, "POST", path, body, "Content-Type", ct)
		wantStatus(t, r, 200)
		got := jsonOf(t, r)["form"].(map[string]any)
		if !reflect.DeepEqual(got["title"], []any{"hello", "again"}) {
			t.Errorf("%s: title %v", path, got["title"])
		}
		var paths []string
		check := func(v any, filename, ctype, content string) {
			t.Helper()
			f, _ := v.(map[string]any)
			p, _ := f["path"].(string)
			paths = append(paths, p)
			if f["filename"] != filename || f["content_type"] != ctype || f["size"] != float64(len(content)) ||
				f["exists"] != true || f["body"] != content || !strings.HasPrefix(filepath.Base(p), "drlee-upload-") {
				t.Errorf("%s: file %v, want %q %q %q", path, v, filename, ctype, content)
			}
		}
		docs, _ := got["doc"].([]any)
		if len(docs) != 2 {
			t.Fatalf("%s: doc %v", path, got["doc"])
		}
		check(docs[0], "a.txt", "text/plain", "first file")
		check(docs[1], "b.bin", "application/octet-stream", "\x00\x01second") // the base name only
		check(got["one"], "one.json", "application/json", `{"x":1}`)
		check(got["empty"], "e", "application/octet-stream", "")
		// The request has ended once its response is out and nothing of its handler is left:
		// the files go then.
		deadline := time.Now().Add(5 * time.Second)
		for _, p := range paths {
			for {
				if _, err := os.Stat(p); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: upload %s still there", path, p)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}

	// Limits and errors: an error, and no file left behind.
	body, ct := multipartBody(t, []part{
		{name: "f", filename: "a", body: "0123456789"},
		{name: "g", filename: "b", body: "0123456789abc"},
	})
	for _, tc := range []struct{ query, want string }{
		{"size=10", `file "b" of field "g" is larger than 10 bytes (options.max_file_size)`},
		{"files=1", "more than 1 files (options.max_files)"},
		{"fields=1", "more than 1 fields (options.max_fields)"},
	} {
		r := s.do(t, "POST", "/form-limits?"+tc.query, body, "Content-Type", ct)
		wantStatus(t, r, 400)
		if e, _ := jsonOf(t, r)["error"].(string); !strings.Contains(e, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.query, e, tc.want)
		}
	}
	r := s.do(t, "POST", "/form-limits?size=13&files=2&fields=2", body, "Content-Type", ct)
	wantStatus(t, r, 200)
	r = s.do(t, "POST", "/form-limits?fields=2", []byte("a=1&b=2&c=3"), "Content-Type", form)
	if e, _ := jsonOf(t, r)["error"].(string); r.status != 400 || !strings.Contains(e, "more than 2 fields") {
		t.Errorf("urlencoded max_fields: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ ctype, body, want string }{
		{"", "a=1", "the request has no Content-Type"},
		{"text/plain", "a=1", `the body is "text/plain", not a form`},
		{"multipart/form-data", "x", "without a boundary"},
		{"multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "malformed multipart body"},
		{"multipart/form-data; boundary=zz", "no parts at all", "malformed multipart body"},
	} {
		var hdr []string
		if tc.ctype != "" {
			hdr = []string{"Content-Type", tc.ctype}
		}
		r := s.do(t, "POST", "/form", []byte(tc.body), hdr...)
		if e, _ := jsonOf(t, r)["error"].(string); r.status != 400 || !strings.Contains(e, tc.want) {
			t.Errorf("Content-Type %q: %d %s, want %q", tc.ctype, r.status, r.body, tc.want)
		}
	}
	time.Sleep(50 * time.Millisecond) // removals on the pool
	for p := range uploads(t) {
		if !before[p] {
			t.Errorf("upload %s left behind", p)
		}
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersRedirect(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	for _, tc := range []struct {
		query, location string
		status          int
	}{
		{"to=/x", "/x", 302},
		{"to=/x&status=301", "/x", 301},
		{"to=/x&status=303", "/x", 303},
		{"to=/x&status=307", "/x", 307},
		{"to=/x&status=308", "/x", 308},
		{"to=https%3A%2F%2Fexample.org%2Fa%3Fb%3Dc", "https://example.org/a?b=c", 302},
		{"to=%C3%A9t%C3%A9", "été", 302},
	} {
		r := s.get(t, "/redirect?"+tc.query)
		if r.status != tc.status || r.header.Get("Location") != tc.location || len(r.body) != 0 {
			t.Errorf("%s: %d Location %q body %q, want %d %q", tc.query, r.status, r.header.Get("Location"), r.body, tc.status, tc.location)
		}
	}
	r := s.get(t, "/redirect-bad")
	wantStatus(t, r, 200)
	got := jsonOf(t, r)
	for k, want := range map[string]string{
		"crlf":         "bad argument #1 to 'httpResponseWriter:redirect' (redirect URL must not contain control characters",
		"lf":           "redirect URL must not contain control characters",
		"nul":          "redirect URL must not contain control characters",
		"space":        "redirect URL must not contain control characters",
		"empty":        "redirect URL must not be empty",
		"status 300":   "bad argument #2 to 'httpResponseWriter:redirect' (redirect status must be 301, 302, 303, 307 or 308, got 300)",
		"status 304":   "got 304",
		"status 200":   "got 200",
		"status 399":   "got 399",
		"status nan":   "got nan",
		"status 302.5": "got 302.5",
	} {
		if v, _ := got[k].(string); !strings.Contains(v, want) {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersSetCookie(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	r := s.get(t, "/set-cookie")
	wantStatus(t, r, 200)
	want := []string{
		"a=1; Path=/",
		"b=two; Path=/p; Domain=example.org; Max-Age=60; Secure; HttpOnly; SameSite=Lax",
		"c=; Path=/; Max-Age=0",
		"d=x; Path=/; Expires=Tue, 14 Nov 2023 22:13:20 GMT",
		"e=y; Path=/; Expires=Tue, 14 Nov 2023 22:13:20 GMT",
		"a=again; Path=/other",
	}
	if got := r.header.Values("Set-Cookie"); !reflect.DeepEqual(got, want) {
		t.Errorf("Set-Cookie:\n%q\nwant\n%q", got, want)
	}
	got := jsonOf(t, r)
	for k, want := range map[string]string{
		"name space":              "bad argument #1 to 'httpResponseWriter:set_cookie' (cookie name must be an HTTP token",
		"name empty":              "cookie name must be an HTTP token",
		"value semicolon":         "bad argument #2 to 'httpResponseWriter:set_cookie' (cookie value may hold only",
		"value crlf":              "cookie value may hold only",
		"value space":             "cookie value may hold only",
		"path crlf":               "bad argument #3 to 'httpResponseWriter:set_cookie' (options.path must start with '/' and hold no control character",
		"path semicolon":          "options.path must start with '/'",
		"domain bad":              "options.domain must be a host name",
		"max_age negative":        "options.max_age must be a whole number of seconds from 0",
		"max_age nan":             "options.max_age must be a whole number",
		"max_age fraction":        "options.max_age must be a whole number",
		"expires huge":            "options.expires must be a time in seconds since 1970",
		"same_site bad":           `options.same_site must be "Strict", "Lax" or "None"`,
		"same_site none insecure": "needs options.secure = true",
		"unknown":                 "unknown option 'http_onyl'",
		"secure string":           "options.secure must be a boolean",
	} {
		if v, _ := got[k].(string); !strings.Contains(v, want) {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
	s.stop(t).MustSucceed(t)
}

// sentOf is what the send_file callback (or await) of the last request tagged tag got:
// its error ("" for none) and status (0 for none).
func (s *helperServer) sentOf(t *testing.T, tag string) (string, float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := jsonOf(t, s.get(t, "/sent?tag="+tag))
		if got["done"] == true {
			e, _ := got["err"].(string)
			st, _ := got["status"].(float64)
			return e, st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no send_file result for %s", tag)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestHelpersSendFile(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	st, err := os.Stat(filepath.Join(s.files, "small.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lastMod := st.ModTime().UTC().Format(http.TimeFormat)

	r := s.get(t, "/file?p=small.txt&tag=t1")
	wantStatus(t, r, 200)
	etag := r.header.Get("ETag")
	if string(r.body) != smallText || r.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		r.header.Get("Content-Length") != strconv.Itoa(len(smallText)) || r.header.Get("Last-Modified") != lastMod ||
		r.header.Get("Accept-Ranges") != "bytes" || r.header.Get("X-Before") != "kept" ||
		!strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `-b"`) {
		t.Errorf("small.txt: %q %v", r.body, r.header)
	}
	if e, status := s.sentOf(t, "t1"); e != "" || status != 200 {
		t.Errorf("callback: %q %v", e, status)
	}
	for name, ct := range map[string]string{
		"page.html": "text/html; charset=utf-8", "data.json": "application/json",
		"noext": "application/octet-stream", "empty.txt": "text/plain; charset=utf-8",
	} {
		r := s.get(t, "/file?p="+name)
		if r.status != 200 || r.header.Get("Content-Type") != ct {
			t.Errorf("%s: %d %q", name, r.status, r.header.Get("Content-Type"))
		}
	}
	r = s.get(t, "/file?p=noext&type=text/x-mine")
	if r.header.Get("Content-Type") != "text/x-mine" {
		t.Errorf("the script's Content-Type: %q", r.header.Get("Content-Type"))
	}

	// Conditional requests.
	hour := st.ModTime().Add(-time.Hour).UTC().Format(http.TimeFormat)
	later := st.ModTime().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		hdr    []string
		status int
	}{
		{[]string{"If-None-Match", etag}, 304},
		{[]string{"If-None-Match", "W/" + etag}, 304},
		{[]string{"If-None-Match", `"x", ` + etag}, 304},
		{[]string{"If-None-Match", "*"}, 304},
		{[]string{"If-None-Match", `"other"`}, 200},
		{[]string{"If-Modified-Since", lastMod}, 304},
		{[]string{"If-Modified-Since", later}, 304},
		{[]string{"If-Modified-Since", hour}, 200},
		{[]string{"If-Modified-Since", "garbage"}, 200},
		{[]string{"If-None-Match", `"other"`, "If-Modified-Since", lastMod}, 200}, // If-None-Match rules
		{[]string{"If-Match", `"other"`}, 412},
		{[]string{"If-Match", "W/" + etag}, 412}, // strong comparison
		{[]string{"If-Match", etag}, 200},
		{[]string{"If-Match", "*"}, 200},
		{[]string{"If-Unmodified-Since", hour}, 412},
		{[]string{"If-Unmodified-Since", lastMod}, 200},
	} {
		r := s.get(t, "/file?p=small.txt&tag=c", tc.hdr...)
		if r.status != tc.status {
			t.Errorf("%q: %d, want %d", tc.hdr, r.status, tc.status)
		}
		if tc.status != 200 && len(r.body) != 0 {
			t.Errorf("%q: body %q", tc.hdr, r.body)
		}
		if tc.status == 304 && (r.header.Get("ETag") != etag || r.header.Get("Last-Modified") != lastMod || r.header.Get("Content-Type") != "") {
			t.Errorf("304: headers %v", r.header)
		}
		if _, status := s.sentOf(t, "c"); int(status) != tc.status {
			t.Errorf("%q: callback status %v", tc.hdr, status)
		}
	}
	// POST: conditionals do not apply (nor does Range).
	r = s.do(t, "POST", "/file?p=small.txt", nil, "If-None-Match", etag, "Range", "bytes=0-1")
	if r.status != 200 || string(r.body) != smallText {
		t.Errorf("POST: %d %q", r.status, r.body)
	}

	// Ranges: smallText is 11 bytes.
	for _, tc := range []struct {
		hdr          []string
		status       int
		body, crange string
	}{
		{[]string{"Range", "bytes=0-4"}, 206, "hello", "bytes 0-4/11"},
		{[]string{"Range", "bytes=6-"}, 206, "file\n", "bytes 6-10/11"},
		{[]string{"Range", "bytes=-5"}, 206, "file\n", "bytes 6-10/11"},
		{[]string{"Range", "bytes=-50"}, 206, smallText, "bytes 0-10/11"},
		{[]string{"Range", "bytes=3-3"}, 206, "l", "bytes 3-3/11"},
		{[]string{"Range", "bytes=0-999999999999999999999999"}, 206, smallText, "bytes 0-10/11"},
		{[]string{"Range", " BYTES = 0-1 ,"}, 206, "he", "bytes 0-1/11"},
		{[]string{"Range", "bytes=11-"}, 416, "", "bytes */11"},
		{[]string{"Range", "bytes=99999999999999999999999-"}, 416, "", "bytes */11"},
		{[]string{"Range", "bytes=-0"}, 416, "", "bytes */11"},
		{[]string{"Range", "bytes=0-1,3-4"}, 200, smallText, ""},
		{[]string{"Range", "bytes=5-2"}, 200, smallText, ""},
		{[]string{"Range", "items=0-1"}, 200, smallText, ""},
		{[]string{"Range", "bytes=x-1"}, 200, smallText, ""},
		{[]string{"Range", "bytes=0-4", "If-Range", etag}, 206, "hello", "bytes 0-4/11"},
		{[]string{"Range", "bytes=0-4", "If-Range", `"old"`}, 200, smallText, ""},
		{[]string{"Range", "bytes=0-4", "If-Range", "W/" + etag}, 200, smallText, ""},
		{[]string{"Range", "bytes=0-4", "If-Range", lastMod}, 206, "hello", "bytes 0-4/11"},
		{[]string{"Range", "bytes=0-4", "If-Range", hour}, 200, smallText, ""},
	} {
		r := s.get(t, "/file?p=small.txt", tc.hdr...)
		if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Content-Range") != tc.crange ||
			r.header.Get("Content-Length") != strconv.Itoa(len(tc.body)) && tc.status != 416 {
			t.Errorf("%q: %d %q %q (length %s), want %d %q %q", tc.hdr, r.status, r.body, r.header.Get("Content-Range"),
				r.header.Get("Content-Length"), tc.status, tc.body, tc.crange)
		}
	}
	r = s.get(t, "/file?p=empty.txt", "Range", "bytes=0-")
	if r.status != 416 || r.header.Get("Content-Range") != "bytes */0" {
		t.Errorf("range of an empty file: %d %v", r.status, r.header)
	}

	// HEAD: the headers, no body.
	r = s.do(t, "HEAD", "/file?p=small.txt&tag=h", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "11" || r.header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
	if e, status := s.sentOf(t, "h"); e != "" || status != 200 {
		t.Errorf("HEAD callback: %q %v", e, status)
	}
	r = s.do(t, "HEAD", "/file?p=small.txt", nil, "Range", "bytes=0-4")
	if r.status != 206 || r.header.Get("Content-Length") != "5" || len(r.body) != 0 {
		t.Errorf("HEAD with a range: %d %v", r.status, r.header)
	}

	// What cannot be served: the server answers, the callback hears.
	for _, tc := range []struct {
		p, err string
		status int
	}{
		{"missing.txt", "no such file or directory", 404},
		{"docs", "is a directory", 404},
		{"fifo", "not a regular file", 404},
		{"small.txt/x", "not a directory", 404},
	} {
		r := s.get(t, "/file?p="+tc.p+"&tag=e")
		if r.status != tc.status || r.header.Get("X-Before") != "" || string(r.body) != http.StatusText(tc.status) {
			t.Errorf("%s: %d %q %v", tc.p, r.status, r.body, r.header)
		}
		if e, status := s.sentOf(t, "e"); !strings.Contains(e, tc.err) || int(status) != tc.status {
			t.Errorf("%s: callback %q %v, want %q", tc.p, e, status, tc.err)
		}
	}
	if os.Geteuid() != 0 { // root reads anything
		p := filepath.Join(s.files, "noperm.txt")
		os.WriteFile(p, []byte("x"), 0o000)
		r := s.get(t, "/file?p=noperm.txt&tag=p")
		if e, status := s.sentOf(t, "p"); r.status != 403 || status != 403 || !strings.Contains(e, "permission denied") {
			t.Errorf("unreadable: %d, callback %q %v", r.status, e, status)
		}
	}

	// A status the script set: the whole file with it (a page for an error), no 304.
	r = s.get(t, "/file?p=page.html&status=404", "If-None-Match", "*", "Range", "bytes=0-1")
	if r.status != 404 || string(r.body) != "<p>page</p>" || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("status 404 and a page: %d %q %v", r.status, r.body, r.header)
	}

	// The await style.
	r = s.get(t, "/file-await?p=data.json&tag=a1")
	if r.status != 200 || string(r.body) != `{"a":1}` {
		t.Errorf("await: %d %q", r.status, r.body)
	}
	if e, status := s.sentOf(t, "a1"); e != "" || status != 200 {
		t.Errorf("await result: %q %v", e, status)
	}
	r = s.get(t, "/file-await?p=nope&tag=a2")
	if r.status != 404 {
		t.Errorf("await, missing: %d", r.status)
	}
	if e, _ := s.sentOf(t, "a2"); !strings.Contains(e, "no such file") {
		t.Errorf("await, missing: %q", e)
	}
	r = s.get(t, "/file-written")
	if !strings.Contains(string(r.body), "x ") || !strings.Contains(string(r.body), "http: res:send_file after res:write") {
		t.Errorf("send_file after write: %q", r.body)
	}
	s.stop(t).MustSucceed(t)
}

// A large file goes out with sendfile: it is never read into the process's memory. Not
// parallel, so that the allocations counted are this download's.
func TestHelpersSendFileLarge(t *testing.T) {
	s := startHelpers(t, drleetest.Options{})
	const size = 128 << 20
	p := filepath.Join(s.files, "large.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: zeros
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), size-3)
	f.Close()
	get := func(hdr ...string) (int, int64, []byte) {
		req, _ := http.NewRequest("GET", s.url+"/file?p=large.bin", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := s.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		tail := make([]byte, 3)
		n, err := io.Copy(io.Discard, io.TeeReader(resp.Body, &tailWriter{tail}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, n, tail
	}
	get() // warm up (the client's connection, mime.types)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	status, n, tail := get()
	runtime.ReadMemStats(&after)
	if status != 200 || n != size || string(tail) != "end" {
		t.Fatalf("large file: %d, %d bytes, tail %q", status, n, tail)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("serving %d MiB allocated %d bytes: the file was read into memory", size>>20, alloc)
	}
	status, n, tail = get("Range", fmt.Sprintf("bytes=%d-", size-1000))
	if status != 206 || n != 1000 || string(tail) != "end" {
		t.Errorf("range of a large file: %d %d %q", status, n, tail)
	}
	s.stop(t).MustSucceed(t)
}

// slowReader reads at most 64 KiB at a time, 5 ms apart.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 64<<10)])
}

// tailWriter keeps the last bytes written.
type tailWriter struct{ tail []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	if len(p) >= len(w.tail) {
		copy(w.tail, p[len(p)-len(w.tail):])
	} else {
		copy(w.tail, w.tail[len(p):])
		copy(w.tail[len(w.tail)-len(p):], p)
	}
	return len(p), nil
}

// A download slower than the write timeout is not cut while the client reads; one whose
// client stopped reading is.
func TestHelpersSendFileWriteTimeout(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{Configure: func(c *engine.Config) {
		drhttp.Settings.Ptr(c).WriteTimeout = 2 * time.Second
	}})
	const size = 48 << 20
	p := filepath.Join(s.files, "slow.bin")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		io.WriteString(c, "GET /file?p=slow.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		return c
	}
	// A slow reader: 64 KiB every 5 ms, 4 s in all or more: twice the write timeout.
	c := dial()
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReaderSize(&slowReader{c}, 64<<10), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if elapsed := time.Since(start); err != nil || got != size || elapsed < 3*time.Second {
		t.Errorf("slow download: %d of %d bytes in %v, %v (want all, over more than the write timeout)", got, size, elapsed, err)
	}
	// A client that stops reading is cut within a few write timeouts.
	c2 := dial()
	defer c2.Close()
	time.Sleep(5 * time.Second)
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c2)
	if n >= size || (err != nil && !strings.Contains(err.Error(), "reset")) {
		t.Errorf("stalled client: read %d bytes of %d, %v (want the connection cut)", n, size, err)
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersStatic(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	for _, tc := range []struct {
		target   string
		status   int
		body     string
		location string
	}{
		{"/static/small.txt", 200, smallText, ""},
		{"/static/sm%61ll.txt", 200, smallText, ""},
		{"/static/a%20b.txt", 200, "spaced", ""},
		{"/static", 200, "root index", ""},
		{"/static/", 200, "root index", ""},
		{"/static/docs/", 200, "docs index", ""},
		{"/static/docs/a.css", 200, "body{}", ""},
		{"/static/docs", 301, "", "/static/docs/"},
		{"/static/docs?x=1&y=%20", 301, "", "/static/docs/?x=1&y=%20"},
		{"/static/docs_link/", 200, "docs index", ""}, // a symlink inside
		{"/static/in_rel", 200, smallText, ""},        // a relative symlink inside
		{"/static/missing", 404, "Not Found", ""},
		{"/static/docs/missing/", 404, "Not Found", ""},
		{"/noindex/docs/", 404, "Not Found", ""},
		{"/noindex/docs", 404, "Not Found", ""},
		{"/noindex/small.txt", 200, smallText, ""},
		{"/staticx/small.txt", 404, "no route /staticx/small.txt", ""}, // not the prefix
		{"/root/x.txt", 200, "under root", ""},                         // no prefix: req.path itself
		// Escapes: none gets out of the directory.
		{"/static/out", 404, "Not Found", ""},     // an absolute symlink out
		{"/static/out_rel", 404, "Not Found", ""}, // a relative symlink out
		{"/static/in_abs", 404, "Not Found", ""},  // absolute symlinks are refused, even inside
		{"/static/outdir/secret.txt", 404, "Not Found", ""},
		{"/static/fifo", 404, "Not Found", ""},
		{"/static/../secret.txt", 404, "no route /secret.txt", ""},
		{"/static/%2e%2e/%2e%2e/etc/passwd", 404, "no route /etc/passwd", ""},
		{"/static/docs/..%2f..%2f..%2fetc%2fpasswd", 404, "no route /etc/passwd", ""},
		{"/static/%2E%2E%5c..%5csecret.txt", 404, "Not Found", ""}, // a backslash is a plain byte
		{"/manual?p=../../../etc/passwd", 404, "Not Found", ""},
		{"/manual?p=..%2F" + "x%2Fsecret.txt", 404, "Not Found", ""},
		{"/manual?p=%2Fetc%2Fpasswd", 404, "Not Found", ""},
		{"/manual?p=docs/../../small.txt", 200, smallText, ""}, // cleaned below the root
		{"/manual?p=%00", 404, "Not Found", ""},
		// With the router: the wildcard is the path.
		{"/routed/small.txt", 200, smallText, ""},
		{"/routed/docs/", 200, "docs index", ""},
		{"/routed/docs", 301, "", "/routed/docs/"},
		{"/named/docs/a.css", 200, "body{}", ""},
	} {
		code, hdr, body := rawGet(t, s.addr, tc.target)
		if code != tc.status || body != tc.body || hdr.Get("Location") != tc.location {
			t.Errorf("%s: %d %q Location %q, want %d %q %q", tc.target, code, body, hdr.Get("Location"), tc.status, tc.body, tc.location)
		}
		switch {
		case code == 200 && strings.HasPrefix(tc.target, "/static/"):
			if hdr.Get("Cache-Control") != "public, max-age=60" || hdr.Get("ETag") == "" {
				t.Errorf("%s: headers %v", tc.target, hdr)
			}
		case code == 404 && hdr.Get("Cache-Control") != "":
			t.Errorf("%s: a 404 with Cache-Control %q", tc.target, hdr.Get("Cache-Control"))
		}
	}
	r := s.do(t, "POST", "/static/small.txt", []byte("x"))
	if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", r.status, r.header)
	}
	r = s.do(t, "HEAD", "/static/small.txt", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "11" {
		t.Errorf("HEAD: %d %v", r.status, r.header)
	}
	r = s.get(t, "/static/small.txt", "Range", "bytes=6-")
	if r.status != 206 || string(r.body) != "file\n" {
		t.Errorf("range: %d %q", r.status, r.body)
	}
	r = s.get(t, "/static/small.txt", "If-None-Match", r.header.Get("ETag"))
	if r.status != 304 || r.header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("304: %d %v", r.status, r.header)
	}
	s.stop(t).MustSucceed(t)
}

func TestHelpersStatusAndJSON(t *testing.T) {
	t.Parallel()
	s := startHelpers(t, drleetest.Options{})
	r := s.get(t, "/status")
	wantStatus(t, r, 418)
	got := jsonOf(t, r)
	for k, v := range got {
		switch k {
		case "100", "599":
			if v != "ok" {
				t.Errorf("set_status(%s): %v", k, v)
			}
		case "teapot":
			if s, _ := v.(string); !strings.Contains(s, "number expected, got string") {
				t.Errorf("set_status(teapot): %v", v)
			}
		default:
			if s, _ := v.(string); !strings.Contains(s, "bad argument #1 to 'httpResponseWriter:set_status' (status code must be an integer from 100 to 599") {
				t.Errorf("set_status(%s): %v", k, v)
			}
		}
	}
	if len(got) != 11 {
		t.Errorf("set_status results: %v", got)
	}
	r = s.get(t, "/status-text")
	want := map[string]any{
		"200": "OK", "404": "Not Found", "418": "I'm a teapot", "451": "Unavailable For Legal Reasons",
		"503": "Service Unavailable", "599": nil, "600": nil, "999": nil, "99": nil, "200.5": nil, "-1": nil,
		"nan": nil, "huge": nil,
	}
	if got := jsonOf(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("status_text: %v, want %v", got, want)
	}
	r = s.get(t, "/res-json")
	if got := jsonOf(t, r); r.status != 200 || r.header.Get("Content-Type") != "application/json" ||
		!reflect.DeepEqual(got, map[string]any{"a": 1.0, "list": []any{1.0, 2.0, 3.0}, "empty": []any{}, "null": nil}) {
		t.Errorf("res:json: %d %v %s", r.status, r.header, r.body)
	}
	r = s.get(t, "/res-json?status=201")
	if r.status != 201 {
		t.Errorf("res:json with a status: %d", r.status)
	}
	r = s.get(t, "/res-json?bad=1")
	if r.status != 422 || string(r.body) != `{"ok":false,"ok2":false}` && string(r.body) != `{"ok2":false,"ok":false}` ||
		!strings.Contains(r.header.Get("X-Err"), "res:json: cannot encode NaN in JSON (at .x)") ||
		!strings.Contains(r.header.Get("X-Err2"), "function") {
		t.Errorf("res:json of what JSON cannot hold: %d %q %v", r.status, r.body, r.header)
	}
	s.stop(t).MustSucceed(t)
}

// Every new function with odd arguments, under pcall: a clear error or a sensible result,
// never a crash or an internal error.
func TestHelpersOddValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, helpersOddScript, drleetest.Options{Args: []string{dir}})
	c := newClient()
	defer c.CloseIdleConnections()
	r := do(t, c, "POST", s.url+"/odd?a=1", []byte(`{"x":1}`), http.Header{"Cookie": {"a=1"}})
	wantStatus(t, r, 200)
	res := s.stop(t)
	res.MustSucceed(t)
	if strings.Contains(res.Stderr, "internal error") || strings.Contains(res.Stderr, "panic") {
		t.Fatalf("stderr:\n%s", res.Stderr)
	}
	res.Contains(t, "DONE")
	got := map[string]string{}
	for _, l := range strings.Split(res.Stdout, "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			got[k] = v
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(oddWant), "\n") {
		k, want, _ := strings.Cut(strings.TrimSpace(l), "\t")
		v, ok := got[k]
		if !ok {
			t.Errorf("%s: no result", k)
			continue
		}
		if !strings.Contains(v, want) {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
}

// oddWant is what each call of helpers_odd.lua must give: "name<TAB>text in the result".
const oddWant = `
query	ok table
query twice	ok equal
cookie nil	bad argument #1 to 'httpRequest:cookie' (string expected, got nil)
cookie table	bad argument #1 to 'httpRequest:cookie' (string expected, got table)
cookie number	ok nil
cookie huge	ok nil
json cb string	bad argument #1 to 'httpRequest:json' (function expected, got string)
readall cb string	bad argument #1 to 'httpRequest:__readall' (function expected, got string)
readall rest	ok {"|x":1}||
readall cb	nil []
form cb number	bad argument #1 to 'httpRequest:form' (table or function expected, got number)
form options list	options must be a table of name = value
form max_fields negative	options.max_fields must be a whole number, 1 or more
form max_fields nan	options.max_fields must be a whole number, 1 or more
form max_file_size string	options.max_file_size must be a whole number, 1 or more (math.huge: no limit), got "big"
form unknown	unknown option 'bogus' (max_fields, max_files, max_file_size)
form cb table	bad argument #2 to 'httpRequest:form' (function expected, got table)
form not a form	the request has no Content-Type
res:json none	bad argument #1 to 'httpResponseWriter:json' (value expected)
res:json function	function
res:json cycle	cycle
res:json deep	too deep
res:json nan	cannot encode NaN in JSON
res:json inf	cannot encode
res:json status 99	status code must be an integer from 100 to 599, got 99
res:json status nan	status code must be an integer from 100 to 599
res:json status string	number expected, got string
res:json bad utf8	not valid UTF-8
redirect nil	bad argument #1 to 'httpResponseWriter:redirect' (string expected, got nil)
redirect table	string expected, got table
redirect status huge	redirect status must be 301, 302, 303, 307 or 308, got inf
redirect status string	number expected, got string
set_cookie nil	bad argument #1 to 'httpResponseWriter:set_cookie' (string expected, got nil)
set_cookie value table	bad argument #2 to 'httpResponseWriter:set_cookie' (string expected, got table)
set_cookie options string	bad argument #3 to 'httpResponseWriter:set_cookie' (table expected, got string)
set_cookie max_age huge	options.max_age must be a whole number of seconds from 0
set_cookie max_age 2^63	options.max_age must be a whole number of seconds from 0
set_cookie expires string	options.expires must be a time in seconds since 1970
set_cookie expires table	options.expires must be a time in seconds since 1970
set_cookie expires negative	options.expires must be a time in seconds since 1970
set_cookie expires nan	options.expires must be a time in seconds since 1970
set_cookie path number	options.path must be a string
set_cookie domain empty	options.domain must be a host name
set_cookie numbers	ok
send_file nil	bad argument #1 to 'httpResponseWriter:send_file' (string expected, got nil)
send_file empty	path must be a file name without NUL
send_file nul	path must be a file name without NUL
send_file table	string expected, got table
send_file cb number	bad argument #2 to 'httpResponseWriter:send_file' (function expected, got number)
status_text nil	bad argument #1 to 'http.status_text' (number expected, got nil)
status_text table	number expected, got table
status_text string	ok Not Found
status_text 2^63	ok nil
status_text -2^63	ok nil
status_text nan	ok nil
static nil	bad argument #1 to 'http.static' (string expected, got nil)
static empty	dir must be a directory name without NUL
static options number	table expected, got number
static index true	options.index must be a file name or false
static index empty	options.index must be a file name (no '/') or false
static index slash	options.index must be a file name (no '/') or false
static index dotdot	options.index must be a file name (no '/') or false
static prefix relative	options.prefix must be a path starting with '/'
static max_age negative	options.max_age must be a whole number of seconds
static max_age inf	options.max_age must be a whole number of seconds
static unknown	unknown option 'nope' (index, prefix, max_age, param)
static param number	options.param must be the name of the router's wildcard
static colon	ok function
set_status 600 go	status code must be an integer from 100 to 599, got 600
set_status 999	status code must be an integer from 100 to 599, got 999
last json	ok
after finish redirect	http: res:redirect after finish
after finish json	http: res:json after finish
after finish send_file	http: res:send_file after finish
after finish set_cookie	http: cookie set after finish
after finish static	http: http.static after finish
`

// req:read and req:close with a callback in a handler used to take a registry reference to
// the callback that nothing released (a CheckFunc whose result was dropped): Lua's memory
// grew with every call, for as long as the worker lived.
func TestServerReadCallbackKeepsNoReference(t *testing.T) {
	t.Parallel()
	s := startServer(t, `
local http = require "http"
local cb = function() end
local server = http.create_server(arg[1], function(req, res)
  for i = 1, 50000 do req:read(1, cb) end
  for i = 1, 50000 do req:close(cb) end
  collectgarbage("collect")
  res:write(string.format("%d", collectgarbage("count")))
  res:finish()
end)
server:start(function(err) assert(not err, err) end)
`, drleetest.Options{})
	c := newClient()
	defer c.CloseIdleConnections()
	kb := func() int {
		r := do(t, c, "POST", s.url+"/", []byte("abc"), nil)
		n, err := strconv.Atoi(string(r.body))
		if err != nil {
			t.Fatalf("%q", r.body)
		}
		return n
	}
	first := kb()
	kb()
	kb()
	if last := kb(); last-first > 1024 {
		t.Errorf("Lua memory grew by %d KB over 300,000 more calls with a callback", last-first)
	}
	s.stop(t).MustSucceed(t)
}
