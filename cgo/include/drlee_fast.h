/* drlee_fast.h: fast methods, the one C interface a binding may implement.
 *
 * A class may let its simplest method calls run in C instead of crossing into Go: the
 * binding writes a C function that records such a call into the object's C-side state (an
 * HTTP response's status, headers and body), and Go takes what was recorded over after the
 * callback that made the calls (engine.FastMethods). This header has no Lua types on
 * purpose: cgo/ alone touches lua_State; its trampoline reads the arguments off the Lua
 * stack into a drlee_fast_args and calls the binding's function with plain C values.
 *
 * Thread rule: everything here belongs to one worker and is touched only by its loop.
 */
#ifndef DRLEE_FAST_H
#define DRLEE_FAST_H

#include <stddef.h>
#include <stdint.h>

#define DRLEE_FAST_MAXARGS 4 /* arguments after self; a call with more goes to Go */

/* The type of an argument, as far as a fast method cares. */
enum { DRLEE_T_NIL = 0, DRLEE_T_BOOLEAN, DRLEE_T_NUMBER, DRLEE_T_STRING, DRLEE_T_OTHER, DRLEE_T_FUNCTION };
/* DRLEE_T_FUNCTION is offered only for the last argument, and only when the call runs
 * in a runtime thread, which can call it soon (DRLEE_FAST_SOON); any other function is
 * DRLEE_T_OTHER. */

typedef struct {
	int n; /* arguments after self */
	int type[DRLEE_FAST_MAXARGS];
	double num[DRLEE_FAST_MAXARGS];      /* numbers; booleans as 0/1 */
	const char *str[DRLEE_FAST_MAXARGS]; /* strings, valid during the call only */
	size_t len[DRLEE_FAST_MAXARGS];
} drlee_fast_args;

struct drlee_fast_obj;

/* A worker's list of objects recorded into since Go last took them over. */
typedef struct {
	struct drlee_fast_obj **items;
	int n, cap;
} drlee_fast_list;

/* The header of an object's C-side state: the binding's struct begins with it. Go sets id,
 * cls and list when it hands the state to an object, and active while fast calls may
 * record (a stale object, whose id differs, and an inactive state fall back to Go). */
typedef struct drlee_fast_obj {
	uint64_t id;           /* the object the state serves now */
	uint32_t cls;          /* its class */
	int active;            /* fast calls may record */
	int dirty;             /* on list since Go last took it over */
	drlee_fast_list *list; /* the worker's */
} drlee_fast_obj;

/* What a fast method returns. */
enum {
	DRLEE_FAST_GO = 0,   /* not recorded: the Go method has the call (unusual arguments,
	                      * anything but the simple case: the Go method raises the errors) */
	DRLEE_FAST_DONE = 1, /* recorded; the call returns nothing */
	DRLEE_FAST_TRUE = 2, /* recorded; the call returns true (a write without a callback,
	                      * whose outcome is known at once) */
	DRLEE_FAST_SOON = 3, /* recorded; the call returns nothing, and its last argument (a
	                      * DRLEE_T_FUNCTION: the callback of an outcome known at once)
	                      * is called with no arguments as soon as the code that made the
	                      * call returns, in the same runtime thread and scope, before
	                      * the loop goes on: the seed's res:write(body, function()
	                      * res:finish() end) without a crossing into Go */
};

/* A binding's fast method: op is the method's number (1 for the first name given to
 * engine.FastMethods). It returns one of DRLEE_FAST_GO, _DONE, _TRUE, _SOON. It must not keep
 * args' strings, and must not call into Lua or Go. */
typedef int (*drlee_fast_fn)(drlee_fast_obj *obj, int op, const drlee_fast_args *args);

#endif
