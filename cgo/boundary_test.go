//go:build luajit

package lua

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestNoUndocumentedGlobals: a state as New makes it has LuaJIT's own globals and nothing
// else (golua's state creation registers a global message handler, which New removes).
func TestNoUndocumentedGlobals(t *testing.T) {
	t.Parallel()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref, err := s.NewModule([]Export{{"report", fnReport}})
	if err == nil {
		err = s.RegisterLoaded("t", ref)
	}
	if err != nil {
		t.Fatal(err)
	}
	o := &owner{nums: map[string]float64{}, strs: map[string]string{}}
	s.Owner = o
	mustDo(t, s, `
local names = {}
for k in pairs(_G) do names[#names + 1] = tostring(k) end
table.sort(names)
local r = {}
for k in pairs(debug.getregistry()) do if type(k) == "string" then r[#r + 1] = k end end
table.sort(r)
require("t").report("globals", table.concat(names, " "))
require("t").report("registry", table.concat(r, " "))
`)
	want := strings.Fields(`_G _VERSION assert bit collectgarbage coroutine debug dofile error gcinfo
getfenv getmetatable io ipairs jit load loadfile loadstring math module newproxy next os
package pairs pcall print rawequal rawget rawset require select setfenv setmetatable string
table tonumber tostring type unpack xpcall`)
	sort.Strings(want)
	if got := o.str("globals"); got != strings.Join(want, " ") {
		t.Fatalf("globals:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
	if got := o.str("registry"); got != "FILE* _LOADED _LOADLIB _PRELOAD" {
		t.Fatalf("string keys of the registry: %s (golua's metatables are removed)", got)
	}
}

// TestBuildNeedsLuaJITTag: without -tags luajit the package does not build, and the error
// names the tag (it would otherwise link golua against PUC Lua, a second Lua).
func TestBuildNeedsLuaJITTag(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("the package built without the luajit tag")
	}
	if !strings.Contains(string(out), "drlee_needs_the_luajit_build_tag") {
		t.Fatalf("the error does not name the tag:\n%s", out)
	}
}
