/* Fast response methods: see clua_resp in clua.h. Each method does its work in C when the
 * call is the simple, common one (no callback, the right argument types, the response still
 * buffering inline); anything else goes to the Go method it replaced (upvalue 1), which
 * first takes over what was buffered. A method that fails a check records nothing: the Go
 * method raises the error. */
#include <stdlib.h>
#include <string.h>
#include "clua.h"

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

static int append_str(clua_resp *r, const char *s, size_t n) {
	uint32_t n32 = (uint32_t)n;
	if (!grow(&r->hdr, &r->hdrcap, r->hdrlen + 4 + n)) return 0;
	memcpy(r->hdr + r->hdrlen, &n32, 4);
	memcpy(r->hdr + r->hdrlen + 4, s, n);
	r->hdrlen += 4 + n;
	return 1;
}

/* mark_dirty puts r on its worker's list, once per takeover; 0 when that fails (no memory). */
static int mark_dirty(clua_resp *r) {
	if (r->dirty) return 1;
	clua_resp_list *l = r->list;
	if (l == NULL) return 0;
	if (l->n == l->cap) {
		int c = l->cap ? l->cap * 2 : 64;
		clua_resp **ni = (clua_resp **)realloc(l->items, (size_t)c * sizeof *ni);
		if (!ni) return 0;
		l->items = ni;
		l->cap = c;
	}
	l->items[l->n++] = r;
	r->dirty = 1;
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

static int fast_method(lua_State *L) {
	int op = (int)lua_tointeger(L, lua_upvalueindex(2));
	int n = lua_gettop(L);
	clua_obj *o = (clua_obj *)lua_touserdata(L, 1);
	clua_resp *r;
	if (o == NULL || lua_objlen(L, 1) != sizeof(clua_obj) || o->magic != CLUA_MAGIC) goto go;
	r = (clua_resp *)o->data;
	if (r == NULL || !r->inline_ || r->id != o->id || r->finished) goto go;
	if (!mark_dirty(r)) goto go;
	switch (op) {
	case CLUA_RESP_SET_STATUS: {
		if (n != 2 || lua_type(L, 2) != LUA_TNUMBER) goto go;
		lua_Number code = lua_tonumber(L, 2);
		/* Written so that NaN fails too; a fraction is not a status. Go raises the error. */
		if (!(code >= 100 && code <= 999) || code != (lua_Number)(int)code) goto go;
		r->status = (int)code;
		return 0;
	}
	case CLUA_RESP_SET: {
		if (n != 3 || lua_type(L, 2) != LUA_TSTRING || lua_type(L, 3) != LUA_TSTRING) goto go;
		size_t kn, vn;
		const char *k = lua_tolstring(L, 2, &kn), *v = lua_tolstring(L, 3, &vn);
		if (!valid_name(k, kn) || !valid_value(v, vn)) goto go; /* Go raises the error */
		size_t mark = r->hdrlen;
		if (!append_str(r, k, kn) || !append_str(r, v, vn)) {
			r->hdrlen = mark;
			goto go;
		}
		return 0;
	}
	case CLUA_RESP_WRITE: {
		if (n != 2 || lua_type(L, 2) != LUA_TSTRING) goto go;
		size_t dn;
		const char *d = lua_tolstring(L, 2, &dn);
		if (!grow(&r->body, &r->bodycap, r->bodylen + dn)) goto go;
		memcpy(r->body + r->bodylen, d, dn);
		r->bodylen += dn;
		r->written = 1;
		return 0;
	}
	case CLUA_RESP_FINISH:
		if (n != 1) goto go;
		r->finished = 1;
		return 0;
	}
go:
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	return lua_gettop(L);
}

/* Replaces set_status, set, write and finish in the methods table (__index) of the class
 * whose metatable is at registry ref mtref with fast methods that fall back to them. */
void clua_resp_install(lua_State *L, int mtref) {
	static const struct { const char *name; int op; } fast[] = {
		{"set_status", CLUA_RESP_SET_STATUS},
		{"set", CLUA_RESP_SET},
		{"write", CLUA_RESP_WRITE},
		{"finish", CLUA_RESP_FINISH},
	};
	lua_rawgeti(L, LUA_REGISTRYINDEX, mtref);
	lua_pushstring(L, "__index");
	lua_rawget(L, -2);
	for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
		lua_pushstring(L, fast[i].name);
		lua_pushstring(L, fast[i].name);
		lua_rawget(L, -3); /* the Go method */
		lua_pushinteger(L, fast[i].op);
		lua_pushcclosure(L, fast_method, 2);
		lua_rawset(L, -3);
	}
	lua_pop(L, 2);
}

void clua_resp_list_free(clua_resp_list *l) {
	free(l->items);
	free(l);
}

void clua_resp_free(clua_resp *r) {
	free(r->hdr);
	free(r->body);
	free(r);
}
