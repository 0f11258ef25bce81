//go:build luajit

/* Fast methods (include/drlee_fast.h): the trampoline that lets a binding's C function take
 * a method call without a crossing into Go, and the worker's list of objects recorded into.
 * The binding's function sees plain C values only; this file alone reads the Lua stack. */
#include <stdlib.h>
#include "clua.h"

/* mark_dirty puts o on its worker's list, once per takeover; 0 when that fails (no
 * memory). */
static int mark_dirty(drlee_fast_obj *o) {
	if (o->dirty) return 1;
	drlee_fast_list *l = o->list;
	if (l == NULL) return 0;
	if (l->n == l->cap) {
		int c = l->cap ? l->cap * 2 : 64;
		drlee_fast_obj **ni = (drlee_fast_obj **)realloc(l->items, (size_t)c * sizeof *ni);
		if (!ni) return 0;
		l->items = ni;
		l->cap = c;
	}
	l->items[l->n++] = o;
	o->dirty = 1;
	return 1;
}

/* A fast method: the binding's function and op, and the Go method it stands in for (its
 * trampoline's state and function id). One upvalue, since reading an upvalue through the
 * API costs ~40 instructions (three of them a hello-world request). */
typedef struct {
	drlee_fast_fn fn;
	int op;
	clua_st *st;
	int fid;
} fast_method;

/* The method behind a fast method. Upvalue 1: its fast_method (a userdata, collected with
 * the closure). The call goes to the binding when self is one of our objects whose C state
 * serves it now and is active, with few enough arguments; to the Go method otherwise, or
 * when the binding declines it, through the trampoline's body (clua_go) in this same C
 * frame, so that the Go method may await. Nothing here allocates on the fast path, so
 * nothing here can raise or run a finalizer. */
static int fast_tramp(lua_State *L) {
	int n = lua_gettop(L);
	clua_obj *o = (clua_obj *)lua_touserdata(L, 1);
	const fast_method *m = (const fast_method *)lua_touserdata(L, lua_upvalueindex(1));
	if (o == NULL || n - 1 > DRLEE_FAST_MAXARGS || lua_objlen(L, 1) != sizeof(clua_obj) || o->magic != CLUA_MAGIC) goto go;
	drlee_fast_obj *fo = (drlee_fast_obj *)o->data;
	if (fo == NULL || !fo->active || fo->id != o->id) goto go;
	drlee_fast_args a;
	a.n = n - 1;
	int soon = 0; /* the queue's new slot when the last argument is a function it holds */
	for (int i = 0; i < a.n; i++) {
		switch (lua_type(L, i + 2)) {
		case LUA_TNIL: a.type[i] = DRLEE_T_NIL; break;
		case LUA_TBOOLEAN: a.type[i] = DRLEE_T_BOOLEAN; a.num[i] = lua_toboolean(L, i + 2); break;
		case LUA_TNUMBER: a.type[i] = DRLEE_T_NUMBER; a.num[i] = lua_tonumber(L, i + 2); break;
		case LUA_TSTRING: a.type[i] = DRLEE_T_STRING; a.str[i] = lua_tolstring(L, i + 2, &a.len[i]); break;
		case LUA_TFUNCTION:
			a.type[i] = DRLEE_T_OTHER;
			if (i == a.n - 1 && (soon = clua_soon_push(L, m->st, i + 2)) > 0) a.type[i] = DRLEE_T_FUNCTION;
			break;
		default: a.type[i] = DRLEE_T_OTHER; break;
		}
	}
	/* Dirty before recording: if the list cannot grow, nothing is recorded and Go has the
	 * call; if the binding declines, Go takes over an empty record, which is harmless. */
	if (!mark_dirty(fo)) goto unqueue;
	int r = m->fn(fo, m->op, &a);
	if (r == DRLEE_FAST_SOON) return 0; /* the callback stays queued (only offered so) */
	if (soon) clua_soon_pop(L, n + 1, soon); /* recorded without it, or declined */
	switch (r) {
	case DRLEE_FAST_DONE: return 0;
	case DRLEE_FAST_TRUE: lua_pushboolean(L, 1); return 1; /* the stack has room: self was on it */
	}
	goto go;
unqueue:
	if (soon) clua_soon_pop(L, n + 1, soon);
go:
	lua_settop(L, n);
	return clua_go(L, m->st, m->fid);
}

typedef struct {
	int mtref;
	const char *name;
	int op;
	drlee_fast_fn fn;
	int rc;
} fast_install;

/* The body of clua_fast_install, under lua_cpcall (it allocates). */
static int fast_install_body(lua_State *L) {
	fast_install *f = (fast_install *)lua_touserdata(L, 1);
	lua_settop(L, 0);
	int mtref = f->mtref, op = f->op;
	const char *name = f->name;
	drlee_fast_fn fn = f->fn;
	f->rc = -1;
	lua_rawgeti(L, LUA_REGISTRYINDEX, mtref);
	lua_pushstring(L, "__index");
	lua_rawget(L, -2);
	if (!lua_istable(L, -1)) return 0; /* f->rc stays -1 */
	lua_pushstring(L, name);
	lua_rawget(L, -2);
	int missing = lua_isnil(L, -1);
	lua_pop(L, 1);
	if (missing) return 0;
	lua_pushstring(L, name);
	lua_rawget(L, -2); /* the Go method */
	clua_st *st;
	int fid;
	if (!clua_tramp_target(L, -1, &st, &fid)) return 0; /* not a Go method: f->rc stays -1 */
	lua_pop(L, 1);
	lua_pushstring(L, name);
	fast_method *m = (fast_method *)lua_newuserdata(L, sizeof(fast_method));
	m->fn = fn;
	m->op = op;
	m->st = st;
	m->fid = fid;
	lua_pushcclosure(L, fast_tramp, 1);
	lua_rawset(L, -3);
	lua_pop(L, 2);
	f->rc = 0;
	return 0;
}

/* Replaces method name in the methods table (__index) of the class whose metatable is at
 * registry ref mtref with a fast method of op that falls back to it. -1 when the class has
 * no methods table (its __index computes fields), no such method, or no memory. Init time. */
int clua_fast_install(lua_State *L, int mtref, const char *name, int op, drlee_fast_fn fn) {
	fast_install f = {mtref, name, op, fn, -1};
	if (lua_cpcall(L, fast_install_body, &f) != 0) {
		lua_pop(L, 1);
		return -1;
	}
	return f.rc;
}
