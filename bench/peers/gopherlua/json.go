package main

import (
	"encoding/json"

	lua "github.com/yuin/gopher-lua"
)

// jsonDecode is json_decode(str) for the handlers: encoding/json into Go values,
// then Lua tables, as the usual gopher-lua JSON modules do.
func jsonDecode(L *lua.LState) int {
	var v any
	if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
		L.RaiseError("json_decode: %v", err)
	}
	L.Push(toLua(L, v))
	return 1
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, x := range v {
			t.RawSetString(k, toLua(L, x))
		}
		return t
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, x := range v {
			t.Append(toLua(L, x))
		}
		return t
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	}
	return lua.LNil
}

// jsonEncode is json_encode(value): a table with a non-empty array part is an
// array, any other table an object.
func jsonEncode(L *lua.LState) int {
	b, err := json.Marshal(fromLua(L.CheckAny(1)))
	if err != nil {
		L.RaiseError("json_encode: %v", err)
	}
	L.Push(lua.LString(b))
	return 1
}

func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			a := make([]any, n)
			for i := range a {
				a[i] = fromLua(v.RawGetInt(i + 1))
			}
			return a
		}
		m := map[string]any{}
		v.ForEach(func(k, x lua.LValue) { m[k.String()] = fromLua(x) })
		return m
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v) // json.Marshal writes 42.0 as 42
	case lua.LBool:
		return bool(v)
	}
	return nil
}
