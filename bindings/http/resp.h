/* resp.h: the C-side record of an HTTP response, filled by the fast methods set_status,
 * set, write and finish (resp.c) while the response is buffered (and write and finish
 * while it streams), and taken over by Go (respbuf.go) after the callback that made the
 * calls. See cgo/include/drlee_fast.h. */
#ifndef DRLEE_HTTP_RESP_H
#define DRLEE_HTTP_RESP_H

#include "drlee_fast.h"

typedef struct {
	drlee_fast_obj fast; /* first: the engine's part */
	int status;          /* 0: not set */
	int finished;
	int written;
	int streaming;       /* the response streams (Go set it): only write(data) and
	                      * finish() record, each write becoming a chunk once Go takes
	                      * the record over (after the callback, or before its next Go
	                      * method) */
	char *hdr;           /* pairs of [u32 len][name][u32 len][value] */
	size_t hdrlen, hdrcap;
	char *body;
	size_t bodylen, bodycap;
} http_resp;

/* How much body a response holds buffered, unfinished, before it streams (server.go's
 * flushAt): a write with a callback that would reach it goes to Go. A streaming response
 * holds less than this between two take-overs: a write that would reach it goes to Go,
 * which applies its backpressure. */
#define HTTP_FLUSH_AT (64 << 10)

/* The largest write a streaming response records: copying a larger one costs more than
 * the crossing into Go it saves (callgrind: ~0.1 instruction a byte against ~1,000 a
 * crossing), and Go writes it to the client straight from the Lua string when the
 * connection is idle. */
#define HTTP_STREAM_COPY_MAX (8 << 10)

/* The fast methods' ops, in the order bindings/http names them to the engine. */
enum { HTTP_SET_STATUS = 1, HTTP_SET, HTTP_WRITE, HTTP_FINISH };

int http_resp_fast(drlee_fast_obj *obj, int op, const drlee_fast_args *a);
http_resp *http_resp_new(void);
void http_resp_free(http_resp *r);

#endif
