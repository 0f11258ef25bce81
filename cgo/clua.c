//go:build luajit

/* The C side of the boundary. Read clua.h first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clua.h"
#include "_cgo_export.h"

/* ---- packed values (the format: package packed, packed/packed.go) ---- */

static uint32_t rd_u32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd_u64(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A table's size hint from a count in the buffer: the count itself up to a bound, so that a
 * header claiming millions of entries does not preallocate them (the table grows as the
 * entries arrive), and never a negative int. */
static int size_hint(uint32_t n) { return n > 65536 ? 65536 : (int)n; }

/* Pushes one value starting at buf[*pos]. Runs only where raising is safe (inside a
 * lua_CFunction or a protected call): lua_createtable and lua_pushlstring may raise on
 * memory errors. */
static void decode_one(lua_State *L, const char *buf, size_t len, size_t *pos) {
	size_t p = *pos;
	if (p >= len) luaL_error(L, "drlee: truncated value buffer");
	char tag = buf[p++];
	switch (tag) {
	case 'n': lua_pushnil(L); break;
	case 't': lua_pushboolean(L, 1); break;
	case 'f': lua_pushboolean(L, 0); break;
	case 'i': { int64_t v = (int64_t)rd_u64(buf + p); p += 8; lua_pushnumber(L, (lua_Number)v); break; }
	case 'd': { double v; memcpy(&v, buf + p, 8); p += 8; lua_pushnumber(L, v); break; }
	case 's': { uint32_t n = rd_u32(buf + p); p += 4; lua_pushlstring(L, buf + p, n); p += n; break; }
	case '{': {
		uint32_t narr = rd_u32(buf + p), nrec = rd_u32(buf + p + 4);
		p += 8;
		luaL_checkstack(L, 4, "drlee: value nesting");
		lua_createtable(L, size_hint(narr), size_hint(nrec));
		for (uint32_t i = 1; i <= narr; i++) {
			decode_one(L, buf, len, &p);
			lua_rawseti(L, -2, (int)i);
		}
		for (uint32_t i = 0; i < nrec; i++) {
			decode_one(L, buf, len, &p);
			decode_one(L, buf, len, &p);
			/* A key Lua has no room for (nil, NaN), which another writer may send, is
			 * dropped with its value, as value.Decode drops it: raising here would make
			 * one odd entry of a message the failure of the whole call. */
			int kt = lua_type(L, -2);
			if (kt == LUA_TNIL || (kt == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2))) {
				lua_pop(L, 2);
				continue;
			}
			lua_rawset(L, -3);
		}
		break;
	}
	case 'o': {
		uint32_t mt = rd_u32(buf + p), cls = rd_u32(buf + p + 4);
		uint64_t id = rd_u64(buf + p + 8);
		p += 16;
		clua_obj *o = (clua_obj *)lua_newuserdata(L, sizeof(clua_obj));
		o->magic = CLUA_MAGIC;
		o->cls = cls;
		o->id = id;
		o->data = NULL;
		o->fields = 0;
		lua_rawgeti(L, LUA_REGISTRYINDEX, (int)mt);
		lua_setmetatable(L, -2);
		break;
	}
	case 'O': { /* 'o' with a data pointer (clua_obj.data) */
		uint32_t mt = rd_u32(buf + p), cls = rd_u32(buf + p + 4);
		uint64_t id = rd_u64(buf + p + 8), data = rd_u64(buf + p + 16);
		p += 24;
		clua_obj *o = (clua_obj *)lua_newuserdata(L, sizeof(clua_obj));
		o->magic = CLUA_MAGIC;
		o->cls = cls;
		o->id = id;
		o->data = (void *)(uintptr_t)data;
		o->fields = 0;
		lua_rawgeti(L, LUA_REGISTRYINDEX, (int)mt);
		lua_setmetatable(L, -2);
		break;
	}
	case '[': { /* an array: a table with the array metatable; 'n' elements leave holes */
		uint32_t n = rd_u32(buf + p);
		p += 4;
		luaL_checkstack(L, 4, "drlee: value nesting");
		lua_createtable(L, size_hint(n), 0);
		for (uint32_t i = 1; i <= n; i++) {
			decode_one(L, buf, len, &p);
			lua_rawseti(L, -2, (int)i);
		}
		lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_ARRAY);
		lua_setmetatable(L, -2);
		break;
	}
	case 'N': lua_pushlightuserdata(L, NULL); break; /* json.null, as lua-cjson has it */
	case 'r': { uint32_t ref = rd_u32(buf + p); p += 4; lua_rawgeti(L, LUA_REGISTRYINDEX, (int)ref); break; }
	case 'M': { /* prefix: the next value gets this metatable */
		uint32_t mt = rd_u32(buf + p);
		p += 4;
		decode_one(L, buf, len, &p);
		lua_rawgeti(L, LUA_REGISTRYINDEX, (int)mt);
		lua_setmetatable(L, -2);
		break;
	}
	default: luaL_error(L, "drlee: bad value tag %d", (int)tag);
	}
	*pos = p;
}

