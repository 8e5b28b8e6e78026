/*
 * cloudmsg: the bytes of the uplink's conversation with caja-cloud
 * (tools/caja-cloud/API.md), without any I/O: vector clocks in the
 * compact `device:seq,...` form and as JSON, the push answer, the message
 * a signed request signs, Retry-After. Pure; any thread. Untrusted input
 * (answers of the cloud) is bounded and returns CAJA_EDECODE when
 * malformed, never aborts.
 */
#ifndef CAJA_CLOUDMSG_H
#define CAJA_CLOUDMSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/ids.h"
#include "proto/vclock.h"

#define CLOUDMSG_REJECT_MAX	64	/* permanent refusals kept per answer */
#define CLOUDMSG_ERRMSG		200
#define CLOUDMSG_BODY_MAX	(64u << 20)	/* answer bytes read at most */

/* Compact text of vc ("" when empty), NUL-terminated in out. */
int	cloudmsg_vclock_compact(const struct vclock *, struct buf *out)
	    CAJA_WUR;
/* "device:seq,device:seq" (32 hex digits each; empty: none). */
int	cloudmsg_vclock_parse(const char *, struct vclock *) CAJA_WUR;

/* A refusal with retry false: (device, seq) that will never pass. */
struct cloudmsg_reject {
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
	char		error[32];
};

/* The 200 answer of POST /v2/sync/push. */
struct cloudmsg_push {
	uint64_t		accepted, duplicate, conflicted, rejected;
	uint64_t		retry;		/* refused with retry: true */
	uint64_t		results;	/* entries in "results" */
	int64_t			conflicts_pending;
	struct vclock		vc;		/* the cloud's clock */
	size_t			nreject;
	struct cloudmsg_reject	reject[CLOUDMSG_REJECT_MAX];
	char			first_error[CLOUDMSG_ERRMSG];
};

/* Parses a push answer (JSON) of len bytes. */
int	cloudmsg_push_parse(const char *body, size_t len,
	    struct cloudmsg_push *) CAJA_WUR;
/* The "error" of an error answer, or a short excerpt of the body. */
void	cloudmsg_error_text(const char *body, size_t len, char *out,
	    size_t cap);

/* A query argument of a signed request. */
struct cloudmsg_arg {
	const char	*name;
	const char	*value;
};

/*
 * The message a signed request signs (API.md "Signed requests"): 8 lines
 * joined by "\n": "caja-cloud-req-v1", method, path, store, device, time,
 * the query arguments sorted by name then value as name=value joined by
 * "&", the hex BLAKE2b-256 of the body. args is sorted in place.
 */
int	cloudmsg_sign_message(struct buf *out, const char *method,
	    const char *path, const char *store, const char *device,
	    const char *time_ms, struct cloudmsg_arg *args, size_t nargs,
	    const uint8_t *body, size_t body_len) CAJA_WUR;

/* Retry-After in seconds (delta-seconds form only); 0 when absent or bad,
 * capped at 3600. */
uint32_t cloudmsg_retry_after(const char *value);

#endif
