package shdict_test

import (
	"embed"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/drlee/drlee/bindings/shdict"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/internal/drleetest"
)

//go:embed testdata/*.lua
var testdata embed.FS

func script(t testing.TB, name string) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkersShareOneDict: two workers increment one key 100,000 times in all, at the same
// time, and the total is exact.
func TestWorkersShareOneDict(t *testing.T) {
	t.Parallel()
	res := drleetest.Run(t, script(t, "workers.lua"), drleetest.Options{Workers: 2})
	res.MustSucceed(t)
	res.Contains(t, "PASS 100000\n")
}

// TestEnginesShareNothing: two engines in one process (two runs at once) each have their
// own dictionary of a name; each run's sets are its own.
func TestEnginesShareNothing(t *testing.T) {
	t.Parallel()
	const src = `local d = require("shdict").new("mine")
assert(d:add("owner", arg[1]), "the dictionary was not new: " .. tostring(d:get("owner")))
require("time").timeout(50, function()
  assert(d:get("owner") == arg[1], "owner " .. tostring(d:get("owner")))
  print("PASS")
end)`
	var wg sync.WaitGroup
	for _, who := range []string{"one", "two"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := drleetest.Run(t, src, drleetest.Options{Args: []string{who}})
			res.MustSucceed(t)
			res.Contains(t, "PASS\n")
		}()
	}
	wg.Wait()
}

// TestOpenFromGo: Go code beside the scripts reaches the same dictionary with Open (and the
// same max_bytes rule).
func TestOpenFromGo(t *testing.T) {
	t.Parallel()
	started := make(chan error, 1)
	res := drleetest.Run(t, `local d = require("shdict").new("fromgo", {max_bytes = 4096})
local time = require "time"
local tries = 0
local function look()
  local v = d:get("greeting")
  if v then
    assert(v == "hello from Go", v)
    print("PASS")
  elseif tries < 400 then
    tries = tries + 1
    time.timeout(5, look)
  else
    error("Go's set never arrived")
  end
end
look()`, drleetest.Options{Started: func(e *engine.Engine) {
		for _, bad := range []struct {
			name string
			max  int64
		}{{"", 0}, {string(make([]byte, 256)), 0}, {"x", -1}, {"x", 1<<40 + 1}} {
			if _, err := shdict.Open(e, bad.name, bad.max); err == nil {
				started <- fmt.Errorf("Open(%q, %d): no error", bad.name, bad.max)
				return
			}
		}
		// Whichever of Go and the script comes first makes it with 4096 bytes.
		d, err := shdict.Open(e, "fromgo", 4096)
		if err != nil {
			started <- err
			return
		}
		if _, err := shdict.Open(e, "fromgo", 8192); err == nil {
			started <- errors.New("Open with another max_bytes: no error")
			return
		}
		if again, _ := shdict.Open(e, "fromgo", 0); again != d {
			started <- errors.New("Open without max_bytes: another dictionary")
			return
		}
		_, err = d.Set([]byte("greeting"), shdict.String("hello from Go"), 0, shdict.Always)
		started <- err
	}})
	res.MustSucceed(t)
	res.Contains(t, "PASS\n")
	if err := <-started; err != nil {
		t.Fatal(err)
	}
}