static int decode_all(lua_State *L, const char *buf, size_t len);

/* For the other C files of the boundary (cthread.c): the same decoder. */
int clua_decode_all(lua_State *L, const char *buf, size_t len) { return decode_all(L, buf, len); }

static int decode_all(lua_State *L, const char *buf, size_t len) {
	size_t pos = 0;
	int n = 0;
	while (pos < len) {
		luaL_checkstack(L, 2, "drlee: too many values");
		decode_one(L, buf, len, &pos);
		n++;
	}
	return n;
}

/* Growable output buffer for clua_encode, allocated with malloc and owned by the Go State. */
typedef struct {
	char **p;
	size_t *len;
	size_t *cap;
	const char *err;
	const void *path[CLUA_MAXDEPTH]; /* tables on the path from the root: a repeat is a cycle */
	int grown;                       /* the stack was grown for this encode (enc_room) */
	int depth;
} enc;

static int enc_grow(enc *e, size_t n) {
	if (*e->len + n <= *e->cap) return 1;
	size_t c = *e->cap ? *e->cap : 256;
	while (c < *e->len + n) c *= 2;
	char *np = (char *)realloc(*e->p, c);
	if (!np) { e->err = "out of memory"; return 0; }
	*e->p = np;
	*e->cap = c;
	return 1;
}
static int enc_byte(enc *e, char b) {
	if (!enc_grow(e, 1)) return 0;
	(*e->p)[(*e->len)++] = b;
	return 1;
}
static int enc_bytes(enc *e, const void *b, size_t n) {
	if (!enc_grow(e, n)) return 0;
	memcpy(*e->p + *e->len, b, n);
	*e->len += n;
	return 1;
}
static int enc_number(enc *e, double d) {
	/* -0.0 stays a float: as an integer it would come back as 0. */
	if (d == floor(d) && fabs(d) < 9007199254740992.0 && !(d == 0 && signbit(d))) {
		int64_t v = (int64_t)d;
		return enc_byte(e, 'i') && enc_bytes(e, &v, 8);
	}
	return enc_byte(e, 'd') && enc_bytes(e, &d, 8);
}

static int enc_u32(enc *e, uint32_t v) { return enc_bytes(e, &v, 4); }

/* The address of this byte is json.empty_array (registry[CLUA_REG_EMPTY_ARRAY]). */
static const char clua_empty_array = 0;

/* Whether the table at idx has the array metatable. Cannot raise: lua_getmetatable,
 * lua_rawgeti and lua_rawequal never call metamethods or allocate. */
static int enc_is_array(lua_State *L, int idx) {
	if (!lua_getmetatable(L, idx)) return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_ARRAY);
	int r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

/* The length of the array-marked table at idx: its largest key, when every key is an
 * integer in 1..2^31-1 and the holes are no sparser than CLUA_SPARSE_* allow; -1 otherwise,
 * and the table is packed as a plain one, so that no key is lost (a script may have set
 * t.name on a decoded array). Cannot raise: lua_next on keys it returned. */
static int64_t enc_array_len(lua_State *L, int idx) {
	double max = 0, count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
		if (!(k >= 1 && k <= 2147483647.0 && k == floor(k))) {
			lua_pop(L, 1);
			return -1;
		}
		if (k > max) max = k;
		count++;
	}
	if (max > CLUA_SPARSE_SAFE && max > CLUA_SPARSE_RATIO * count) return -1;
	return (int64_t)max;
}

/* enc_room makes sure the next table level has its 4 stack slots, without raising: this
 * runs from Go. lua_checkstack raises when it must grow the stack and no memory is left, so
 * the stack is grown once per encode, under protection, for the deepest value the format
 * allows, as soon as the encode gets deep enough to need more than the slots a C function
 * is given (LUA_MINSTACK); later lua_checkstack calls then never grow it. Nothing in an
 * encode allocates, so no collection can shrink the stack meanwhile. */
static int enc_room(lua_State *L, enc *e) {
	if (!e->grown && e->depth >= 3) {
		e->grown = 1;
		lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_GROW);
		lua_pushinteger(L, 4 * (CLUA_MAXDEPTH + 2));
		if (lua_pcall(L, 1, 0, 0) != 0) {
			lua_pop(L, 1);
			e->err = "out of memory";
			return 0;
		}
	}
	if (!lua_checkstack(L, 4)) {
		e->err = "nesting too deep";
		return 0;
	}
	return 1;
}

/* Grows the stack by argument 1 slots (luaL_checkstack raises when it cannot). */
static int grow_body(lua_State *L) {
	luaL_checkstack(L, (int)lua_tointeger(L, 1), "drlee: value nesting");
	return 0;
}

