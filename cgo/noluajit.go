//go:build !luajit

// Dr.LEE runs on LuaJIT only: its C boundary is written against LuaJIT 2.1 (its API, and
// its error unwinding, which cleanup handlers rely on). Without the luajit build tag,
// golua would link PUC Lua 5.1 instead, a second Lua with other rules; so the build stops
// here, naming what is missing. Build with -tags luajit (the Makefile passes it).
package lua

var _ = drlee_needs_the_luajit_build_tag__build_with__go_build_tags_luajit__or_make_build
