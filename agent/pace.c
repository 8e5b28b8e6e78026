/*
 * pace: adaptive batch size of the cloud uplink (see pace.h).
 */
#include <string.h>

#include "agent/pace.h"

#define RATE_WEIGHT	0.3	/* of the newest sample */

static uint32_t
clamp(const struct pace *p, uint64_t v)
{
	if (v < p->min)
		return p->min;
	if (v > p->max)
		return p->max;
	return (uint32_t)v;
}

void
pace_init(struct pace *p, uint32_t min, uint32_t max)
{
	memset(p, 0, sizeof(*p));
	if (min < 1)
		min = 1;
	if (min > PACE_LIMIT)
		min = PACE_LIMIT;
	if (max > PACE_LIMIT)
		max = PACE_LIMIT;
	if (max < min)
		max = min;
	p->min = min;
	p->max = max;
	p->size = clamp(p, PACE_START);
	p->slow_start = 1;
}

uint32_t
pace_size(const struct pace *p)
{
	return p->size;
}

void
pace_success(struct pace *p, uint32_t n, uint64_t elapsed_ms)
{
	double		r;
	uint64_t	step;

	p->last_ms = elapsed_ms;
	if (n > 0) {
		r = n * 1000.0 / (double)(elapsed_ms ? elapsed_ms : 1);
		p->rate = p->rate == 0.0 ? r :
		    p->rate * (1.0 - RATE_WEIGHT) + r * RATE_WEIGHT;
	}
	if (elapsed_ms > PACE_TARGET_MS && n > 0) {
		/* Rule 4: about the target time per request. */
		p->size = clamp(p, (uint64_t)n * PACE_TARGET_MS / elapsed_ms);
		p->slow_start = 0;
		return;
	}
	if (n < p->size)
		return;			/* rule 6 */
	if (p->slow_start) {
		p->size = clamp(p, (uint64_t)p->size * 2);
		return;
	}
	step = p->size / 8;
	if (step < PACE_STEP_MIN)
		step = PACE_STEP_MIN;
	p->size = clamp(p, (uint64_t)p->size + step);
}

void
pace_failure(struct pace *p)
{
	p->slow_start = 0;
	p->size = clamp(p, p->size / 2);
}

void
pace_too_big(struct pace *p, uint32_t n)
{
	uint32_t	base = n < p->size ? n : p->size;

	p->slow_start = 0;
	p->size = clamp(p, base / 2);
}

void
pace_rate_limited(struct pace *p)
{
	p->size = clamp(p, (uint64_t)p->size * 2);
}
