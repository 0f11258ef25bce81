// Package httpsyntax checks and rewrites the pieces of HTTP/1.1 messages that scripts put
// into requests and responses, or read out of them: tokens (methods, header names), header
// values, request targets. Pure functions, no allocation unless stated.
package httpsyntax

// tchar[c] is whether c may appear in a token (RFC 9110 §5.6.2).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// ValidToken reports whether s is an HTTP token, as a method or a header name must be:
// one or more of the letters, digits and !#$%&'*+-.^_`|~ (no space, colon, CR, LF or
// NUL, nothing beyond ASCII).
func ValidToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether s may be sent as a header value: it holds no control
// character but HTAB (RFC 9110 §5.5), so that no CR or LF can end the header early
// (header injection, response splitting) and no NUL reaches the peer. Bytes beyond ASCII
// (UTF-8) are allowed, as obs-text.
func ValidFieldValue[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// OriginForm returns the path and query of a request target: target itself in the usual
// origin form ("/path?query"); for the absolute form a client sends to a proxy
// ("http://host/path?query") the part after the authority, "/" when the path is empty
// ("http://host?q" gives "/?q", the one case that allocates). Any other target (CONNECT's
// "host:port") is returned as it is. The result may be shared: do not modify it.
func OriginForm(target []byte) []byte {
	if len(target) == 0 || target[0] == '/' {
		return target
	}
	// scheme "://": a letter, then letters, digits, + - .
	i := 0
	for i < len(target) && isSchemeChar(target[i], i == 0) {
		i++
	}
	if i == 0 || len(target) < i+3 || target[i] != ':' || target[i+1] != '/' || target[i+2] != '/' {
		return target
	}
	rest := target[i+3:]
	for j, c := range rest {
		switch c {
		case '/':
			return rest[j:]
		case '?':
			return append([]byte{'/'}, rest[j:]...)
		case '#':
			return root
		}
	}
	return root
}

var root = []byte{'/'}

func isSchemeChar(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9', c == '+', c == '-', c == '.':
		return !first
	}
	return false
}
