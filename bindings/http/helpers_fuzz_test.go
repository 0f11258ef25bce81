// Fuzz targets of the helpers' parsers (make fuzz runs each with -fuzztime; without -fuzz,
// go test runs their seed corpora as plain tests):
//
//	FuzzQuery      query strings and url-encoded forms: the table matches a plain decoder
//	FuzzCookie     Cookie headers: the value found matches a plain reading
//	FuzzRange      Range headers: a range is always inside the file
//	FuzzMultipart  multipart bodies: no panic, and no temporary file left on an error
//	FuzzIsContentType  header names: isContentType agrees with bytes.EqualFold
//
// They call the parsers directly: the server's own fuzz targets (fuzz_test.go) drive it over
// sockets.
package http

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drlee/drlee/packed"
)

// plainUnescape is the url-encoded decoding written the slow, obvious way.
func plainUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			b.WriteByte(hi<<4 | lo)
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"", "a=1", "a=1&a=2&b=3", "flag", "=x", "a=b=c", "&&a=1&&", "a=%41%zz%4&b=+x+&c=%2B&d=%",
		"%E2%82%AC=euro", "a=%00", "a;b=c", "%%%", "a=%f", "k0=0&k1=1&k2=2&k3=3&k4=4&k5=5&k6=6&k7=7&k8=8&k9=9&k10=10&k11=11&k12=12&k13=13&k14=14&k15=15&k16=16&k0=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The plain way: fields in order, grouped by name.
		var order []string
		want := map[string][]string{}
		for _, field := range strings.Split(s, "&") {
			if field == "" {
				continue
			}
			k, v, _ := strings.Cut(field, "=")
			k, v = plainUnescape(k), plainUnescape(v)
			if _, ok := want[k]; !ok {
				order = append(order, k)
			}
			want[k] = append(want[k], v)
		}
		var p queryParser
		var out packed.Writer
		if !p.writeFields(&out, []byte(s), 0) {
			t.Fatal("no limit, yet too many fields")
		}
		if err := packed.Validate(out.B); err != nil {
			t.Fatalf("%q: malformed table: %v", s, err)
		}
		v, err := packed.Decode(out.B)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		switch v := v.(type) {
		case map[any]any:
			for k, val := range v {
				switch val := val.(type) {
				case string:
					got[k.(string)] = []string{val}
				case []any:
					if len(val) < 2 {
						t.Fatalf("%q: a list of %d for %q", s, len(val), k)
					}
					for _, x := range val {
						got[k.(string)] = append(got[k.(string)], x.(string))
					}
				default:
					t.Fatalf("%q: %T for %q", s, val, k)
				}
			}
		case []any:
			if len(v) != 0 {
				t.Fatalf("%q: a list %v", s, v)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d names, want %d (%v, %v)", s, len(got), len(want), got, want)
		}
		for _, k := range order {
			if strings.Join(got[k], "\x00") != strings.Join(want[k], "\x00") || len(got[k]) != len(want[k]) {
				t.Fatalf("%q: %q = %q, want %q", s, k, got[k], want[k])
			}
		}
		// A limit counts the fields.
		n := 0
		for _, vs := range want {
			n += len(vs)
		}
		if n > 1 && p.writeFields(&packed.Writer{}, []byte(s), n-1) {
			t.Fatalf("%q: %d fields within a limit of %d", s, n, n-1)
		}
	})
}

func FuzzCookie(f *testing.F) {
	for _, s := range [][2]string{
		{"a=1; b=2", "b"}, {" a = 1 ;b=\"q\"", "b"}, {"a=1; a=2", "a"}, {"x; y=1", "x"},
		{"a=", "a"}, {"=v", ""}, {"a=\"", "a"}, {";;;", ""}, {"a=1;\tb = 2 \t", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, header, name string) {
		got, ok := cookieValue([]byte(header), []byte(name))
		var want string
		found := false
		for _, pair := range strings.Split(header, ";") {
			k, v, has := strings.Cut(pair, "=")
			if !has || strings.Trim(k, " \t") != name {
				continue
			}
			v = strings.Trim(v, " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			want, found = v, true
			break
		}
		if ok != found || string(got) != want {
			t.Fatalf("cookie %q in %q: %q %v, want %q %v", name, header, got, ok, want, found)
		}
	})
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-4", "bytes=6-", "bytes=-5", "bytes=-0", "bytes=0-1,3-4", "bytes=5-2", "items=0-1",
		" BYTES = 0-1 ,", "bytes=99999999999999999999999-", "bytes=0-99999999999999999999", "bytes=", "bytes=-",
		"bytes=,,0-0,,", "bytes=1-1",
	} {
		f.Add(s, int64(11))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, length, kind := parseRange([]byte(h), size)
		switch kind {
		case rangeOne:
			if start < 0 || length < 1 || start >= size || length > size-start {
				t.Fatalf("%q of %d: start %d length %d out of the file", h, size, start, length)
			}
		case rangeUnsatisfiable, rangeIgnore:
			if start != 0 || length != 0 {
				t.Fatalf("%q of %d: kind %d with %d, %d", h, size, kind, start, length)
			}
		default:
			t.Fatalf("kind %d", kind)
		}
		if size == 0 && kind == rangeOne {
			t.Fatalf("%q: a range of an empty file", h)
		}
	})
}

func FuzzMultipart(f *testing.F) {
	const b = "zz"
	f.Add([]byte("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--zz--\r\n"))
	f.Add([]byte("--zz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--zz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"y\"\r\n\r\n0123456789abcdef\r\n--zz--\r\n"))
	f.Add([]byte("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"))
	f.Add([]byte("--zz\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--zz--\r\n"))
	f.Add([]byte("garbage"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		set := &tempSet{paths: map[string]struct{}{}}
		temps := &tempFiles{set: set}
		form, err := parseMultipart(dir, body, b, formOptions{maxFields: 20, maxFiles: 3, maxFileSize: 12}, temps)
		if err != nil {
			if form != nil {
				t.Fatal("a form and an error")
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "drlee-upload-*")); len(left) > 0 {
				t.Fatalf("an error (%v) left %v", err, left)
			}
			return
		}
		var out packed.Writer
		form.write(&out)
		if err := packed.Validate(out.B); err != nil {
			t.Fatalf("malformed table: %v", err)
		}
		for _, e := range form.entries {
			if e.file == nil {
				continue
			}
			st, err := os.Stat(e.file.path)
			if err != nil || st.Size() != e.file.size || e.file.size > 12 {
				t.Fatalf("file %+v: %v", e.file, err)
			}
		}
		temps.remove(append([]string(nil), temps.paths...))
		if len(set.paths) != 0 {
			t.Fatalf("temporary files still recorded: %v", set.paths)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "drlee-upload-*")); len(left) > 0 {
			t.Fatalf("files left: %v", left)
		}
	})
}

// FuzzIsContentType: res:set's test for Content-Type (ASCII folding) says what Unicode
// folding says, for any name.
func FuzzIsContentType(f *testing.F) {
	for _, s := range []string{"Content-Type", "content-type", "CONTENT-TYPE", "Content-Typ", "Content-Types",
		"Content\rType", "Content-Type\x00", "Content\u2010Type", "Content-\u0422ype", "Kontent-Type", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, name []byte) {
		if got, want := isContentType(name), bytes.EqualFold(name, []byte("Content-Type")); got != want {
			t.Fatalf("isContentType(%q) = %v, bytes.EqualFold says %v", name, got, want)
		}
	})
}