/* Encodes the value at idx (absolute index). Uses only Lua API calls that cannot raise
 * (rawget, next on a valid key, type checks, getmetatable), so it is safe to call from Go. */
static int enc_value(lua_State *L, int idx, enc *e) {
	switch (lua_type(L, idx)) {
	case LUA_TNIL: return enc_byte(e, 'n');
	case LUA_TLIGHTUSERDATA: {
		/* json.null and json.empty_array; any other lightuserdata is an error below. */
		const void *p = lua_touserdata(L, idx);
		if (p == NULL) return enc_byte(e, 'N');
		if (p == &clua_empty_array) return enc_byte(e, '[') && enc_u32(e, 0);
		e->err = "userdata";
		return 0;
	}
	case LUA_TBOOLEAN: return enc_byte(e, lua_toboolean(L, idx) ? 't' : 'f');
	case LUA_TNUMBER: return enc_number(e, lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		uint32_t n32 = (uint32_t)n;
		return enc_byte(e, 's') && enc_bytes(e, &n32, 4) && enc_bytes(e, s, n);
	}
	case LUA_TTABLE: break;
	default:
		e->err = lua_typename(L, lua_type(L, idx));
		return 0;
	}
	const void *self = lua_topointer(L, idx);
	for (int i = 0; i < e->depth; i++) {
		if (e->path[i] == self) { e->err = "cycle"; return 0; }
	}
	if (e->depth >= (int)(sizeof e->path / sizeof e->path[0])) {
		e->err = "nesting too deep";
		return 0;
	}
	if (!enc_room(L, e)) return 0;
	e->path[e->depth++] = self;
	if (enc_is_array(L, idx)) {
		int64_t n = enc_array_len(L, idx);
		if (n >= 0) {
			if (!enc_byte(e, '[') || !enc_u32(e, (uint32_t)n)) return 0;
			for (int64_t i = 1; i <= n; i++) {
				lua_rawgeti(L, idx, (int)i);
				int ok = enc_value(L, lua_gettop(L), e);
				lua_pop(L, 1);
				if (!ok) return 0;
			}
			e->depth--;
			return 1;
		}
	}
	/* Array part: 1..narr with no hole. */
	uint32_t narr = 0;
	for (;;) {
		lua_rawgeti(L, idx, (int)narr + 1);
		int nil = lua_isnil(L, -1);
		lua_pop(L, 1);
		if (nil) break;
		narr++;
	}
	if (!enc_byte(e, '{')) return 0;
	size_t hdr = *e->len;
	uint32_t zero = 0;
	if (!enc_bytes(e, &narr, 4) || !enc_bytes(e, &zero, 4)) return 0;
	for (uint32_t i = 1; i <= narr; i++) {
		lua_rawgeti(L, idx, (int)i);
		int ok = enc_value(L, lua_gettop(L), e);
		lua_pop(L, 1);
		if (!ok) return 0;
	}
	uint32_t nrec = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int top = lua_gettop(L);
		if (lua_type(L, top - 1) == LUA_TNUMBER) {
			double k = lua_tonumber(L, top - 1);
			if (k >= 1 && k <= narr && k == floor(k)) { lua_pop(L, 1); continue; }
		}
		if (!enc_value(L, top - 1, e) || !enc_value(L, top, e)) { lua_pop(L, 2); return 0; }
		nrec++;
		lua_pop(L, 1);
	}
	memcpy(*e->p + hdr + 4, &nrec, 4);
	e->depth--;
	return 1;
}

/* Encodes the value at idx into *out (malloc'd, grown as needed). Returns 0 on success, or
 * -1 with the reason in *why (a type name such as "function", "cycle", "nesting too deep"). */
int clua_encode(lua_State *L, int idx, char **out, size_t *outlen, size_t *cap, const char **why) {
	if (idx < 0) idx = lua_gettop(L) + idx + 1;
	enc e = {out, outlen, cap, NULL, {0}, 0, 0};
	*outlen = 0;
	int top = lua_gettop(L);
	int ok = enc_value(L, idx, &e);
	lua_settop(L, top);
	if (ok) return 0;
	*why = e.err ? e.err : "unknown";
	return -1;
}

/* ---- Lua -> Go ---- */

/* Gives a result buffer taken from st->spare back once its trampoline is done with it:
 * into spare when that is empty (the usual case), else the smaller of the two is freed. */
typedef struct {
	clua_st *st;
	char *p;
	size_t cap;
} taken_buf;

static void give_back(taken_buf *b) {
	if (b->p == NULL) return;
	clua_st *st = b->st;
	if (st->spare == NULL) {
		st->spare = b->p;
		st->sparecap = b->cap;
	} else if (st->sparecap < b->cap) {
		free(st->spare);
		st->spare = b->p;
		st->sparecap = b->cap;
	} else {
		free(b->p);
	}
	b->p = NULL;
}

