/* clua: the C side of Dr.LEE's boundary with LuaJIT.
 *
 * Every Lua error is raised here, in C, never from a Go frame, and Lua is entered from Go
 * only through lua_pcall inside one helper per operation (docs/ARCHITECTURE.md, "The C
 * boundary"). Values cross the boundary in bulk: Go encodes callback arguments into one
 * packed buffer that C decodes, and C encodes Lua values into a packed buffer that Go reads
 * (package packed has the format).
 */
#ifndef CLUA_H
#define CLUA_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "drlee_fast.h"

/* Arguments of a Lua->Go call, read by the trampoline before Go runs so that Go reads its
 * arguments from C memory instead of making one cgo call per argument. */
#define CLUA_MAXARGS 8

typedef struct {
	int n;                         /* number of arguments Lua passed (all of them) */
	int type[CLUA_MAXARGS];        /* lua_type of each; LUA_TNONE past n */
	double num[CLUA_MAXARGS];      /* numbers; booleans as 0/1 */
	const char *str[CLUA_MAXARGS]; /* strings only (no number->string conversion) */
	size_t len[CLUA_MAXARGS];
	uint32_t cls[CLUA_MAXARGS];    /* our userdata: class id, 0 for anything else */
	uint64_t id[CLUA_MAXARGS];     /* our userdata: object id */
	int ref[CLUA_MAXARGS];         /* a registry ref to each function argument, taken before
	                                * the call when the function keeps callbacks (clua_st's
	                                * keeps); Go takes it (sets it to 0), C drops the rest */
	const char *ret;               /* set by Go: packed results or an error message */
	size_t retlen;
	int soon;                      /* CLUA_SOON: the argument whose function gets the results */
} clua_frame;

/* What C keeps of a state for its trampolines (upvalue 1 of each, a lightuserdata): Go's
 * handle of the state, and the buffer Go writes a call's results (or error message) into.
 * A trampoline takes that buffer out of spare for as long as it decodes from it, so that a
 * call made meanwhile (a __gc finalizer that runs Lua, triggered by an allocation of the
 * decode) writes into a buffer of its own; it gives the buffer back when done, even when the
 * decode raised (a cleanup handler: see clua_tramp). Allocated by Go, owner thread only. */
typedef struct {
	uintptr_t h;
	/* keeps[fid] is 1 once Go function fid took a ref to a function argument (a callback it
	 * keeps): from then on its trampoline takes those refs before the call, in C, which
	 * spares Go a nested crossing per callback, until a call leaves one untaken (clua_go
	 * clears it). nkeeps entries, on the owner thread only: set by Go (Call.ref), read and
	 * cleared by clua_go. */
	unsigned char *keeps;
	int nkeeps;
	char *spare;     /* malloc'd; NULL when every buffer is taken (Go then allocates one) */
	size_t sparecap;
	/* The runtime thread running now (the innermost), and the registry ref of its soon
	 * queue: set by clua_thread_call and clua_thread_resume for the duration of the
	 * lua_resume and restored after it, so that clua_soon_push finds the queue by
	 * comparing a pointer and reading one registry slot, where a table of queues keyed by
	 * thread cost a hello-cb request ~230 instructions more. */
	lua_State *run_co;
	int run_qref;
	/* The call a runtime thread's runner takes next (cthread.c): set by clua_thread_call
	 * for the duration of one lua_resume. */
	int callfn, callunref;
	const char *callbuf;
	size_t calllen;
} clua_st;

/* The userdata behind every Go object visible to Lua. magic tells ours from other userdata. */
#define CLUA_MAGIC 0xD12EEu
typedef struct {
	uint32_t magic;
	uint32_t cls;
	uint64_t id;
	void *data; /* C-side state of the object, if its class has fast methods (it starts with a
	             * drlee_fast_obj: see include/drlee_fast.h and cfast.c) */
	uint32_t fields; /* 1 once a script set a field of its own on the object (a class with
	                  * script fields): they are in the userdata's environment table, made
	                  * by the first assignment (clua_newindex). 0 for every new object. */
} clua_obj;

/* Registry keys of the traceback message handler and of the protected decode-and-call
 * function (negative: luaL_ref never uses them). */
#define CLUA_REG_MSGH (-1)
#define CLUA_REG_CALL (-2)
#define CLUA_REG_GUARD (-3) /* lightuserdata: the state's clua_guard, if any */
#define CLUA_REG_CHUNK (-6) /* the protected load-and-run function of clua_dochunk */
#define CLUA_REG_RESERVE (-7) /* the protected function that adds free ref slots (clua_ref_arg) */
#define CLUA_REG_GROW (-8)    /* the protected function that grows the stack (clua_encode) */
#define CLUA_REG_RUNNER (-9)  /* the runtime threads' runner function (cthread.c) */
#define CLUA_REG_RESUME (-10) /* the protected decode of an await's results (cthread.c) */
#define CLUA_RUNNER_NAME "=[drlee runner]" /* the runner's chunk name: its frames are not the script's */
/* The array metatable (json.array_mt): a table that has it is packed as an array ('['), and
 * '[' is pushed as a table that has it. Set by clua_init, so every state has it. */
#define CLUA_REG_ARRAY (-4)
/* json.empty_array: a lightuserdata (immutable, unlike a table), packed as '[' of length 0. */
#define CLUA_REG_EMPTY_ARRAY (-5)

