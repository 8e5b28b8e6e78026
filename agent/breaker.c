/*
 * breaker: circuit breaker and backoff of the cloud uplink (see breaker.h).
 */
#include <string.h>

#include "agent/breaker.h"

static const uint32_t	backoff_steps_s[] = { 1, 2, 4, 8, 16, 32, 60 };
#define BACKOFF_NSTEPS	(sizeof(backoff_steps_s) / sizeof(backoff_steps_s[0]))

void
breaker_init(struct breaker *b)
{
	memset(b, 0, sizeof(*b));
	b->state = BREAKER_CLOSED;
}

int
breaker_allow(struct breaker *b, uint64_t now)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return 1;
	case BREAKER_OPEN:
		if (now < b->opened_at + BREAKER_OPEN_MS)
			return 0;
		b->state = BREAKER_HALF_OPEN;
		b->oks = 0;
		b->probing = 0;
		/* FALLTHROUGH */
	case BREAKER_HALF_OPEN:
	default:
		return !b->probing;
	}
}

void
breaker_started(struct breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probing = 1;
}

void
breaker_success(struct breaker *b, uint64_t now)
{
	(void)now;
	b->fails = 0;
	b->probing = 0;
	if (b->state == BREAKER_HALF_OPEN) {
		if (++b->oks >= BREAKER_CLOSE_OKS) {
			b->state = BREAKER_CLOSED;
			b->oks = 0;
		}
	} else if (b->state == BREAKER_OPEN) {
		/* A request that started before it opened came back well:
		 * the cloud answers; probe at once. */
		b->state = BREAKER_HALF_OPEN;
		b->oks = 1;
	}
}

static void
trip(struct breaker *b, uint64_t now)
{
	b->state = BREAKER_OPEN;
	b->opened_at = now;
	b->oks = 0;
	b->probing = 0;
	b->opens++;
}

void
breaker_failure(struct breaker *b, uint64_t now)
{
	if (b->fails < UINT32_MAX)
		b->fails++;
	b->probing = 0;
	switch (b->state) {
	case BREAKER_CLOSED:
		if (b->fails >= BREAKER_FAILS)
			trip(b, now);
		break;
	case BREAKER_HALF_OPEN:
		trip(b, now);
		break;
	default:
		break;
	}
}

void
breaker_neutral(struct breaker *b)
{
	b->probing = 0;
}

uint64_t
breaker_reopen_at(const struct breaker *b)
{
	return b->state == BREAKER_OPEN ? b->opened_at + BREAKER_OPEN_MS : 0;
}

const char *
breaker_state_name(int state)
{
	switch (state) {
	case BREAKER_CLOSED:
		return "CLOSED";
	case BREAKER_OPEN:
		return "OPEN";
	case BREAKER_HALF_OPEN:
		return "HALF_OPEN";
	default:
		return "unknown";
	}
}

static double
clamp01(double r)
{
	if (!(r >= 0.0))	/* NaN too */
		return 0.0;
	if (r >= 1.0)
		return 0.999999;
	return r;
}

uint64_t
backoff_delay_ms(uint32_t fails, double r)
{
	double	base, f;

	if (fails == 0)
		return 0;
	base = 1000.0 * (fails > BACKOFF_NSTEPS ?
	    backoff_steps_s[BACKOFF_NSTEPS - 1] : backoff_steps_s[fails - 1]);
	f = 1.0 - BACKOFF_JITTER_PCT / 100.0 +
	    clamp01(r) * 2.0 * BACKOFF_JITTER_PCT / 100.0;
	return (uint64_t)(base * f);
}

uint64_t
backoff_retry_after_ms(uint32_t retry_after_s, int rate_limited,
    uint32_t fails, double r)
{
	uint64_t	ra = (uint64_t)retry_after_s * 1000, b;

	if (rate_limited)
		return ra + (uint64_t)(ra * clamp01(r) * BACKOFF_JITTER_PCT /
		    100.0);
	b = backoff_delay_ms(fails, r);
	return b > ra ? b : ra;
}
