//go:build luajit

/* Runtime threads: coroutines the runtime owns, in which callbacks, handlers and the main
 * chunk run, so that an API call without a callback can suspend the code that made it
 * (clua_tramp's CLUA_AWAIT) and the loop resume it when the operation completes.
 *
 * Each thread runs the runner (below), a loop that takes one call at a time from its
 * clua_st (clua_thread_call), runs it under xpcall with the traceback handler, and yields
 * DONE or FAILED back to the loop; a thread is reused for call after call. While a call
 * awaits, its thread is suspended inside clua_tramp and the loop hands the operation's
 * results over with clua_thread_resume.
 *
 * What may raise here runs where raising is safe: the call's arguments are decoded inside
 * the thread (th_take, a C function the runner calls), and an await's results on the main
 * thread under lua_pcall, then moved over with lua_xmove, which never needs to grow the
 * suspended thread's stack: a C function is given LUA_MINSTACK free slots, and the
 * collector never shrinks a stack below twice what it uses, so well over CLUA_MAXRESUME
 * slots are free above a thread suspended in clua_tramp. */
#include "clua.h"

static char done_token, failed_token;

/* The soon queue of the running runtime thread (clua.h): the value at index fn, a callback
 * to call once the running code returns, is appended to the queue, which is left on the
 * stack, and its slot returned; 0 when L is no runtime thread (a coroutine of the
 * script's). Appending may allocate, and so raise (out of memory) or run a finalizer: a
 * fast method appends before it records anything, so that the call then fails as a whole. */
int clua_soon_push(lua_State *L, clua_st *st, int fn) {
	if (L != st->run_co || st->run_qref <= 0) return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->run_qref);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	int slot = (int)lua_objlen(L, -1) + 1;
	lua_pushvalue(L, fn);
	lua_rawseti(L, -2, slot);
	return slot;
}

/* Takes back what soon_push appended to the queue at index q: the binding declined. */
void clua_soon_pop(lua_State *L, int q, int slot) {
	lua_pushnil(L);
	lua_rawseti(L, q, slot); /* the last slot: no allocation */
}


/* take(): the pending call: the number of its arguments n, its function, the traceback
 * handler, then its arguments (at most 4), or a table of them (more than 4). Upvalue 1:
 * the state's clua_st. */
static int th_take(lua_State *L) {
	clua_st *st = (clua_st *)lua_touserdata(L, lua_upvalueindex(1));
	int fn = st->callfn, unref = st->callunref;
	const char *buf = st->callbuf;
	size_t len = st->calllen;
	st->callfn = 0;
	st->callbuf = NULL;
	st->calllen = 0;
	lua_settop(L, 0);
	luaL_checkstack(L, 4, "drlee: call");
	lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
	if (unref) luaL_unref(L, LUA_REGISTRYINDEX, fn);
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_MSGH);
	int n = clua_decode_all(L, buf, len);
	int ret = n;
	if (n > 4) { /* f, h, args 1..n: the arguments into a table at 3 */
		lua_createtable(L, n, 0);
		lua_insert(L, 3);
		for (int i = n; i >= 1; i--) lua_rawseti(L, 3, i); /* pops argument i */
		ret = 1;
	}
	luaL_checkstack(L, 1, "drlee: call");
	lua_pushinteger(L, n);
	lua_insert(L, 1);
	return 3 + ret;
}

/* The runner: started by clua_thread_new, it yields once to say it is ready, then serves
 * calls for as long as the thread lives. Its chunk name lets the guard tell its frames from
 * the script's (cguard.c). A call's arguments stay in its locals until the next call on
 * the thread: a thread the engine keeps aside after a call (a handler's, until everything
 * it started has ended) keeps them alive for free, where a registry ref would cost every
 * request two table updates. */