/* The trampoline behind every Go function visible to Lua. Upvalues: 1 the state's clua_st
 * (lightuserdata), 2 the function id, 3 the module table or nil: a module function called
 * with a colon (time:timeout) gets the module as argument 1, which is dropped here so that
 * both forms work. */
static int clua_tramp(lua_State *L) {
	clua_st *st = (clua_st *)lua_touserdata(L, lua_upvalueindex(1));
	int fid = (int)lua_tointeger(L, lua_upvalueindex(2));
	if (lua_type(L, lua_upvalueindex(3)) == LUA_TTABLE && lua_rawequal(L, 1, lua_upvalueindex(3))) {
		lua_remove(L, 1);
	}
	return clua_go(L, st, fid);
}

/* clua_go calls Go function fid with the arguments on the stack and returns what the C
 * function Lua called must return: the trampoline's body, shared with the fast methods'
 * fallback (cfast.c), which must end in it directly, not through lua_call, for an await to
 * be able to yield (lua_yield needs the C function Lua called to return its result). */
int clua_go(lua_State *L, clua_st *st, int fid) {
	clua_frame f;
	int n = lua_gettop(L);
	f.n = n;
	f.ret = NULL;
	f.retlen = 0;
	/* Only the arguments passed are filled: Go never reads past f.n. */
	int m = n < CLUA_MAXARGS ? n : CLUA_MAXARGS;
	int keeps = fid >= 0 && fid < st->nkeeps && st->keeps[fid];
	for (int i = 0; i < m; i++) {
		int t = lua_type(L, i + 1);
		f.type[i] = t;
		f.cls[i] = 0;
		f.id[i] = 0;
		f.ref[i] = 0;
		switch (t) {
		case LUA_TFUNCTION:
			/* A failed ref (no memory) stays 0: Go then tries again and raises. */
			if (keeps) {
				int ref = clua_ref_arg(L, i + 1);
				if (ref > 0) f.ref[i] = ref;
			}
			break;
		case LUA_TNUMBER: f.num[i] = lua_tonumber(L, i + 1); break;
		case LUA_TBOOLEAN: f.num[i] = lua_toboolean(L, i + 1); break;
		case LUA_TSTRING: f.str[i] = lua_tolstring(L, i + 1, &f.len[i]); break;
		case LUA_TUSERDATA: {
			clua_obj *o = (clua_obj *)lua_touserdata(L, i + 1);
			if (lua_objlen(L, i + 1) == sizeof(clua_obj) && o->magic == CLUA_MAGIC) {
				f.cls[i] = o->cls;
				f.id[i] = o->id;
			}
			break;
		}
		}
	}
	int r = goDispatch(st->h, fid, L, &f);
	if (keeps) { /* the refs Go did not take, however the call ended */
		for (int i = 0; i < m; i++) {
			if (f.ref[i] > 0) {
				clua_unref(L, f.ref[i]);
				/* This call did not keep its callback (res:flush with everything out
				 * calls it soon instead): refs are taken in Go again until a call keeps
				 * one, rather than a ref and an unref per call for nothing. */
				st->keeps[fid] = 0;
			}
		}
	}
	if (r >= 0) return r;
	/* CLUA_AWAIT: Go started an operation whose result resumes this coroutine (a runtime
	 * thread: cthread.c). Yielding may be impossible here (a C function such as a
	 * table.sort comparator is on the way): lua_yield then raises "attempt to yield across
	 * C-call boundary", a plain Lua error, and the operation's result goes to nobody. */
	if (r == CLUA_AWAIT) return lua_yield(L, 0);
	/* f.ret is in st->spare (or a static message). Take the buffer while it is read: what
	 * follows allocates, an allocation may run a __gc finalizer, and a finalizer may call
	 * any Go function, whose results must not land in the bytes being decoded here. The
	 * cleanup runs however this frame ends, normally or by a Lua error unwinding it: LuaJIT
	 * raises with the system unwinder on x64, which runs cleanups of C frames compiled with
	 * -fexceptions (cgo CFLAGS; TestResultBufferGivenBackAfterRaise checks it). */
	taken_buf taken __attribute__((cleanup(give_back))) = {st, NULL, 0};
	if (f.ret != NULL && f.ret == st->spare) {
		taken.p = st->spare;
		taken.cap = st->sparecap;
		st->spare = NULL;
		st->sparecap = 0;
	}
	if (r == CLUA_VALUES) return decode_all(L, f.ret, f.retlen);
	if (r == CLUA_SOON) { /* Go checked that L is a runtime thread and f.soon a function */
		int k = decode_all(L, f.ret, f.retlen);
		if (k == 0) { /* no results: the function itself, as a fast method's (no table) */
			if (clua_soon_push(L, st, f.soon) == 0) return luaL_error(L, "drlee: no soon queue here (a bug)");
			return 0;
		}
		int base = lua_gettop(L) - k;
		lua_createtable(L, k + 1, 1);
		lua_pushvalue(L, f.soon);
		lua_rawseti(L, -2, 1);
		for (int i = 1; i <= k; i++) {
			lua_pushvalue(L, base + i);
			lua_rawseti(L, -2, i + 1);
		}
		lua_pushinteger(L, k);
		lua_setfield(L, -2, "n");
		if (clua_soon_push(L, st, lua_gettop(L)) == 0) return luaL_error(L, "drlee: no soon queue here (a bug)");
		return 0;
	}
	/* CLUA_RAISE: the message is in f.ret; raise it from this C frame, after Go returned. */
	luaL_where(L, 1);
	lua_pushlstring(L, f.ret, f.retlen);
	lua_concat(L, 2);
	return lua_error(L);
}

