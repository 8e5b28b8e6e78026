/*
 * hlc: hybrid logical clocks.
 *
 * A timestamp is one uint64_t: the high 48 bits are wall milliseconds since
 * the Unix epoch, the low 16 bits a logical counter. Timestamps compare as
 * plain integers. Pure: the caller passes the wall clock in. Not thread-safe;
 * one struct hlc per owner.
 */
#ifndef CAJA_HLC_H
#define CAJA_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS	16
#define HLC_MAX_SKEW_MS		(5 * 60 * 1000)	/* default skew bound */

struct hlc {
	uint64_t	last;
};

#define HLC_MAKE(ms, l)	(((uint64_t)(ms) << HLC_LOGICAL_BITS) | (uint64_t)(l))
#define HLC_MS(t)	((t) >> HLC_LOGICAL_BITS)
#define HLC_LOGICAL(t)	((t) & 0xffffu)

/* A new timestamp for a local event at wall time now_ms; always > last. */
uint64_t	hlc_tick(struct hlc *, uint64_t now_ms);

/*
 * Merge a received timestamp. A remote timestamp more than max_skew_ms ahead
 * of now_ms is clamped to now_ms + max_skew_ms first; *clamped (if not NULL)
 * is set to 1 when that happened. Returns the clamped remote value (the one
 * to order by).
 */
uint64_t	hlc_recv(struct hlc *, uint64_t remote, uint64_t now_ms,
		    uint64_t max_skew_ms, int *clamped);

#endif
