/*
 * hlc: hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks").
 *
 * Packed as (ms << 16 | logical), the pair (l, c) of the paper compares as
 * one integer, and "c + 1" on a logical overflow carries into the
 * millisecond field by itself: the clock then runs one millisecond ahead of
 * the wall clock, which is what the paper's bounded-drift argument allows.
 */
#include <stddef.h>

#include "proto/hlc.h"

#define HLC_MS_MAX	((UINT64_C(1) << (64 - HLC_LOGICAL_BITS)) - 1)

static uint64_t
sat_inc(uint64_t t)
{
	return t == UINT64_MAX ? t : t + 1;
}

static uint64_t
wall(uint64_t now_ms)
{
	return HLC_MAKE(now_ms > HLC_MS_MAX ? HLC_MS_MAX : now_ms, 0);
}

uint64_t
hlc_tick(struct hlc *h, uint64_t now_ms)
{
	uint64_t	pt;

	pt = wall(now_ms);
	if (HLC_MS(h->last) < HLC_MS(pt))
		h->last = pt;
	else
		h->last = sat_inc(h->last);
	return h->last;
}

uint64_t
hlc_recv(struct hlc *h, uint64_t remote, uint64_t now_ms,
    uint64_t max_skew_ms, int *clamped)
{
	uint64_t	limit, cand, pt;

	if (clamped != NULL)
		*clamped = 0;
	limit = now_ms > UINT64_MAX - max_skew_ms ? UINT64_MAX :
	    now_ms + max_skew_ms;
	if (HLC_MS(remote) > limit) {
		remote = wall(limit);
		if (clamped != NULL)
			*clamped = 1;
	}
	pt = wall(now_ms);
	cand = h->last > remote ? h->last : remote;
	if (HLC_MS(cand) < HLC_MS(pt))
		h->last = pt;
	else
		h->last = sat_inc(cand);
	return remote;
}
