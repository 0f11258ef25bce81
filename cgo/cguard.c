//go:build luajit

/* The call guard: lets a watchdog goroutine interrupt a Lua call that runs too long (see
 * guard.go). The watchdog arms a count hook from its own thread, which lua_sethook allows
 * (it sets the hook fields and updates the dispatch table, which the owner's thread picks
 * up at its next instruction; measured on a running state: see
 * docs/ARCHITECTURE.md, "The watchdog"); the hook then raises on the owner's thread, inside
 * Lua, where raising is safe. */
#include <string.h>
#include "clua.h"

static clua_guard *guard_of(lua_State *L) {
	lua_rawgeti(L, LUA_REGISTRYINDEX, CLUA_REG_GUARD);
	clua_guard *g = (clua_guard *)lua_touserdata(L, -1);
	lua_pop(L, 1);
	return g;
}

/* Every CLUA_GUARD_COUNT instructions while armed: raise while the interrupted call is
 * still the one running. It keeps raising (the hook stays armed) until the call has
 * unwound to the loop, so a pcall inside the script cannot swallow the interruption. Once
 * it has raised, it looks at every instruction: at a fixed period, a loop around pcall
 * whose length divides it would be hit inside the pcall every time and never unwind
 * (seen: `while true do pcall(f) end` stuck for minutes); hooked at every instruction, the
 * first instruction after a pcall caught the error raises again, outside that pcall. */
static void guard_hook(lua_State *L, lua_Debug *ar) {
	clua_guard *g = guard_of(L);
	if (g == NULL) return;
	uint64_t kill = __atomic_load_n(&g->kill, __ATOMIC_ACQUIRE);
	if (kill != 0 && kill == __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&g->inside, __ATOMIC_ACQUIRE)) {
		/* Not in a runtime thread's runner (cthread.c): once the interrupted call has
		 * unwound to the runner's xpcall, the runner hands its error and traceback back to
		 * the loop, which disarms the hook. */
		if (lua_getinfo(L, "S", ar) && strcmp(ar->source, CLUA_RUNNER_NAME) == 0) return;
		lua_sethook(L, guard_hook, LUA_MASKCOUNT, 1);
		luaL_error(L, "%s", g->msg);
	}
}

static int guard_install_body(lua_State *L) {
	lua_pushvalue(L, 1); /* the guard, as a lightuserdata */
	lua_rawseti(L, LUA_REGISTRYINDEX, CLUA_REG_GUARD);
	return 0;
}

/* Returns 0, or -1 when no memory was left for the registry's new key. */
int clua_guard_install(lua_State *L, clua_guard *g) {
	if (lua_cpcall(L, guard_install_body, g) != 0) {
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

void clua_guard_arm(lua_State *L) { lua_sethook(L, guard_hook, LUA_MASKCOUNT, CLUA_GUARD_COUNT); }

void clua_guard_disarm(lua_State *L) { lua_sethook(L, NULL, 0, 0); }