/* clua_tramp_target reads the state and function id of the trampoline at idx; 0 when the
 * value there is not one. */
int clua_tramp_target(lua_State *L, int idx, clua_st **st, int *fid) {
	if (lua_tocfunction(L, idx) != clua_tramp) return 0;
	lua_getupvalue(L, idx, 1);
	*st = (clua_st *)lua_touserdata(L, -1);
	lua_pop(L, 1);
	lua_getupvalue(L, idx, 2);
	*fid = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return *st != NULL;
}

void clua_push_tramp(lua_State *L, clua_st *st, int fid, int selfidx) {
	lua_pushlightuserdata(L, st);
	lua_pushinteger(L, fid);
	if (selfidx) lua_pushvalue(L, selfidx); else lua_pushnil(L);
	lua_pushcclosure(L, clua_tramp, 3);
}

/* ours is the object at idx when it is one of our userdata, else NULL. Never raises. */
static clua_obj *ours(lua_State *L, int idx) {
	if (lua_type(L, idx) != LUA_TUSERDATA || lua_objlen(L, idx) != sizeof(clua_obj)) return NULL;
	clua_obj *o = (clua_obj *)lua_touserdata(L, idx);
	return o->magic == CLUA_MAGIC ? o : NULL;
}

/* __index of a class with getters or script fields: methods first (upvalue 1), then
 * getters (upvalue 2), which are functions called with the object and whose result is the
 * field's value, then the fields a script set on this object (its environment table, once
 * it has one). What is found first costs what it cost before script fields existed: a
 * method or a getter never looks at the fields, and an object no script set a field on
 * has no table to look in. */
static int clua_index(lua_State *L) {
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	if (!lua_isnil(L, -1)) return 1;
	lua_pop(L, 1);
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(2));
	if (lua_isnil(L, -1)) {
		clua_obj *o = ours(L, 1);
		if (o == NULL || !o->fields) return 1;
		lua_getfenv(L, 1);
		lua_pushvalue(L, 2);
		lua_rawget(L, -2);
		return 1;
	}
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	return 1;
}

/* Expects the methods and getters tables on the stack; replaces them with the closure. */
void clua_push_index(lua_State *L) { lua_pushcclosure(L, clua_index, 2); }

/* __newindex of a class with script fields (upvalues: methods, getters, the class name,
 * the class's metatable):
 * obj.k = v stores v under k in the object's own table, its environment, made at the first
 * assignment and collected with the object. A method's or a getter's name is refused: a
 * field never shadows what the class defines. */
static int clua_newindex(lua_State *L) {
	clua_obj *o = ours(L, 1);
	const char *cls = lua_tostring(L, lua_upvalueindex(3));
	int same = 0; /* an object of this class, not of another (getmetatable(a).__newindex(b, ...)) */
	if (o != NULL && lua_getmetatable(L, 1)) {
		same = lua_rawequal(L, -1, lua_upvalueindex(4));
		lua_pop(L, 1);
	}
	if (!same) return luaL_error(L, "%s field set on something else (%s)", cls, luaL_typename(L, 1));
	int kt = lua_type(L, 2);
	if (kt == LUA_TNIL || (kt == LUA_TNUMBER && lua_tonumber(L, 2) != lua_tonumber(L, 2))) {
		return luaL_error(L, "cannot set a field of %s with a %s key", cls, kt == LUA_TNIL ? "nil" : "NaN");
	}
	for (int up = 1; up <= 2; up++) {
		lua_pushvalue(L, 2);
		lua_rawget(L, lua_upvalueindex(up));
		int taken = !lua_isnil(L, -1);
		lua_pop(L, 1);
		if (taken) {
			const char *k = lua_tostring(L, 2); /* a string key: only those name methods */
			return luaL_error(L, "cannot set %s.%s: it is %s", cls, k ? k : "?",
			                  up == 1 ? "a method" : "a read-only field");
		}
	}
	if (!o->fields) {
		if (lua_isnil(L, 3)) return 0; /* nothing to remove */
		lua_createtable(L, 0, 2);
		lua_setfenv(L, 1);
		o->fields = 1;
	}
	lua_getfenv(L, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 3);
	lua_rawset(L, -3);
	return 0;
}

