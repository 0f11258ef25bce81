//go:build luajit

package lua

import "testing"

// t.bools(...) -> the Lua truth of every argument, as Call.Bool reads it.
var fnBools = Register("t.bools", false, func(c *Call) int {
	out := c.Out()
	for i := 1; i <= c.N(); i++ {
		out.Bool(c.Bool(i))
	}
	return c.Return()
})

// Call.Bool past the frame's CLUA_MAXARGS slots read booleans with lua_tonumber (0 for
// true): a true there was false.
func TestBoolPastTheFrame(t *testing.T) {
	s, o := newState(t)
	mustDo(t, s, `
local args = {true, false, nil, 0, "", true, false, true, true, false, nil, 1, "x", false, true}
local got = {T.bools(unpack(args, 1, 15))}
for i = 1, 15 do
  local want = args[i] and true or false
  assert(got[i] == want, "argument " .. i .. ": got " .. tostring(got[i]) .. ", want " .. tostring(want))
end
T.report("done", 1)
`)
	if o.num(t, "done") != 1 {
		t.Fatal("script did not finish")
	}
}
