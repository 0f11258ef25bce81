package http

import (
	"fmt"
	"math"
	"time"

	"github.com/drlee/drlee/engine"
)

// Numeric arguments. Lua numbers are doubles: NaN, ±inf, fractions and values beyond an
// int64 all arrive here, and Go's conversions of them are no check (int64(NaN) and
// int64(2^63) are math.MinInt64 on amd64, a Duration of NaN milliseconds is negative).
// Each argument is checked for the range it has, or clamped where a clamp has an obvious
// meaning (a read size larger than any body: all there is), and the clamp is documented.

// maxReadSize is what read sizes beyond it are clamped to: more than any body, small
// enough that position + size cannot overflow.
const maxReadSize = 1 << 62

// sizeArg returns argument i as a read size: a whole number of bytes, 1 or more. Larger
// sizes than maxReadSize, math.huge included, mean all there is (each read returns at most
// what it has).
func sizeArg(c *engine.Call, i int) int {
	f := c.CheckNumber(i)
	switch {
	case f >= maxReadSize:
		return maxReadSize
	case f >= 1 && f == math.Trunc(f):
		return int(f)
	}
	c.ArgError(i, fmt.Sprintf("size must be a whole number of bytes, 1 or more (math.huge: all there is), got %s", formatArg(f)))
	return 0
}

// statusArg returns argument i as an HTTP status code: an integer from 100 to 599, the
// classes RFC 9110 defines (fasthttp would send 999 as "999 Unknown Status Code", and
// clients take an unknown class for an error of their own).
func statusArg(c *engine.Call, i int) int {
	f := c.CheckNumber(i)
	if !(f >= 100 && f <= 599) || f != math.Trunc(f) { // written so that NaN fails
		c.ArgError(i, fmt.Sprintf("status code must be an integer from 100 to 599, got %s", formatArg(f)))
	}
	return int(f)
}

// timeoutOption turns options.timeout (milliseconds, fractions allowed, already checked
// to be 0 or more) into the client's Timeout: 0, math.huge and anything too long for a
// time.Duration (about 292 years) mean no limit (negative, for the client); a positive
// timeout too short for a nanosecond is one nanosecond, never 0 (which would mean the
// client's default).
func timeoutOption(ms float64) time.Duration {
	ns := ms * float64(time.Millisecond)
	if ms == 0 || ns >= math.MaxInt64 {
		return -1
	}
	return max(time.Duration(ns), 1)
}

// formatArg writes a number the way Lua's tostring does for the usual values.
func formatArg(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return fmt.Sprintf("%.14g", f)
}
