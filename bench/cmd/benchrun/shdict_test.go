package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestShdictIncrScenario: the scenario is registered, its answer checked, its Dr.LEE script
// and nginx location agree (one counter "hits", incr by 1 from 0), and the Go peers say
// they have none.
func TestShdictIncrScenario(t *testing.T) {
	if !slices.Contains(scenarioNames, shdictIncr) || !slices.Contains(scenarioNames, "hello") {
		t.Fatalf("scenarioNames %v", scenarioNames)
	}
	if err := checkScenario(shdictIncr, 200, []byte("12")); err != nil {
		t.Errorf("a count: %v", err)
	}
	for _, bad := range []string{"", "0", "-1", "hello world", "1.5"} {
		if err := checkScenario(shdictIncr, 200, []byte(bad)); err == nil {
			t.Errorf("body %q: no error", bad)
		}
	}
	if err := checkScenario(shdictIncr, 500, []byte("3")); err == nil {
		t.Error("status 500: no error")
	}
	if err := checkScenario("hello", 200, []byte("hello world")); err != nil {
		t.Errorf("other scenarios still checked by package scenario: %v", err)
	}
	if lacksShdict(shdictIncr) == "" || lacksShdict("hello") != "" {
		t.Error("lacksShdict")
	}
	for _, s := range (&bench{}).servers() {
		drlee := s.key == "drlee" || s.key == "drlee-locked" || s.key == "drlee-sysmon"
		if s.lacks != nil && s.lacks(shdictIncr) != "" && (drlee || s.key == "nginx") {
			t.Errorf("%s lacks shdict-incr: %s", s.key, s.lacks(shdictIncr))
		}
		if !drlee && s.key != "nginx" && s.key != "drlee-await" && (s.lacks == nil || s.lacks(shdictIncr) == "") {
			t.Errorf("%s does not say it lacks shdict-incr", s.key)
		}
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	script := read("../../scenarios/shdict-incr.lua")
	nginx := read("../../nginx/nginx.conf.tmpl")
	for file, want := range map[string][]string{
		"shdict-incr.lua": {`shdict").new("hits"`, `hits:incr("hits", 1, 0)`},
		"nginx.conf.tmpl": {"lua_shared_dict hits ", "location = /shdict-incr ", `ngx.shared.hits:incr("hits", 1, 0)`},
	} {
		s := script
		if file == "nginx.conf.tmpl" {
			s = nginx
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("%s has no %q", file, w)
			}
		}
	}
}