/* Limits of the packed format, the same numbers as package packed's MaxDepth, SparseSafe and
 * SparseRatio (state.go checks that at compile time): tables nest at most CLUA_MAXDEPTH deep,
 * and an array-marked table with holes is packed as '[' only while its length n is at most
 * CLUA_SPARSE_SAFE or CLUA_SPARSE_RATIO times its entries. */
#define CLUA_MAXDEPTH 200
#define CLUA_SPARSE_SAFE 10
#define CLUA_SPARSE_RATIO 2

/* Return codes of a Go function called from Lua: n >= 0 results (pushed by nobody: 0 in
 * practice); CLUA_RAISE means the error message is in frame.ret and C must raise it. */
#define CLUA_RAISE (-1)   /* raise the message in frame.ret */
#define CLUA_VALUES (-2)  /* return the packed values in frame.ret */
#define CLUA_AWAIT (-3)   /* yield: the running runtime thread waits for an operation */
#define CLUA_SOON (-4)    /* the packed values in frame.ret go to the function at argument
                           * frame.soon, called once the running code returns (cthread.c) */

int clua_init(lua_State *L, clua_st *st);
void clua_push_tramp(lua_State *L, clua_st *st, int fid, int selfidx);
int clua_go(lua_State *L, clua_st *st, int fid);
int clua_tramp_target(lua_State *L, int idx, clua_st **st, int *fid);
void clua_push_index(lua_State *L);
void clua_push_gc(lua_State *L, clua_st *st);
int clua_fullgc(lua_State *L);
int clua_call(lua_State *L, int fnref, int unref, const char *buf, size_t len);
int clua_dochunk(lua_State *L, const char *code, size_t len, const char *chunkname);
int clua_encode(lua_State *L, int idx, char **out, size_t *outlen, size_t *cap, const char **why);
/* One Go function under a name, for clua_build. */
typedef struct {
	const char *name;
	int fid;
} clua_export;

enum { CLUA_BUILD_MODULE = 1, CLUA_BUILD_GLOBALS, CLUA_BUILD_CLASS, CLUA_BUILD_LOADED, CLUA_BUILD_GC };

/* What clua_build makes: a module table of a (ref out), globals from a, a class metatable
 * (methods a, getters b, metamethods c, finalize, script fields, name; ref out), or
 * package.loaded[name] = registry[ref]. */
typedef struct {
	clua_st *st;
	int kind;
	const char *name;
	const clua_export *a, *b, *c;
	int na, nb, nc;
	int finalize;
	int fields; /* scripts may set fields of their own on the objects (clua_newindex) */
	int ref;
} clua_build;

int clua_build_run(lua_State *L, clua_build *b);

int clua_decode_all(lua_State *L, const char *buf, size_t len);
int clua_loadchunk(lua_State *L, const char *code, size_t len, const char *chunkname, int *ref);
int clua_where(lua_State *L, int level, char *buf, size_t cap);
int clua_funcwhere(lua_State *L, int ref, char *buf, size_t cap);

/* Runtime threads (cthread.c): coroutines the runtime owns, in which callbacks run so that
 * an API call without a callback can suspend them. */
enum { CLUA_TH_DONE = 1, CLUA_TH_FAILED, CLUA_TH_AWAIT, CLUA_TH_DEAD };
#define CLUA_MAXRESUME 8 /* values a resume hands over (an await's results) */
int clua_thread_setup(lua_State *L, clua_st *st);
int clua_thread_resume_body(lua_State *L);
int clua_thread_new(lua_State *L, lua_State **co, int *qref);
int clua_thread_call(lua_State *L, clua_st *st, lua_State *co, int qref, int fnref, int unref, const char *buf, size_t len);
int clua_thread_resume(lua_State *L, clua_st *st, lua_State *co, int qref, const char *buf, size_t len, int *lost);
int clua_ref_arg(lua_State *L, int idx);
void clua_unref(lua_State *L, int ref);
int clua_set_global(lua_State *L, const char *name, const char *buf, size_t len);

/* A state's call guard (guard.go): seq and inside are written by the owner around each
 * top-level call, kill by the watchdog when it interrupts call seq. Accessed atomically from
 * both sides. */
typedef struct {
	uint64_t seq;
	uint64_t kill;
	int32_t inside;
	char msg[200]; /* the error the interrupted call raises */
} clua_guard;

#define CLUA_GUARD_COUNT 1000 /* instructions between two looks of an armed guard */

int clua_guard_install(lua_State *L, clua_guard *g);
void clua_guard_arm(lua_State *L);
void clua_guard_disarm(lua_State *L);

int clua_fast_install(lua_State *L, int mtref, const char *name, int op, drlee_fast_fn fn);

/* The running runtime thread's soon queue (cthread.c): clua_soon_push appends the value
 * at idx (a function, or a table {fn, args..., n = #args}) and leaves the queue on the
 * stack, returning its slot; 0 (nothing pushed) when L is not a runtime thread. May raise
 * (out of memory). clua_soon_pop takes slot back from the queue at index q. */
int clua_soon_push(lua_State *L, clua_st *st, int idx);
void clua_soon_pop(lua_State *L, int q, int slot);

#endif
