// Package json is JSON for Lua scripts: the module require "json" (encode, decode, null,
// empty_array, array_mt) and the globals json_encode and json_decode, which every script
// has without a require.
//
//	local json = require "json"
//	local v = json.decode('{"ids":[1,2],"next":null}')  -- v.ids has json.array_mt, v.next == json.null
//	v.ids[3] = 3
//	print(json.encode(v, {indent = "  ", sort_keys = true}))
//
// Both share one codec (engine/value's ToJSON and FromJSON, whose doc has the rules) and
// one representation: a decoded array is a table whose metatable is json.array_mt, so that
// it encodes as an array again, "[]" included; json.empty_array is an empty array that no
// script can change (a lightuserdata, as in lua-cjson); json.null is JSON's null (the NULL
// lightuserdata, as in lua-cjson). These cross every boundary as they are: C packs and
// pushes them (cgo/clua.c), and RPC carries them between nodes.
//
// The two decoders differ only in null: json.decode gives json.null, as lua-cjson does, so
// that [1,null,3] and {"a":null} keep every element and member; json_decode gives nil, as
// it always has (a hole in an array, no member in an object), so that scripts written for
// it go on working. Both return nil and an error string for invalid JSON, "EINVAL: invalid
// JSON at offset 7: ..." (bad input is data, not a programming error; lua-cjson raises
// instead). Both encoders are the same, and raise
// for what JSON cannot hold (functions, cycles, NaN, strings that are not UTF-8), naming
// the value's place: "json.encode: cannot encode NaN in JSON (at .items[2].price)".
//
// Every function runs on the worker's loop, inside the Lua call; nothing is kept after it.
package json

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/engine/value"
	"github.com/drlee/drlee/packed"
)

//go:embed json.lua
var prelude string

func init() {
	// The globals, registered by this package so that all of JSON lives here.
	engine.Register(&engine.Module{
		Funcs: []engine.Function{
			{Name: "json_encode", Fn: globalEncode},
			{Name: "json_decode", Fn: globalDecode},
		},
	})
	engine.Register(&engine.Module{
		Name: "json",
		Funcs: []engine.Function{
			{Name: "encode", Fn: encode},
			{Name: "decode", Fn: decode},
			{Name: "__values", Fn: values},
		},
		Lua: prelude,
	})
}

// maxIndent bounds a numeric indent option: more than this many spaces a level is a
// mistake, not a style.
const maxIndent = 16

// json_encode(value) -> string; raises for values JSON cannot hold.
func globalEncode(c *engine.Call) int { return encodeValue(c, "json_encode", value.EncodeOptions{}) }

// json.encode(value, options?) -> string; options.indent (a string of spaces and tabs,
// or a number of spaces) pretty-prints, options.sort_keys sorts object members.
func encode(c *engine.Call) int {
	// Read before Encode(1): Encode(2) would reuse the buffer that Encode(1) fills.
	return encodeValue(c, "json.encode", encodeOptions(c, 2))
}

func encodeValue(c *engine.Call, name string, opts value.EncodeOptions) int {
	if c.Type(1) == engine.TypeNone {
		c.ArgError(1, "value expected")
	}
	src := c.Encode(1)
	w := engine.WorkerOf(c)
	buf, err := opts.ToJSON(w.Scratch(), src)
	w.KeepScratch(buf)
	if err != nil {
		c.Raise("%s: %v", name, err)
	}
	return c.ReturnBytes(buf)
}

// json_decode(string) -> value, or nil and a message: null is nil.
func globalDecode(c *engine.Call) int { return decodeValue(c, value.DecodeOptions{}) }

// json.decode(string, options?) -> value, or nil and a message: null is json.null;
// options.max_depth lowers the nesting limit.
func decode(c *engine.Call) int {
	opts := decodeOptions(c, 2)
	opts.Null = true
	return decodeValue(c, opts)
}

func decodeValue(c *engine.Call, opts value.DecodeOptions) int {
	src := c.CheckBytes(1)
	out := c.Out()
	if err := opts.FromJSON(out, src); err != nil {
		// Invalid input, as an error string with its code ("EINVAL: invalid JSON at ...").
		out.Reset()
		out.Nil()
		out.String(engine.ErrorString(engine.WithCode("EINVAL", err)))
	}
	return c.Return()
}

// json.__values() -> null, empty_array, array_mt, for json.lua to put in the module. The
// last two live in every state's registry from its start (cgo/clua.c's clua_init).
func values(c *engine.Call) int {
	out := c.Out()
	out.Null()
	out.Ref(engine.RefEmptyArray)
	out.Ref(engine.RefArrayMeta)
	return c.Return()
}

// options reads the options table at argument i (nil or absent: none) and calls set with
// each name and value; set returns false for a value it does not accept.
func options(c *engine.Call, i int, set func(name string, k packed.Kind, str []byte, num float64) bool) {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return
	case engine.TypeTable:
	default:
		c.TypeError(i, "table")
	}
	r := packed.Reader{B: c.Encode(i)}
	k, _, _, narr, nrec, err := r.Next()
	if err != nil || k != packed.TagTable || narr > 0 {
		c.ArgError(i, "options must be a table of named options")
	}
	for j := 0; j < nrec; j++ {
		k, _, name, _, _, err := r.Next()
		if err != nil || k != packed.TagString {
			c.ArgError(i, "options must be a table of named options")
		}
		vk, num, str, vnarr, vnrec, err := r.Next()
		if vk == packed.TagTable || vk == packed.TagArray {
			// No option takes a table: step over its elements, set says it is wrong.
			for n := 0; n < vnarr+2*vnrec && err == nil; n++ {
				err = r.Skip()
			}
		}
		if err != nil {
			c.ArgError(i, "options must be a table of named options")
		}
		if !set(string(name), vk, str, num) {
			c.ArgError(i, "unknown option '"+string(name)+"'")
		}
	}
}

func encodeOptions(c *engine.Call, i int) value.EncodeOptions {
	var o value.EncodeOptions
	options(c, i, func(name string, k packed.Kind, str []byte, num float64) bool {
		switch name {
		case "indent":
			switch {
			case k == packed.TagString && len(str) <= maxIndent && strings.Trim(string(str), " \t") == "":
				o.Indent = string(str)
			case (k == packed.TagInt || k == packed.TagFloat) && num >= 0 && num <= maxIndent && num == float64(int(num)):
				o.Indent = strings.Repeat(" ", int(num))
			default:
				c.ArgError(i, fmt.Sprintf("option 'indent' must be a string of at most %d spaces and tabs, or a number of spaces from 0 to %d", maxIndent, maxIndent))
			}
		case "sort_keys":
			if k != packed.TagTrue && k != packed.TagFalse {
				c.ArgError(i, "option 'sort_keys' must be a boolean")
			}
			o.SortKeys = k == packed.TagTrue
		default:
			return false
		}
		return true
	})
	return o
}

func decodeOptions(c *engine.Call, i int) value.DecodeOptions {
	var o value.DecodeOptions
	options(c, i, func(name string, k packed.Kind, str []byte, num float64) bool {
		switch name {
		case "max_depth":
			if k != packed.TagInt || num < 1 || num > packed.MaxDepth {
				c.ArgError(i, fmt.Sprintf("option 'max_depth' must be an integer from 1 to %d", packed.MaxDepth))
			}
			o.MaxDepth = int(num)
		default:
			return false
		}
		return true
	})
	return o
}