/* __gc of our userdata: tells Go the object is unreachable. Never raises. */
static int clua_gc(lua_State *L) {
	clua_obj *o = (clua_obj *)lua_touserdata(L, 1);
	if (o && o->magic == CLUA_MAGIC) {
		/* A fast object whose C state no longer serves it was released by Go already: no
		 * crossing to learn what Go knows (an HTTP response collected after it ended, the
		 * common case, costs no call into Go). */
		drlee_fast_obj *fo = (drlee_fast_obj *)o->data;
		if (fo == NULL || fo->id == o->id) {
			clua_st *st = (clua_st *)lua_touserdata(L, lua_upvalueindex(1));
			goFinalize(st->h, o->cls, o->id);
		}
		o->magic = 0;
	}
	return 0;
}

void clua_push_gc(lua_State *L, clua_st *st) {
	lua_pushlightuserdata(L, st);
	lua_pushcclosure(L, clua_gc, 1);
}

/* A full collection runs finalizers, which may raise: protected, so that none can unwind
 * into the Go caller. */
static int fullgc_body(lua_State *L) {
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}

int clua_fullgc(lua_State *L) {
	int st = lua_cpcall(L, fullgc_body, NULL);
	if (st != 0) lua_pop(L, 1);
	return st;
}

/* ---- Go -> Lua ---- */

/* Message handler: the error message plus a traceback. */
static int clua_traceback(lua_State *L) {
	const char *msg = lua_tostring(L, 1);
	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
			msg = lua_tostring(L, -1);
		} else {
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
		}
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

typedef struct {
	int fnref;
	int unref;
	const char *buf;
	size_t len;
} callreq;

/* Runs under lua_pcall: fetch the function, decode its arguments, call it. Decoding here
 * rather than before the pcall means a memory error while building the arguments is caught
 * too. */
static int clua_call_body(lua_State *L) {
	callreq *r = (callreq *)lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->fnref);
	if (r->unref) luaL_unref(L, LUA_REGISTRYINDEX, r->fnref);
	int n = decode_all(L, r->buf, r->len);
	lua_call(L, n, 0);
	return 0;
}

static int clua_chunk_body(lua_State *L);

static int reserve_body(lua_State *L);

/* Builds what every state needs, under protection (allocations may fail): the standard
 * libraries, the C helpers under fixed registry keys, the JSON array marks; and removes
 * what golua's state creation left that no script should see. */
static int init_body(lua_State *L) {
	clua_st *st = (clua_st *)lua_touserdata(L, 1);
	luaL_openlibs(L);
	lua_settop(L, 0);
	/* golua registers a global message handler and two metatables of its own Go-function
	 * machinery, none of which Dr.LEE uses: scripts see only the documented globals. */
	lua_pushnil(L);
	lua_setglobal(L, "golua_default_msghandler");
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "GoLua.GoFunction");
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "GoLua.GoInterface");
	/* Kept in the registry under fixed keys rather than pushed per call:
	 * lua_pushcfunction allocates a closure every time. Not at fixed stack slots either: a
	 * call made while a Go function called from Lua runs sees that function's frame. */
	lua_pushcfunction(L, clua_traceback);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_MSGH);
	lua_pushcfunction(L, clua_call_body);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_CALL);
	lua_pushcfunction(L, clua_chunk_body);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_CHUNK);
	lua_pushcfunction(L, reserve_body);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_RESERVE);
	lua_pushcfunction(L, grow_body);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_GROW);
	lua_pushcfunction(L, clua_thread_resume_body);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_RESUME);
	clua_thread_setup(L, st);
	/* luaL_ref's free list lives at key 0: made now, so that an unref, which sets it,
	 * never adds a key (an allocation, which may raise) when Go calls it. */
	lua_pushinteger(L, 0);
	lua_rawseti(L, LUA_REGISTRYINDEX, 0);
	/* Here rather than in the json module: enc_value and decode_one need them in every
	 * state, for RPC messages too. */
	lua_newtable(L);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_ARRAY);
	lua_pushlightuserdata(L, (void *)&clua_empty_array);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_EMPTY_ARRAY);
	return 0;
}

/* Returns 0, or -1 when the state could not be set up (no memory). */
int clua_init(lua_State *L, clua_st *st) {
	if (lua_cpcall(L, init_body, st) != 0) {
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

/* Calls registry[fnref] with the packed arguments. 0 on success; otherwise the lua_pcall
 * status, with the message (traceback included) left on the stack for Go to copy and pop. */
int clua_call(lua_State *L, int fnref, int unref, const char *buf, size_t len) {
	callreq r = {fnref, unref, buf, len};
	int base = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_MSGH);
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_CALL);
	lua_pushlightuserdata(L, &r);
	int st = lua_pcall(L, 1, 0, base + 1);
	if (st == 0) {
		lua_settop(L, base);
		return 0;
	}
	/* The handler; the message stays on top for Go. Nothing here may allocate: outside the
	 * pcall, a collection step would run finalizers unprotected. The handler made the
	 * message a string; Go reads anything else as a fixed text. */
	lua_remove(L, base + 1);
	return st;
}

