/* The fast methods of an HTTP response (resp.h): each records its call when it is the
 * simple, common one (the right argument types, the response still buffering); anything
 * else it declines, and the Go method it stands in for has the call (and raises the error).
 * No Lua here: the engine's trampoline (cgo/cfast.c) hands over plain C values. */
#include <stdlib.h>
#include <string.h>
#include "resp.h"

static int grow(char **p, size_t *cap, size_t need) {
	if (need <= *cap) return 1;
	size_t c = *cap ? *cap : 256;
	while (c < need) c *= 2;
	char *np = (char *)realloc(*p, c);
	if (!np) return 0;
	*p = np;
	*cap = c;
	return 1;
}

static int append_str(http_resp *r, const char *s, size_t n) {
	uint32_t n32 = (uint32_t)n;
	if (!grow(&r->hdr, &r->hdrcap, r->hdrlen + 4 + n)) return 0;
	memcpy(r->hdr + r->hdrlen, &n32, 4);
	memcpy(r->hdr + r->hdrlen + 4, s, n);
	r->hdrlen += 4 + n;
	return 1;
}

/* The checks of the Go methods (bindings/http), so that what is recorded here is always
 * what Go would have accepted: a header name is a token (RFC 9110 5.6.2), a value holds no
 * control character but HTAB, so that no CR or LF can split the response. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* A table look-up per byte: on the hello-world path (one res:set per request) a switch per
 * byte cost ~10 instructions a byte, a tenth of the fast method's whole budget. */
static int valid_name(const char *s, size_t n) {
	if (n == 0) return 0;
	unsigned char ok = 1;
	for (size_t i = 0; i < n; i++) ok &= tchar[(unsigned char)s[i]];
	return ok;
}

static int valid_value_byte(unsigned char c) { return (c >= ' ' || c == '\t') && c != 0x7f; }

/* Eight bytes at a time (a word with no byte below 0x20 and none equal to 0x7f is clean);
 * a word that may hold one, a tab say, and the tail are looked at byte by byte. A byte loop
 * cost ~14 instructions a byte here. */
static int valid_value(const char *s, size_t n) {
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, s + i, 8);
		y = x ^ (0x7f * ones);
		if ((((x - 0x20 * ones) & ~x) | ((y - ones) & ~y)) & highs) {
			for (size_t j = i; j < i + 8; j++)
				if (!valid_value_byte((unsigned char)s[j])) return 0;
		}
	}
	for (; i < n; i++)
		if (!valid_value_byte((unsigned char)s[i])) return 0;
	return 1;
}

int http_resp_fast(drlee_fast_obj *obj, int op, const drlee_fast_args *a) {
	http_resp *r = (http_resp *)obj;
	if (r->finished) return DRLEE_FAST_GO; /* Go says why nothing more may be written */
	if (r->streaming) {
		/* The headers are out: a status or a header is Go's error to raise, and a write
		 * with a callback waits for its chunk to go out, which only Go can tell. */
		if (op == HTTP_WRITE && (a->n != 1 || a->type[0] != DRLEE_T_STRING ||
		                         a->len[0] > HTTP_STREAM_COPY_MAX ||
		                         r->bodylen + a->len[0] >= HTTP_FLUSH_AT))
			return DRLEE_FAST_GO;
		if (op != HTTP_WRITE && op != HTTP_FINISH) return DRLEE_FAST_GO;
	}
	switch (op) {
	case HTTP_SET_STATUS: {
		if (a->n != 1 || a->type[0] != DRLEE_T_NUMBER) return DRLEE_FAST_GO;
		double code = a->num[0];
		/* Written so that NaN fails too; a fraction is not a status. */
		if (!(code >= 100 && code <= 599) || code != (double)(int)code) return DRLEE_FAST_GO;
		r->status = (int)code;
		return DRLEE_FAST_DONE;
	}
	case HTTP_SET: {
		if (a->n != 2 || a->type[0] != DRLEE_T_STRING || a->type[1] != DRLEE_T_STRING) return DRLEE_FAST_GO;
		if (!valid_name(a->str[0], a->len[0]) || !valid_value(a->str[1], a->len[1])) return DRLEE_FAST_GO;
		size_t mark = r->hdrlen;
		if (!append_str(r, a->str[0], a->len[0]) || !append_str(r, a->str[1], a->len[1])) {
			r->hdrlen = mark;
			return DRLEE_FAST_GO;
		}
		return DRLEE_FAST_DONE;
	}
	case HTTP_WRITE: {
		/* write(data), or write(data, cb) with cb called as soon as this code returns
		 * (a buffered write's outcome is known now), while the body stays below
		 * HTTP_FLUSH_AT: past it, Go has the write and the response streams. */
		int cb = a->n == 2 && a->type[1] == DRLEE_T_FUNCTION;
		if ((a->n != 1 && !cb) || a->type[0] != DRLEE_T_STRING) return DRLEE_FAST_GO;
		if (cb && r->bodylen + a->len[0] >= HTTP_FLUSH_AT) return DRLEE_FAST_GO;
		if (!grow(&r->body, &r->bodycap, r->bodylen + a->len[0])) return DRLEE_FAST_GO;
		memcpy(r->body + r->bodylen, a->str[0], a->len[0]);
		r->bodylen += a->len[0];
		r->written = 1;
		return cb ? DRLEE_FAST_SOON : DRLEE_FAST_TRUE;
	}
	case HTTP_FINISH:
		if (a->n != 0) return DRLEE_FAST_GO;
		r->finished = 1;
		return DRLEE_FAST_TRUE;
	}
	return DRLEE_FAST_GO;
}

http_resp *http_resp_new(void) { return (http_resp *)calloc(1, sizeof(http_resp)); }

void http_resp_free(http_resp *r) {
	free(r->hdr);
	free(r->body);
	free(r);
}
