/* resp.h: the C-side record of an HTTP response, filled by the fast methods set_status,
 * set, write and finish (resp.c) while the response is buffered, and taken over by Go
 * (respbuf.go) after the callback that made the calls. See cgo/include/drlee_fast.h. */
#ifndef DRLEE_HTTP_RESP_H
#define DRLEE_HTTP_RESP_H

#include "drlee_fast.h"

typedef struct {
	drlee_fast_obj fast; /* first: the engine's part */
	int status;          /* 0: not set */
	int finished;
	int written;
	char *hdr;           /* pairs of [u32 len][name][u32 len][value] */
	size_t hdrlen, hdrcap;
	char *body;
	size_t bodylen, bodycap;
} http_resp;

/* How much body a response holds buffered, unfinished, before it streams (server.go's
 * flushAt): a write with a callback that would reach it goes to Go. */
#define HTTP_FLUSH_AT (64 << 10)

/* The fast methods' ops, in the order bindings/http names them to the engine. */
enum { HTTP_SET_STATUS = 1, HTTP_SET, HTTP_WRITE, HTTP_FINISH };

int http_resp_fast(drlee_fast_obj *obj, int op, const drlee_fast_args *a);
http_resp *http_resp_new(void);
void http_resp_free(http_resp *r);

#endif
