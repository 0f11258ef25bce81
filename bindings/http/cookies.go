package http

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/drlee/drlee/bindings/http/internal/httpsyntax"
	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// Cookies: req:cookie(name) reads the Cookie header, res:set_cookie(name, value, options)
// adds a Set-Cookie header (RFC 6265).

var cookieHeader = []byte("Cookie")

// cookieValue returns the value of the first cookie called name in the value of a Cookie
// header ("a=1; b=2"), and whether there is one. Read as browsers send it and leniently
// (RFC 6265 §5.4, §4.2.1): pairs are separated by ";", spaces and tabs around names and
// values are dropped, a pair without "=" is skipped, a value in double quotes loses them;
// names are compared exactly (cookie names are case-sensitive); the value is not decoded.
// The first match wins: browsers send the cookie with the most specific path first.
func cookieValue(header, name []byte) ([]byte, bool) {
	for len(header) > 0 {
		var pair []byte
		pair, header = cutByte(header, ';')
		k, v, ok := cutByteFound(pair, '=')
		if !ok {
			continue
		}
		if string(trimOWS(k)) != string(name) {
			continue
		}
		v = trimOWS(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return nil, false
}

func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// req:cookie(name) -> the value of the request's cookie called name, or nil. Every Cookie
// header of the request is looked at (HTTP/2 proxies may split them), in order.
func reqCookie(c *engine.Call) int {
	_, rs := reqOf(c)
	name := c.CheckBytes(2)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.ctx != nil:
		for k, v := range rs.ctx.Request.Header.All() {
			if strings.EqualFold(string(k), "cookie") {
				if val, ok := cookieValue(v, name); ok {
					return c.ReturnBytes(val)
				}
			}
		}
	case rs.snap != nil:
		for _, p := range rs.snap.headers {
			if strings.EqualFold(string(p[0]), "cookie") {
				if val, ok := cookieValue(p[1], name); ok {
					return c.ReturnBytes(val)
				}
			}
		}
	}
	return 0
}

// validCookieValue reports whether v may be a cookie's value as it is: cookie-octets (no
// space, DQUOTE, comma, semicolon, backslash or control character, nothing beyond ASCII),
// optionally in double quotes (RFC 6265 §4.1.1). Empty is allowed.
func validCookieValue(v []byte) bool {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// validCookiePath: a path-value is any character but a control character or ";".
func validCookiePath(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// validCookieDomain: a host name (letters, digits, "-" and "."), optionally with a leading ".".
func validCookieDomain(s string) bool {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// cookieOptions are res:set_cookie's options, checked.
type cookieOptions struct {
	path, domain     string
	maxAge           int64 // -1: none
	expires          time.Time
	hasExpires       bool
	secure, httpOnly bool
	sameSite         string // "", "Strict", "Lax" or "None"
}

// maxCookieSeconds bounds max_age and expires: beyond year 9999 a date has no HTTP form.
const maxCookieSeconds = 253402300799 // 9999-12-31T23:59:59Z

const cookieOptionNames = "path, domain, max_age, expires, secure, http_only, same_site"

func parseCookieOptions(c *engine.Call, i int) cookieOptions {
	o := cookieOptions{path: "/", maxAge: -1}
	switch c.Type(i) {
	case engine.TypeNil, engine.TypeNone:
		return o
	case engine.TypeTable:
	default:
		c.TypeError(i, "table")
	}
	v, err := packed.Decode(c.Encode(i))
	if err != nil {
		c.ArgError(i, err.Error())
	}
	opts, ok := v.(map[any]any)
	if !ok {
		if list, _ := v.([]any); len(list) > 0 {
			c.ArgError(i, "options must be a table of name = value ("+cookieOptionNames+")")
		}
		return o // {}
	}
	str := func(name string, val any) string {
		s, ok := val.(string)
		if !ok {
			c.ArgError(i, "options."+name+" must be a string")
		}
		return s
	}
	for k, val := range opts {
		switch k {
		case "path":
			o.path = str("path", val)
			if o.path == "" || o.path[0] != '/' || !validCookiePath(o.path) {
				c.ArgError(i, "options.path must start with '/' and hold no control character or ';', got "+quoteShort(o.path))
			}
		case "domain":
			o.domain = str("domain", val)
			if !validCookieDomain(o.domain) {
				c.ArgError(i, "options.domain must be a host name (letters, digits, '-' and '.'), got "+quoteShort(o.domain))
			}
		case "max_age":
			f, ok := val.(float64)
			if !ok || !(f >= 0 && f <= maxCookieSeconds) || f != math.Trunc(f) { // NaN fails too
				c.ArgError(i, "options.max_age must be a whole number of seconds from 0 (delete the cookie) to "+strconv.Itoa(maxCookieSeconds)+", got "+optionValue(val))
			}
			o.maxAge = int64(f)
		case "expires":
			o.expires, o.hasExpires = cookieExpires(c, i, val), true
		case "secure":
			o.secure = boolOption(c, i, "secure", val)
		case "http_only":
			o.httpOnly = boolOption(c, i, "http_only", val)
		case "same_site":
			switch s := str("same_site", val); strings.ToLower(s) {
			case "strict":
				o.sameSite = "Strict"
			case "lax":
				o.sameSite = "Lax"
			case "none":
				o.sameSite = "None"
			default:
				c.ArgError(i, "options.same_site must be \"Strict\", \"Lax\" or \"None\", got "+quoteShort(s))
			}
		default:
			c.ArgError(i, fmt.Sprintf("unknown option %s (%s)", optionName(k), cookieOptionNames))
		}
	}
	if o.sameSite == "None" && !o.secure {
		// Browsers drop such a cookie without a word.
		c.ArgError(i, "options.same_site = \"None\" needs options.secure = true (browsers refuse the cookie otherwise)")
	}
	return o
}

// cookieExpires reads options.expires: seconds since the epoch (os.time()), or a Timestamp
// (time.now(), a table with milliunix).
func cookieExpires(c *engine.Call, i int, val any) time.Time {
	const msg = "options.expires must be a time in seconds since 1970 (os.time()) or a Timestamp (time.now()), up to year 9999"
	var sec float64
	switch v := val.(type) {
	case float64:
		sec = v
	case map[any]any:
		ms, ok := v["milliunix"].(float64)
		if !ok {
			c.ArgError(i, msg)
		}
		sec = ms / 1000
	default:
		c.ArgError(i, msg+", got "+optionValue(val))
	}
	if !(sec >= 0 && sec <= maxCookieSeconds) { // NaN fails too
		c.ArgError(i, msg+", got "+optionValue(val))
	}
	return time.Unix(int64(sec), 0).UTC()
}

// optionValue shows an option's value in an error message.
func optionValue(v any) string {
	switch v := v.(type) {
	case float64:
		return formatArg(v)
	case string:
		return quoteShort(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "nil"
	}
	return "a table"
}

// appendSetCookie appends the value of a Set-Cookie header.
func appendSetCookie(dst, name, value []byte, o *cookieOptions) []byte {
	dst = append(dst, name...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	if o.path != "" {
		dst = append(append(dst, "; Path="...), o.path...)
	}
	if o.domain != "" {
		dst = append(append(dst, "; Domain="...), o.domain...)
	}
	if o.maxAge >= 0 {
		dst = strconv.AppendInt(append(dst, "; Max-Age="...), o.maxAge, 10)
	}
	if o.hasExpires {
		dst = o.expires.AppendFormat(append(dst, "; Expires="...), httpTimeFormat)
	}
	if o.secure {
		dst = append(dst, "; Secure"...)
	}
	if o.httpOnly {
		dst = append(dst, "; HttpOnly"...)
	}
	if o.sameSite != "" {
		dst = append(append(dst, "; SameSite="...), o.sameSite...)
	}
	return dst
}

// httpTimeFormat is the IMF-fixdate of HTTP (RFC 9110 §5.6.7), for times in UTC.
const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

var setCookieHeader = []byte("Set-Cookie")

// res:set_cookie(name, value, options?): adds a Set-Cookie header; each call adds one, so
// several cookies (or one cookie for several paths) are several headers. The name must be
// a token and the value cookie-octets (encode anything else first: base64, hex, percent
// encoding); options: path (default "/"), domain, max_age (seconds; 0 deletes), expires
// (seconds since 1970 or a Timestamp), secure, http_only, same_site ("Strict", "Lax",
// "None", which needs secure).
func resSetCookie(c *engine.Call) int {
	w, rs := resOf(c)
	name := c.CheckBytes(2)
	value := c.CheckBytes(3)
	if !httpsyntax.ValidToken(name) {
		c.ArgError(2, "cookie name must be an HTTP token, got "+quoteShort(name))
	}
	if !validCookieValue(value) {
		c.ArgError(3, "cookie value may hold only ASCII letters, digits and !#$%&'()*+-./:<=>?@[]^_`{|}~ (no space, '\"', ',', ';' or '\\': encode it first), got "+quoteShort(value))
	}
	o := parseCookieOptions(c, 4)
	rs.editHead(c, "cookie set", func(resp *fasthttp.Response) {
		buf := appendSetCookie(w.Scratch(), name, value, &o)
		resp.Header.AddBytesKV(setCookieHeader, buf)
		w.KeepScratch(buf)
	})
	return 0
}

// statusMessage is fasthttp's reason phrase for code, the one the server sends, or "" for a
// code it does not know.
func statusMessage(code int) string {
	if code < 100 || code > 599 {
		return ""
	}
	if m := fasthttp.StatusMessage(code); m != "Unknown Status Code" {
		return m
	}
	return ""
}
