package redis

import (
	"fmt"
	"math/big"

	goredis "github.com/redis/go-redis/v9"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// writeReply writes a reply as go-redis reads it (v, at nesting depth: 1 for the reply
// itself) as the Lua value a script gets, the way Redis's own Lua scripting converts
// replies (RESP2):
//
//	bulk or status reply    string (bytes as they are)
//	integer                 number
//	array                   list (a table with json.array_mt), nested as it is
//	nil inside an array     false (a nil would be a hole, and # and ipairs would stop there)
//	error inside an array   {err = "EREDIS: <the server's text>"} (EXEC's replies)
//
// A nil reply at the top is the caller's (nil), never seen here. The types of RESP3,
// which this module does not ask for, are written as their nearest Lua value (doubles,
// booleans, maps as tables) so that nothing a server sends can fail here. A reply nested
// deeper than Lua values may be (packed.MaxDepth) is an error, EPROTO.
func writeReply(out *packed.Writer, v any, depth int) error {
	switch v := v.(type) {
	case nil:
		out.Bool(false)
	case string:
		out.String(v)
	case []byte:
		out.Bytes(v)
	case int64:
		out.Int(v)
	case []any:
		if depth > packed.MaxDepth {
			return errReplyTooDeep
		}
		out.Array(len(v))
		for _, e := range v {
			if err := writeReply(out, e, depth+1); err != nil {
				return err
			}
		}
	case goredis.Error:
		if depth > packed.MaxDepth {
			return errReplyTooDeep
		}
		writeErrorEntry(out, v)
	case float64:
		out.Number(v)
	case bool:
		out.Bool(v)
	case *big.Int:
		out.String(v.String())
	case map[any]any:
		if depth > packed.MaxDepth {
			return errReplyTooDeep
		}
		out.Table(0, len(v))
		for k, e := range v {
			if err := writeReply(out, k, depth+1); err != nil {
				return err
			}
			if err := writeReply(out, e, depth+1); err != nil {
				return err
			}
		}
	default:
		return engine.NewError("EPROTO", fmt.Sprintf("redis: a reply of type %T", v))
	}
	return nil
}

// writeErrorEntry writes an error reply inside a list: {err = "EREDIS: ..."}.
func writeErrorEntry(out *packed.Writer, err error) {
	out.Table(0, 1)
	out.String("err")
	out.String(engine.ErrorString(err))
}
