// Package luaopts reads the options table that the modules' functions take last but one
// (network.dial(kind, addr, options, cb), websocket.dial(url, options, cb), ...) in one way:
// the same types accepted, the same ranges, the same words in the errors a script sees.
package luaopts

import (
	"fmt"
	"time"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// MaxSeconds is the longest duration an option says in seconds; more is no limit.
const MaxSeconds = 100 * 365 * 24 * 3600

// Table decodes the options table at argument i: nil when it is nil, absent or empty,
// raising when it is anything but a table of name = value.
func Table(c *engine.Call, i int) map[any]any {
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return nil
	case engine.TypeTable:
	default:
		c.TypeError(i, "table")
	}
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	switch t := v.(type) {
	case map[any]any:
		return t
	case []any:
		if len(t) > 0 {
			c.ArgError(i, "options must be a table of name = value")
		}
	}
	return nil // {}
}

// Name is an option's key as an error names it: 'name', or [key] for a key that is not
// a string.
func Name(k any) string {
	if s, ok := k.(string); ok {
		return "'" + s + "'"
	}
	return fmt.Sprintf("[%v]", k)
}

// Seconds reads options.name, a number of seconds: fractions allowed; 0, math.huge or
// more than MaxSeconds: no limit (0); negative, NaN or not a number: an argument error.
func Seconds(c *engine.Call, i int, name string, v any) time.Duration {
	f, ok := v.(float64)
	if !ok || f != f || f < 0 {
		c.ArgError(i, "options."+name+" must be a number of seconds, 0 or more (0 or math.huge: no limit)")
	}
	if f == 0 || f > MaxSeconds {
		return 0
	}
	return max(time.Duration(f*float64(time.Second)), 1)
}

// Bool reads options.name, a boolean.
func Bool(c *engine.Call, i int, name string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		c.ArgError(i, "options."+name+" must be a boolean")
	}
	return b
}

// QuoteShort quotes s for a message, cut after 60 bytes.
func QuoteShort(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q...", s[:60])
	}
	return fmt.Sprintf("%q", s)
}