typedef struct {
	const char *code;
	size_t len;
	const char *chunkname;
} chunkreq;

/* Runs under lua_pcall: load the chunk, then run it. Loading is protected too: after it
 * parsed, lua_load takes a collection step outside its own protection, and a finalizer
 * that raises there would otherwise find no handler (abort). A syntax error is returned as
 * the one result, without a traceback; a runtime error propagates to the handler. */
static int clua_chunk_body(lua_State *L) {
	chunkreq *r = (chunkreq *)lua_touserdata(L, 1);
	if (luaL_loadbuffer(L, r->code, r->len, r->chunkname) != 0) return 1;
	lua_call(L, 0, 0);
	return 0;
}

/* Loads and runs a chunk. Same error convention as clua_call. */
int clua_dochunk(lua_State *L, const char *code, size_t len, const char *chunkname) {
	chunkreq r = {code, len, chunkname};
	int base = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_MSGH);
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_CHUNK);
	lua_pushlightuserdata(L, &r);
	int st = lua_pcall(L, 1, 1, base + 1);
	if (st == 0 && lua_isnil(L, -1)) {
		lua_settop(L, base);
		return 0;
	}
	if (st == 0) st = LUA_ERRSYNTAX; /* the body returned the load error */
	lua_remove(L, base + 1);
	return st;
}

/* ---- building modules and classes (init time, under protection) ---- */

static void set_exports(lua_State *L, clua_st *st, int t, const clua_export *e, int n, int selfidx) {
	for (int i = 0; i < n; i++) {
		clua_push_tramp(L, st, e[i].fid, selfidx);
		lua_setfield(L, t, e[i].name);
	}
}

/* The body of clua_build, under lua_cpcall: everything it does allocates. */
static int build_body(lua_State *L) {
	clua_build *b = (clua_build *)lua_touserdata(L, 1);
	lua_settop(L, 0);
	switch (b->kind) {
	case CLUA_BUILD_MODULE: /* a table of functions that also take a colon (time:timeout) */
		lua_createtable(L, 0, b->na);
		set_exports(L, b->st, 1, b->a, b->na, 1);
		b->ref = luaL_ref(L, LUA_REGISTRYINDEX);
		break;
	case CLUA_BUILD_GLOBALS:
		set_exports(L, b->st, LUA_GLOBALSINDEX, b->a, b->na, 0);
		break;
	case CLUA_BUILD_CLASS: /* the metatable: metamethods (c), __index, __gc, __name */
		lua_createtable(L, 0, 8);
		set_exports(L, b->st, 1, b->c, b->nc, 0);
		lua_createtable(L, 0, b->na);
		set_exports(L, b->st, 2, b->a, b->na, 0);
		if (b->nb == 0 && !b->fields) {
			/* No computed fields: __index is the methods table itself, which LuaJIT
			 * resolves without calling C (three method calls per hello-world request). */
		} else {
			lua_createtable(L, 0, b->nb);
			set_exports(L, b->st, 3, b->b, b->nb, 0);
			if (b->fields) { /* __newindex: the same two tables, the class name, the metatable */
				lua_pushvalue(L, 2);
				lua_pushvalue(L, 3);
				lua_pushstring(L, b->name);
				lua_pushvalue(L, 1);
				lua_pushcclosure(L, clua_newindex, 4);
				lua_setfield(L, 1, "__newindex");
			}
			clua_push_index(L);
		}
		lua_setfield(L, 1, "__index");
		if (b->finalize) {
			clua_push_gc(L, b->st);
			lua_setfield(L, 1, "__gc");
		}
		lua_pushstring(L, b->name);
		lua_setfield(L, 1, "__name");
		b->ref = luaL_ref(L, LUA_REGISTRYINDEX);
		break;
	case CLUA_BUILD_GC: /* registry[ref].__gc = our finalizer (finalize) or nil */
		lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref);
		lua_pushstring(L, "__gc");
		if (b->finalize) clua_push_gc(L, b->st); else lua_pushnil(L);
		lua_rawset(L, -3); /* which clears LuaJIT's negative metamethod cache */
		lua_pop(L, 1);
		break;
	case CLUA_BUILD_LOADED: /* package.loaded[name] = registry[ref], so that require finds it */
		lua_getglobal(L, "package");
		lua_getfield(L, -1, "loaded");
		lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref);
		lua_setfield(L, -2, b->name);
		break;
	}
	return 0;
}

/* Builds what b describes. 0, or the lua_cpcall status with the message dropped: what can
 * fail here is memory, or a script-visible table (package) that is not one. */
int clua_build_run(lua_State *L, clua_build *b) {
	int st = lua_cpcall(L, build_body, b);
	if (st != 0) lua_pop(L, 1);
	return st;
}

