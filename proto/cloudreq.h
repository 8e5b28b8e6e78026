/*
 * cloudreq: the message a signed request to caja-cloud signs
 * (tools/caja-cloud/API.md "Signed requests"). The agent's uplink builds
 * it to sign a pull, caja-cloud builds it again to verify one, and
 * `caja-cloud sign` to print the headers: one builder, so that the two
 * sides cannot drift apart.
 *
 * Pure: no I/O, no clock (the caller passes the time, as the text of its
 * X-Caja-Time header); any thread. The message is written into a buf the
 * caller owns.
 */
#ifndef CAJA_CLOUDREQ_H
#define CAJA_CLOUDREQ_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"

#define CLOUDREQ_VERSION	"caja-cloud-req-v1"	/* the first line */

/* A query argument of a signed request (URL-decoded). */
struct cloudreq_arg {
	const char	*name;
	const char	*value;
};

/*
 * The message into out (cleared first; not NUL-terminated): 8 lines
 * joined by "\n", no trailing newline: CLOUDREQ_VERSION, method, path
 * (no query string), store, device, time_ms, the nargs query arguments as
 * name=value sorted by name then value and joined by "&", the hex
 * BLAKE2b-256 of the body (body NULL: of zero bytes). A NULL string is
 * an empty line. args is sorted in place. CAJA_ENOMEM, or CAJA_ETOOBIG
 * past out's maximum.
 */
int	cloudreq_message(struct buf *out, const char *method, const char *path,
	    const char *store, const char *device, const char *time_ms,
	    struct cloudreq_arg *args, size_t nargs, const uint8_t *body,
	    size_t body_len) CAJA_WUR;

#endif