/*
 * The thread's soon queue q (its registry ref: clua_thread_new) holds callbacks whose outcome was known when
 * their call was made: taken by a fast method (DRLEE_FAST_SOON: a buffered res:write's),
 * or by a Go function with its results (CLUA_SOON: {fn, results..., n = #results}: a
 * req:read of a body in memory; fn alone when there are none: a flush with everything
 * out). The runner calls them, in order,
 * once the call returns, and those they queue too, in the same scope, before the thread
 * yields back to the loop. A raise drops what is left of the queue: it belongs to the scope
 * that failed. */
static const char runner_src[] =
	"local take, yield, xpcall, unpack, type, DONE, FAILED = ...\n"
	"return function(q)\n"
	"  yield(DONE)\n"
	"  while true do\n"
	"    local n, f, h, a, b, c, d = take()\n"
	"    local ok, err\n"
	"    if n == 2 then ok, err = xpcall(f, h, a, b)\n"
	"    elseif n == 1 then ok, err = xpcall(f, h, a)\n"
	"    elseif n == 0 then ok, err = xpcall(f, h)\n"
	"    elseif n == 3 then ok, err = xpcall(f, h, a, b, c)\n"
	"    elseif n == 4 then ok, err = xpcall(f, h, a, b, c, d)\n"
	"    else ok, err = xpcall(f, h, unpack(a, 1, n)) end\n"
	"    if q[1] ~= nil then\n"
	"      local k = 1\n"
	"      while ok do\n"
	"        local cb = q[k]\n"
	"        if cb == nil then break end\n"
	"        if type(cb) == 'table' then ok, err = xpcall(cb[1], h, unpack(cb, 2, cb.n + 1))\n"
	"        else ok, err = xpcall(cb, h) end\n"
	"        k = k + 1\n"
	"      end\n"
	"      if ok then k = k - 1 else k = #q end\n" /* all of it ran, or a raise cut it short */
	"      for i = k, 1, -1 do q[i] = nil end\n"
	"    end\n"
	"    if ok then yield(DONE) else yield(FAILED, err) end\n"
	"  end\n"
	"end\n";

/* Builds the runner once per state (clua_init's protection): registry[CLUA_REG_RUNNER]. */
int clua_thread_setup(lua_State *L, clua_st *st) {
	if (luaL_loadbuffer(L, runner_src, sizeof runner_src - 1, CLUA_RUNNER_NAME) != 0) return lua_error(L);
	lua_pushlightuserdata(L, st);
	lua_pushcclosure(L, th_take, 1);
	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "yield");
	lua_remove(L, -2);
	lua_getglobal(L, "xpcall");
	lua_getglobal(L, "unpack");
	lua_getglobal(L, "type");
	lua_pushlightuserdata(L, &done_token);
	lua_pushlightuserdata(L, &failed_token);
	lua_call(L, 7, 1);
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_RUNNER);
	return 0;
}

/* What a thread's last resume came to; its stack holds what goes with it. */
static int classify(lua_State *co, int status) {
	if (status == LUA_YIELD) {
		if (lua_gettop(co) >= 1 && lua_type(co, 1) == LUA_TLIGHTUSERDATA) {
			void *p = lua_touserdata(co, 1);
			if (p == &done_token) {
				lua_settop(co, 0);
				return CLUA_TH_DONE;
			}
			if (p == &failed_token) return CLUA_TH_FAILED; /* the message at index 2 */
		}
		lua_settop(co, 0);
		return CLUA_TH_AWAIT; /* suspended in clua_tramp */
	}
	return CLUA_TH_DEAD; /* an error outside the runner's xpcall: the message on top */
}

typedef struct {
	lua_State *co;
	int ref, qref;
} thread_new;

