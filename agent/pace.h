/*
 * pace: the cloud uplink's batch size, adapted to measured throughput and
 * errors (DESIGN.md decision 9). Pure: the caller passes what happened.
 *
 * The rules (additive increase, multiplicative decrease, like TCP):
 *  1. The size stays within [min, max] (conf cloud_batch_min/max, 10 and
 *     1000 by default) and starts at PACE_START (clamped).
 *  2. Slow start: until the first loss, a full batch answered within
 *     PACE_TARGET_MS doubles the size.
 *  3. After a loss, a full batch answered within PACE_TARGET_MS adds
 *     max(PACE_STEP_MIN, size / 8).
 *  4. A batch answered slower than PACE_TARGET_MS scales the size by
 *     PACE_TARGET_MS / latency, so that the next one takes about the
 *     target time (a slow cloud gets smaller, cheaper-to-retry requests,
 *     and the lease is renewed often enough).
 *  5. A failure (no answer, timeout, 5xx) halves it; 413 (too big) sets
 *     it to half the batch that was refused. Both end slow start.
 *  6. A batch smaller than the size (all there was to send) says nothing
 *     about the size: only the throughput estimate moves.
 *  7. Rate limited (429: requests per second, not events, are limited):
 *     the size doubles, so that each allowed request carries more.
 * The throughput estimate (events/s) is an exponentially weighted mean
 * over answered batches, for status.
 *
 * Any thread; a struct pace belongs to one.
 */
#ifndef CAJA_PACE_H
#define CAJA_PACE_H

#include <stdint.h>

#define PACE_MIN_DEFAULT	10
#define PACE_MAX_DEFAULT	1000
#define PACE_LIMIT		10000	/* the cloud's events per push */
#define PACE_START		100
#define PACE_TARGET_MS		2000
#define PACE_STEP_MIN		10

struct pace {
	uint32_t	min, max, size;
	int		slow_start;
	double		rate;		/* events/s, EWMA; 0: unknown */
	uint64_t	last_ms;	/* latency of the last answer */
};

/* min and max are clamped to 1..PACE_LIMIT, max >= min. */
void		pace_init(struct pace *, uint32_t min, uint32_t max);
uint32_t	pace_size(const struct pace *);
/* A batch of n events answered 200 after elapsed_ms. */
void		pace_success(struct pace *, uint32_t n, uint64_t elapsed_ms);
/* The request failed (no answer, timeout, 5xx). */
void		pace_failure(struct pace *);
/* 413 for a batch of n events. */
void		pace_too_big(struct pace *, uint32_t n);
/* 429: requests are what is scarce: double the size (rule 7). */
void		pace_rate_limited(struct pace *);

#endif
