package scenario

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFilesAgree checks that the files outside Go that repeat a scenario's
// definition (Dr.LEE scripts, the nginx config, wrk's POST script, the
// gopher-lua handlers) cover every scenario and use the same constants.
func TestFilesAgree(t *testing.T) {
	t.Parallel()
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read("wrk/post_json.lua"); !strings.Contains(s, JSONRequest) {
		t.Errorf("wrk/post_json.lua does not send JSONRequest %s", JSONRequest)
	}
	nginx := read("nginx/nginx.conf.tmpl")
	gopher := read("peers/gopherlua/handlers.lua")
	loop := "for i = 1, " + strconv.Itoa(CPUIterations)
	mod := strconv.Itoa(CPUModulus)
	for _, name := range Names {
		script := read("scenarios/" + name + ".lua")
		if Needs(name) != "" {
			// Only Dr.LEE and the Go baseline run the data scenarios (nginx and
			// gopher-lua have no Redis or PostgreSQL client here; see bench/README.md).
			checkDataScript(t, name, script)
			if await, err := os.ReadFile(filepath.Join("..", "scenarios", "await", name+".lua")); err == nil {
				checkDataScript(t, "await/"+name, string(await))
			}
			continue
		}
		if !strings.Contains(nginx, "location = /"+name+" ") {
			t.Errorf("nginx.conf.tmpl has no location for %s", name)
		}
		if !strings.Contains(gopher, "function handlers."+name+"(") && !strings.Contains(gopher, `handlers["`+name+`"] =`) {
			t.Errorf("gopherlua/handlers.lua has no handler for %s", name)
		}
		if name == CPU {
			for file, s := range map[string]string{"scenarios/cpu.lua": script, "nginx.conf.tmpl": nginx, "handlers.lua": gopher} {
				if !strings.Contains(s, loop) || !strings.Contains(s, mod) {
					t.Errorf("%s: cpu loop differs from %q ... %s", file, loop, mod)
				}
			}
		}
	}
}

// checkDataScript checks that a Dr.LEE script of a data scenario does the work the
// definition says: the key or query, and pool sizes taken from the harness's arguments.
func checkDataScript(t *testing.T, name, script string) {
	t.Helper()
	var want []string
	switch name {
	case RedisGet, "await/" + RedisGet:
		want = []string{`"` + RedisKey + `"`, "pool_size = tonumber(arg[3])"}
	case PGSelect, "await/" + PGSelect:
		want = []string{`"` + PGQuery + `"`, "max_conns = tonumber(arg[3])", ", " + strconv.Itoa(PGID)}
	}
	for _, w := range want {
		if !strings.Contains(script, w) {
			t.Errorf("scenarios/%s.lua does not contain %s", name, w)
		}
	}
}

func TestNeeds(t *testing.T) {
	t.Parallel()
	for _, name := range Names {
		got := Needs(name)
		switch name {
		case RedisGet:
			if got != Redis {
				t.Errorf("Needs(%s) = %q, want %q", name, got, Redis)
			}
		case PGSelect:
			if got != Postgres {
				t.Errorf("Needs(%s) = %q, want %q", name, got, Postgres)
			}
		default:
			if got != "" {
				t.Errorf("Needs(%s) = %q, want none", name, got)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		Hello:     HelloBody,
		HelloCB:   HelloBody,
		JSON:      `{"count":3,"id":42,"name":"drlee","ok":true}`,
		Timer:     "ok",
		CPU:       strconv.FormatInt(CPUSum(), 10),
		Stream64K: strings.Repeat("x", StreamChunkSize*StreamChunks),
		RedisGet:  RedisValue,
		PGSelect:  `{"qty":92,"name":"item-42","id":42}`,
	}
	for _, name := range Names {
		if err := Check(name, 200, []byte(good[name])); err != nil {
			t.Errorf("Check(%s, good answer): %v", name, err)
		}
		if err := Check(name, 200, []byte("nope")); err == nil {
			t.Errorf("Check(%s, \"nope\"): no error", name)
		}
		if err := Check(name, 500, []byte(good[name])); err == nil {
			t.Errorf("Check(%s, status 500): no error", name)
		}
	}
}