static int thread_new_body(lua_State *L) {
	thread_new *t = (thread_new *)lua_touserdata(L, 1);
	lua_settop(L, 0);
	t->co = lua_newthread(L);
	lua_rawgeti(t->co, LUA_REGISTRYINDEX, CLUA_REG_RUNNER); /* a new thread has room */
	lua_createtable(L, 4, 0); /* its soon queue */
	lua_pushvalue(L, -1);
	lua_xmove(L, t->co, 1); /* the runner's argument */
	t->qref = luaL_ref(L, LUA_REGISTRYINDEX);
	t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* Makes a runtime thread, ready for calls; its registry ref (which keeps it alive), or -1
 * when no memory was left. *qref is the ref of its soon queue, which the thread's calls
 * and resumes take, and which goes with the thread (unref both). */
int clua_thread_new(lua_State *L, lua_State **co, int *qref) {
	thread_new t = {NULL, -1, -1};
	if (lua_cpcall(L, thread_new_body, &t) != 0) {
		lua_pop(L, 1);
		if (t.qref > 0) luaL_unref(L, LUA_REGISTRYINDEX, t.qref);
		return -1;
	}
	if (lua_resume(t.co, 1) != LUA_YIELD) { /* the runner's first yield: ready */
		luaL_unref(L, LUA_REGISTRYINDEX, t.ref);
		luaL_unref(L, LUA_REGISTRYINDEX, t.qref);
		return -1;
	}
	lua_settop(t.co, 0);
	*co = t.co;
	*qref = t.qref;
	return t.ref;
}

/* lua_resume of co with n values, co and its soon queue (qref) being the running runtime
 * thread for clua_soon_push meanwhile; the one running before (a nested run's outer
 * thread, or none) is again after. */
static int resume_running(clua_st *st, lua_State *co, int qref, int n) {
	lua_State *prev_co = st->run_co;
	int prev_qref = st->run_qref;
	st->run_co = co, st->run_qref = qref;
	int status = lua_resume(co, n);
	st->run_co = prev_co, st->run_qref = prev_qref;
	return status;
}

/* Runs registry[fnref] with the packed arguments on thread co (releasing the ref first
 * when unref is set) until the call ends (DONE; FAILED with its message and traceback at
 * index 2 of co) or awaits (AWAIT), or the thread dies (DEAD, the message on top of co:
 * the thread cannot be used again). */
int clua_thread_call(lua_State *L, clua_st *st, lua_State *co, int qref, int fnref, int unref, const char *buf, size_t len) {
	(void)L;
	st->callfn = fnref;
	st->callunref = unref;
	st->callbuf = buf;
	st->calllen = len;
	int status = resume_running(st, co, qref, 0);
	st->callfn = 0;
	st->callbuf = NULL;
	st->calllen = 0;
	return classify(co, status);
}

typedef struct {
	const char *buf;
	size_t len;
} resume_req;

/* Under lua_pcall on the main thread: the packed values, as results. */
static int resume_decode_body(lua_State *L) {
	resume_req *r = (resume_req *)lua_touserdata(L, 1);
	lua_settop(L, 0);
	return clua_decode_all(L, r->buf, r->len);
}

/* Resumes thread co, suspended by an await, with the packed values as the results of the
 * call that awaited (at most CLUA_MAXRESUME of them); the same outcomes as
 * clua_thread_call. *lost is set when the values could not be made (no memory, or a
 * finalizer raised, three times running) or were too many: the thread is then resumed with
 * none. */
int clua_thread_resume(lua_State *L, clua_st *st, lua_State *co, int qref, const char *buf, size_t len, int *lost) {
	resume_req r = {buf, len};
	int base = lua_gettop(L), n = -1;
	for (int tries = 0; tries < 3 && n < 0; tries++) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_RESUME);
		lua_pushlightuserdata(L, &r);
		if (lua_pcall(L, 1, LUA_MULTRET, 0) == 0) {
			n = lua_gettop(L) - base;
		} else {
			lua_settop(L, base);
		}
	}
	if (n > CLUA_MAXRESUME) {
		lua_settop(L, base);
		n = -1;
	}
	*lost = n < 0;
	lua_settop(co, 0);
	if (n > 0) lua_xmove(L, co, n);
	return classify(co, resume_running(st, co, qref, n > 0 ? n : 0));
}

/* The C function behind clua_thread_resume's decode, kept in the registry (a pushed C
 * function would be an allocation per resume). */
int clua_thread_resume_body(lua_State *L) { return resume_decode_body(L); }
