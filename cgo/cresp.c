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
static int is_tchar(unsigned char c) {
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

static int valid_name(const char *s, size_t n) {
	if (n == 0) return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i])) return 0;
	return 1;
}

static int valid_value(const char *s, size_t n) {
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < ' ' && c != '\t') || c == 0x7f) return 0;
	}
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
