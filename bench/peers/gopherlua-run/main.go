// Command gopherlua-run runs a Lua script on github.com/yuin/gopher-lua, like
// the lua5.1 CLI: `gopherlua-run script.lua args...`, with arg[1..] set. The
// harness times it on bench/cpu/*.lua beside LuaJIT and Dr.LEE.
package main

import (
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gopherlua-run script.lua [args...]")
		os.Exit(2)
	}
	L := lua.NewState()
	defer L.Close()
	arg := L.NewTable()
	for i, a := range os.Args[1:] {
		arg.RawSetInt(i, lua.LString(a)) // arg[0] is the script, as in the lua CLI
	}
	L.SetGlobal("arg", arg)
	if err := L.DoFile(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
