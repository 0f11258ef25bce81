package value

import (
	"strings"
	"testing"

	"github.com/drlee/drlee/packed"
)

// Benchmarks of the JSON codec alone (no Lua): a small request body like the bench
// scenario's and a list of records like a REST listing.
//
//	go test -tags luajit -run '^$' -bench JSON -count 10 ./engine/value/

func benchDocs() []struct{ name, doc string } {
	var list strings.Builder
	list.WriteString(`{"total":100,"items":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			list.WriteByte(',')
		}
		list.WriteString(`{"id":12345,"name":"user name","email":"user@example.org","active":true,"score":17.25,"tags":["a","bb","ccc"]}`)
	}
	list.WriteString(`]}`)
	return []struct{ name, doc string }{
		{"small", `{"name":"drlee","id":42,"tags":["a","b","c"],"score":3.5}`},
		{"list", list.String()},
	}
}

func BenchmarkFromJSON(b *testing.B) {
	for _, d := range benchDocs() {
		b.Run("doc="+d.name, func(b *testing.B) {
			src := []byte(d.doc)
			var w packed.Writer
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset()
				if err := FromJSON(&w, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkToJSON(b *testing.B) {
	for _, d := range benchDocs() {
		b.Run("doc="+d.name, func(b *testing.B) {
			var w packed.Writer
			if err := FromJSON(&w, []byte(d.doc)); err != nil {
				b.Fatal(err)
			}
			var dst []byte
			b.SetBytes(int64(len(d.doc)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = ToJSON(dst[:0], w.B); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