/* ---- registry refs and small helpers ---- */

/* Refs are taken from Go, inside Go functions, where nothing may raise. luaL_ref raises
 * only when it must add a key to the registry (memory); it never does while its free list
 * holds a slot. So slots are added in batches, under protection, whenever the list is
 * empty, and a ref from Go always takes one from the list. */
#define CLUA_REF_BATCH 64

typedef struct {
	int refs[CLUA_REF_BATCH];
	int n;
} ref_batch;

/* Takes up to CLUA_REF_BATCH new slots (each adds a registry key: the allocations that may
 * raise), recording each in the batch as it goes. */
static int reserve_body(lua_State *L) {
	ref_batch *b = (ref_batch *)lua_touserdata(L, 1);
	while (b->n < CLUA_REF_BATCH) {
		lua_pushboolean(L, 1);
		b->refs[b->n] = luaL_ref(L, LUA_REGISTRYINDEX);
		b->n++;
	}
	return 0;
}

/* ensure_free_ref makes sure luaL_ref will take a slot from the free list: 0 on success,
 * -1 when not a slot could be added (no memory, or a __gc finalizer run by the allocation
 * raised). The slots the batch took, all of them even when it stopped on an error, go to
 * the free list outside the protected call: unref never allocates. */
static int ensure_free_ref(lua_State *L) {
	lua_rawgeti(L, LUA_REGISTRYINDEX, 0);
	int head = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (head != 0) return 0;
	if (!lua_checkstack(L, 3)) return -1;
	ref_batch b;
	b.n = 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_RESERVE);
	lua_pushlightuserdata(L, &b);
	if (lua_pcall(L, 1, 0, 0) != 0) lua_pop(L, 1);
	for (int i = b.n - 1; i >= 0; i--) luaL_unref(L, LUA_REGISTRYINDEX, b.refs[i]);
	return b.n > 0 ? 0 : -1;
}

/* A ref to the value at idx (an absolute index), or LUA_NOREF when no memory is left.
 * Never raises: safe to call from Go. */
int clua_ref_arg(lua_State *L, int idx) {
	if (ensure_free_ref(L) != 0 || !lua_checkstack(L, 1)) return LUA_NOREF;
	lua_pushvalue(L, idx);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Releases a ref. Never raises: both keys it sets exist (the slot, and the free list's
 * head, made by init_body). */
void clua_unref(lua_State *L, int ref) { luaL_unref(L, LUA_REGISTRYINDEX, ref); }

typedef struct {
	const char *name;
	const char *buf;
	size_t len;
} setglobal;

/* Sets a global to the packed value, in protected mode. */
static int set_global_body(lua_State *L) {
	setglobal *g = (setglobal *)lua_touserdata(L, 1);
	size_t pos = 0;
	decode_one(L, g->buf, g->len, &pos);
	lua_setglobal(L, g->name);
	return 0;
}

int clua_set_global(lua_State *L, const char *name, const char *buf, size_t len) {
	setglobal g = {name, buf, len};
	int st = lua_cpcall(L, set_global_body, &g);
	if (st != 0) lua_pop(L, 1);
	return st;
}

/* ---- chunks and call sites ---- */

typedef struct {
	const char *code;
	size_t len;
	const char *chunkname;
	int ref;
} loadreq;

static int load_body(lua_State *L) {
	loadreq *r = (loadreq *)lua_touserdata(L, 1);
	lua_settop(L, 0);
	if (luaL_loadbuffer(L, r->code, r->len, r->chunkname) != 0) return lua_error(L);
	r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* Compiles a chunk into a function kept at registry ref *ref. 0, or the status with the
 * message (a syntax error) on top of the stack for Go. */
int clua_loadchunk(lua_State *L, const char *code, size_t len, const char *chunkname, int *ref) {
	loadreq r = {code, len, chunkname, 0};
	int st = lua_cpcall(L, load_body, &r);
	if (st == 0) *ref = r.ref;
	return st;
}

/* Writes "file:line" of the Lua code level frames up the stack of L into buf (level 1: the
 * caller of the running C function); 0 when there is no such Lua frame. Allocates nothing. */
int clua_where(lua_State *L, int level, char *buf, size_t cap) {
	lua_Debug ar;
	for (; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			snprintf(buf, cap, "%s:%d", ar.short_src, ar.currentline);
			return 1;
		}
	}
	return 0;
}

/* Writes "file:line" where the function at registry ref was defined into buf; 0 for a C
 * function. Needs one free stack slot (a Go function is given LUA_MINSTACK). */
int clua_funcwhere(lua_State *L, int ref, char *buf, size_t cap) {
	lua_Debug ar;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	if (!lua_getinfo(L, ">S", &ar) || ar.linedefined <= 0) return 0; /* popped the function */
	snprintf(buf, cap, "%s:%d", ar.short_src, ar.linedefined);
	return 1;
}
