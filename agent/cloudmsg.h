/*
 * cloudmsg: the bytes of the uplink's conversation with caja-cloud
 * (tools/caja-cloud/API.md), without any I/O: vector clocks read in the
 * compact `device:seq,...` form (written by vclock_compact(), proto/vclock.h)
 * and as JSON, the push answer, Retry-After. The message a signed request
 * signs is proto/cloudreq.h's. Pure; any thread. Untrusted input (answers
 * of the cloud) is bounded and returns CAJA_EDECODE when malformed, never
 * aborts.
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

/* Retry-After in seconds (delta-seconds form only); 0 when absent or bad,
 * capped at 3600. */
uint32_t cloudmsg_retry_after(const char *value);

#endif
